/**
 * A whole session with the typed client: register, log in, create a task, list, update it with
 * If-Match (and see a stale update refused), make an API key and read with it, log out.
 *
 *   npx tsx examples/session.ts http://127.0.0.1:3000
 */
import { pathToFileURL } from 'node:url';
import { PreconditionFailedError, ProblemError, TaskforgeClient } from '../clients/typescript/src/index.js';

export interface SessionOutcome {
  email: string;
  taskId: string;
  listed: string[];
  finalVersion: number;
  staleUpdateRefused: boolean;
  seenWithKey: string[];
  afterLogout: string;
}

export async function main(
  baseUrl: string,
  log: (line: string) => void = console.log,
): Promise<SessionOutcome> {
  const client = new TaskforgeClient({ baseUrl });

  // 1. An account of our own (an Idempotency-Key makes the register safe to retry), then a login.
  const email = `example-${crypto.randomUUID()}@example.com`;
  const password = `tf-${crypto.randomUUID()}`;
  const user = await client.register({ email, password, name: 'Example User' });
  await client.login(email, password);
  log(`registered and logged in as ${user.email}`);

  // 2. Create and list (the list follows v2 cursors; `client.tasks.pages()` walks v1 pages).
  const created = await client.tasks.create({ title: 'Buy milk', priority: 'high', tags: ['home'] });
  log(`created task ${created.data.id} (ETag ${created.etag})`);
  const listed: string[] = [];
  for await (const task of client.tasks.list({ tag: 'home' })) listed.push(task.title);
  log(`listed: ${listed.join(', ')}`);

  // 3. Update with the ETag we read; an update based on the old ETag is refused with a typed 412.
  const read = await client.tasks.get(created.data.id);
  const done = await client.tasks.updateIfMatch(read, { status: 'done' });
  log(`marked done: version ${done.data.version}, completed at ${done.data.completedAt}`);
  let staleUpdateRefused = false;
  try {
    await client.tasks.updateIfMatch(read, { title: 'Buy oat milk' });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    staleUpdateRefused = true;
    log(`stale update refused: ${error.code}, current ETag ${error.currentETag}`);
  }

  // 4. An API key that may only read tasks, used by a client of its own.
  const key = await client.apiKeys.create({ name: 'example reader', scopes: ['tasks:read'] });
  const reader = client.withApiKey(key.key);
  const seenWithKey: string[] = [];
  for await (const task of reader.tasks.list()) seenWithKey.push(task.title);
  log(`API key ${key.prefix}… reads: ${seenWithKey.join(', ')}`);

  // 5. Log out: the session's tokens stop working at once (the key stays until revoked).
  const held = client.credentials;
  await client.logout();
  const replay = new TaskforgeClient({
    baseUrl,
    ...(held.kind === 'tokens' ? { refreshToken: held.refreshToken } : {}),
  });
  let afterLogout = 'accepted';
  try {
    await replay.me();
  } catch (error) {
    if (!(error instanceof ProblemError)) throw error;
    afterLogout = error.code;
  }
  await reader.tasks.get(created.data.id);
  log(`logged out: the old refresh token now gets ${afterLogout}; the API key still reads`);

  return {
    email: user.email,
    taskId: created.data.id,
    listed,
    finalVersion: done.data.version,
    staleUpdateRefused,
    seenWithKey,
    afterLogout,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const baseUrl = process.argv[2];
  if (!baseUrl) {
    console.error('usage: npx tsx examples/session.ts <baseUrl>');
    process.exit(2);
  }
  await main(baseUrl);
}
