import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { type Outcome, type Row, TABLE } from './table.js';
import { CALLERS, type Caller, type Cast, makeCast, makeWorld } from './world.js';

/**
 * The role table (test/roles/table.ts) on every route of projects, members, comments, tasks and webhooks,
 * for every caller: with its access token (version 1), with a key holding every scope its role
 * allows (version 2, X-API-Key: the same outcome), and with a key lacking the row's scope (403).
 * Each request gets a world of its own, so a write never changes what the next request sees.
 */

let t: TestApp;
let cast: Cast;

beforeAll(async () => {
  t = await buildTestApp();
  cast = await makeCast(t.app);
});
afterAll(async () => t?.close());

const METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** `/projects/{id}` and `/projects/{projectId}` are the same route. */
const normalise = (route: string) => route.replace(/\{[^}]+\}/g, '{}');

interface Problem {
  code?: string;
  errors?: { pointer: string; code: string }[];
  items?: { id: string }[];
}

function check(res: LightMyRequestResponse, outcome: Outcome, listedId: string | null, label: string) {
  const body = (res.body ? res.json() : {}) as Problem;
  const seen = `${label}: got ${res.statusCode} ${res.body.slice(0, 300)}`;
  if (outcome === 'in' || outcome === 'out') {
    expect(res.statusCode, seen).toBe(200);
    const ids = (body.items ?? []).map((item) => item.id);
    if (outcome === 'in') expect(ids, seen).toContain(listedId);
    else expect(ids, seen).not.toContain(listedId);
    return;
  }
  const [status, first, second] = outcome.split(':');
  expect(res.statusCode, seen).toBe(Number(status));
  if (status === '403') expect(body.code, seen).toBe('forbidden');
  if (status === '404') expect(body.code, seen).toBe('not_found');
  if (status === '412') expect(body.code, seen).toBe('precondition_failed');
  if (status === '409') expect(body.code, seen).toBe(first);
  if (status === '422') {
    expect(body.code, seen).toBe('validation_failed');
    expect(body.errors, seen).toContainEqual(expect.objectContaining({ pointer: first, code: second }));
  }
}

function outcomes(row: Row): Outcome[] {
  return row.expect.trim().split(/\s+/);
}

async function send(
  row: Row,
  caller: Caller,
  version: 'v1' | 'v2',
  headers: Record<string, string>,
): Promise<{ res: LightMyRequestResponse; listedId: string | null }> {
  const world = await makeWorld(t.db.handle.db, cast, caller, row.world);
  const request = row.request(world, caller, cast);
  const method = row.route.split(' ')[0] as Method;
  // Version 2 lists take `limit` instead of `size`.
  const url = version === 'v2' ? request.url.replace(/([?&])size=/, '$1limit=') : request.url;
  const res = await t.app.inject({
    method,
    url: `/api/${version}${url}`,
    headers: { ...headers, ...request.headers },
    ...(request.body === undefined ? {} : { payload: request.body as object }),
  });
  return { res, listedId: row.listed ? row.listed(world, caller) : null };
}

describe('the role table', () => {
  it('gives every row one outcome per caller, each well-formed', () => {
    for (const row of TABLE) {
      const label = `${row.route} (${row.variant})`;
      expect(outcomes(row), label).toHaveLength(CALLERS.length);
      for (const o of outcomes(row)) {
        expect(o, label).toMatch(/^(in|out|20[0124]|403|404|412|409:[a-z_]+|422:\/[A-Za-z/]+:[a-z_]+)$/);
        if (o === 'in' || o === 'out') expect(row.listed, label).toBeDefined();
      }
    }
  });

  it('has a row for every route under /projects, /comments, /tasks and /webhooks, and the feed, of both versions, and no row without a route', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const rows = new Set(TABLE.map((row) => normalise(row.route)));
    for (const version of ['v1', 'v2']) {
      const served = new Set<string>();
      for (const [path, operations] of Object.entries(doc.paths)) {
        const match = new RegExp(
          `^/api/${version}(/(projects|comments|tasks|webhooks)(/.*)?|/events(/head)?)$`,
        ).exec(path);
        if (!match) continue;
        for (const method of Object.keys(operations)) {
          if (!METHODS.includes(method.toUpperCase() as Method)) continue;
          served.add(normalise(`${method.toUpperCase()} ${match[1]}`));
        }
      }
      // Tasks alone have 6 routes; projects, members and comments 15 more.
      expect(served.size, version).toBeGreaterThanOrEqual(21);
      expect(
        [...served].filter((route) => !rows.has(route)).sort(),
        `${version}: routes without a row`,
      ).toEqual([]);
      expect(
        [...rows].filter((route) => !served.has(route)).sort(),
        `${version}: rows without a route`,
      ).toEqual([]);
    }
  });

  describe.each(TABLE.map((row) => [`${row.route} — ${row.variant}`, row] as const))('%s', (_name, row) => {
    it.each(CALLERS.map((caller, i) => [caller, outcomes(row)[i] ?? '?'] as const))(
      '%s → %s',
      async (caller, outcome) => {
        const who = cast.people[caller];
        const token = await send(row, caller, 'v1', who.headers);
        check(token.res, outcome, token.listedId, `${caller} with a token`);

        const full = await send(row, caller, 'v2', { 'x-api-key': who.fullKey.key });
        const { scope } = row;
        const fullOutcome = scope !== 'keys refused' && who.fullKey.scopes.includes(scope) ? outcome : '403';
        check(
          full.res,
          fullOutcome,
          full.listedId,
          `${caller} with a key of ${who.fullKey.scopes.join(',')}`,
        );

        // A token-only route refuses every key: the full one again, in the other header form.
        const lacking = scope === 'keys refused' ? who.fullKey : (who.lacking[scope] ?? who.fullKey);
        if (scope !== 'keys refused') expect(lacking.scopes).not.toContain(scope);
        const refused = await send(row, caller, 'v1', { authorization: `Bearer ${lacking.key}` });
        check(refused.res, '403', null, `${caller} with a key lacking ${scope}`);
      },
    );
  });
});
