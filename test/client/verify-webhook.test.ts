import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../clients/typescript/src/index.js';
import { signatureHeader } from '../../src/modules/webhooks/signature.js';

/** The SDK's verifyWebhook against headers made by the service's own signing code (delivery-job.ts). */

const secret = 'whsec_Yk3mZ8qv0c1sT2bN5rX7wLd9hJ4pF6gA0eQ1uV3iO8k';
const body = JSON.stringify({
  id: '0a1b2e3f-0000000000000042',
  type: 'task.created',
  data: { title: 'Milk — 2 l' },
});
const now = 1_800_000_000;

describe('verifyWebhook', () => {
  it('accepts the service signature of the exact body, as a string or as bytes', async () => {
    const header = signatureHeader(secret, now, body);
    await expect(verifyWebhook(header, body, secret, { nowSeconds: now })).resolves.toBe(true);
    const bytes = new TextEncoder().encode(body);
    await expect(verifyWebhook(header, bytes, secret, { nowSeconds: now + 299 })).resolves.toBe(true);
  });

  it('accepts a header with several v1 values when one of them matches (a secret being rotated)', async () => {
    const other = signatureHeader('whsec_other', now, body).split(',')[1];
    const header = `${signatureHeader(secret, now, body)},${other}`;
    const swapped = `t=${now},${other},${signatureHeader(secret, now, body).split(',')[1]}`;
    await expect(verifyWebhook(header, body, secret, { nowSeconds: now })).resolves.toBe(true);
    await expect(verifyWebhook(swapped, body, secret, { nowSeconds: now })).resolves.toBe(true);
  });

  it('rejects another body, another secret, an old or future timestamp, and a malformed header', async () => {
    const header = signatureHeader(secret, now, body);
    const check = (h: string, b: string, s: string, at = now, toleranceSeconds?: number) =>
      verifyWebhook(h, b, s, { nowSeconds: at, ...(toleranceSeconds ? { toleranceSeconds } : {}) });
    await expect(check(header, body.replace('Milk', 'Mllk'), secret)).resolves.toBe(false);
    await expect(check(header, `${body} `, secret)).resolves.toBe(false);
    await expect(check(header, body, `${secret}x`)).resolves.toBe(false);
    await expect(check(header, body, secret.slice('whsec_'.length))).resolves.toBe(false);
    await expect(check(header, body, secret, now + 301)).resolves.toBe(false);
    await expect(check(header, body, secret, now - 301)).resolves.toBe(false);
    await expect(check(header, body, secret, now + 301, 600)).resolves.toBe(true);
    // The timestamp is signed: moving it breaks the signature.
    await expect(check(header.replace(`t=${now}`, `t=${now + 1}`), body, secret, now)).resolves.toBe(false);
    for (const bad of ['', 'v1=abc', header.split(',')[1] ?? '', `t=${now}`, header.toUpperCase()]) {
      await expect(check(bad, body, secret)).resolves.toBe(false);
    }
  });
});
