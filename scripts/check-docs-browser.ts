/**
 * Opens /docs and /redoc in a real Chromium and fails when a page requests anything from another
 * host, logs a console error, or does not render; checks Taskforge's logo, that Authorize offers
 * only the schemes that work, and that ReDoc shows each version's operations once. The unit tests read the HTML and bundles; only a
 * browser shows what the pages fetch at run time (fonts, logos, workers) and whether the CSP lets
 * them run.
 *
 *   npx tsx scripts/check-docs-browser.ts      (or: npm run check:docs-browser)
 *
 * Needs a Chromium: CHROMIUM_PATH, else /usr/bin/chromium (Debian's `apt-get install chromium`).
 * Screenshots go to /tmp/docs.png, /tmp/redoc-v2.png, … (or DOCS_SCREENSHOT_DIR).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { freePort } from '../test/helpers/free-port.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS = process.env.DOCS_SCREENSHOT_DIR || '/tmp';
const TIMEOUT_MS = 30_000;

async function startApp(): Promise<{ app: FastifyInstance; origin: string; close(): Promise<void> }> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // Production settings: the docs must work with the CSP and headers a deployment sends.
  const config = loadConfig({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: origin,
    DATABASE_URL: 'sqlite::memory:',
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
  });
  const database = openDatabase(config.database);
  await migrateToLatest(database);
  const app = await buildApp(config, { database });
  await app.listen({ host: '127.0.0.1', port });
  return {
    app,
    origin,
    async close() {
      await app.close();
      await database.close();
    },
  };
}

interface PageReport {
  name: string;
  requests: string[];
  foreign: string[];
  failed: string[];
  errors: string[];
  rendered: boolean;
  detail: string;
}

async function visit(
  context: BrowserContext,
  origin: string,
  name: string,
  path: string,
  rendered: (page: Page) => Promise<string>,
): Promise<PageReport> {
  const page = await context.newPage();
  const report: PageReport = {
    name,
    requests: [],
    foreign: [],
    failed: [],
    errors: [],
    rendered: false,
    detail: '',
  };
  const ownHost = new URL(origin).host;
  page.on('request', (request) => {
    const url = request.url();
    report.requests.push(`${request.method()} ${url}`);
    // data: and blob: URLs never leave the browser; every network request must go to the app.
    if (/^(data|blob|about):/.test(url)) return;
    if (new URL(url).host !== ownHost) report.foreign.push(url);
  });
  page.on('requestfailed', (request) => {
    report.failed.push(`${request.url()} (${request.failure()?.errorText ?? 'failed'})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) report.failed.push(`${response.url()} (HTTP ${response.status()})`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') report.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => report.errors.push(`page error: ${error.message}`));

  try {
    await page.goto(`${origin}${path}`, { waitUntil: 'load', timeout: TIMEOUT_MS });
    report.detail = await rendered(page);
    report.rendered = true;
    // Late requests (fonts, logos, lazily loaded workers) come after the first render.
    await page.waitForLoadState('networkidle', { timeout: TIMEOUT_MS });
  } catch (error) {
    report.detail = `did not render: ${(error as Error).message.split('\n')[0]}`;
  }
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
  await page.close();
  return report;
}

async function swaggerRendered(page: Page): Promise<string> {
  const title = page.locator('.swagger-ui .info .title');
  await title.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  const text = (await title.innerText()).trim();
  if (!text.includes('Taskforge')) throw new Error(`Swagger UI title is "${text}"`);
  // The version selector lists both per-version documents.
  const options = await page.locator('.topbar select option').allInnerTexts();
  if (!(options.includes('v1') && options.includes('v2'))) {
    throw new Error(`version selector offers ${JSON.stringify(options)}`);
  }
  // Taskforge's logo in the top bar, not the framework's.
  const logo = page.locator('.topbar-wrapper a img').first();
  await logo.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  const src = (await logo.getAttribute('src')) ?? '';
  const svg = Buffer.from(src.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString('utf8');
  if (!svg.includes('>Taskforge</text>'))
    throw new Error(`the top bar logo is not Taskforge's: ${src.slice(0, 80)}`);
  return `title "${text.replace(/\s+/g, ' ')}", versions ${options.join(', ')}, Taskforge logo`;
}

/**
 * The Authorize dialog offers only what works: a bearer token, the OAuth2 password flow and an API
 * key (the X-API-Key header).
 */
async function authorizeDialog(page: Page): Promise<string> {
  await swaggerRendered(page);
  await page.locator('.auth-wrapper .btn.authorize').click();
  const schemes = page.locator('.dialog-ux .auth-container h4');
  await schemes.first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  const names = (await schemes.allInnerTexts()).map((name) => name.trim().split(/\s/)[0]);
  if (JSON.stringify(names) !== JSON.stringify(['bearerAuth', 'oauth2', 'apiKey'])) {
    throw new Error(`Authorize offers ${JSON.stringify(names)}`);
  }
  // The token endpoint ignores client credentials: their fields are hidden.
  for (const field of ['#password_type', '[id^="client_id"]', '[id^="client_secret"]']) {
    const count = await page.locator(`.dialog-ux ${field}`).count();
    const visible = await page.locator(`.dialog-ux ${field}`).first().isVisible();
    if (count === 0) throw new Error(`the dialog has no ${field} field (Swagger UI changed?)`);
    if (visible) throw new Error(`the Authorize dialog shows ${field}`);
  }
  const username = page.locator('.dialog-ux #oauth_username');
  if (!(await username.isVisible())) throw new Error('the Authorize dialog has no username field');
  return `Authorize offers ${names.join(' and ')}; client credential fields hidden`;
}

/** ReDoc shows one version: each operation once, under a summary no other operation shares. */
function redocRendered(version: string, expectedOperations: number) {
  return async (page: Page): Promise<string> => {
    const heading = page.locator('.api-info h1');
    await heading.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const text = (await heading.innerText()).trim();
    if (!text.includes(`Taskforge API ${version}`)) throw new Error(`ReDoc heading is "${text}"`);
    const operations = await page.locator('[data-section-id^="operation/"]').count();
    if (operations !== expectedOperations) {
      throw new Error(
        `ReDoc shows ${operations} operations, the ${version} document has ${expectedOperations}`,
      );
    }
    const summaries = await page.locator('[data-section-id^="operation/"] h2').allInnerTexts();
    const repeated = summaries.filter((summary, i) => summaries.indexOf(summary) !== i);
    if (repeated.length > 0) throw new Error(`ReDoc repeats ${JSON.stringify(repeated)}`);
    const other = version === 'v1' ? 'v2' : 'v1';
    if ((await page.locator(`nav a[href="/redoc?version=${other}"]`).count()) !== 1) {
      throw new Error(`no link to ${other}`);
    }
    return `heading "${text}", ${operations} operations, each once; links to ${other}`;
  };
}

/** How many operations a version's document holds. */
async function operationCount(app: FastifyInstance, version: string): Promise<number> {
  const document = (await app.inject({ method: 'GET', url: `/openapi/${version}.json` })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.values(document.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);
}

/**
 * The Authorize button with a real login: the OAuth2 password flow against /api/v1/auth/token,
 * then "Try it out" on GET /users/me, which must answer 200 for the user who logged in.
 */
function authorizeAndCall(email: string, password: string) {
  return async (page: Page): Promise<string> => {
    await swaggerRendered(page);
    await page.locator('.auth-wrapper .btn.authorize').click();
    const oauth = page.locator('.auth-container').filter({ has: page.locator('#oauth_username') });
    await oauth.locator('#oauth_username').fill(email);
    await oauth.locator('#oauth_password').fill(password);
    await oauth.locator('button.authorize').click();
    // Once authorized, the form turns into text with a Logout button.
    await page
      .locator('.dialog-ux button:has-text("Logout")')
      .first()
      .waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    await page.locator('.dialog-ux .close-modal').first().click();
    const operation = page.locator('[id$="-v2GetMe"]').first();
    await operation.locator('.opblock-summary').click();
    await operation.locator('.try-out__btn').click();
    await operation.locator('.execute').click();
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const code = (await status.innerText()).trim();
    const body = await operation
      .locator('.live-responses-table tbody .response-col_description .microlight')
      .first()
      .innerText();
    if (code !== '200' || !body.includes(email))
      throw new Error(`GET /users/me answered ${code}: ${body.slice(0, 200)}`);
    return `logged in through Authorize; GET /users/me answered ${code} for ${email}`;
  };
}

async function main(): Promise<number> {
  const server = await startApp();
  const { origin } = server;
  const profile = await mkdtemp(join(tmpdir(), 'docs-browser-'));
  const reports: PageReport[] = [];
  try {
    // A persistent context on a fresh profile: Playwright then owns --user-data-dir, and nothing
    // from an earlier run (cache, service workers) can hide a request.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      reports.push(await visit(context, origin, 'docs', '/docs', swaggerRendered));
      reports.push(await visit(context, origin, 'docs-dialog', '/docs', authorizeDialog));
      for (const version of ['v1', 'v2']) {
        const expected = await operationCount(server.app, version);
        const path = version === 'v2' ? '/redoc' : `/redoc?version=${version}`;
        reports.push(
          await visit(context, origin, `redoc-${version}`, path, redocRendered(version, expected)),
        );
      }
      const email = 'docs-user@example.com';
      const password = 'a passphrase for the docs';
      const registered = await server.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email, password, name: 'Docs User' },
      });
      if (registered.statusCode !== 201) throw new Error(`register answered ${registered.statusCode}`);
      reports.push(
        await visit(context, origin, 'docs-authorize', '/docs', authorizeAndCall(email, password)),
      );
    } finally {
      await context.close();
    }
  } finally {
    await server.close();
    await rm(profile, { recursive: true, force: true });
  }

  let failures = 0;
  for (const report of reports) {
    const problems = [
      ...report.foreign.map((url) => `request to another host: ${url}`),
      ...report.failed.map((what) => `failed request: ${what}`),
      ...report.errors,
      ...(report.rendered ? [] : [report.detail]),
    ];
    failures += problems.length;
    console.log(`${problems.length === 0 ? 'ok  ' : 'FAIL'} /${report.name}: ${report.detail}`);
    console.log(
      `     ${report.requests.length} requests, screenshot ${join(SCREENSHOTS, `${report.name}.png`)}`,
    );
    for (const request of report.requests) console.log(`       ${request}`);
    for (const problem of problems) console.log(`     ✗ ${problem}`);
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
