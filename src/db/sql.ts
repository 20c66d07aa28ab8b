/** Small SQL helpers shared by the repositories, identical on both dialects. */

/** A unique-constraint violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** `%`, `_` and the escape character itself match literally in `LIKE … ESCAPE '\'`. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

/** pg returns count(*) as a string (bigint); SQLite as a number. */
export function toCount(value: unknown): number {
  return Number(value ?? 0);
}
