import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { type Argon2, defaultHashLimits, type HashLimits, PasswordHasher } from '../../src/lib/passwords.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD, uniqueEmail } from '../helpers/factories.js';

const CHEAP = { memoryCost: 1024, timeCost: 1 };

/** The real argon2, counting how many calls run at once; `hold` makes every call wait for a release. */
function countingArgon2() {
  let running = 0;
  let calls = 0;
  let holding = false;
  let waiters: (() => void)[] = [];
  const stats = { maxRunning: 0 };
  const gate = async () => {
    calls += 1;
    running += 1;
    stats.maxRunning = Math.max(stats.maxRunning, running);
    if (holding) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const argon2: Argon2 = {
    hash: (async (...args: Parameters<typeof hash>) => {
      await gate();
      try {
        return await hash(...args);
      } finally {
        running -= 1;
      }
    }) as typeof hash,
    verify: (async (...args: Parameters<typeof verify>) => {
      await gate();
      try {
        return await verify(...args);
      } finally {
        running -= 1;
      }
    }) as typeof verify,
  };
  return {
    argon2,
    stats,
    get running() {
      return running;
    },
    get calls() {
      return calls;
    },
    hold() {
      holding = true;
    },
    /** Lets every held call go on, and the later ones run straight through. */
    release() {
      holding = false;
      const ready = waiters;
      waiters = [];
      for (const go of ready) go();
    },
    /** Lets the oldest held call go on; later calls are still held. */
    releaseOne() {
      waiters.shift()?.();
    },
  };
}

function hasherWith(limits: HashLimits, counting = countingArgon2()) {
  return { hasher: new PasswordHasher(CHEAP, { limits, argon2: counting.argon2 }), counting };
}

/** Resolves once the hasher's load is what the test waits for (work is admitted asynchronously). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('the default limits', () => {
  it('leave a core to the event loop: max(1, cores - 1) hashes at once, 16 waiting per hashing core', () => {
    expect(defaultHashLimits(1)).toEqual({ concurrency: 1, queue: 16 });
    expect(defaultHashLimits(2)).toEqual({ concurrency: 1, queue: 16 });
    expect(defaultHashLimits(8)).toEqual({ concurrency: 7, queue: 112 });
    expect(new PasswordHasher().limits).toEqual(defaultHashLimits(availableParallelism()));
  });

  it('share the hashing cores among the worker processes (WEB_CONCURRENCY), at least one each', async () => {
    expect(defaultHashLimits(9, 2)).toEqual({ concurrency: 4, queue: 64 });
    expect(defaultHashLimits(2, 4)).toEqual({ concurrency: 1, queue: 16 });
    const t = await buildTestApp({ env: { WEB_CONCURRENCY: '2', REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      expect(t.app.ctx.passwordHasher.limits).toEqual(defaultHashLimits(availableParallelism(), 2));
    } finally {
      await t.close();
    }
  });
});

describe('the hasher', () => {
  it('never runs more hashes and verifications at once than its concurrency, and runs them all', async () => {
    const { hasher, counting } = hasherWith({ concurrency: 2, queue: 100 });
    const stored = await hasher.hash(PASSWORD);
    const work = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0 ? hasher.hash(`password number ${i}`) : hasher.verify(stored, PASSWORD),
    );
    const results = await Promise.all(work);
    expect(counting.stats.maxRunning).toBe(2);
    expect(counting.calls).toBe(41);
    results.forEach((result, i) => {
      if (i % 2 === 0) expect(result).toMatch(/^\$argon2id\$/);
      else expect(result).toBe(true);
    });
    expect(hasher.load).toEqual({ inFlight: 0, queued: 0 });
  });

  it('queues at most `queue`, refuses the rest at once with 503 overloaded and Retry-After, and runs the queued ones', async () => {
    const { hasher, counting } = hasherWith({ concurrency: 2, queue: 3 });
    counting.hold();
    const accepted = Array.from({ length: 5 }, (_, i) => hasher.hash(`accepted ${i}`));
    await until(() => counting.running === 2);
    expect(hasher.load).toEqual({ inFlight: 2, queued: 3 });

    const refused = await refusal(hasher.hash('one too many'));
    expect(refused.code).toBe('overloaded');
    expect(refused.status).toBe(503);
    expect(refused.headers).toEqual({ 'retry-after': '1' });
    // Refused before any work: argon2 was never called for it.
    expect(counting.calls).toBe(2);

    // A finished hash hands its turn to the oldest waiting one, and frees a place in the queue.
    counting.releaseOne();
    await until(() => counting.calls === 3);
    expect(hasher.load).toEqual({ inFlight: 2, queued: 2 });
    const late = hasher.hash('accepted later');
    expect(hasher.load.queued).toBe(3);
    expect(counting.stats.maxRunning).toBe(2);

    counting.release();
    const hashes = await Promise.all([...accepted, late]);
    for (const h of hashes) expect(h).toMatch(/^\$argon2id\$/);
    expect(counting.stats.maxRunning).toBe(2);
    expect(hasher.load).toEqual({ inFlight: 0, queued: 0 });
  });

  it('refuses a verification, a dummy verification and a hash alike (no oracle), never as a wrong password', async () => {
    const { hasher, counting } = hasherWith({ concurrency: 1, queue: 0 });
    const stored = await hasher.hash(PASSWORD);
    await hasher.prepare();
    counting.hold();
    const running = hasher.hash('holds the only turn');
    await until(() => counting.running === 1);

    const known = await refusal(hasher.verify(stored, PASSWORD));
    const unknown = await refusal(hasher.verifyDummy(PASSWORD));
    const hashed = await refusal(hasher.hash(PASSWORD));
    for (const error of [unknown, hashed]) {
      expect({
        code: error.code,
        status: error.status,
        detail: error.detail,
        headers: error.headers,
      }).toEqual({
        code: known.code,
        status: known.status,
        detail: known.detail,
        headers: known.headers,
      });
    }
    counting.release();
    await running;
    expect(await hasher.verify(stored, PASSWORD)).toBe(true);
    expect(await hasher.verify(stored, 'not the password at all')).toBe(false);
  });

  it('frees its turn when argon2 fails', async () => {
    const failing: Argon2 = {
      hash: (async () => {
        throw new Error('argon2 failed');
      }) as unknown as typeof hash,
      verify: (async () => {
        throw new Error('argon2 failed');
      }) as unknown as typeof verify,
    };
    const hasher = new PasswordHasher(CHEAP, { limits: { concurrency: 1, queue: 0 }, argon2: failing });
    await expect(hasher.hash(PASSWORD)).rejects.toThrow('argon2 failed');
    // A malformed stored hash is a wrong password, not an error.
    expect(await hasher.verify('not a hash', PASSWORD)).toBe(false);
    expect(hasher.load).toEqual({ inFlight: 0, queued: 0 });
  });
});

describe('the routes that hash, while the hasher is full', () => {
  let t: TestApp;
  const counting = countingArgon2();
  const hasher = new PasswordHasher(CHEAP, { limits: { concurrency: 1, queue: 1 }, argon2: counting.argon2 });
  let email: string;
  let accessToken: string;
  let adminToken: string;

  beforeAll(async () => {
    t = await buildTestApp({ overrides: { passwordHasher: hasher } });
    email = (await createUser(t.app)).email;
    accessToken = (await login(t.app, email)).accessToken;
    const admin = await createUser(t.app, { role: 'admin' });
    adminToken = (await login(t.app, admin.email)).accessToken;
  });
  afterAll(async () => t.close());

  /** Two logins take the one turn and the one place in the queue, until `counting.release()`. */
  async function fill() {
    counting.hold();
    const waiting = [login(t.app, email), login(t.app, email)];
    await until(() => hasher.load.inFlight === 1 && hasher.load.queued === 1);
    return waiting;
  }

  function expectOverloaded(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) {
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.json()).toMatchObject({ status: 503, code: 'overloaded' });
  }

  it('answers a login 503 overloaded, the same for a known and an unknown email; queued logins then succeed', async () => {
    const waiting = await fill();
    const known = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: uniqueEmail('nobody'), password: PASSWORD },
    });
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/v2/auth/login',
      payload: { email, password: 'a wrong but long password' },
    });
    for (const res of [known, unknown, wrong]) expectOverloaded(res);
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: null, instance: null });
    expect(strip(unknown.json())).toEqual(strip(known.json()));
    expect(strip(wrong.json())).toEqual(strip(known.json()));
    expect(Object.keys(unknown.headers).sort()).toEqual(Object.keys(known.headers).sort());

    counting.release();
    for (const pair of await Promise.all(waiting)) expect(pair.tokenType).toBe('Bearer');
  });

  it('answers register, the token password grant, a password change and POST /users 503 overloaded', async () => {
    const waiting = await fill();
    const auth = { authorization: `Bearer ${accessToken}` };
    const replies = [
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email: uniqueEmail('new'), password: PASSWORD, name: 'New' },
      }),
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'password',
          username: email,
          password: PASSWORD,
        }).toString(),
      }),
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/users/me/password',
        headers: auth,
        payload: { currentPassword: PASSWORD, newPassword: 'another long passphrase here' },
      }),
      await t.app.inject({
        method: 'POST',
        url: '/api/v2/users',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { email: uniqueEmail('made'), password: PASSWORD, name: 'Made' },
      }),
    ];
    for (const res of replies) expectOverloaded(res);
    // A route that hashes nothing is served meanwhile.
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: auth });
    expect(me.statusCode).toBe(200);
    counting.release();
    await Promise.all(waiting);
  });

  it('documents 503 on every route that hashes', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    for (const version of ['v1', 'v2']) {
      for (const [path, method] of [
        ['/auth/register', 'post'],
        ['/auth/login', 'post'],
        ['/auth/token', 'post'],
        ['/users/me/password', 'post'],
        ['/users', 'post'],
      ] as const) {
        expect(doc.paths[`/api/${version}${path}`]?.[method]?.responses, `${method} ${path}`).toHaveProperty([
          '503',
        ]);
      }
    }
  });
});
