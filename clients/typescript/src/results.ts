import { problemOf } from './errors.js';

/** A resource with the entity tag it was read with (tasks and projects carry one). */
export interface Versioned<T> {
  data: T;
  etag: string;
}

interface Result<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/** The data of a successful openapi-fetch result; an error reply is thrown as a ProblemError. */
export function unwrap<D>(result: Result<D>): D {
  if (result.error !== undefined || !result.response.ok) throw problemOf(result.response, result.error);
  return result.data as D;
}

/** For the replies without a body (204, 202). */
export function expectOk(result: Result<unknown>): void {
  unwrap(result);
}

/** The strong entity tag of a resource version, as the service writes it: `"<version>"`. */
export function etagOf(resource: { version: number }): string {
  return `"${resource.version}"`;
}

export function versioned<D extends { version: number }>(result: Result<D>): Versioned<D> {
  const data = unwrap(result);
  return { data, etag: result.response.headers.get('etag') ?? etagOf(data) };
}
