import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_CODES, PROBLEMS } from '../../src/errors.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

describe('GET /problems/{slug}', () => {
  it.each(PROBLEM_CODES)('describes %s as HTML and as JSON', async (code) => {
    const slug = code.replaceAll('_', '-');
    const html = await t.app.inject({ method: 'GET', url: `/problems/${slug}` });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.body).toContain(PROBLEMS[code].title.replaceAll("'", '&#39;'));
    const json = await t.app.inject({
      method: 'GET',
      url: `/problems/${slug}`,
      headers: { accept: 'application/json' },
    });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual({
      type: `http://127.0.0.1:3000/problems/${slug}`,
      code,
      status: PROBLEMS[code].status,
      title: PROBLEMS[code].title,
      description: PROBLEMS[code].description,
    });
  });

  it('every status in the catalogue is an error status', () => {
    for (const code of PROBLEM_CODES) expect(PROBLEMS[code].status).toBeGreaterThanOrEqual(400);
  });

  it.each(['no-such-problem', 'not_found', 'NOT-FOUND', '..%2Fetc'])('answers %s with 404', async (slug) => {
    const res = await t.app.inject({ method: 'GET', url: `/problems/${slug}` });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('not_found');
  });

  it('is not rate limited and carries no rate-limit headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/problems/not-found' });
    expect(res.headers['ratelimit-limit']).toBeUndefined();
  });
});
