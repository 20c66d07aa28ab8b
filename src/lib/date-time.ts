/**
 * RFC 3339 date-times as the contract takes them: `T` between date and time, any offset,
 * optional fractions (more than 3 digits truncated), no leap second, no date without a time.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-](\d{2}):(\d{2}))$/i;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Milliseconds since the epoch, or null when `text` is not a date-time the contract accepts. */
export function parseDateTime(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = m[7] ?? '';
  if (month < 1 || month > 12) return null;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8]?.toUpperCase() !== 'Z') {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[8]?.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  // Date.UTC maps years 0–99 to 1900–1999, so set the full year explicitly.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  date.setUTCFullYear(year);
  const time = date.getTime() - offsetMinutes * 60_000;
  if (!Number.isFinite(time)) return null;
  // The output form has four-digit years: 9999-12-31T23:30:00-01:00 is year 10000 in UTC, which
  // would print as +010000-… and sort before every other date stored as text.
  const utcYear = new Date(time).getUTCFullYear();
  return utcYear >= 0 && utcYear <= 9999 ? time : null;
}

export function isDateTime(text: string): boolean {
  return parseDateTime(text) !== null;
}

/** The canonical output form: UTC with milliseconds. Throws on an invalid input (a bug upstream). */
export function toIsoMillis(text: string): string {
  const time = parseDateTime(text);
  if (time === null) throw new RangeError(`not an RFC 3339 date-time: ${text}`);
  return new Date(time).toISOString();
}
