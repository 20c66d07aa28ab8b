import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectedReply } from '../../src/plugins/reply-inspection.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { ContractChecker, type Documents, type OpenApiDocument } from '../helpers/contract.js';

/**
 * The check the whole suite runs on every reply (test/helpers/contract.ts) bites: a throwaway app
 * with routes of its own, whose document is then broken one way at a time, and whose replies go
 * through the same checker.
 */
async function contractRoutes(fastify: FastifyInstance): Promise<void> {
  const Counted = Type.Object(
    { count: Type.Integer({ minimum: 0, maximum: 10 }) },
    { additionalProperties: false },
  );
  fastify.get('/contract-sample', { schema: { response: { 200: Counted } } }, async () => ({ count: 3 }));
  fastify.get('/contract-teapot', { schema: { response: { 200: Counted } } }, async (_request, reply) =>
    // The schema types the reply's codes; this route answers one it does not list, on purpose.
    (reply as FastifyReply).code(418).send({ count: 4 }),
  );
}

let t: TestApp;
const replies: InspectedReply[] = [];
let documents: Documents;

beforeAll(async () => {
  t = await buildTestApp({
    apiRoutes: [contractRoutes],
    recordStatuses: false,
    overrides: { inspectReply: (reply) => replies.push(reply) },
  });
  documents = {};
  for (const name of ['v1', 'v2']) {
    documents[name] = (
      await t.app.inject({ method: 'GET', url: `/openapi/${name}.json` })
    ).json() as OpenApiDocument;
  }
});
afterAll(() => t.close());

/** The reply to one request, as the inspection hook saw it. */
async function replyTo(url: string): Promise<InspectedReply> {
  replies.length = 0;
  await t.app.inject({ method: 'GET', url });
  const [reply] = replies;
  if (!reply) throw new Error(`no reply inspected for ${url}`);
  return reply;
}

/** A response of the document as plain JSON, to break by hand. */
// biome-ignore lint/suspicious/noExplicitAny: the tests reach into it field by field.
type Json = any;

/** A copy of the documents with the 200 of GET /api/v1/contract-sample changed by `breakIt`. */
function broken(breakIt: (response: Json) => void): Documents {
  const copy = structuredClone(documents);
  const responses = copy.v1?.paths?.['/api/v1/contract-sample']?.get?.responses;
  if (!responses?.['200']) throw new Error('the sample operation is missing from the document');
  breakIt(responses['200']);
  return copy;
}

describe('the contract check', () => {
  it('passes a reply that keeps its document', async () => {
    const reply = await replyTo('/api/v1/contract-sample');
    expect(reply.statusCode).toBe(200);
    expect(new ContractChecker(documents).check(reply)).toEqual([]);
  });

  it('reports a body that breaks its schema, naming method, route, status and the Ajv error', async () => {
    const reply = await replyTo('/api/v1/contract-sample');
    const checker = new ContractChecker(
      broken((response) => {
        response.content['application/json'].schema.properties.count = { type: 'string' };
      }),
    );
    expect(checker.check(reply)).toEqual([
      'GET /api/v1/contract-sample → 200: body /count must be string: {"count":3}',
    ]);
  });

  it('reports an undocumented status', async () => {
    const reply = await replyTo('/api/v2/contract-teapot');
    expect(reply.statusCode).toBe(418);
    const [problem] = new ContractChecker(documents).check(reply);
    expect(problem).toMatch(
      /^GET \/api\/v2\/contract-teapot → 418: status not documented \(the operation lists 200, /,
    );
  });

  it('reports a required header that is missing and a content type that is not documented', async () => {
    const reply = await replyTo('/api/v1/contract-sample');
    const checker = new ContractChecker(
      broken((response) => {
        response.headers['X-Sample'] = { required: true, schema: { type: 'string' } };
        response.content = { 'application/problem+json': response.content['application/json'] };
      }),
    );
    expect(checker.check(reply)).toEqual([
      'GET /api/v1/contract-sample → 200: required header X-Sample missing',
      'GET /api/v1/contract-sample → 200: Content-Type application/json; charset=utf-8 is not documented (application/problem+json)',
    ]);
  });

  it('reports a documented header whose value breaks its schema', async () => {
    const reply = await replyTo('/api/v1/contract-sample');
    const checker = new ContractChecker(
      broken((response) => {
        response.headers['RateLimit-Limit'].schema.maximum = 5;
      }),
    );
    expect(checker.check(reply)).toEqual([
      'GET /api/v1/contract-sample → 200: header RateLimit-Limit: 1000000 / must be <= 5',
    ]);
  });
});
