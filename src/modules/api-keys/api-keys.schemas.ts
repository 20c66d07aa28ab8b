import { type Static, Type } from '@sinclair/typebox';
import { Id, StringEnum } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import { SCOPES } from '../../lib/principal.js';
import { SAFE_TEXT_PATTERN } from '../../lib/text.js';

const ScopeSchema = StringEnum(SCOPES, {
  description: 'tasks:read · tasks:write · users:read · users:write',
});
const Timestamp = Type.String({ format: 'date-time', maxLength: 30, examples: ['2026-11-22T01:15:37.000Z'] });
const Prefix = Type.String({
  maxLength: 19,
  pattern: '^tf_[0-9a-f]{16}$',
  description: 'the public start of the key: shows which key is which, and is no secret',
});

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: SAFE_TEXT_PATTERN,
      'x-trim': true,
      description: 'trimmed of Unicode white space; 1–100 code points',
      examples: ['CI deploys'],
    }),
    scopes: Type.Array(ScopeSchema, {
      minItems: 1,
      maxItems: 8,
      uniqueItems: true,
      description:
        "1–8 distinct scopes, each one the caller's role allows (guest: tasks:read, projects:read, comments:write; user: all but users:*; admin: all); another → 422 scope_not_allowed on /scopes/<i>",
    }),
    expiresAt: Type.Optional(
      Type.Union([Type.String({ format: 'date-time', maxLength: 40 }), Type.Null()], {
        description: 'when the key stops working; in the future (else 422 too_small), or null: never',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateApiKey = Static<typeof CreateApiKeyBody>;

export const ApiKeySchema = Type.Object(
  {
    id: Id,
    name: Type.String({ maxLength: 100 }),
    prefix: Prefix,
    scopes: Type.Array(ScopeSchema, { maxItems: 8 }),
    createdAt: Timestamp,
    expiresAt: Type.Union([Timestamp, Type.Null()]),
    lastUsedAt: Type.Union([Timestamp, Type.Null()], { description: 'may lag by up to 60 s' }),
  },
  { $id: 'ApiKey', additionalProperties: false },
);
export type ApiKey = Static<typeof ApiKeySchema>;

export const NewApiKeySchema = Type.Object(
  {
    ...ApiKeySchema.properties,
    key: Type.String({
      maxLength: 100,
      pattern: '^tf_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$',
      description: 'the secret: shown in this reply only, never again',
    }),
  },
  { $id: 'NewApiKey', additionalProperties: false },
);

export const ApiKeyPageSchema = PageOf(ApiKeySchema, 'ApiKeyPage');
export const ApiKeyCursorPageSchema = CursorPageOf(ApiKeySchema, 'ApiKeyCursorPage');
export const ApiKeyIdParams = Type.Object({ id: Id });
