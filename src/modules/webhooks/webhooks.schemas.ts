import { type Static, Type } from '@sinclair/typebox';
import { EVENT_TYPES } from '../../lib/change-log.js';
import { Id, StringEnum } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN } from '../../lib/text.js';

/** The webhook resource (contract §8): replies, bodies, paths. */

export const MAX_WEBHOOKS_PER_USER = 20;
export const WEBHOOK_EVENTS = [...EVENT_TYPES, '*'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const Timestamp = Type.String({ format: 'date-time', maxLength: 40, examples: ['2031-01-01T08:00:00.000Z'] });

const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  format: 'uri',
  description:
    'an absolute https:// URL (http:// too when WEBHOOK_ALLOW_HTTP=true), without credentials, whose host resolves only to global unicast addresses (unless WEBHOOK_ALLOW_PRIVATE=true); else 422 url_not_allowed on /url',
  examples: ['https://hooks.example.org/taskforge'],
});

const Events = Type.Array(StringEnum(WEBHOOK_EVENTS), {
  minItems: 1,
  maxItems: WEBHOOK_EVENTS.length,
  uniqueItems: true,
  description:
    'the event types to receive, each at most once (else 422 duplicate), or exactly ["*"] for every type',
  examples: [['task.created', 'task.updated']],
});

const Description = Type.String({
  maxLength: 500,
  pattern: MULTILINE_TEXT_PATTERN,
  description: '0–500 code points, kept as given; tab, line feed and carriage return allowed',
});

const EXAMPLE = {
  id: '01935e1f-2b3e-7d4e-8f5a-6b7e8d9e0f1a',
  url: 'https://hooks.example.org/taskforge',
  events: ['task.created', 'task.updated'],
  projectId: null,
  description: '',
  active: true,
  disabledReason: null,
  createdAt: '2031-01-01T08:00:00.000Z',
  updatedAt: '2031-01-01T08:00:00.000Z',
  lastDeliveryAt: null,
};

export const WebhookSchema = Type.Object(
  {
    id: Id,
    url: Type.String({ maxLength: 2000, format: 'uri' }),
    events: Type.Array(StringEnum(WEBHOOK_EVENTS), { maxItems: WEBHOOK_EVENTS.length }),
    projectId: Type.Union([Id, Type.Null()], {
      description: 'only events of this project; null: of every project its owner may see',
    }),
    description: Type.String({ maxLength: 500, pattern: MULTILINE_TEXT_PATTERN }),
    active: Type.Boolean({
      description: 'false: it receives nothing (turned off, or after 24 h of failures)',
    }),
    disabledReason: Type.Union([Type.String({ maxLength: 500, pattern: SAFE_TEXT_PATTERN }), Type.Null()], {
      description: 'why the service turned it off; null while active or when its owner turned it off',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    lastDeliveryAt: Type.Union([Timestamp, Type.Null()], { description: 'its latest delivery attempt' }),
  },
  { $id: 'Webhook', additionalProperties: false, examples: [EXAMPLE] },
);
export type Webhook = Static<typeof WebhookSchema>;

export const NewWebhookSchema = Type.Object(
  {
    ...WebhookSchema.properties,
    secret: Type.String({
      maxLength: 49,
      pattern: '^whsec_[A-Za-z0-9_-]{43}$',
      description:
        'the signing secret (Taskforge-Signature is keyed with its UTF-8 bytes, whsec_ included): in this reply only, never again',
    }),
  },
  { $id: 'NewWebhook', additionalProperties: false },
);
export type NewWebhook = Static<typeof NewWebhookSchema>;

const READ_ONLY = ['id', 'secret', 'active', 'disabledReason', 'createdAt', 'updatedAt', 'lastDeliveryAt'];

export const CreateWebhookBody = Type.Object(
  {
    url: Url,
    events: Events,
    projectId: Type.Optional(
      Type.Union([Id, Type.Null()], {
        description:
          'a project the caller may see (else 422 not_found on /projectId); null or omitted: every project the owner may see',
      }),
    ),
    description: Type.Optional(Description),
  },
  {
    additionalProperties: false,
    'x-read-only': READ_ONLY,
    examples: [{ url: 'https://hooks.example.org/taskforge', events: ['*'] }],
  },
);
export type CreateWebhook = Static<typeof CreateWebhookBody>;

export const PatchWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Description),
    active: Type.Optional(
      Type.Boolean({ description: 'true turns it back on and clears disabledReason; false turns it off' }),
    ),
  },
  {
    additionalProperties: false,
    'x-read-only': [...READ_ONLY.filter((name) => name !== 'active'), 'projectId'],
    description: 'JSON merge patch (RFC 7396)',
    examples: [{ active: true }],
  },
);
export type PatchWebhook = Static<typeof PatchWebhookBody>;

export const WebhookPageSchema = PageOf(WebhookSchema, 'WebhookPage');
export const WebhookCursorPageSchema = CursorPageOf(WebhookSchema, 'WebhookCursorPage');
export const WebhookIdParams = Type.Object({ id: Id });
