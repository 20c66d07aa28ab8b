import { Type } from '@sinclair/typebox';

/**
 * The reply and request headers of the resources that carry versions and are private to their
 * caller (tasks, projects, comments): one spelling of each in the OpenAPI documents.
 */

export const ETAG_HEADER = {
  ETag: Type.String({ maxLength: 24, pattern: '^"[0-9]+"$', description: 'strong entity tag: "<version>"' }),
};

/** What plugins/cache-policy.ts sets on every reply under /tasks, /projects and /comments. */
export const PRIVATE_CACHE_HEADERS = {
  'Cache-Control': Type.String({
    maxLength: 40,
    enum: ['private, no-cache'],
    description: 'private, no-cache',
  }),
  Vary: Type.String({
    maxLength: 100,
    description: 'Authorization, X-API-Key (and Origin; Accept-Encoding on replies of 1 KiB or more)',
  }),
};

export const IF_MATCH_HEADERS = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      maxLength: 1000,
      format: 'entity-tags',
      description:
        'a strong entity tag ("3"), a comma-separated list of them, or *; mismatch → 412; a value that is not a list of entity tags (such as an unquoted 3) → 422 on /header/if-match, item code format',
    }),
  ),
});

export const IF_NONE_MATCH_HEADERS = Type.Object({
  'if-none-match': Type.Optional(
    Type.String({
      maxLength: 1000,
      format: 'entity-tags',
      description:
        'entity tags ("3", W/"3"), a comma-separated list of them, or *; a match (weak comparison) → 304; a value that is not a list of entity tags → 422 on /header/if-none-match, item code format',
    }),
  ),
});

/** The 304 of a conditional read: no body, the same ETag and caching headers. */
export const NOT_MODIFIED = {
  description: 'Not modified: same ETag and Cache-Control',
  headers: { ...ETAG_HEADER, ...PRIVATE_CACHE_HEADERS },
  type: 'null',
} as const;
