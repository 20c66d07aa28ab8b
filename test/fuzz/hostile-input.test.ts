import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEMS } from '../../src/errors.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { bodyFor, headersFor, pathValue, queryFor } from './arbitraries.js';
import {
  CASE_HEADER,
  type Operation,
  operationsOf,
  type RouteRecorder,
  routeRecorder,
} from './operations.js';

/**
 * The hostile-input campaign (issue 9, part 7): for every operation of the OpenAPI document,
 * generated bodies, query strings, headers and paths from anonymous and signed-in callers. Every
 * reply is documented for the operation that answered it, never a 5xx, a 4xx is problem+json with
 * a code of the catalogue, and the service keeps answering. FUZZ_RUNS sets the cases per property
 * (the default keeps CI under a minute; README's testing section has a larger run).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

let t: TestApp;
let recorder: RouteRecorder;
let operations: Operation[];
let cases = 0;

/** What a case may name: filled in (and renewed when a case ends a session) at run time. */
type Caller = 'anonymous' | 'user' | 'admin' | 'guest';
const state: Record<string, string> = {};
let canary: Record<string, string>;

/** A signed-in caller of this role with a task of its own (again, when a case ended its session). */
async function provision(role: Exclude<Caller, 'anonymous'>): Promise<void> {
  const caller = await signedIn(t.app, role);
  state[`${role}Token`] = caller.tokens.accessToken;
  state[`${role}Refresh`] = caller.tokens.refreshToken;
  state[`${role}Id`] = caller.user.id;
  state[`${role}Email`] = caller.user.email;
  const task = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tasks',
    headers: caller.headers,
    payload: { title: `${role}'s task`, tags: ['fuzz'] },
  });
  state[`${role}Task`] = task.statusCode === 201 ? (task.json() as { id: string }).id : 'none';
}
const ROLES = ['user', 'admin', 'guest'] as const;

const fill = (text: string) => text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => state[name] ?? name);
const PLACEHOLDER_IDS = [
  '{{userId}}',
  '{{adminId}}',
  '{{guestId}}',
  '{{userTask}}',
  '{{adminTask}}',
  '{{guestTask}}',
];
const PLACEHOLDER_TOKENS = ['{{userToken}}', '{{adminToken}}', '{{guestToken}}', '{{userRefresh}}'];

beforeAll(async () => {
  recorder = routeRecorder();
  t = await buildTestApp({ modules: [recorder.module] });
  operations = await operationsOf(t.app);
  canary = (await signedIn(t.app)).headers;
  for (const role of ROLES) await provision(role);
});
afterAll(async () => {
  // The campaign's size, for the record (the closing note counts them).
  console.info(`hostile-input: ${cases} cases over ${operations.length} operations`);
  await t.close();
});

interface Case {
  operation: Operation;
  caller: Caller;
  path: Record<string, string>;
  query: string;
  headers: Record<string, string>;
  body: { contentType: string | undefined; payload: string | Buffer | undefined };
}

const callers = fc.constantFrom<Caller>('anonymous', 'user', 'admin', 'guest', 'user', 'admin');

function caseArbitrary(
  pick: (operation: Operation) => boolean,
  parts: { path?: boolean; query?: boolean; headers?: boolean; body?: boolean },
): fc.Arbitrary<Case> {
  const chosen = () => operations.filter(pick);
  return fc.constantFrom(...chosen()).chain((operation) => {
    const names = operation.parameters.filter((p) => p.in === 'path').map((p) => p.name);
    const plainIds = fc.constantFrom(...PLACEHOLDER_IDS);
    const path = fc.tuple(...names.map(() => (parts.path ? pathValue(PLACEHOLDER_IDS) : plainIds)));
    return fc.record({
      operation: fc.constant(operation),
      caller: callers,
      path: path.map((values) => Object.fromEntries(names.map((name, i) => [name, values[i] ?? '']))),
      query: parts.query ? queryFor(operation) : fc.constant(''),
      headers: parts.headers ? headersFor(PLACEHOLDER_TOKENS) : fc.constant({}),
      body: parts.body
        ? bodyFor(operation)
        : fc.constant(
            Object.keys(operation.bodies).length > 0
              ? { contentType: 'application/json', payload: '{}' }
              : { contentType: undefined, payload: undefined },
          ),
    });
  });
}

function urlOf(c: Case): string {
  const path = c.operation.path.replace(/\{(\w+)\}/g, (_, name: string) => fill(c.path[name] ?? ''));
  return c.query ? `${path}?${c.query}` : path;
}

async function send(c: Case): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (c.caller !== 'anonymous') headers.authorization = `Bearer ${state[`${c.caller}Token`]}`;
  for (const [name, value] of Object.entries(c.headers)) headers[name] = fill(value);
  if (c.body.contentType !== undefined) headers['content-type'] = c.body.contentType;
  // An event stream let in would never end: a malformed Last-Event-ID ends it with a 400 (after
  // every check the fuzz is about).
  if (c.operation.path.endsWith('/events/stream')) headers['last-event-id'] = 'not-an-event-id';
  cases += 1;
  headers[CASE_HEADER] = String(cases);
  return t.app.inject({
    method: c.operation.method as 'GET',
    url: urlOf(c),
    headers,
    ...(c.body.payload === undefined
      ? {}
      : { payload: typeof c.body.payload === 'string' ? fill(c.body.payload) : c.body.payload }),
  });
}

const byRoute = () => new Map(operations.map((o) => [`${o.method} ${o.route}`, o]));

/** What is wrong with a reply, or nothing. */
function faultsOf(res: LightMyRequestResponse, caseId: string): string[] {
  const faults: string[] = [];
  const status = res.statusCode;
  const requestId = String(res.headers['x-request-id'] ?? '');
  if (status >= 500) faults.push(`a ${status}`);
  if (!requestId) faults.push('no X-Request-Id');
  if (res.headers['x-content-type-options'] !== 'nosniff') faults.push('no nosniff');
  const answered = recorder.answeredBy(caseId);
  if (answered?.route) {
    const method = answered.method === 'HEAD' ? 'GET' : answered.method;
    const operation = byRoute().get(`${method} ${answered.route}`);
    if (operation && !operation.statuses.has(status))
      faults.push(`${status} is not documented for ${method} ${operation.path}`);
  }
  if (status >= 400) {
    if (!String(res.headers['content-type']).startsWith('application/problem+json'))
      faults.push(`a ${status} as ${res.headers['content-type']}`);
    let body: { code?: string; status?: number; requestId?: string } = {};
    try {
      body = res.json();
    } catch {
      faults.push('a body that is not JSON');
    }
    if (!body.code || !(body.code in PROBLEMS)) faults.push(`code ${body.code} is not in the catalogue`);
    if (body.status !== status) faults.push(`body status ${body.status} for HTTP ${status}`);
    if (body.requestId !== requestId) faults.push('requestId differs from X-Request-Id');
    if (status === 401 && !String(res.headers['www-authenticate']).startsWith('Bearer realm="taskforge"'))
      faults.push('a 401 without the Bearer challenge');
    if (status === 405 && !res.headers.allow) faults.push('a 405 without Allow');
  }
  return faults;
}

/** The service still answers an ordinary request; callers whose session or task a case ended get new ones. */
async function afterCase(c: Case, res: LightMyRequestResponse): Promise<void> {
  const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: canary });
  expect(me.statusCode, 'the service answers an ordinary request after the case').toBe(200);
  // Only a write that succeeded, or a refused refresh (a reused token ends its session), can have
  // ended a session, disabled a user or deleted a task.
  if (c.operation.method === 'GET' || (res.statusCode >= 300 && !c.operation.path.includes('/auth/'))) return;
  for (const role of ROLES) {
    const check = await t.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${state[`${role}Task`]}`,
      headers: { authorization: `Bearer ${state[`${role}Token`]}` },
    });
    if (check.statusCode !== 200) await provision(role);
  }
}

/**
 * Runs a property and collects every distinct fault (operation, status, what is wrong) with a count
 * and a first example, so one run reports all it finds; the property then fails with the list.
 */
async function run(arbitrary: fc.Arbitrary<Case>): Promise<void> {
  const faults = new Map<string, { count: number; example: string }>();
  const seed = SEED ?? Date.now() ^ (Math.random() * 0x1_0000_0000);
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      const res = await send(c);
      const found = faultsOf(res, String(cases));
      await afterCase(c, res);
      for (const fault of found) {
        const key = `${c.operation.method} ${c.operation.path}: ${fault}`;
        const entry = faults.get(key);
        if (entry) entry.count += 1;
        else {
          const example = `${c.operation.method} ${urlOf(c).slice(0, 200)} as ${c.caller}, headers ${JSON.stringify(c.headers).slice(0, 200)}, body ${JSON.stringify(c.body).slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
          faults.set(key, { count: 1, example });
        }
      }
    }),
    { numRuns: RUNS, seed },
  );
  const report = [...faults].map(([key, { count, example }]) => `${key} (${count}×), e.g. ${example}`);
  expect(report, `FUZZ_SEED=${seed}`).toEqual([]);
}

const TIMEOUT = 300_000;
describe('hostile input on every operation of the OpenAPI document', () => {
  it('covers the routes the app has, not a list in this test', () => {
    expect(operations.length).toBeGreaterThan(40);
    const paths = operations.map((o) => `${o.method} ${o.path}`);
    expect(paths).toContain('POST /api/v1/tasks');
    expect(paths).toContain('POST /api/v2/auth/token');
  });

  it('bodies: wrong types, stray and prototype keys, bad bytes, odd content types', {
    timeout: TIMEOUT,
  }, async () => {
    await run(caseArbitrary(() => true, { body: true }));
  });

  it('query strings: unknown, repeated and huge parameters, bad encodings', {
    timeout: TIMEOUT,
  }, async () => {
    await run(caseArbitrary((o) => o.method === 'GET', { query: true }));
  });

  it('headers: credentials in every form, entity tags, idempotency keys, Accept, request ids', {
    timeout: TIMEOUT,
  }, async () => {
    await run(caseArbitrary(() => true, { headers: true }));
  });

  it('paths: malformed, encoded, over-long and dot-segment ids', { timeout: TIMEOUT }, async () => {
    await run(caseArbitrary((o) => o.path.includes('{'), { path: true }));
  });

  it('all of it at once', { timeout: TIMEOUT }, async () => {
    await run(caseArbitrary(() => true, { path: true, query: true, headers: true, body: true }));
  });
});
