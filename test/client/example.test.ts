import { describe, expect, it } from 'vitest';
import { main } from '../../examples/session.js';
import { buildTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/free-port.js';

/** examples/session.ts, run against a started server, does what it says. */
describe('examples/session.ts', () => {
  it('runs a whole session against a listening server', async () => {
    const t = await buildTestApp();
    try {
      const port = await freePort();
      await t.app.listen({ host: '127.0.0.1', port });
      const lines: string[] = [];
      const outcome = await main(`http://127.0.0.1:${port}`, (line) => lines.push(line));
      expect(outcome).toMatchObject({
        listed: ['Buy milk'],
        finalVersion: 2,
        staleUpdateRefused: true,
        seenWithKey: ['Buy milk'],
        afterLogout: 'token_revoked',
      });
      expect(outcome.email).toMatch(/^example-.+@example\.com$/);
      expect(lines).toHaveLength(7);
      // What the session left behind, read on the server's side.
      const task = await t.app.ctx.database.db
        .selectFrom('tasks')
        .select(['title', 'status', 'version'])
        .where('id', '=', outcome.taskId)
        .executeTakeFirstOrThrow();
      expect(task).toEqual({ title: 'Buy milk', status: 'done', version: 2 });
    } finally {
      await t.close();
    }
  });
});
