import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey, xApiKey } from '../api-keys/helpers.js';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject, type ProjectReply, storedTask, taskIn } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const call2 = (method: 'GET', url: string, headers: Headers) =>
  t.app.inject({ method, url: `/api/v2${url}`, headers });

describe('POST /projects', () => {
  it('creates a shared project owned by the caller: 201, Location, ETag, the caller an owner member', async () => {
    const a = await signedIn(t.app);
    const res = await call('POST', '/projects', a.headers, {
      name: '  Relaunch\u0085 ',
      description: 'Line\nline',
    });
    expect(res.statusCode).toBe(201);
    const project = res.json() as ProjectReply;
    expect(project).toEqual({
      id: expect.any(String),
      name: 'Relaunch',
      description: 'Line\nline',
      ownerId: a.user.id,
      personal: false,
      archived: false,
      role: 'owner',
      createdAt: expect.any(String),
      updatedAt: project.createdAt,
      version: 1,
    });
    expect(res.headers.location).toBe(`/api/v1/projects/${project.id}`);
    expect(res.headers.etag).toBe('"1"');
    const members = (await call('GET', `/projects/${project.id}/members`, a.headers)).json();
    expect(members.items).toEqual([
      {
        userId: a.user.id,
        name: a.user.name,
        email: a.user.email,
        role: 'owner',
        addedAt: project.createdAt,
      },
    ]);
    const v2 = await t.app.inject({
      method: 'POST',
      url: '/api/v2/projects',
      headers: a.headers,
      payload: { name: 'Two' },
    });
    expect(v2.statusCode).toBe(201);
    expect(v2.headers.location).toBe(`/api/v2/projects/${v2.json().id}`);
  });

  it('validates the body: 422 for every bad field, read-only and unknown ones', async () => {
    const a = await signedIn(t.app);
    const empty = await call('POST', '/projects', a.headers, { name: ' \t ' });
    expect(empty.statusCode).toBe(422);
    expect(fieldItems(empty)).toEqual([['/name', 'too_short']]);
    const bad = await call('POST', '/projects', a.headers, {
      name: 'x'.repeat(101),
      description: 'd'.repeat(2001),
      id: 'abc',
      colour: 'red',
    });
    expect(bad.statusCode).toBe(422);
    expect(fieldItems(bad).sort()).toEqual(
      [
        ['/name', 'too_long'],
        ['/description', 'too_long'],
        ['/id', 'read_only'],
        ['/colour', 'unknown_field'],
      ].sort(),
    );
    const control = await call('POST', '/projects', a.headers, { name: 'a\u0007b' });
    expect(fieldItems(control)).toEqual([['/name', 'pattern']]);
    expect((await call('POST', '/projects', a.headers, {})).statusCode).toBe(422);
  });

  it('refuses guests (403) and anonymous callers (401)', async () => {
    const guest = await signedIn(t.app, 'guest');
    const res = await call('POST', '/projects', guest.headers, { name: 'Mine' });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('forbidden');
    expect((await call('POST', '/projects', {}, { name: 'Mine' })).statusCode).toBe(401);
  });
});

describe('lists: GET /projects', () => {
  it("lists the caller's member projects newest first, its Inbox included; never others'", async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p1 = await createProject(t.app, a.headers, { name: 'First' });
    const p2 = await createProject(t.app, a.headers, { name: 'Second' });
    const theirs = await createProject(t.app, b.headers, { name: 'Theirs' });
    const shared = await createProject(t.app, b.headers, { name: 'Shared with A' });
    await addMember(t.app, b.headers, shared.id, a.user.email, 'viewer');
    const inbox = await personalProjectId(t.app, a.user.id);
    const page = (await call('GET', '/projects', a.headers)).json();
    expect(page.items.map((p: ProjectReply) => p.id)).toEqual([shared.id, p2.id, p1.id, inbox]);
    expect(page).toMatchObject({ total: 4, page: 1, size: 20, pages: 1 });
    expect(page.items.map((p: ProjectReply) => p.role)).toEqual(['viewer', 'owner', 'owner', 'owner']);
    expect(page.items.at(-1)).toMatchObject({ name: 'Inbox', personal: true });
    expect(page.items.map((p: ProjectReply) => p.id)).not.toContain(theirs.id);
    const small = (await call('GET', '/projects?size=3&page=2', a.headers)).json();
    expect(small).toMatchObject({ total: 4, page: 2, size: 3, pages: 2 });
    expect(small.items.map((p: ProjectReply) => p.id)).toEqual([inbox]);
  });

  it('filters by archived and by q (a substring of the name, any case, % and _ literally)', async () => {
    const a = await signedIn(t.app);
    const open = await createProject(t.app, a.headers, { name: 'Garden PLANS' });
    const odd = await createProject(t.app, a.headers, { name: '100% done_ok' });
    const old = await createProject(t.app, a.headers, { name: 'Old plans' });
    expect((await call('PATCH', `/projects/${old.id}`, a.headers, { archived: true })).statusCode).toBe(200);
    const ids = async (query: string) =>
      (await call('GET', `/projects?${query}`, a.headers)).json().items.map((p: ProjectReply) => p.id);
    expect(await ids('q=plans')).toEqual([old.id, open.id]);
    expect(await ids('q=PLANS&archived=false')).toEqual([open.id]);
    expect(await ids('archived=true')).toEqual([old.id]);
    expect(await ids('q=%25')).toEqual([odd.id]);
    expect(await ids('q=e_o')).toEqual([odd.id]);
    expect(await ids('q=n%25p')).toEqual([]);
    const bad = await call('GET', '/projects?archived=maybe&colour=red', a.headers);
    expect(bad.statusCode).toBe(422);
    expect(
      fieldItems(bad)
        .map(([p]) => p)
        .sort(),
    ).toEqual(['/query/archived', '/query/colour']);
  });

  it('lists every project for an admin, with role owner', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const theirs = await createProject(t.app, a.headers, { name: 'Seen by the admin' });
    const page = (await call('GET', '/projects?q=seen by the admin', admin.headers)).json();
    expect(page.items).toEqual([{ ...theirs, role: 'owner' }]);
  });

  it('walks version 2 with cursors: every project once, a Link while more follow, cursors bound to the filters', async () => {
    const a = await signedIn(t.app);
    const made: string[] = [];
    for (let i = 0; i < 5; i++)
      made.unshift((await createProject(t.app, a.headers, { name: `Walk ${i}` })).id);
    const seen: string[] = [];
    let url = '/projects?limit=2&q=walk';
    let firstCursor = '';
    for (let n = 0; n < 10; n++) {
      const res = await call2('GET', url, a.headers);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      seen.push(...body.items.map((p: ProjectReply) => p.id));
      if (body.nextCursor === null) {
        expect(res.headers.link).toBeUndefined();
        break;
      }
      expect(res.headers.link).toContain('rel="next"');
      firstCursor ||= body.nextCursor;
      url = `/projects?limit=2&q=walk&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    expect(seen).toEqual(made);
    const other = await call2(
      'GET',
      `/projects?q=other&cursor=${encodeURIComponent(firstCursor)}`,
      a.headers,
    );
    expect(other.statusCode).toBe(400);
    expect(other.json().code).toBe('invalid_cursor');
    const b = await signedIn(t.app);
    const stolen = await call2(
      'GET',
      `/projects?q=walk&cursor=${encodeURIComponent(firstCursor)}`,
      b.headers,
    );
    expect(stolen.json().code).toBe('invalid_cursor');
  });
});

describe('GET /projects/{id}', () => {
  it('answers members of any role and admins; 404 for everyone else and for malformed ids', async () => {
    const a = await signedIn(t.app);
    const viewer = await signedIn(t.app);
    const stranger = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, viewer.user.email, 'viewer');
    const seen = await call('GET', `/projects/${project.id}`, viewer.headers);
    expect(seen.statusCode).toBe(200);
    expect(seen.json()).toEqual({ ...project, role: 'viewer' });
    expect(seen.headers.etag).toBe('"1"');
    expect((await call('GET', `/projects/${project.id}`, admin.headers)).json().role).toBe('owner');
    for (const id of [project.id, 'no-such-id', 'x'.repeat(300)]) {
      const res = await call('GET', `/projects/${id}`, stranger.headers);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('not_found');
    }
  });

  it('answers If-None-Match with 304, the same ETag and Cache-Control', async () => {
    const a = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    const hit = await call('GET', `/projects/${project.id}`, { ...a.headers, 'if-none-match': '"1"' });
    expect(hit.statusCode).toBe(304);
    expect(hit.headers.etag).toBe('"1"');
    expect(hit.headers['cache-control']).toBe('private, no-cache');
    const miss = await call('GET', `/projects/${project.id}`, {
      ...a.headers,
      'if-none-match': '"7", W/"8"',
    });
    expect(miss.statusCode).toBe(200);
    const bad = await call('GET', `/projects/${project.id}`, { ...a.headers, 'if-none-match': '1' });
    expect(bad.statusCode).toBe(422);
    expect(fieldItems(bad)).toEqual([['/header/if-none-match', 'format']]);
  });

  // A 401 is answered by the authentication hook before the routes' own (as under /tasks).
  it('marks every authenticated reply under /projects private, errors included', async () => {
    const a = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    for (const [url, headers] of [
      ['/projects', a.headers],
      [`/projects/${project.id}`, a.headers],
      [`/projects/${project.id}/members`, a.headers],
      [`/projects/${project.id}/members/${a.user.id}`, a.headers],
      ['/projects/nothing-here', a.headers],
      [`/projects/${project.id}/members/nobody`, a.headers],
    ] as const) {
      for (const version of ['v1', 'v2']) {
        const res = await t.app.inject({ method: 'GET', url: `/api/${version}${url}`, headers });
        expect(res.headers['cache-control'], url).toBe('private, no-cache');
        expect(String(res.headers.vary), url).toContain('Authorization, X-API-Key');
      }
    }
  });
});

describe('PATCH /projects/{id}', () => {
  it('lets the owner rename and describe it: a new version and ETag; a PATCH that changes nothing keeps them', async () => {
    const a = await signedIn(t.app);
    const project = await createProject(t.app, a.headers, { name: 'Before' });
    const res = await call('PATCH', `/projects/${project.id}`, a.headers, {
      name: ' After ',
      description: 'new',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'After', description: 'new', version: 2 });
    expect(res.headers.etag).toBe('"2"');
    const same = await call('PATCH', `/projects/${project.id}`, a.headers, {
      name: 'After',
      archived: false,
    });
    expect(same.json()).toEqual(res.json());
    const merge = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/projects/${project.id}`,
      headers: { ...a.headers, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ description: '' }),
    });
    expect(merge.statusCode).toBe(200);
    expect(merge.json()).toMatchObject({ description: '', version: 3 });
    const q = (await call('GET', '/projects?q=after', a.headers)).json();
    expect(q.items.map((p: ProjectReply) => p.id)).toEqual([project.id]);
  });

  it('is the owners’: editors, commenters and viewers get 403, strangers 404, admins may', async () => {
    const a = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    for (const role of ['editor', 'commenter', 'viewer']) {
      const member = await signedIn(t.app);
      await addMember(t.app, a.headers, project.id, member.user.email, role);
      const res = await call('PATCH', `/projects/${project.id}`, member.headers, { name: 'Mine' });
      expect(res.statusCode, role).toBe(403);
      expect((await call('DELETE', `/projects/${project.id}`, member.headers)).statusCode, role).toBe(403);
    }
    const stranger = await signedIn(t.app);
    expect((await call('PATCH', `/projects/${project.id}`, stranger.headers, { name: 'x' })).statusCode).toBe(
      404,
    );
    const admin = await signedIn(t.app, 'admin');
    const res = await call('PATCH', `/projects/${project.id}`, admin.headers, { name: 'By the admin' });
    expect(res.json()).toMatchObject({ name: 'By the admin', role: 'owner', ownerId: a.user.id });
  });

  it('honours If-Match: a mismatch → 412 with the current ETag, and nothing changes', async () => {
    const a = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    const stale = await call(
      'PATCH',
      `/projects/${project.id}`,
      { ...a.headers, 'if-match': '"9"' },
      { name: 'x' },
    );
    expect(stale.statusCode).toBe(412);
    expect(stale.headers.etag).toBe('"1"');
    expect(stale.json().code).toBe('precondition_failed');
    const ok = await call(
      'PATCH',
      `/projects/${project.id}`,
      { ...a.headers, 'if-match': '"3", "1"' },
      { name: 'y' },
    );
    expect(ok.statusCode).toBe(200);
    const weak = await call(
      'PATCH',
      `/projects/${project.id}`,
      { ...a.headers, 'if-match': 'W/"2"' },
      { name: 'z' },
    );
    expect(weak.statusCode).toBe(412);
    const bad = await call(
      'PATCH',
      `/projects/${project.id}`,
      { ...a.headers, 'if-match': '2' },
      { name: 'z' },
    );
    expect(fieldItems(bad)).toEqual([['/header/if-match', 'format']]);
    expect((await call('GET', `/projects/${project.id}`, a.headers)).json()).toMatchObject({
      name: 'y',
      version: 2,
    });
  });

  it('archives: then only exactly {archived: false} passes (409 project_archived), after the 403', async () => {
    const a = await signedIn(t.app);
    const editor = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, editor.user.email, 'editor');
    const archived = await call('PATCH', `/projects/${project.id}`, a.headers, { archived: true });
    expect(archived.json()).toMatchObject({ archived: true, version: 2 });
    for (const body of [{ name: 'x' }, { archived: false, name: 'x' }, { archived: true }, {}]) {
      const res = await call('PATCH', `/projects/${project.id}`, a.headers, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(409);
      expect(res.json().code).toBe('project_archived');
    }
    // The role comes first, and If-Match after the archive rule.
    expect(
      (await call('PATCH', `/projects/${project.id}`, editor.headers, { archived: false })).statusCode,
    ).toBe(403);
    const stale = await call(
      'PATCH',
      `/projects/${project.id}`,
      { ...a.headers, 'if-match': '"1"' },
      { name: 'x' },
    );
    expect(stale.json().code).toBe('project_archived');
    const back = await call('PATCH', `/projects/${project.id}`, a.headers, { archived: false });
    expect(back.json()).toMatchObject({ archived: false, version: 3 });
  });

  it('renames a personal project but never archives it (409 conflict)', async () => {
    const a = await signedIn(t.app);
    const inbox = await personalProjectId(t.app, a.user.id);
    const archive = await call('PATCH', `/projects/${inbox}`, a.headers, { archived: true });
    expect(archive.statusCode).toBe(409);
    expect(archive.json().code).toBe('conflict');
    const renamed = await call('PATCH', `/projects/${inbox}`, a.headers, { name: 'My things' });
    expect(renamed.json()).toMatchObject({ name: 'My things', personal: true, archived: false, version: 2 });
  });
});

describe('DELETE /projects/{id}', () => {
  it('deletes it with its tasks and memberships; If-Match honoured; archived projects too', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, b.user.email, 'editor');
    const task = await taskIn(t.app, a.headers, project.id);
    await call('PATCH', `/projects/${project.id}`, a.headers, { archived: true });
    const stale = await call('DELETE', `/projects/${project.id}`, { ...a.headers, 'if-match': '"1"' });
    expect(stale.statusCode).toBe(412);
    expect(stale.headers.etag).toBe('"2"');
    const res = await call('DELETE', `/projects/${project.id}`, { ...a.headers, 'if-match': '"2"' });
    expect(res.statusCode).toBe(204);
    expect((await call('GET', `/projects/${project.id}`, a.headers)).statusCode).toBe(404);
    expect(await storedTask(t.app, task.id)).toBeUndefined();
    const members = await t.app.ctx.database.db
      .selectFrom('project_members')
      .selectAll()
      .where('project_id', '=', project.id)
      .execute();
    expect(members).toEqual([]);
    expect((await call('DELETE', `/projects/${project.id}`, a.headers)).statusCode).toBe(404);
  });

  it('never deletes a personal project (409 conflict), even for an admin', async () => {
    const a = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const inbox = await personalProjectId(t.app, a.user.id);
    for (const headers of [a.headers, admin.headers]) {
      const res = await call('DELETE', `/projects/${inbox}`, headers);
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('conflict');
    }
    expect((await call('GET', `/projects/${inbox}`, a.headers)).statusCode).toBe(200);
  });
});

describe('concurrency and keys', () => {
  it('lets exactly one of two writers with the same If-Match win', async () => {
    const a = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    const headers = { ...a.headers, 'if-match': '"1"' };
    const results = await Promise.all([
      call('PATCH', `/projects/${project.id}`, headers, { name: 'One' }),
      call('PATCH', `/projects/${project.id}`, headers, { name: 'Two' }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412]);
    expect((await call('GET', `/projects/${project.id}`, a.headers)).json().version).toBe(2);
  });

  it("intersects a key's scopes with its owner's project role", async () => {
    const owner = await signedIn(t.app);
    const viewer = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, viewer.user.email, 'viewer');
    const key = await issueKey(t.app, viewer.headers, ['projects:read', 'projects:write']);
    const headers = xApiKey(key.key);
    expect((await call('GET', `/projects/${project.id}`, headers)).json().role).toBe('viewer');
    expect((await call('PATCH', `/projects/${project.id}`, headers, { name: 'x' })).statusCode).toBe(403);
    const readOnly = xApiKey((await issueKey(t.app, owner.headers, ['projects:read'])).key);
    expect((await call('GET', '/projects', readOnly)).statusCode).toBe(200);
    const refused = await call('PATCH', `/projects/${project.id}`, readOnly, { name: 'x' });
    expect(refused.statusCode).toBe(403);
    expect((await call('GET', `/projects/${project.id}`, owner.headers)).json().name).toBe('Shared');
  });
});
