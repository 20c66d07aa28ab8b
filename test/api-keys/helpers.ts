import type { FastifyInstance } from 'fastify';
import type { Scope } from '../../src/lib/principal.js';

export interface IssuedKey {
  id: string;
  key: string;
  prefix: string;
  scopes: Scope[];
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** Issues a key through the API, for the signed-in caller of `headers`. */
export async function issueKey(
  app: FastifyInstance,
  headers: Record<string, string>,
  scopes: Scope[],
  extra: { name?: string; expiresAt?: string | null } = {},
): Promise<IssuedKey> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/api-keys',
    headers,
    payload: { name: extra.name ?? 'test key', scopes, ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`issuing a key failed: ${res.statusCode} ${res.body}`);
  return res.json() as IssuedKey;
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
export const xApiKey = (key: string) => ({ 'x-api-key': key });
