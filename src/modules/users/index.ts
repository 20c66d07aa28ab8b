import { defineModule } from '../../lib/module.js';
import { usersRoutes } from './users.routes.js';
import { UserCursorPageSchema, UserPageSchema, UserSchema } from './users.schemas.js';
import { UsersService } from './users.service.js';

/** Users: the caller, and user administration. Other modules use it through this entry only. */
export const usersModule = defineModule({
  name: 'users',
  tag: { name: 'users', description: 'The caller, and user administration (admins)' },
  schemas: [UserSchema, UserPageSchema, UserCursorPageSchema],
  services: (ctx) => ({ users: new UsersService(ctx) }),
  routes: usersRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    users: UsersService;
  }
}

export { Email, GivenPassword, NewPassword, RegisterBody, type User, UserSchema } from './users.schemas.js';
export {
  type AdminOutcome,
  type Credentials,
  describeAdminInstall,
  type UsersService,
} from './users.service.js';
