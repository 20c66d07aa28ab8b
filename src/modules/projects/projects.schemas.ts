import { type Static, Type } from '@sinclair/typebox';
import { Id, StringEnum } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import { PROJECT_ROLES } from '../../lib/principal.js';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN } from '../../lib/text.js';

/** The route schemas of projects and their members (contract §7). */

const Timestamp = Type.String({ format: 'date-time', maxLength: 30, examples: ['2026-11-22T01:15:37.000Z'] });

export const ProjectRoleSchema = StringEnum(PROJECT_ROLES, {
  description: 'viewer · commenter · editor · owner',
});

const ProjectName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: SAFE_TEXT_PATTERN,
  'x-trim': true,
  description: 'trimmed of Unicode white space; 1–100 code points',
  examples: ['Website relaunch'],
});
const ProjectDescription = Type.String({
  maxLength: 2000,
  pattern: MULTILINE_TEXT_PATTERN,
  description: '0–2,000 code points; tab, line feed and carriage return allowed',
});
/** An email as the members routes take it: found lower-cased, like logins. */
const MemberEmail = Type.String({
  format: 'email',
  maxLength: 254,
  description: 'the email of an existing account (compared lower-cased)',
  examples: ['grace@example.com'],
});

export const ProjectSchema = Type.Object(
  {
    id: Id,
    name: Type.String({ maxLength: 100 }),
    description: Type.String({ maxLength: 2000 }),
    ownerId: Type.Union([Id, Type.Null()], { description: 'its creator; null once that account is deleted' }),
    personal: Type.Boolean({ description: "true for the user's own Inbox" }),
    archived: Type.Boolean(),
    role: Type.Unsafe<(typeof PROJECT_ROLES)[number]>({
      ...ProjectRoleSchema,
      description: "the caller's own role in it (admins: owner)",
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, format: 'int64' }),
  },
  {
    $id: 'Project',
    additionalProperties: false,
    examples: [
      {
        id: '01935c1d-0c2a-7a10-9b3e-2f4c6d8e0a1b',
        name: 'Website relaunch',
        description: '',
        ownerId: '01935c1d-0b1e-7f00-8c55-5b0f3a1d2e3f',
        personal: false,
        archived: false,
        role: 'owner',
        createdAt: '2026-11-22T01:15:37.000Z',
        updatedAt: '2026-11-22T01:15:37.000Z',
        version: 1,
      },
    ],
  },
);
export type Project = Static<typeof ProjectSchema>;
export const ProjectPageSchema = PageOf(ProjectSchema, 'ProjectPage');
export const ProjectCursorPageSchema = CursorPageOf(ProjectSchema, 'ProjectCursorPage');

export const MemberSchema = Type.Object(
  {
    userId: Id,
    name: Type.String({ maxLength: 100 }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    role: Type.Unsafe<(typeof PROJECT_ROLES)[number]>({
      ...ProjectRoleSchema,
      description: "the effective role: the granted one, capped by the member's current global role",
    }),
    addedAt: Timestamp,
  },
  {
    $id: 'Member',
    additionalProperties: false,
    examples: [
      {
        userId: '01935c1d-0b1e-7f00-8c55-5b0f3a1d2e3f',
        name: 'Grace Hopper',
        email: 'grace@example.com',
        role: 'editor',
        addedAt: '2026-11-22T01:15:37.000Z',
      },
    ],
  },
);
export type Member = Static<typeof MemberSchema>;
export const MemberPageSchema = PageOf(MemberSchema, 'MemberPage');
export const MemberCursorPageSchema = CursorPageOf(MemberSchema, 'MemberCursorPage');

const PROJECT_READ_ONLY = ['id', 'ownerId', 'personal', 'role', 'createdAt', 'updatedAt', 'version'];

export const CreateProjectBody = Type.Object(
  { name: ProjectName, description: Type.Optional(ProjectDescription) },
  {
    additionalProperties: false,
    'x-read-only': PROJECT_READ_ONLY,
    examples: [{ name: 'Website relaunch', description: 'Everything for the new site' }],
  },
);
export type CreateProject = Static<typeof CreateProjectBody>;

export const PatchProjectBody = Type.Object(
  {
    name: Type.Optional(ProjectName),
    description: Type.Optional(ProjectDescription),
    archived: Type.Optional(Type.Boolean({ description: 'true archives (read-only); false unarchives' })),
  },
  {
    additionalProperties: false,
    'x-read-only': PROJECT_READ_ONLY,
    description: 'JSON merge patch (RFC 7396)',
    examples: [{ archived: true }],
  },
);
export type PatchProject = Static<typeof PatchProjectBody>;

export const AddMemberBody = Type.Object(
  { email: MemberEmail, role: ProjectRoleSchema },
  {
    additionalProperties: false,
    'x-read-only': ['userId', 'name', 'addedAt'],
    examples: [{ email: 'grace@example.com', role: 'editor' }],
  },
);
export type AddMember = Static<typeof AddMemberBody>;

export const PatchMemberBody = Type.Object(
  { role: ProjectRoleSchema },
  {
    additionalProperties: false,
    'x-read-only': ['userId', 'name', 'email', 'addedAt'],
    examples: [{ role: 'viewer' }],
  },
);
export type PatchMember = Static<typeof PatchMemberBody>;

export const ProjectListParams = {
  archived: Type.Optional(
    Type.Boolean({ description: 'true: archived projects only; false: unarchived only; absent: both' }),
  ),
  q: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: SAFE_TEXT_PATTERN,
      description: 'substring of the name, any case; `%` and `_` literally',
    }),
  ),
};
export type ProjectListFilters = { archived?: boolean; q?: string };

export const ProjectIdParams = Type.Object({ id: Id });
export const MemberParams = Type.Object({ id: Id, userId: Id });
