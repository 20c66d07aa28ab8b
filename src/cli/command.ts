import type { CliIo } from './io.js';

export interface Parsed {
  /** The positional arguments, in order. */
  args: string[];
  /** The options given: a flag's value is true, a valued option's its text. */
  options: Record<string, string | true>;
}

/** One command of `npm run cli`: its help, what it takes, and what it does. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The synopsis after `npm run cli --`, e.g. `end-sessions <email>`. */
  usage: string;
  /** Further help lines: options, environment, what it changes. */
  help: string[];
  /** The names of the positional arguments it requires; `optional` of those it may take after them. */
  args: string[];
  optional?: string[];
  /** `--name`: 'value' takes the next argument (or `--name=value`), 'flag' takes none. */
  options: Record<string, 'value' | 'flag'>;
  /** The command parses its own words (migrate's sub-commands); args/options are then unused. */
  ownParser?: true;
  run(parsed: Parsed, io: CliIo, raw: string[]): Promise<number>;
}
