import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ApiError } from '../../src/errors.js';
import {
  BEARER_CHALLENGE,
  frameworkErrorHandler,
  installProblemDetails,
  problemBody,
  requestPath,
  toApiError,
} from '../../src/plugins/problem-details.js';

describe('requestPath', () => {
  it('drops the query and keeps the characters a path may hold', () => {
    expect(requestPath('/api/v1/tasks?status=todo&x=?')).toBe('/api/v1/tasks');
    expect(requestPath("/a-b._~!$&'()*+,;=:@/%41")).toBe("/a-b._~!$&'()*+,;=:@/%41");
    expect(requestPath('/')).toBe('/');
  });

  it('percent-encodes ASCII a URI may not hold, other characters as UTF-8, lone surrogates as U+FFFD', () => {
    expect(requestPath('/a{b}|"c"<d> \\^`')).toBe('/a%7Bb%7D%7C%22c%22%3Cd%3E%20%5C%5E%60');
    expect(requestPath('/\u0000\u007f')).toBe('/%00%7F');
    expect(requestPath('/é€😀')).toBe('/%C3%A9%E2%82%AC%F0%9F%98%80');
    expect(requestPath('/\u0080\u07ff')).toBe('/%C2%80%DF%BF');
    expect(requestPath('/\ud800x\udfff')).toBe('/%EF%BF%BDx%EF%BF%BD');
  });
});

describe('toApiError', () => {
  it('passes ApiErrors through', () => {
    const error = new ApiError('forbidden');
    expect(toApiError(error)).toBe(error);
  });

  it('maps a params validation failure to not_found and others to 422 with pointers', () => {
    const validation = [{ keyword: 'required', instancePath: '', params: { missingProperty: 'title' } }];
    expect(toApiError({ validation, validationContext: 'params' }).code).toBe('not_found');
    const body = toApiError({ validation });
    expect(body.code).toBe('validation_failed');
    expect(body.errors?.[0]?.pointer).toBe('/title');
    const query = toApiError({ validation, validationContext: 'querystring' });
    expect(query.code).toBe('validation_failed');
  });

  it.each([
    ['FST_ERR_CTP_INVALID_JSON_BODY', 'malformed_json'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 'malformed_json'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'malformed_json'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 'payload_too_large'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'unsupported_media_type'],
    ['FST_ERR_CTP_EMPTY_TYPE', 'unsupported_media_type'],
    ['FST_ERR_CTP_INVALID_TYPE', 'unsupported_media_type'],
    ['FST_ERR_NOT_FOUND', 'not_found'],
    ['FST_ERR_BAD_URL', 'not_found'],
    ['FST_ERR_MAX_PARAM_LENGTH', 'not_found'],
  ])('maps %s to %s', (code, expected) => {
    expect(toApiError(Object.assign(new Error('framework'), { code })).code).toBe(expected);
  });

  it('maps a 400 SyntaxError of a parser to malformed_json, any other to a 500', () => {
    expect(toApiError(Object.assign(new SyntaxError('bad'), { statusCode: 400 })).code).toBe(
      'malformed_json',
    );
    expect(toApiError(new SyntaxError('bad')).code).toBe('internal_error');
    expect(toApiError(Object.assign(new Error('bad'), { statusCode: 400 })).code).toBe('internal_error');
  });

  it('answers 503 with Retry-After for a database away, 409 for a lost race, 500 otherwise', () => {
    const away = Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
    const down = toApiError(away);
    expect(down.code).toBe('not_ready');
    expect(down.status).toBe(503);
    expect(down.detail).toBe('The database does not answer; retry in a few seconds');
    expect(down.headers).toEqual({ 'retry-after': '5' });
    expect(down.cause).toBe(away);
    const race = Object.assign(new Error('fk'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
    const conflict = toApiError(race);
    expect(conflict.code).toBe('conflict');
    expect(conflict.detail).toBe('A concurrent change to the same data got in the way; retry the request');
    expect(conflict.cause).toBe(race);
    const bug = new TypeError('x is undefined');
    const internal = toApiError(bug);
    expect(internal.code).toBe('internal_error');
    expect(internal.cause).toBe(bug);
    expect(toApiError(Object.assign(new Error('x'), { code: 'FST_ERR_UNKNOWN' })).code).toBe(
      'internal_error',
    );
  });
});

describe('problemBody', () => {
  it('writes the catalogue fields, extensions first, and errors only when there are some', () => {
    const error = new ApiError('invalid_token', { extensions: { error: 'invalid_grant', status: 'x' } });
    expect(problemBody('http://api.test', error, '/auth/token', 'req-1')).toEqual({
      error: 'invalid_grant',
      type: 'http://api.test/problems/invalid-token',
      title: 'The credentials are not valid',
      status: 401,
      detail: 'The credentials are not valid',
      instance: '/auth/token',
      code: 'invalid_token',
      requestId: 'req-1',
    });
    const failed = new ApiError('validation_failed', {
      errors: [{ pointer: '/a', code: 'required', detail: 'a' }],
    });
    expect(problemBody('http://api.test', failed, '/', 'r').errors).toEqual([
      { pointer: '/a', code: 'required', detail: 'a' },
    ]);
  });
});

describe('installProblemDetails and frameworkErrorHandler on a bare Fastify', () => {
  // What the error handler logs (Fastify's own request lines left aside).
  const HANDLER_LINES = new Set([
    'request refused',
    'request failed',
    'request lost a race',
    'request refused: not ready',
  ]);
  type Line = { level: number; msg: string; code?: string; frameworkCode?: string };
  const lines: Line[] = [];
  const stream = { write: (text: string) => lines.push(JSON.parse(text) as Line) };
  const thrown: { error: unknown } = { error: new Error('boom') };
  // Built once tests start, not when the file loads: the mutation run switches its mutant on then.
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: { level: 'info', stream }, frameworkErrors: frameworkErrorHandler });
    app.decorate('config', { publicUrl: 'http://api.test', corsOrigins: ['http://ui.test'] } as Config);
    installProblemDetails(app);
    app.get('/throw', async () => {
      throw thrown.error;
    });
    app.get('/items/:id', async () => 'ok');
    await app.ready();
  });
  afterAll(() => app.close());

  async function answer(error: unknown) {
    thrown.error = error;
    lines.length = 0;
    const res = await app.inject({ method: 'GET', url: '/throw?x=1' });
    return { res, body: res.json(), logged: lines.filter((line) => HANDLER_LINES.has(line.msg)) };
  }

  it('answers an ApiError as problem+json, and logs a refusal at info', async () => {
    const { res, body, logged } = await answer(new ApiError('forbidden', { headers: { 'x-extra': '1' } }));
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.headers['x-extra']).toBe('1');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(body).toMatchObject({
      code: 'forbidden',
      instance: '/throw',
      type: 'http://api.test/problems/forbidden',
    });
    expect(body.requestId).toMatch(/^req-/);
    expect(logged).toEqual([
      expect.objectContaining({ level: 30, msg: 'request refused', code: 'forbidden' }),
    ]);
  });

  it('names the Bearer scheme on a 401, unless the reply already has a challenge', async () => {
    const { res } = await answer(new ApiError('unauthorized'));
    expect(res.headers['www-authenticate']).toBe(BEARER_CHALLENGE);
    const own = await answer(
      new ApiError('invalid_token', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
    );
    expect(own.res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('logs a bug at error, a lost race at warn, an outage at info', async () => {
    const bug = await answer(new TypeError('x is undefined'));
    expect(bug.res.statusCode).toBe(500);
    expect(bug.logged).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'request failed',
        err: expect.objectContaining({ message: 'x is undefined' }),
      }),
    ]);
    const race = await answer(Object.assign(new Error('fk'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }));
    expect(race.res.statusCode).toBe(409);
    expect(race.logged).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'request lost a race',
        code: 'conflict',
        err: expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }),
      }),
    ]);
    const away = await answer(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }));
    expect(away.res.statusCode).toBe(503);
    expect(away.res.headers['retry-after']).toBe('5');
    expect(away.logged).toEqual([
      expect.objectContaining({ level: 30, msg: 'request refused: not ready', code: 'not_ready' }),
    ]);
    expect(lines.some((line) => line.level === 40 && line.msg.includes('the database does not answer'))).toBe(
      true,
    );
    const shutdown = await answer(new ApiError('not_ready'));
    expect(shutdown.logged).toEqual([
      expect.objectContaining({ level: 30, msg: 'request refused: not ready' }),
    ]);
    expect(lines.some((line) => line.msg.includes('the database does not answer'))).toBe(false);
  });

  it('answers an unknown route 404 not_found', async () => {
    const res = await app.inject({ method: 'GET', url: '/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'not_found', instance: '/nothing' });
  });

  it('answers a path Fastify cannot route with the headers every reply carries, never stored', async () => {
    lines.length = 0;
    const res = await app.inject({
      method: 'GET',
      url: '/items/%E0%A4%A',
      headers: { origin: 'http://ui.test' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'not_found' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-request-id']).toBe(res.json().requestId);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['access-control-allow-origin']).toBe('http://ui.test');
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 30,
        msg: 'request refused',
        code: 'not_found',
        frameworkCode: 'FST_ERR_BAD_URL',
      }),
    );
  });
});
