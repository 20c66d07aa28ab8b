import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { sampleRoutes } from '../helpers/sample-routes.js';

const lines: Record<string, unknown>[] = [];
const stream = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    callback();
  },
});

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { LOG_LEVEL: 'info' }, logStream: stream, apiRoutes: [sampleRoutes] });
});
afterAll(async () => t.close());

describe('request logs', () => {
  it('writes one JSON line per request with request id, route, status and latency', async () => {
    lines.length = 0;
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/samples?page=2',
      headers: { 'x-request-id': 'log-test-1' },
    });
    expect(res.statusCode).toBe(200);
    const done = lines.filter((l) => l.msg === 'request completed');
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({
      requestId: 'log-test-1',
      method: 'GET',
      url: '/api/v1/samples?page=2',
      route: '/api/v1/samples',
      statusCode: 200,
      level: 30,
    });
    expect(typeof done[0]?.latencyMs).toBe('number');
  });

  it('never writes credentials, passwords or tokens', async () => {
    lines.length = 0;
    const secrets = [
      'Bearer sekret-access-token-1',
      'sekret-api-key-2',
      'sekret-password-3',
      'sekret-refresh-4',
    ];
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/samples',
      headers: { authorization: secrets[0], 'x-api-key': secrets[1], cookie: 'sid=sekret' },
      payload: { title: 'x', password: secrets[2], refreshToken: secrets[3] },
    });
    await t.app.inject({ method: 'GET', url: '/nope', headers: { authorization: secrets[0] } });
    expect(lines.length).toBeGreaterThan(0);
    const text = JSON.stringify(lines);
    for (const secret of [...secrets, 'sekret']) expect(text).not.toContain(secret);
  });

  it('redacts secret fields in any logged object', () => {
    lines.length = 0;
    t.app.log.info({ user: { password: 'p4ss', token: 't0k', name: 'kept' } }, 'with secrets');
    const line = lines.find((l) => l.msg === 'with secrets') as { user: Record<string, string> };
    expect(line.user).toEqual({ password: '[redacted]', token: '[redacted]', name: 'kept' });
  });

  it('logs an unexpected error with the request id at error level', async () => {
    lines.length = 0;
    await t.app.inject({ method: 'GET', url: '/api/v1/boom', headers: { 'x-request-id': 'boom-1' } });
    const failure = lines.find((l) => l.msg === 'request failed');
    expect(failure).toMatchObject({ requestId: 'boom-1', level: 50 });
  });
});
