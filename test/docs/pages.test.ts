import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CSP, DOCS_CSP } from '../../src/plugins/security-headers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
const seen: { url: string; res: LightMyRequestResponse }[] = [];

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

async function get(url: string): Promise<LightMyRequestResponse> {
  const res = await t.app.inject({ method: 'GET', url });
  seen.push({ url, res });
  return res;
}

/** GET, following same-origin redirects the way a browser would. */
async function browse(url: string): Promise<{ url: string; res: LightMyRequestResponse }> {
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    const res = await get(current);
    const location = res.headers.location;
    if (res.statusCode < 300 || res.statusCode >= 400 || typeof location !== 'string') {
      return { url: current, res };
    }
    const next = new URL(location, `http://127.0.0.1${current}`);
    expect(next.host, `redirect from ${current}`).toBe('127.0.0.1');
    current = next.pathname + next.search;
  }
  throw new Error(`too many redirects from ${url}`);
}

/** The URLs a page loads: script sources and stylesheet (and icon) links. */
function assetsOf(html: string): string[] {
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1] ?? '');
  const links = [...html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1] ?? '');
  return [...scripts, ...links];
}

/** Same origin and relative: a path, not `//host`, `http:` or `https:`. */
function isSameOriginRelative(url: string): boolean {
  return (url.startsWith('/') && !url.startsWith('//')) || url.startsWith('data:');
}

function directives(csp: unknown): string[] {
  return String(csp)
    .split(';')
    .map((d) => d.trim().replace(/\s+/g, ' '))
    .filter(Boolean)
    .sort();
}

// Hosts whose assets the docs must never pull in: the pages work offline, behind a strict proxy.
const FOREIGN_ASSET_HOSTS = [
  'cdn.redoc.ly',
  'fonts.googleapis.com',
  'fonts.gstatic.com',
  'unpkg.com',
  'cdn.jsdelivr.net',
  'cdnjs.cloudflare.com',
];

describe('GET /docs (Swagger UI)', () => {
  it('is an HTML page whose scripts and stylesheets all come from this origin', async () => {
    const { url, res } = await browse('/docs');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const assets = assetsOf(res.body);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      expect(isSameOriginRelative(asset), asset).toBe(true);
      if (asset.startsWith('data:')) continue;
      const loaded = await get(new URL(asset, `http://127.0.0.1${url}`).pathname);
      expect(loaded.statusCode, asset).toBe(200);
    }
  });

  it('configures Swagger UI without the public validator and with a version selector', async () => {
    const { res } = await browse('/docs');
    const initializer = assetsOf(res.body).find((a) => a.includes('swagger-initializer'));
    expect(initializer).toBeDefined();
    const js = await get(initializer ?? '');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body).toMatch(/validatorUrl:\s*null/);
    const config = /const config = (\{.*\})\s*$/m.exec(js.body)?.[1];
    expect(config).toBeDefined();
    const urls = (JSON.parse(config ?? '{}') as { urls?: { url: string; name: string }[] }).urls ?? [];
    expect(urls.map((u) => u.url)).toEqual(['/openapi/v1.json', '/openapi/v2.json']);
    for (const { url } of urls) expect((await get(url)).statusCode).toBe(200);
    // No asset the initializer names points at another host (e.g. a CDN logo).
    for (const host of FOREIGN_ASSET_HOSTS) expect(js.body).not.toContain(host);
    // It opens on the newest version.
    expect(JSON.parse(config ?? '{}')['urls.primaryName']).toBe('v2');
  });

  it("shows Taskforge's logo, not the framework's", async () => {
    const js = await get('/docs/static/swagger-initializer.js');
    const logo = /img\.src = 'data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)'/.exec(js.body)?.[1];
    expect(logo).toBeDefined();
    const svg = Buffer.from(logo ?? '', 'base64').toString('utf8');
    expect(svg).toMatch(/^<svg [^>]*aria-label="Taskforge"/);
    expect(svg).toContain('>Taskforge</text>');
    const { res } = await browse('/docs');
    const icon = assetsOf(res.body).find((a) => a.endsWith('favicon.svg'));
    expect(icon).toBeDefined();
    expect((await get(new URL(icon ?? '', 'http://127.0.0.1/docs/').pathname)).body).toContain('<svg');
  });

  it('hides the OAuth2 client fields, which the token endpoint ignores', async () => {
    const { res } = await browse('/docs');
    const css = assetsOf(res.body).find((a) => a.endsWith('taskforge.css'));
    expect(css).toBeDefined();
    const sheet = await get(new URL(css ?? '', 'http://127.0.0.1/docs/').pathname);
    expect(sheet.statusCode).toBe(200);
    for (const field of ['password_type', 'client_id', 'client_secret']) expect(sheet.body).toContain(field);
    expect(sheet.body).toContain('display: none');
  });
});

describe('GET /redoc (ReDoc)', () => {
  it('is an HTML page that loads the bundle from this origin and one version, the newest by default', async () => {
    const { res } = await browse('/redoc');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<script\b[^>]*\bsrc="\/redoc\/redoc\.standalone\.js"/);
    for (const asset of assetsOf(res.body)) expect(isSameOriginRelative(asset), asset).toBe(true);
    // One version at a time: the whole document would show every operation twice.
    expect([...res.body.matchAll(/spec-url="([^"]+)"/g)].map((m) => m[1])).toEqual(['/openapi/v2.json']);
    expect(res.body).toContain('href="/redoc?version=v1"');
  });

  it.each(['v1', 'v2'])(
    'shows one version alone with ?version=%s, with a link to the other',
    async (version) => {
      const other = version === 'v1' ? 'v2' : 'v1';
      const res = await get(`/redoc?version=${version}`);
      expect(res.statusCode).toBe(200);
      expect([...res.body.matchAll(/spec-url="([^"]+)"/g)].map((m) => m[1])).toEqual([
        `/openapi/${version}.json`,
      ]);
      expect(res.body).toContain(`href="/redoc?version=${other}"`);
      expect(res.body).not.toContain(`href="/redoc?version=${version}"`);
    },
  );

  it('answers an unknown version with a 422 problem', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/redoc?version=v9' });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().errors).toEqual([expect.objectContaining({ pointer: '/query/version', code: 'enum' })]);
  });

  it('serves the bundle with every CDN address removed', async () => {
    const res = await get('/redoc/redoc.standalone.js');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/javascript/);
    expect(res.body.length).toBeGreaterThan(100_000);
    for (const host of FOREIGN_ASSET_HOSTS) expect(res.body, host).not.toContain(host);
  });

  it('guards against a real address: the packaged bundle does name the CDN logo', () => {
    const require = createRequire(import.meta.url);
    const original = readFileSync(require.resolve('redoc/bundles/redoc.standalone.js'), 'utf8');
    expect(original).toContain('https://cdn.redoc.ly/');
  });
});

describe('security headers', () => {
  it.each([
    '/docs',
    '/docs/static/swagger-initializer.js',
    '/docs/static/swagger-ui.css',
    '/redoc',
    '/redoc/redoc.standalone.js',
  ])('%s carries the docs CSP', async (url) => {
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    expect(directives(res.headers['content-security-policy'])).toEqual(directives(DOCS_CSP));
  });

  it('the docs CSP loads from this origin only and does not upgrade plain HTTP', () => {
    const csp = directives(DOCS_CSP);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp.join(';')).not.toMatch(/https?:|upgrade-insecure-requests|\*/);
  });

  it.each(['/health/live', '/openapi.json', '/problems/not-found'])('%s carries the API CSP', async (url) => {
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    expect(directives(res.headers['content-security-policy'])).toEqual(
      directives("default-src 'none'; frame-ancestors 'none'"),
    );
    expect(directives(API_CSP)).toEqual(directives("default-src 'none'; frame-ancestors 'none'"));
  });

  it('every reply has nosniff and no X-Powered-By', async () => {
    const urls = [
      '/docs',
      '/docs/',
      '/docs/static/swagger-ui-bundle.js',
      '/docs/static/no-such-file.js',
      '/docs/json',
      '/redoc',
      '/redoc/redoc.standalone.js',
      '/openapi.json',
      '/openapi/v1.json',
      '/openapi/v2.json',
      '/openapi/v3.json',
      '/health/live',
      '/problems/not-found',
      ...seen.map((s) => s.url),
    ];
    for (const url of new Set(urls)) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers, url).not.toHaveProperty('x-powered-by');
    }
  });
});
