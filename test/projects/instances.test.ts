import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';
import { addMember, createProject } from './helpers.js';

/**
 * Contract §7 (issue 10): a membership change takes effect on the next request on every instance.
 * Memberships are read in the same query as what they guard, never cached, so another instance
 * answers by the change at once — without Redis too.
 */
let instances: Instances;
beforeAll(async () => {
  instances = await twoInstances({ REDIS_URL: '' });
});
afterAll(async () => instances.close());

async function bearer(app: Instances['a'], email: string) {
  return { authorization: `Bearer ${(await login(app, email)).accessToken}` };
}

describe('a membership changed on one instance', () => {
  it('holds on the other at the very next request: added, demoted, removed', async () => {
    const { a, b } = instances;
    const owner = await createUser(a);
    const member = await createUser(a);
    const ownerOnA = await bearer(a, owner.email);
    const memberOnB = await bearer(b, member.email);
    const project = await createProject(a, ownerOnA);
    const url = `/api/v1/projects/${project.id}`;

    expect((await b.inject({ method: 'GET', url, headers: memberOnB })).statusCode).toBe(404);
    await addMember(a, ownerOnA, project.id, member.email, 'editor');
    expect((await b.inject({ method: 'GET', url, headers: memberOnB })).statusCode).toBe(200);
    const created = await b.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: memberOnB,
      payload: { title: 'on b', projectId: project.id },
    });
    expect(created.statusCode, created.body).toBe(201);
    const task = `/api/v1/tasks/${created.json().id}`;

    const demoted = await a.inject({
      method: 'PATCH',
      url: `${url}/members/${member.id}`,
      headers: ownerOnA,
      payload: { role: 'viewer' },
    });
    expect(demoted.statusCode).toBe(200);
    const refused = await b.inject({
      method: 'PATCH',
      url: task,
      headers: memberOnB,
      payload: { title: 'x' },
    });
    expect(refused.statusCode).toBe(403);

    const removed = await a.inject({
      method: 'DELETE',
      url: `${url}/members/${member.id}`,
      headers: ownerOnA,
    });
    expect(removed.statusCode).toBe(204);
    expect((await b.inject({ method: 'GET', url: task, headers: memberOnB })).statusCode).toBe(404);
    expect((await b.inject({ method: 'GET', url, headers: memberOnB })).statusCode).toBe(404);
  });
});
