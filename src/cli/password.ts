import { PASSWORD_MAX, PASSWORD_MIN, passwordLength, weakPasswordReason } from '../lib/password-policy.js';
import { CliError, type CliIo } from './io.js';

/**
 * The password a command sets: from `variable` (kept out of the shell history and the process
 * list), else asked twice on the terminal. Checked by the API's own policy before anything opens.
 */
export async function passwordFor(io: CliIo, variable: string, email: string): Promise<string> {
  let password = io.env[variable];
  let source = variable;
  if (!password) {
    if (!io.prompt) {
      throw new CliError(`no password: set ${variable}, or run the command in a terminal to be asked`);
    }
    password = await io.prompt(`New password for ${email}: `);
    if ((await io.prompt('The same again: ')) !== password) throw new CliError('the passwords differ');
    source = 'the password';
  }
  const length = passwordLength(password);
  const weak = weakPasswordReason(password, email);
  if (length < PASSWORD_MIN || length > PASSWORD_MAX || weak) {
    throw new CliError(`${source} ${weak ?? `must have ${PASSWORD_MIN}–${PASSWORD_MAX} characters`}`);
  }
  return password;
}
