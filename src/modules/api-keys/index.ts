import { defineModule } from '../../lib/module.js';
import { deleteUserKeys } from './api-keys.repository.js';
import { apiKeysRoutes } from './api-keys.routes.js';
import {
  ApiKeyCursorPageSchema,
  ApiKeyPageSchema,
  ApiKeySchema,
  NewApiKeySchema,
} from './api-keys.schemas.js';
import { ApiKeysService } from './api-keys.service.js';

/**
 * API keys: long-lived credentials with scopes, for scripts and services. The auth module asks
 * this entry's service who a presented key is (`apiKeys.authenticate`); its cache of key state
 * hears of revocations from here.
 */
export const apiKeysModule = defineModule({
  name: 'api-keys',
  tag: { name: 'api-keys', description: "The caller's API keys: issue, list, revoke" },
  schemas: [ApiKeySchema, NewApiKeySchema, ApiKeyPageSchema, ApiKeyCursorPageSchema],
  services: (ctx) => ({ apiKeys: new ApiKeysService(ctx) }),
  subscribe: (ctx) => {
    const users = ctx.ports.users;
    // Contract §2: whoever held the account before a takeover keeps no key (in its transaction).
    users.on('takenOver', (trx, { userId }) => deleteUserKeys(trx, userId));
    // A deleted user's keys go with its row (foreign key); caches everywhere forget them.
    for (const event of ['deleted', 'takenOver'] as const) {
      users.afterCommit(event, ({ userId }) => ctx.services.authState.userApiKeysChanged(userId));
    }
  },
  routes: apiKeysRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    apiKeys: ApiKeysService;
  }
}

export type { KeyIdentity } from './api-keys.service.js';
