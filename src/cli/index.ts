import { readEnvironment } from '../lib/environment.js';
import { runCli } from './cli.js';
import { processIo } from './io.js';

/** `npm run cli -- <command> [options]`: the admin tool (cli.ts lists its commands). */
runCli(process.argv.slice(2), processIo(readEnvironment())).then((code) => {
  process.exitCode = code;
});
