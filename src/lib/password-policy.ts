import { dictionary } from '@zxcvbn-ts/language-common';
import type { FieldError } from '../errors.js';

/**
 * The contract's password rules. Length (12–128 code points after NFC) is a schema rule, checked
 * with every other field; being on the common-password list or containing the email's local
 * part makes a password weak.
 */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

// Long passwords that leak lists are full of but zxcvbn's list (of mostly short ones) lacks.
const SUPPLEMENT = [
  'password1234',
  'password12345',
  'password123456',
  'passwordpassword',
  'password1234567',
  '123456789012',
  '1234567890123',
  '12345678901234',
  '1234567890qwerty',
  'qwertyuiop12',
  'qwertyuiop123',
  'qwertyuiopasdfgh',
  'qwerty12345678',
  'iloveyou1234',
  'iloveyouiloveyou',
  'letmein12345',
  'welcome12345',
  'welcome123456',
  'adminadmin123',
  'administrator',
  'changeme1234',
  'abcdefghijkl',
  'abcdefgh1234',
  'abc123abc123',
  'aaaaaaaaaaaa',
  '111111111111',
  '000000000000',
  'trustno1trustno1',
  'football1234',
  'baseball1234',
  'superman1234',
  'monkey123456',
  'dragon123456',
  'sunshine1234',
  'princess1234',
];

// zxcvbn's list of frequent passwords (MIT) plus the supplement; shorter entries cannot pass the
// length rule anyway, so only the long ones are kept in memory.
let common: Set<string> | null = null;
function commonPasswords(): Set<string> {
  common ??= new Set(
    [...dictionary['passwords-common'], ...SUPPLEMENT]
      .filter((p) => [...p].length >= PASSWORD_MIN)
      .map((p) => p.toLowerCase()),
  );
  return common;
}

/** Code points after NFC, counted without building an array of them (the rule sees any length). */
export function passwordLength(password: string): number {
  const text = password.normalize('NFC');
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point; a lone one counts alone.
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** Why the password is weak, or null when it is acceptable. */
export function weakPasswordReason(password: string, email: string): string | null {
  const lowered = password.normalize('NFC').toLowerCase();
  if (commonPasswords().has(lowered)) return 'is on the list of common passwords';
  const local = (email.split('@')[0] ?? '').toLowerCase();
  if ([...local].length >= 4 && lowered.includes(local)) return 'must not contain the email address';
  return null;
}

export function weakPasswordError(pointer: string, reason: string): FieldError {
  return { pointer, code: 'weak_password', detail: reason };
}
