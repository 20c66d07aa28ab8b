import { type Static, Type } from '@sinclair/typebox';
import { Id } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import { MULTILINE_TEXT_PATTERN } from '../../lib/text.js';

/** The comment resource (contract §7): replies, bodies, paths. */

const Timestamp = Type.String({ format: 'date-time', maxLength: 40, examples: ['2031-01-01T08:00:00.000Z'] });

const EXAMPLE = {
  id: '01935c1f-2b3c-7d4e-8f5a-6b7c8d9e0f1a',
  taskId: '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d',
  authorId: '01935c1d-0b1e-7f00-8c55-5b0f3a1d2e3f',
  body: 'Bought semi-skimmed;\nthe shop had no whole milk.',
  createdAt: '2031-01-01T08:00:00.000Z',
  updatedAt: '2031-01-01T08:05:00.000Z',
  edited: true,
};

export const CommentSchema = Type.Object(
  {
    id: Id,
    taskId: Id,
    authorId: Type.Union([Id, Type.Null()], { description: 'its author; null once that account is deleted' }),
    body: Type.String({ maxLength: 10_000 }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    edited: Type.Boolean({ description: 'true once its body was changed' }),
  },
  { $id: 'Comment', additionalProperties: false, examples: [EXAMPLE] },
);
export type Comment = Static<typeof CommentSchema>;

export const CommentPageSchema = PageOf(CommentSchema, 'CommentPage');
export const CommentCursorPageSchema = CursorPageOf(CommentSchema, 'CommentCursorPage');

/**
 * Kept as given (not trimmed: white space may shape the text), but it must hold a character that
 * is not white space (`x-not-blank`, item code too_short like a blank title).
 */
const Body = Type.String({
  minLength: 1,
  maxLength: 10_000,
  pattern: MULTILINE_TEXT_PATTERN,
  'x-not-blank': true,
  description:
    '1–10,000 code points, kept as given; must hold a character that is not white space; tab, line feed and carriage return allowed',
  examples: [EXAMPLE.body],
});

const READ_ONLY = ['id', 'taskId', 'authorId', 'createdAt', 'updatedAt', 'edited'];

export const CreateCommentBody = Type.Object(
  { body: Body },
  { additionalProperties: false, 'x-read-only': READ_ONLY, examples: [{ body: 'Done, see the receipt.' }] },
);
export const PatchCommentBody = Type.Object(
  { body: Type.Optional(Body) },
  {
    additionalProperties: false,
    'x-read-only': READ_ONLY,
    description: 'JSON merge patch (RFC 7396)',
    examples: [{ body: 'Done, see the receipt (attached).' }],
  },
);
export type CommentInput = Static<typeof PatchCommentBody>;

export const IdParams = Type.Object({ id: Id });
