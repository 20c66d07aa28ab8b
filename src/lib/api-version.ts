/** The API versions, oldest first: each is served under /api/<version> and documented on its own. */
export const API_VERSIONS = ['v1', 'v2'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];
/** The version the docs pages open on: the newest. */
export const LATEST_VERSION: ApiVersion = 'v2';
