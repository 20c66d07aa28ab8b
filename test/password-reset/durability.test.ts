import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { createUser } from '../helpers/factories.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { until } from '../helpers/wait.js';
import { pendingMailJobs, RESET_URL, requestReset, retriesDueNow, tokenOf } from './helpers.js';

const dirs: string[] = [];
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-reset-'));
  dirs.push(dir);
  return dir;
}

/** A database that outlives an app and that a child process can open (a SQLite file, or a PostgreSQL schema). */
async function durableDatabase(): Promise<TestDatabase> {
  return testDatabaseUrl
    ? createTestDatabase()
    : createTestDatabase({ sqliteFile: join(tempDir(), 'reset.db') });
}

const smtpEnv = () => ({
  SMTP_URL: smtp.url,
  MAIL_FROM: 'no-reply@example.com',
  PASSWORD_RESET_URL: RESET_URL,
});
const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email));

describe(`the reset mail's durability (${testDatabaseUrl ? 'postgres' : 'sqlite'})`, () => {
  it('survives a restart: queued while the mail server is down, sent by the next app on the same database', async () => {
    const db = await durableDatabase();
    try {
      const first = await buildTestApp({ database: db, env: smtpEnv() });
      const user = await createUser(first.app);
      smtp.refuse(1000);
      const connections = smtp.connections;
      expect((await requestReset(first.app, user.email)).statusCode).toBe(202);
      await until(() => smtp.connections > connections);
      await first.close();
      expect(mailsTo(user.email)).toHaveLength(0);
      expect(await pendingMailJobs(db.handle)).toBe(1);

      smtp.refuse(0);
      const second = await buildTestApp({ database: db, env: smtpEnv() });
      try {
        await until(async () => {
          await retriesDueNow(db.handle);
          return mailsTo(user.email).length === 1;
        });
        expect(tokenOf(mailsTo(user.email)[0] ?? { from: '', to: [], raw: '' })).toMatch(
          /^[A-Za-z0-9_-]{43}$/,
        );
      } finally {
        await second.close();
      }
    } finally {
      smtp.refuse(0);
      await db.drop();
    }
  });

  it('writes the mail to the outbox without SMTP_URL, and logs only the recipient and the file', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const t = await buildTestApp({
      // The data folder is the SQLite file's folder: the outbox goes there.
      env: {
        DATABASE_URL: `sqlite:${join(dir, 'unused.db')}`,
        LOG_LEVEL: 'info',
        PASSWORD_RESET_URL: RESET_URL,
      },
      logStream: { write: (line: string) => lines.push(line) },
    });
    try {
      const user = await createUser(t.app);
      expect((await requestReset(t.app, user.email)).statusCode).toBe(202);
      const outbox = join(dir, 'outbox');
      await until(() => {
        try {
          return readdirSync(outbox).length === 1;
        } catch {
          return false;
        }
      });
      const [name = ''] = readdirSync(outbox);
      const file = join(outbox, name);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain(`To: ${user.email}`);
      const token = tokenOf({ from: '', to: [], raw: text });
      await until(() => lines.some((l) => l.includes('mail written to the outbox')));
      const line = JSON.parse(lines.find((l) => l.includes('mail written to the outbox')) ?? '{}');
      expect(line).toMatchObject({ to: user.email, file });
      for (const l of lines) {
        expect(l).not.toContain(token);
        expect(l).not.toContain('reset-password#');
      }
    } finally {
      await t.close();
    }
  });

  it('runs no job with WORKER=off; npm run worker runs it and stops on SIGTERM', async () => {
    const db = await durableDatabase();
    let child: ReturnType<typeof spawn> | null = null;
    try {
      const api = await buildTestApp({ database: db, env: { ...smtpEnv(), WORKER: 'off' } });
      const user = await createUser(api.app);
      const connections = smtp.connections;
      try {
        expect((await requestReset(api.app, user.email)).statusCode).toBe(202);
        // Longer than a poll of either engine: the job waits, untouched.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(smtp.connections).toBe(connections);
        expect(await pendingMailJobs(db.handle)).toBe(1);

        const url = db.url;
        if (!url) throw new Error('the test database has no URL for a child process');
        let output = '';
        // The worker's heartbeat file, read by the container probes, goes in its TMPDIR.
        const workerTmp = mkdtempSync(join(tmpdir(), 'taskforge-worker-tmp-'));
        const probe = () =>
          spawnSync(process.execPath, ['deploy/healthcheck.mjs', 'worker'], { env: { TMPDIR: workerTmp } })
            .status;
        // As `npm run worker` runs it: tsx passes SIGTERM on to the worker.
        child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), ['src/cli/worker.ts'], {
          env: {
            PATH: process.env.PATH,
            DATABASE_URL: url,
            JWT_SECRET: TEST_SECRET,
            LOG_LEVEL: 'info',
            TMPDIR: workerTmp,
            ...smtpEnv(),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        child.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        // 'close', not 'exit': the output is read to its end first.
        const exited = new Promise<number | null>((resolve) => child?.on('close', (code) => resolve(code)));
        await until(() => mailsTo(user.email).length === 1, 30_000);
        expect(output).toContain('worker started');
        expect(probe()).toBe(0);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(output).toContain('worker stopped');
        // A worker that stopped is no longer alive to its probe.
        expect(probe()).toBe(1);
        rmSync(workerTmp, { recursive: true, force: true });
        child = null;
      } finally {
        await api.close();
      }
    } finally {
      child?.kill('SIGKILL');
      await db.drop();
    }
  });
});
