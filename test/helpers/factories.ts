import type { FastifyInstance } from 'fastify';
import type { Role } from '../../src/lib/principal.js';
import type { User } from '../../src/modules/users/users.schemas.js';

export const PASSWORD = 'correct horse battery staple';

let counter = 0;
/** A unique, valid email for this test run. */
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}.${process.pid}@example.com`;
}

/** A user created directly through the service (any role), with the shared test password. */
export async function createUser(
  app: FastifyInstance,
  options: { role?: Role; email?: string; name?: string; password?: string } = {},
): Promise<User> {
  const service = app.ctx.services.users;
  return service.create({
    email: options.email ?? uniqueEmail(options.role ?? 'user'),
    password: options.password ?? PASSWORD,
    name: options.name ?? 'Test User',
    ...(options.role ? { role: options.role } : {}),
  });
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  refreshExpiresIn: number;
  tokenType: string;
}

export async function login(app: FastifyInstance, email: string, password = PASSWORD): Promise<Tokens> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return res.json() as Tokens;
}

/** A user of the given role, logged in: its record, tokens and an Authorization header. */
export async function signedIn(app: FastifyInstance, role: Role = 'user') {
  const user = await createUser(app, { role });
  const tokens = await login(app, user.email);
  return { user, tokens, headers: { authorization: `Bearer ${tokens.accessToken}` } };
}

/** The id of a user's personal project ("Inbox"), made with the account. */
export async function personalProjectId(app: FastifyInstance, userId: string): Promise<string> {
  return app.ctx.services.projects.personalProjectId(userId);
}
