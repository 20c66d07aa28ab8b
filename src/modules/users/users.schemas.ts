import { type Static, Type } from '@sinclair/typebox';
import { Id, StringEnum } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import { PASSWORD_MAX } from '../../lib/password-policy.js';
import { ROLES } from '../../lib/principal.js';
import { SAFE_TEXT_PATTERN } from '../../lib/text.js';

export const Email = Type.String({
  format: 'email',
  maxLength: 254,
  description:
    'an ASCII address (no quoted local part, no internationalised domain); stored and compared lower-cased',
  examples: ['ada@example.com'],
});
export const Name = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: SAFE_TEXT_PATTERN,
  'x-trim': true,
  description: 'trimmed of Unicode white space; 1–100 code points',
  examples: ['Ada Lovelace'],
});
export const RoleSchema = StringEnum(ROLES, { description: 'admin · user · guest' });
/** Length is counted in code points after NFC by the `x-password` keyword (12–128). */
export const NewPassword = Type.String({
  minLength: 1,
  maxLength: PASSWORD_MAX * 4,
  'x-password': true,
  format: 'password',
  pattern: SAFE_TEXT_PATTERN,
  description:
    '12–128 code points after NFC, without control characters; not a common password; not containing the email local part',
});
/** A password being checked, not set: bounded and free of control characters, like every text input. */
export const GivenPassword = Type.String({
  minLength: 1,
  maxLength: 1024,
  format: 'password',
  pattern: SAFE_TEXT_PATTERN,
});
const Timestamp = Type.String({ format: 'date-time', maxLength: 30, examples: ['2026-11-22T01:15:37.000Z'] });

export const UserSchema = Type.Object(
  {
    id: Id,
    email: Type.String({ format: 'email', maxLength: 254 }),
    name: Type.String({ maxLength: 100 }),
    role: RoleSchema,
    disabled: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'User', additionalProperties: false },
);
export type User = Static<typeof UserSchema>;

export const UserPageSchema = PageOf(UserSchema, 'UserPage');
export const UserCursorPageSchema = CursorPageOf(UserSchema, 'UserCursorPage');

export const RegisterBody = Type.Object(
  { email: Email, password: NewPassword, name: Name },
  { additionalProperties: false },
);
export const CreateUserBody = Type.Object(
  { email: Email, password: NewPassword, name: Name, role: Type.Optional(RoleSchema) },
  { additionalProperties: false },
);
export const UpdateMeBody = Type.Object({ name: Type.Optional(Name) }, { additionalProperties: false });
export const UpdateUserBody = Type.Object(
  { name: Type.Optional(Name), role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const ChangePasswordBody = Type.Object(
  { currentPassword: GivenPassword, newPassword: NewPassword },
  { additionalProperties: false },
);
/** The query of both versions' user lists besides the paging. */
export const UserListParams = {
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: SAFE_TEXT_PATTERN })),
  role: Type.Optional(RoleSchema),
};
export const UserIdParams = Type.Object({ id: Id });
