import { readEnvironment } from '../lib/environment.js';
import { createAdminCommand } from './commands/users.js';
import { CliError, processIo } from './io.js';

/**
 * `npm run create-admin -- <email> [name]`, with the password in ADMIN_PASSWORD: the older form of
 * `npm run cli -- create-admin <email> [--name <name>]`, running the same code.
 */
async function main(): Promise<number> {
  const io = processIo(readEnvironment());
  const [email, name, extra] = process.argv.slice(2);
  if (!email || extra !== undefined || (!io.env.ADMIN_PASSWORD && !io.prompt)) {
    io.stderr('usage: ADMIN_PASSWORD=… npm run create-admin -- <email> [name]\n');
    return 2;
  }
  try {
    return await createAdminCommand.run({ args: [email], options: name ? { '--name': name } : {} }, io, []);
  } catch (error) {
    io.stderr(
      error instanceof CliError
        ? `${error.message}\n`
        : `create-admin failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
}

main().then((code) => {
  process.exitCode = code;
});
