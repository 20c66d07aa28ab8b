import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import { ROLE_SCOPES, type Role, type Scope } from '../../src/lib/principal.js';
import { type IssuedKey, issueKey } from '../api-keys/helpers.js';
import { createUser, login } from '../helpers/factories.js';
import { type Db, personalProject, taskRow } from './seed.js';

/**
 * The callers of the role table (issue 10 "How it is checked") and the data they stand in. The
 * data is written straight to the database, so a row tests its own route and nothing else.
 */
export const CALLERS = [
  'admin',
  'owner',
  'editor',
  'commenter',
  'viewer',
  'nonMember',
  'assignee',
  'guest',
] as const;
export type Caller = (typeof CALLERS)[number];

type Member = 'owner' | 'editor' | 'commenter' | 'viewer' | null;
/**
 * What each caller is: its global role, its role in the shared project P, and in P2 (the target of
 * moves: editors of P2 but the owner of P, who only views it).
 */
export const CALLER_ROLES: Record<Caller, { role: Role; member: Member; inP2: Member }> = {
  admin: { role: 'admin', member: null, inP2: null },
  owner: { role: 'user', member: 'owner', inP2: 'viewer' },
  editor: { role: 'user', member: 'editor', inP2: 'editor' },
  commenter: { role: 'user', member: 'commenter', inP2: 'editor' },
  viewer: { role: 'user', member: 'viewer', inP2: 'editor' },
  nonMember: { role: 'user', member: null, inP2: null },
  // Assigned a task in the owner's personal project, a member of nothing.
  assignee: { role: 'user', member: null, inP2: null },
  // A global guest granted commenter in P and P2.
  guest: { role: 'guest', member: 'commenter', inP2: 'commenter' },
};

export interface Person {
  id: string;
  email: string;
  role: Role;
  headers: Record<string, string>;
  /** A key holding every scope its role allows. */
  fullKey: IssuedKey;
  /** For each scope the role allows: a key with all the others (lacking that one). */
  lacking: Partial<Record<Scope, IssuedKey>>;
}

export interface Cast {
  people: Record<Caller, Person>;
  /** Another editor of P, author of the comments that are nobody else's. */
  writer: Person;
  /** A user belonging to nothing, to be added as a member. */
  newcomer: { id: string; email: string };
  /** A guest belonging to nothing, to be granted too much. */
  newGuest: { id: string; email: string };
}

async function person(app: FastifyInstance, role: Role): Promise<Person> {
  const user = await createUser(app, { role });
  const tokens = await login(app, user.email);
  const headers = { authorization: `Bearer ${tokens.accessToken}` };
  const allowed = ROLE_SCOPES[role];
  const fullKey = await issueKey(app, headers, [...allowed]);
  const lacking: Partial<Record<Scope, IssuedKey>> = {};
  for (const scope of allowed) {
    const rest = allowed.filter((s) => s !== scope);
    // A role allowing one scope only has no key lacking it (a key needs one scope).
    if (rest.length > 0) lacking[scope] = await issueKey(app, headers, rest);
  }
  return { id: user.id, email: user.email, role, headers, fullKey, lacking };
}

export async function makeCast(app: FastifyInstance): Promise<Cast> {
  const people = {} as Record<Caller, Person>;
  for (const caller of CALLERS) people[caller] = await person(app, CALLER_ROLES[caller].role);
  const writer = await person(app, 'user');
  const newcomer = await createUser(app);
  const newGuest = await createUser(app, { role: 'guest' });
  return { people, writer, newcomer, newGuest };
}

export interface WorldOptions {
  /** P is archived. */
  archived?: boolean;
  /** T is assigned to the caller (when it is a member of P; else T stays unassigned). */
  assignToCaller?: boolean;
  /** The owner has a webhook on P (`hook`). */
  hook?: boolean;
}

export interface World {
  /** The shared project: owner, editor, commenter, viewer, guest (granted commenter) and the writer. */
  p: string;
  /** Another shared project (CALLER_ROLES.inP2), where tasks move to. */
  p2: string;
  /** The owner's personal project. */
  inbox: string;
  /** A task of P, made by the owner. */
  t: string;
  /** A task in the owner's personal project, assigned to the assignee. */
  tp: string;
  /** Each caller's own comment (on T, or on TP for the assignee); none for the non-member. */
  own: Partial<Record<Caller, string>>;
  /** A comment on T by the writer. */
  otherOnT: string;
  /** A comment on TP by the owner. */
  otherOnTp: string;
  /** With the `hook` option: a webhook of the owner, on P (webhooks are their owner's only). */
  hook: string;
  /** With the `hook` option: a delivery of that webhook (a ping, already succeeded). */
  delivery: string;
}

/** A fresh P (with its members, T and comments) and a fresh TP, straight into the database. */
export async function makeWorld(
  db: Db,
  cast: Cast,
  caller: Caller,
  options: WorldOptions = {},
): Promise<World> {
  const at = new Date().toISOString();
  const { people, writer } = cast;
  // Webhooks are per user, not per project: a world starts without any (at most 20 per user).
  await db
    .deleteFrom('webhooks')
    .where(
      'user_id',
      'in',
      CALLERS.map((c) => people[c].id),
    )
    .execute();
  const p = uuidv7();
  await db
    .insertInto('projects')
    .values({
      id: p,
      name: 'Shared',
      description: '',
      owner_id: people.owner.id,
      personal: 0,
      archived: options.archived ? 1 : 0,
      search_text: 'shared',
      version: 1,
      created_at: at,
      updated_at: at,
    })
    .execute();
  const members = CALLERS.flatMap((c) => {
    const role = CALLER_ROLES[c].member;
    return role ? [{ project_id: p, user_id: people[c].id, role, added_at: at }] : [];
  });
  members.push({ project_id: p, user_id: writer.id, role: 'editor', added_at: at });
  const p2 = uuidv7();
  await db
    .insertInto('projects')
    .values({
      id: p2,
      name: 'Target',
      description: '',
      owner_id: writer.id,
      personal: 0,
      archived: 0,
      search_text: 'target',
      version: 1,
      created_at: at,
      updated_at: at,
    })
    .execute();
  members.push({ project_id: p2, user_id: writer.id, role: 'owner', added_at: at });
  for (const c of CALLERS) {
    const role = CALLER_ROLES[c].inP2;
    if (role) members.push({ project_id: p2, user_id: people[c].id, role, added_at: at });
  }
  await db.insertInto('project_members').values(members).execute();

  const inbox = await personalProject(db, people.owner.id);
  const assignee = options.assignToCaller && CALLER_ROLES[caller].member ? people[caller].id : null;
  const t = uuidv7();
  const tp = uuidv7();
  await db
    .insertInto('tasks')
    .values([
      taskRow(t, { projectId: p, ownerId: people.owner.id, assigneeId: assignee }, at),
      taskRow(tp, { projectId: inbox, ownerId: people.owner.id, assigneeId: people.assignee.id }, at),
    ])
    .execute();

  const own: Partial<Record<Caller, string>> = {};
  const comments: { id: string; task_id: string; author_id: string }[] = [];
  for (const c of CALLERS) {
    if (c === 'nonMember') continue;
    own[c] = uuidv7();
    comments.push({ id: own[c], task_id: c === 'assignee' ? tp : t, author_id: people[c].id });
  }
  const otherOnT = uuidv7();
  const otherOnTp = uuidv7();
  comments.push({ id: otherOnT, task_id: t, author_id: writer.id });
  comments.push({ id: otherOnTp, task_id: tp, author_id: people.owner.id });
  await db
    .insertInto('comments')
    .values(comments.map((c) => ({ ...c, body: 'a comment', edited: 0, created_at: at, updated_at: at })))
    .execute();
  const hook = uuidv7();
  if (options.hook)
    await db
      .insertInto('webhooks')
      .values({
        id: hook,
        user_id: people.owner.id,
        url: 'https://93.184.216.34/hook',
        events: '["*"]',
        project_id: p,
        description: '',
        secret: `whsec_${'0'.repeat(43)}`,
        active: 1,
        disabled_reason: null,
        created_at: at,
        updated_at: at,
        last_delivery_at: null,
      })
      .execute();
  const delivery = uuidv7();
  if (options.hook) {
    const ping = { type: 'ping', id: `ping-${delivery}`, occurredAt: at, webhookId: hook };
    await db
      .insertInto('webhook_deliveries')
      .values({
        id: delivery,
        webhook_id: hook,
        event_id: ping.id,
        position: null,
        type: 'ping',
        payload: JSON.stringify(ping),
        attempt: 1,
        status: 'succeeded',
        response_status: 204,
        duration_ms: 5,
        error: null,
        response_body: '',
        next_attempt_at: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
  }
  return { p, p2, inbox, t, tp, own, otherOnT, otherOnTp, hook, delivery };
}
