import { describe, expect, it } from 'vitest';
import {
  ApiError,
  fieldError,
  PROBLEM_CODES,
  PROBLEMS,
  problemFromSlug,
  problemSlug,
  validationFailed,
} from '../../src/errors.js';

describe('problem slugs', () => {
  it('maps every code to a slug and back', () => {
    for (const code of PROBLEM_CODES) {
      const slug = problemSlug(code);
      expect(slug).not.toContain('_');
      expect(problemFromSlug(slug)).toBe(code);
    }
    expect(problemSlug('validation_failed')).toBe('validation-failed');
  });

  it.each(['validation_failed', 'no-such-problem', 'constructor', 'to-string', ''])(
    'knows no problem %j',
    (slug) => {
      expect(problemFromSlug(slug)).toBeNull();
    },
  );
});

describe('ApiError', () => {
  it("takes the catalogue's status and title by default", () => {
    const error = new ApiError('last_owner');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ApiError');
    expect(error.code).toBe('last_owner');
    expect(error.status).toBe(409);
    expect(error.detail).toBe(PROBLEMS.last_owner.title);
    expect(error.message).toBe(PROBLEMS.last_owner.title);
    expect(error.errors).toBeUndefined();
    expect(error.headers).toEqual({});
    expect(error.extensions).toEqual({});
    expect(error.cause).toBeUndefined();
  });

  it('takes a detail, a status, headers, extensions and a cause', () => {
    const cause = new Error('underneath');
    const error = new ApiError('account_disabled', {
      detail: 'Disabled',
      status: 401,
      headers: { 'retry-after': '1' },
      extensions: { error: 'invalid_grant' },
      cause,
    });
    expect(error.status).toBe(401);
    expect(error.detail).toBe('Disabled');
    expect(error.message).toBe('Disabled');
    expect(error.headers).toEqual({ 'retry-after': '1' });
    expect(error.extensions).toEqual({ error: 'invalid_grant' });
    expect(error.cause).toBe(cause);
  });
});

describe('validationFailed and fieldError', () => {
  it('counts the invalid fields in the detail, singular and plural', () => {
    const one = fieldError('/title', 'too_long', 'At most 200 characters');
    expect(one.code).toBe('validation_failed');
    expect(one.status).toBe(422);
    expect(one.detail).toBe('1 field is invalid');
    expect(one.errors).toEqual([{ pointer: '/title', code: 'too_long', detail: 'At most 200 characters' }]);
    const errors = [
      { pointer: '/a', code: 'required', detail: 'a' },
      { pointer: '/b', code: 'required', detail: 'b' },
    ];
    const two = validationFailed(errors);
    expect(two.detail).toBe('2 fields are invalid');
    expect(two.errors).toBe(errors);
    expect(validationFailed([]).detail).toBe('0 fields are invalid');
  });
});
