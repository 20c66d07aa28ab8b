import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../errors.js';

/**
 * Opaque, signed list cursors (version 2). A cursor carries the position after the last item a
 * page showed, and is bound to what the page was a page of — the caller, the filters and the sort,
 * not the limit — so a cursor used with anything else is refused. The signing key is derived from
 * JWT_SECRET for this purpose only (HKDF), so it signs nothing else.
 */
export class CursorSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'taskforge', 'list-cursor-v1', 32));
  }

  sign(binding: unknown, position: unknown): string {
    const payload = Buffer.from(JSON.stringify({ b: digest(binding), p: position })).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The position a cursor carries; 400 `invalid_cursor` when it is forged, malformed or bound elsewhere. */
  open(binding: unknown, cursor: string): unknown {
    // `payload.mac`, found without splitting: a cursor of a thousand dots makes no thousand strings.
    const dot = cursor.indexOf('.');
    if (dot <= 0 || dot === cursor.length - 1 || cursor.indexOf('.', dot + 1) !== -1) throw invalid();
    const payload = cursor.slice(0, dot);
    const mac = cursor.slice(dot + 1);
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let decoded: { b?: unknown; p?: unknown };
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        b?: unknown;
        p?: unknown;
      };
    } catch {
      throw invalid();
    }
    if (decoded.b !== digest(binding)) throw invalid('The cursor belongs to another caller, filter or sort');
    return decoded.p;
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

function digest(binding: unknown): string {
  return createHash('sha256').update(JSON.stringify(binding)).digest('base64url').slice(0, 22);
}

function invalid(detail = 'The cursor is not valid'): ApiError {
  return new ApiError('invalid_cursor', { detail });
}
