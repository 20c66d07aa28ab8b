import { Type } from '@sinclair/typebox';
import { SAFE_TEXT_PATTERN } from '../../lib/text.js';
import { Email, NewPassword } from '../users/index.js';

export const PasswordResetRequestBody = Type.Object({ email: Email }, { additionalProperties: false });

/**
 * Like every text input, a token with a control character or a lone surrogate is a 422; any
 * other string that is not an open link's token is 400 invalid_reset_token.
 */
const ResetToken = Type.String({
  maxLength: 1000,
  pattern: SAFE_TEXT_PATTERN,
  description: 'the token of the mailed link',
});

export const PasswordResetConfirmBody = Type.Object(
  { token: ResetToken, newPassword: NewPassword },
  { additionalProperties: false },
);
