import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toApiError } from '../../src/plugins/problem-details.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/** A write that loses a race with a concurrent one is a 409 the client may retry, never a 500. */
describe('errors of a lost race', () => {
  it.each([
    ['40P01', 'a PostgreSQL deadlock'],
    ['40001', 'a serialization failure'],
    ['23503', 'a foreign key whose row was deleted meanwhile (PostgreSQL)'],
    ['SQLITE_CONSTRAINT_FOREIGNKEY', 'the same on SQLite'],
  ])('%s (%s) → 409 conflict', (code) => {
    const error = Object.assign(new Error('lost'), { code });
    const apiError = toApiError(error);
    expect(apiError.code).toBe('conflict');
    expect(apiError.status).toBe(409);
  });

  it('anything else stays a 500', () => {
    expect(toApiError(Object.assign(new Error('x'), { code: '23505x' })).code).toBe('internal_error');
    expect(toApiError(new Error('x')).code).toBe('internal_error');
  });
});

describe('a project deleted while tasks are created in it', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t.close());

  it('each create answers 201, 409 or 422 — never a 500', async () => {
    const owner = await signedIn(t.app);
    for (let round = 0; round < 10; round += 1) {
      const project = await t.app.inject({
        method: 'POST',
        url: '/api/v1/projects',
        headers: owner.headers,
        payload: { name: `p${round}` },
      });
      const id = project.json().id as string;
      const replies = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/tasks',
            headers: owner.headers,
            payload: { title: `t${i}`, projectId: id },
          }),
        ),
        t.app.inject({ method: 'DELETE', url: `/api/v1/projects/${id}`, headers: owner.headers }),
      ]);
      const deleted = replies.at(-1);
      expect(deleted?.statusCode, deleted?.body).toBe(204);
      for (const res of replies.slice(0, -1)) expect([201, 409, 422], res.body).toContain(res.statusCode);
      const left = await t.app.inject({
        method: 'GET',
        url: `/api/v1/tasks?projectId=${id}`,
        headers: owner.headers,
      });
      expect(left.json().total).toBe(0);
    }
  });
});
