import type { FastifyInstance } from 'fastify';

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
export type Headers = Record<string, string>;

/** A version 1 request through inject: `call('POST', '/tasks', headers, body)`. */
export function apiCaller(app: () => FastifyInstance) {
  return (method: Method, url: string, headers: Headers, payload?: unknown) =>
    app().inject({
      method,
      url: `/api/v1${url}`,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
}

/** The `errors[]` of a 422 as [pointer, code] pairs. */
export function fieldItems(res: { json(): unknown }): [string, string][] {
  return (res.json() as { errors: { pointer: string; code: string }[] }).errors.map((e) => [
    e.pointer,
    e.code,
  ]);
}
