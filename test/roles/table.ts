import type { Scope } from '../../src/lib/principal.js';
import type { Caller, Cast, World, WorldOptions } from './world.js';

/**
 * THE role table (contract §7, §2–§3, §8, and the lead's design for issue 10): every route of
 * projects, members, comments, tasks and webhooks, the request sent, and what each caller gets.
 * role-table.test.ts runs every row for every caller with its access token, with a key holding
 * every scope its role allows (→ the same; a `keys refused` row → 403), and with a key lacking the
 * row's scope (→ 403 forbidden); its meta-test fails when the OpenAPI document has a route under
 * /projects, /comments, /tasks or /webhooks without a row.
 *
 * `expect` lists one outcome per caller, in the order of the columns below:
 *
 *   admin · owner · editor · commenter · viewer · nonMember · assignee · guest
 *
 * - admin: a global admin, member of nothing (acts as owner everywhere);
 * - owner, editor, commenter, viewer: members of the shared project P with that role;
 * - nonMember: a user belonging to nothing;
 * - assignee: a user belonging to nothing, assignee of TP, a task in the owner's personal project
 *   (for it, "the project" is that personal project and "the task" is TP);
 * - guest: a global guest granted commenter in P. The routes a guest can never pass (project
 *   writes, member changes but leaving, task create/replace/delete) refuse guests by route policy:
 *   403 before visibility, so a guest learns nothing of what exists.
 *
 * An outcome is a status (`200`; `403` means code forbidden, `404` not_found, `412`
 * precondition_failed), `409:<code>`,
 * `422:<pointer>:<item code>`, or for lists `in` / `out`: 200, and the row's resource is listed or not.
 */
export type Outcome = string;

export interface Request {
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Row {
  /** Method and path template, as the OpenAPI document names it (parameter names aside). */
  route: string;
  /** What this row tries, when a route has several rows. */
  variant: string;
  /** The scope a key needs; `keys refused` for routes that take an access token only (keys: 403). */
  scope: Scope | 'keys refused';
  world?: WorldOptions;
  request: (w: World, c: Caller, cast: Cast) => Request;
  /** For `in`/`out`: the id looked for in the list's items. */
  listed?: (w: World, c: Caller) => string;
  expect: Outcome;
}

/** The project a caller aims at: P, or for the assignee the owner's personal project. */
const proj = (w: World, c: Caller) => (c === 'assignee' ? w.inbox : w.p);
/** The task a caller aims at: T, or for the assignee TP. */
const task = (w: World, c: Caller) => (c === 'assignee' ? w.tp : w.t);
/** The caller's own comment (the non-member has none: it aims at the writer's). */
const ownComment = (w: World, c: Caller) => w.own[c] ?? w.otherOnT;
/** A comment by someone else, on the caller's task. */
const otherComment = (w: World, c: Caller) => (c === 'assignee' ? w.otherOnTp : w.otherOnT);

const ARCHIVED: WorldOptions = { archived: true };
const ASSIGNED: WorldOptions = { assignToCaller: true };
const HOOK: WorldOptions = { hook: true };
/** An If-Match no version matches. */
const STALE = { 'if-match': '"999"' };

//                                          admin  owner  editor comm.  viewer nonMem assign guest
export const TABLE: Row[] = [
  // ── projects ─────────────────────────────────────────────────────────────────────────────
  {
    route: 'GET /projects',
    variant: 'P is listed to its members and admins',
    scope: 'projects:read',
    request: () => ({ url: '/projects?size=100' }),
    listed: proj,
    expect: 'in     in     in     in     in     out    out    in',
  },
  {
    route: 'POST /projects',
    variant: 'create',
    scope: 'projects:write',
    request: () => ({ url: '/projects', body: { name: 'New project' } }),
    expect: '201    201    201    201    201    201    201    403',
  },
  {
    route: 'GET /projects/{id}',
    variant: 'read',
    scope: 'projects:read',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}` }),
    expect: '200    200    200    200    200    404    404    200',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: 'rename',
    scope: 'projects:write',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}`, body: { name: 'Renamed' } }),
    expect: '200    200    403    403    403    404    404    403',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: 'archive',
    scope: 'projects:write',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}`, body: { archived: true } }),
    expect: '200    200    403    403    403    404    404    403',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: 'rename an archived project',
    scope: 'projects:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/projects/${proj(w, c)}`, body: { name: 'Renamed' } }),
    expect: '409:project_archived 409:project_archived 403 403 403 404 404 403',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: 'unarchive',
    scope: 'projects:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/projects/${proj(w, c)}`, body: { archived: false } }),
    expect: '200    200    403    403    403    404    404    403',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: "archive the owner's personal project",
    scope: 'projects:write',
    request: (w) => ({ url: `/projects/${w.inbox}`, body: { archived: true } }),
    expect: '409:conflict 409:conflict 404 404 404 404 404 403',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: "rename the owner's personal project",
    scope: 'projects:write',
    request: (w) => ({ url: `/projects/${w.inbox}`, body: { name: 'My inbox' } }),
    expect: '200    200    404    404    404    404    404    403',
  },
  {
    route: 'DELETE /projects/{id}',
    variant: 'delete',
    scope: 'projects:write',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}` }),
    expect: '204    204    403    403    403    404    404    403',
  },
  {
    route: 'DELETE /projects/{id}',
    variant: 'delete an archived project',
    scope: 'projects:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/projects/${proj(w, c)}` }),
    expect: '204    204    403    403    403    404    404    403',
  },
  {
    route: 'DELETE /projects/{id}',
    variant: "delete the owner's personal project",
    scope: 'projects:write',
    request: (w) => ({ url: `/projects/${w.inbox}` }),
    expect: '409:conflict 409:conflict 404 404 404 404 404 403',
  },
  {
    route: 'PATCH /projects/{id}',
    variant: 'rename with a stale If-Match (403 first, then 412)',
    scope: 'projects:write',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}`, body: { name: 'Renamed' }, headers: STALE }),
    expect: '412    412    403    403    403    404    404    403',
  },
  {
    route: 'DELETE /projects/{id}',
    variant: 'delete with a stale If-Match',
    scope: 'projects:write',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}`, headers: STALE }),
    expect: '412    412    403    403    403    404    404    403',
  },
  // ── members ──────────────────────────────────────────────────────────────────────────────
  {
    route: 'GET /projects/{id}/members',
    variant: 'list',
    scope: 'projects:read',
    request: (w, c) => ({ url: `/projects/${proj(w, c)}/members?size=100` }),
    expect: '200    200    200    200    200    404    404    200',
  },
  {
    route: 'GET /projects/{id}/members/{userId}',
    variant: "the editor's membership",
    scope: 'projects:read',
    request: (w, c, cast) => ({ url: `/projects/${proj(w, c)}/members/${cast.people.editor.id}` }),
    expect: '200    200    200    200    200    404    404    200',
  },
  {
    route: 'GET /projects/{id}/members/{userId}',
    variant: 'the admin is no member',
    scope: 'projects:read',
    request: (w, c, cast) => ({ url: `/projects/${proj(w, c)}/members/${cast.people.admin.id}` }),
    expect: '404    404    404    404    404    404    404    404',
  },
  {
    route: 'POST /projects/{id}/members',
    variant: 'add a user',
    scope: 'projects:write',
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members`,
      body: { email: cast.newcomer.email, role: 'viewer' },
    }),
    expect: '201    201    403    403    403    404    404    403',
  },
  {
    route: 'POST /projects/{id}/members',
    variant: 'grant a guest editor',
    scope: 'projects:write',
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members`,
      body: { email: cast.newGuest.email, role: 'editor' },
    }),
    expect: '422:/role:role_not_allowed 422:/role:role_not_allowed 403 403 403 404 404 403',
  },
  {
    route: 'POST /projects/{id}/members',
    variant: 'add a member again',
    scope: 'projects:write',
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members`,
      body: { email: cast.people.editor.email, role: 'viewer' },
    }),
    expect: '409:conflict 409:conflict 403 403 403 404 404 403',
  },
  {
    route: 'POST /projects/{id}/members',
    variant: 'an email of no account',
    scope: 'projects:write',
    request: (w, c) => ({
      url: `/projects/${proj(w, c)}/members`,
      body: { email: 'nobody-at-all@example.com', role: 'viewer' },
    }),
    expect: '422:/email:not_found 422:/email:not_found 403 403 403 404 404 403',
  },
  {
    route: 'POST /projects/{id}/members',
    variant: 'add to an archived project',
    scope: 'projects:write',
    world: ARCHIVED,
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members`,
      body: { email: cast.newcomer.email, role: 'viewer' },
    }),
    expect: '409:project_archived 409:project_archived 403 403 403 404 404 403',
  },
  {
    route: 'POST /projects/{id}/members',
    variant: "share the owner's personal project",
    scope: 'projects:write',
    request: (w, _c, cast) => ({
      url: `/projects/${w.inbox}/members`,
      body: { email: cast.newcomer.email, role: 'viewer' },
    }),
    expect: '409:conflict 409:conflict 404 404 404 404 404 403',
  },
  {
    route: 'PATCH /projects/{id}/members/{userId}',
    variant: 'the viewer becomes commenter',
    scope: 'projects:write',
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members/${cast.people.viewer.id}`,
      body: { role: 'commenter' },
    }),
    expect: '200    200    403    403    403    404    404    403',
  },
  {
    route: 'PATCH /projects/{id}/members/{userId}',
    variant: 'demote the last owner',
    scope: 'projects:write',
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members/${cast.people.owner.id}`,
      body: { role: 'editor' },
    }),
    expect: '409:last_owner 409:last_owner 403 403 403 404 404 403',
  },
  {
    route: 'PATCH /projects/{id}/members/{userId}',
    variant: 'the guest becomes editor',
    scope: 'projects:write',
    request: (w, c, cast) => ({
      url: `/projects/${proj(w, c)}/members/${cast.people.guest.id}`,
      body: { role: 'editor' },
    }),
    expect: '422:/role:role_not_allowed 422:/role:role_not_allowed 403 403 403 404 404 403',
  },
  {
    route: 'DELETE /projects/{id}/members/{userId}',
    variant: 'remove the viewer',
    scope: 'projects:write',
    request: (w, c, cast) => ({ url: `/projects/${proj(w, c)}/members/${cast.people.viewer.id}` }),
    expect: '204    204    403    403    204    404    404    403',
  },
  {
    route: 'DELETE /projects/{id}/members/{userId}',
    variant: 'leave (the caller itself)',
    scope: 'projects:write',
    request: (w, c, cast) => ({ url: `/projects/${proj(w, c)}/members/${cast.people[c].id}` }),
    expect: '404    409:last_owner 204 204 204    404    404    204',
  },
  {
    route: 'DELETE /projects/{id}/members/{userId}',
    variant: 'remove the last owner',
    scope: 'projects:write',
    request: (w, c, cast) => ({ url: `/projects/${proj(w, c)}/members/${cast.people.owner.id}` }),
    expect: '409:last_owner 409:last_owner 403 403 403 404 404 403',
  },
  // ── tasks ────────────────────────────────────────────────────────────────────────────────
  {
    route: 'GET /tasks',
    variant: 'the default list',
    scope: 'tasks:read',
    request: () => ({ url: '/tasks?size=100' }),
    listed: task,
    expect: 'in     in     in     in     in     out    in     in',
  },
  {
    route: 'GET /tasks',
    variant: 'the default list leaves archived projects out',
    scope: 'tasks:read',
    world: ARCHIVED,
    request: () => ({ url: '/tasks?size=100' }),
    listed: task,
    expect: 'out    out    out    out    out    out    in     out',
  },
  {
    route: 'GET /tasks/stats',
    variant: 'stats',
    scope: 'tasks:read',
    request: () => ({ url: '/tasks/stats' }),
    expect: '200    200    200    200    200    200    200    200',
  },
  {
    route: 'POST /tasks',
    variant: 'create in P',
    scope: 'tasks:write',
    request: (w, c) => ({ url: '/tasks', body: { title: 'New task', projectId: proj(w, c) } }),
    expect: '201 201 201 403 403 422:/projectId:not_found 422:/projectId:not_found 403',
  },
  {
    route: 'POST /tasks',
    variant: 'create in an archived P',
    scope: 'tasks:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: '/tasks', body: { title: 'New task', projectId: proj(w, c) } }),
    expect:
      '409:project_archived 409:project_archived 409:project_archived 403 403 422:/projectId:not_found 422:/projectId:not_found 403',
  },
  {
    route: 'POST /tasks',
    variant: 'create in one’s own personal project (no projectId)',
    scope: 'tasks:write',
    request: () => ({ url: '/tasks', body: { title: 'New task' } }),
    expect: '201    201    201    201    201    201    201    403',
  },
  {
    route: 'GET /tasks/{id}',
    variant: 'read',
    scope: 'tasks:read',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}` }),
    expect: '200    200    200    200    200    404    200    200',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'change the title',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Changed' } }),
    expect: '200    200    200    403    403    404    403    403',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'status only, the caller is not the assignee',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { status: 'done' } }),
    expect: '200    200    200    403    403    404    200    403',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'status only, the caller is the assignee',
    scope: 'tasks:write',
    world: ASSIGNED,
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { status: 'done' } }),
    expect: '200    200    200    200    403    404    200    200',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'the assignee changes the title',
    scope: 'tasks:write',
    world: ASSIGNED,
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Changed', status: 'done' } }),
    expect: '200    200    200    403    403    404    403    403',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'change the title in an archived P',
    scope: 'tasks:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Changed' } }),
    expect: '409:project_archived 409:project_archived 409:project_archived 403 403 404 403 403',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'status only as the assignee, in an archived P',
    scope: 'tasks:write',
    world: { ...ARCHIVED, ...ASSIGNED },
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { status: 'done' } }),
    expect:
      '409:project_archived 409:project_archived 409:project_archived 409:project_archived 403 404 200 409:project_archived',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'change the title with a stale If-Match (403 first, then 412)',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Changed' }, headers: STALE }),
    expect: '412    412    412    403    403    404    403    403',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'stale If-Match in an archived P (409 before 412)',
    scope: 'tasks:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Changed' }, headers: STALE }),
    expect: '409:project_archived 409:project_archived 409:project_archived 403 403 404 403 403',
  },
  {
    route: 'PATCH /tasks/{id}',
    variant: 'move to P2 (editor+ in both: the owner only views P2)',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { projectId: w.p2 } }),
    expect: '200    403    200    403    403    404    403    403',
  },
  {
    route: 'PUT /tasks/{id}',
    variant: 'move to P2 by PUT',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Moved', projectId: w.p2 } }),
    expect: '200    403    200    403    403    404    403    403',
  },
  {
    route: 'POST /tasks',
    variant: 'create in P2 (the owner of P only views it)',
    scope: 'tasks:write',
    request: (w) => ({ url: '/tasks', body: { title: 'New task', projectId: w.p2 } }),
    expect: '201 403 201 201 201 422:/projectId:not_found 422:/projectId:not_found 403',
  },
  {
    route: 'DELETE /tasks/{id}',
    variant: 'delete with a stale If-Match',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, headers: STALE }),
    expect: '412    412    412    403    403    404    403    403',
  },
  {
    route: 'PUT /tasks/{id}',
    variant: 'replace',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}`, body: { title: 'Replaced' } }),
    expect: '200    200    200    403    403    404    403    403',
  },
  {
    route: 'DELETE /tasks/{id}',
    variant: 'delete',
    scope: 'tasks:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}` }),
    expect: '204    204    204    403    403    404    403    403',
  },
  {
    route: 'DELETE /tasks/{id}',
    variant: 'delete in an archived P',
    scope: 'tasks:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/tasks/${task(w, c)}` }),
    expect: '409:project_archived 409:project_archived 409:project_archived 403 403 404 403 403',
  },
  // ── activity ─────────────────────────────────────────────────────────────────────────────
  {
    route: 'GET /tasks/{id}/activity',
    variant: "a task's activity",
    scope: 'tasks:read',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}/activity?size=100` }),
    expect: '200    200    200    200    200    404    200    200',
  },
  // ── comments ─────────────────────────────────────────────────────────────────────────────
  {
    route: 'GET /tasks/{id}/comments',
    variant: 'list',
    scope: 'tasks:read',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}/comments?size=100` }),
    expect: '200    200    200    200    200    404    200    200',
  },
  {
    route: 'POST /tasks/{id}/comments',
    variant: 'comment',
    scope: 'comments:write',
    request: (w, c) => ({ url: `/tasks/${task(w, c)}/comments`, body: { body: 'A new comment' } }),
    expect: '201    201    201    201    403    404    403    201',
  },
  {
    route: 'POST /tasks/{id}/comments',
    variant: 'comment in an archived P',
    scope: 'comments:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/tasks/${task(w, c)}/comments`, body: { body: 'A new comment' } }),
    expect:
      '409:project_archived 409:project_archived 409:project_archived 409:project_archived 403 404 403 409:project_archived',
  },
  {
    route: 'GET /comments/{id}',
    variant: "someone else's comment",
    scope: 'tasks:read',
    request: (w, c) => ({ url: `/comments/${otherComment(w, c)}` }),
    expect: '200    200    200    200    200    404    200    200',
  },
  {
    route: 'PATCH /comments/{id}',
    variant: 'edit one’s own',
    scope: 'comments:write',
    request: (w, c) => ({ url: `/comments/${ownComment(w, c)}`, body: { body: 'Edited' } }),
    expect: '200    200    200    200    403    404    403    200',
  },
  {
    route: 'PATCH /comments/{id}',
    variant: "edit someone else's",
    scope: 'comments:write',
    request: (w, c) => ({ url: `/comments/${otherComment(w, c)}`, body: { body: 'Edited' } }),
    expect: '403    403    403    403    403    404    403    403',
  },
  {
    route: 'PATCH /comments/{id}',
    variant: 'edit one’s own in an archived P',
    scope: 'comments:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/comments/${ownComment(w, c)}`, body: { body: 'Edited' } }),
    expect:
      '409:project_archived 409:project_archived 409:project_archived 409:project_archived 403 404 403 409:project_archived',
  },
  {
    route: 'DELETE /comments/{id}',
    variant: 'delete one’s own',
    scope: 'comments:write',
    request: (w, c) => ({ url: `/comments/${ownComment(w, c)}` }),
    expect: '204    204    204    204    403    404    403    204',
  },
  {
    route: 'DELETE /comments/{id}',
    variant: "delete someone else's",
    scope: 'comments:write',
    request: (w, c) => ({ url: `/comments/${otherComment(w, c)}` }),
    expect: '204    204    403    403    403    404    403    403',
  },
  {
    route: 'DELETE /comments/{id}',
    variant: "delete someone else's in an archived P",
    scope: 'comments:write',
    world: ARCHIVED,
    request: (w, c) => ({ url: `/comments/${otherComment(w, c)}` }),
    expect: '409:project_archived 409:project_archived 403 403 403 404 403 403',
  },
  // ── the change feed (every role; who sees which event: test/events/feed-visibility) ────────
  {
    route: 'GET /events',
    variant: 'a page of the feed',
    scope: 'tasks:read',
    request: () => ({ url: '/events?limit=100' }),
    expect: '200    200    200    200    200    200    200    200',
  },
  {
    route: 'GET /events/head',
    variant: 'the newest id',
    scope: 'tasks:read',
    request: () => ({ url: '/events/head' }),
    expect: '200    200    200    200    200    200    200    200',
  },
  {
    route: 'POST /webhooks',
    variant: 'on a project the caller may see',
    scope: 'keys refused',
    // An IP literal: nothing resolves, nothing connects.
    request: (w, c) => ({
      url: '/webhooks',
      body: { url: 'https://93.184.216.34/hook', events: ['*'], projectId: proj(w, c) },
    }),
    expect: '201    201    201    201    201    422:/projectId:not_found 422:/projectId:not_found 201',
  },
  {
    route: 'GET /webhooks',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: () => ({ url: '/webhooks?size=100' }),
    listed: (w) => w.hook,
    expect: 'out    in    out    out    out    out    out    out',
  },
  {
    route: 'GET /webhooks/{id}',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: (w) => ({ url: `/webhooks/${w.hook}` }),
    expect: '404    200    404    404    404    404    404    404',
  },
  {
    route: 'PATCH /webhooks/{id}',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: (w) => ({ url: `/webhooks/${w.hook}`, body: { description: 'changed' } }),
    expect: '404    200    404    404    404    404    404    404',
  },
  {
    route: 'DELETE /webhooks/{id}',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: (w) => ({ url: `/webhooks/${w.hook}` }),
    expect: '404    204    404    404    404    404    404    404',
  },
  {
    route: 'GET /webhooks/{id}/deliveries',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: (w) => ({ url: `/webhooks/${w.hook}/deliveries` }),
    expect: '404    200    404    404    404    404    404    404',
  },
  {
    route: 'POST /webhooks/{id}/deliveries/{deliveryId}/redeliver',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: (w) => ({ url: `/webhooks/${w.hook}/deliveries/${w.delivery}/redeliver` }),
    expect: '404    202    404    404    404    404    404    404',
  },
  {
    route: 'POST /webhooks/{id}/ping',
    variant: "the owner's only",
    scope: 'keys refused',
    world: HOOK,
    request: (w) => ({ url: `/webhooks/${w.hook}/ping` }),
    expect: '404    202    404    404    404    404    404    404',
  },
];
