import { readEnvironment } from '../lib/environment.js';
import { migrate } from './commands/migrate.js';
import { processIo } from './io.js';

/** `npm run migrate [-- latest | down --yes | status | --to <version>]`: see commands/migrate.ts. */
migrate(process.argv.slice(2), processIo(readEnvironment())).then((code) => {
  process.exitCode = code;
});
