import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_ONLY } from '../../lib/principal.js';
import {
  CreateWebhookBody,
  MAX_WEBHOOKS_PER_USER,
  NewWebhookSchema,
  PatchWebhookBody,
  WebhookCursorPageSchema,
  WebhookIdParams,
  WebhookPageSchema,
  WebhookSchema,
} from './webhooks.schemas.js';

/** Signed in with an access token, any role; API keys cannot manage webhooks (no scope: 403). */
const TOKEN = { auth: {} };
const NO_CONTENT = { description: 'Deleted', type: 'null' } as const;

const RULES =
  'An access token only: an API key gets 403 `forbidden` (a webhook holds a secret). Every reply is `Cache-Control: no-store`. A webhook is its owner’s only: another user’s, an admin’s included, is 404.';
const URL_POLICY =
  '`url` must be an absolute `https://` URL (`http://` too when WEBHOOK_ALLOW_HTTP=true) without credentials, and its host (an IP literal, or a name resolved at once) must have only global unicast addresses: loopback, private, CGNAT, link-local, unique-local, metadata, unspecified, multicast, broadcast, reserved and documentation addresses, and IPv4-mapped, NAT64 or 6to4 forms of them, are refused unless WEBHOOK_ALLOW_PRIVATE=true; so is a name that does not resolve. A refused URL is 422 `url_not_allowed` on `/url` (a value that is not a URI at all: `format`). The same check is made again before every delivery, which connects to the address that was checked and follows no redirect.';
const EVENTS_RULE =
  '`events` lists event types, each at most once (else 422 `duplicate`), or is exactly `["*"]` (every type; `"*"` beside another type → 422 `enum`).';
const SIZE = 'A body over 64 KiB → 413.';

/** The caller's own webhooks; everyone else's are not found. */
export const webhooksRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { webhooks } = ctx.services;
  const tags = ['webhooks'];
  const reply = (description: string) => ({
    description,
    content: { 'application/json': { schema: Type.Ref(WebhookSchema) } },
  });

  app.post(
    '/webhooks',
    {
      bodyLimit: 65_536,
      config: TOKEN,
      schema: {
        tags,
        operationId: 'createWebhook',
        summary: 'Create a webhook; its signing `secret` is in this reply only',
        description: `${RULES} ${URL_POLICY} ${EVENTS_RULE} \`projectId\`, when given, is a project the caller may see (else 422 \`not_found\` on \`/projectId\`); null or omitted: every project its owner may see when a delivery is made. \`description\` is 0–500 code points. A new webhook is active (\`active\` is PATCH's only: here 422 \`read_only\`). At most ${MAX_WEBHOOKS_PER_USER} webhooks per user (409 \`conflict\`). The \`secret\` (\`whsec_\` and 32 random bytes, base64url) keys every \`Taskforge-Signature\`; it is never shown again nor logged. ${SIZE}`,
        security: TOKEN_ONLY,
        body: CreateWebhookBody,
        response: {
          201: {
            description: 'The new webhook, with its secret (shown once) and Location',
            headers: { Location: Type.String({ maxLength: 200, description: 'the webhook’s URL' }) },
            content: { 'application/json': { schema: Type.Ref(NewWebhookSchema) } },
          },
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, res) => {
      const webhook = await webhooks.create(callerOf(request), request.body);
      return res.code(201).header('location', `/api/${version}/webhooks/${webhook.id}`).send(webhook);
    },
  );

  listRoute(app, version, {
    url: '/webhooks',
    operationId: 'listWebhooks',
    tags,
    security: TOKEN_ONLY,
    config: TOKEN,
    what: 'webhooks',
    summary: {
      v1: "A page of the caller's webhooks, newest first (never their secrets)",
      v2: "The caller's webhooks, newest first, a cursor page at a time (never their secrets)",
    },
    description: RULES,
    cursorBinding: 'the caller',
    filters: {},
    pageSchema: WebhookPageSchema,
    cursorPageSchema: WebhookCursorPageSchema,
    problems: [401, 403, 422, 429, 500],
    page: (request, _filter, page) => webhooks.list(callerOf(request), page),
    cursorPage: (request, _filter, cursor) => webhooks.listAfter(callerOf(request), cursor),
  });

  app.get(
    '/webhooks/:id',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'getWebhook',
        summary: "One of the caller's webhooks (another's: 404), without its secret",
        description: RULES,
        security: TOKEN_ONLY,
        params: WebhookIdParams,
        response: { 200: reply('The webhook'), ...problemResponses(401, 403, 404, 429, 500) },
      },
    },
    async (request) => webhooks.get(callerOf(request), request.params.id),
  );

  app.patch(
    '/webhooks/:id',
    {
      bodyLimit: 65_536,
      config: TOKEN,
      schema: {
        tags,
        operationId: 'updateWebhook',
        summary: "Change one of the caller's webhooks (JSON merge patch, also application/merge-patch+json)",
        description: `Takes \`url\`, \`events\`, \`description\` and \`active\`; \`projectId\` and the other fields are read-only (422 \`read_only\`). \`active: true\` turns the webhook back on and clears \`disabledReason\`; \`active: false\` turns it off (its \`disabledReason\` stays null). A new \`url\` passes the URL policy again. A body that changes nothing keeps \`updatedAt\`. ${RULES} ${URL_POLICY} ${EVENTS_RULE} ${SIZE}`,
        security: TOKEN_ONLY,
        params: WebhookIdParams,
        body: PatchWebhookBody,
        consumes: ['application/json', 'application/merge-patch+json'],
        response: {
          200: reply('The webhook after the change'),
          ...problemResponses(400, 401, 403, 404, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request) => webhooks.update(callerOf(request), request.params.id, request.body),
  );

  app.delete(
    '/webhooks/:id',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'deleteWebhook',
        summary: "Delete one of the caller's webhooks and its delivery log (another's: 404)",
        description: `Its deliveries and their log go with it. ${RULES}`,
        security: TOKEN_ONLY,
        params: WebhookIdParams,
        response: { 204: NO_CONTENT, ...problemResponses(401, 403, 404, 429, 500) },
      },
    },
    async (request, res) => {
      await webhooks.delete(callerOf(request), request.params.id);
      return res.code(204).send();
    },
  );
};
