/**
 * Opens /docs and /redoc in a real Chromium and fails when a page requests anything from another
 * host, logs a console error, or does not render; checks Taskforge's logo, that Authorize offers
 * only the schemes that work and logs in for real, that "Try it out" creates a task (201) and lists
 * it, that the version selector switches documents, and that ReDoc shows every tag of each version
 * and each operation once under its tag. The unit tests read the HTML and bundles; only a browser
 * shows what the pages fetch at run time (fonts, logos, workers), whether the CSP lets them run,
 * and whether requests made from the page work.
 *
 *   npx tsx scripts/check-docs-browser.ts      (or: npm run check:docs-browser)
 *
 * Needs a Chromium: CHROMIUM_PATH, else /usr/bin/chromium (Debian's `apt-get install chromium`).
 * Screenshots go to test-results/docs-browser/ (docs.png, redoc-v2.png, …; git ignores test-results/),
 * or to DOCS_SCREENSHOT_DIR.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { freePort } from '../test/helpers/free-port.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS =
  process.env.DOCS_SCREENSHOT_DIR || fileURLToPath(new URL('../test-results/docs-browser/', import.meta.url));
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

/**
 * ReDoc shows one version: every tag of its document, each operation once, under a summary no
 * other operation shares, and under its tag.
 */
function redocRendered(version: string, expected: DocumentShape) {
  return async (page: Page): Promise<string> => {
    const heading = page.locator('.api-info h1');
    await heading.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const text = (await heading.innerText()).trim();
    if (!text.includes(`Taskforge API ${version}`)) throw new Error(`ReDoc heading is "${text}"`);
    const operations = await page.locator('[data-section-id^="operation/"]').count();
    if (operations !== expected.operations) {
      throw new Error(
        `ReDoc shows ${operations} operations, the ${version} document has ${expected.operations}`,
      );
    }
    for (const [tag, count] of Object.entries(expected.tags)) {
      // ReDoc renders an operation's section id as tag/<tag>/operation/<operationId>.
      const section = page.locator(`[data-section-id="tag/${tag}"]`);
      if ((await section.count()) !== 1) throw new Error(`ReDoc has no section for the tag ${tag}`);
      const under = await page.locator(`[data-section-id^="tag/${tag}/operation/"]`).count();
      if (under !== count)
        throw new Error(`ReDoc shows ${under} operations under ${tag}, the document ${count}`);
    }
    const summaries = await page.locator('[data-section-id^="operation/"] h2').allInnerTexts();
    const repeated = summaries.filter((summary, i) => summaries.indexOf(summary) !== i);
    if (repeated.length > 0) throw new Error(`ReDoc repeats ${JSON.stringify(repeated)}`);
    const other = version === 'v1' ? 'v2' : 'v1';
    if ((await page.locator(`nav a[href="/redoc?version=${other}"]`).count()) !== 1) {
      throw new Error(`no link to ${other}`);
    }
    const tags = Object.keys(expected.tags);
    return `heading "${text}", ${tags.length} tags (${tags.join(', ')}), ${operations} operations, each once under its tag; links to ${other}`;
  };
}

interface DocumentShape {
  operations: number;
  /** Each tag of the document with how many operations carry it. */
  tags: Record<string, number>;
}

/** How many operations a version's document holds, and under which tags. */
async function documentShape(app: FastifyInstance, version: string): Promise<DocumentShape> {
  const document = (await app.inject({ method: 'GET', url: `/openapi/${version}.json` })).json() as {
    tags?: { name: string }[];
    paths: Record<string, Record<string, { tags?: string[] }>>;
  };
  const tags: Record<string, number> = {};
  for (const { name } of document.tags ?? []) tags[name] = 0;
  let operations = 0;
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      operations += 1;
      for (const tag of operation.tags ?? []) tags[tag] = (tags[tag] ?? 0) + 1;
    }
  }
  return { operations, tags };
}

/** Opens an operation of the current document and presses "Try it out" (the body, if given, replaces the example). */
async function tryItOut(
  page: Page,
  operationId: string,
  options: { body?: string; screenshot?: string } = {},
): Promise<{ code: string; text: string }> {
  const operation = page.locator(`[id$="-${operationId}"]`).first();
  await operation.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click();
  if (options.body !== undefined) await operation.locator('textarea.body-param__text').fill(options.body);
  await operation.locator('.execute').click();
  const status = operation.locator('.live-responses-table tbody .response-col_status').first();
  await status.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  const code = (await status.innerText()).trim();
  const text = await operation
    .locator('.live-responses-table tbody .response-col_description .microlight')
    .first()
    .innerText();
  if (options.screenshot) {
    // The viewport around the live response: the status and the body the browser received.
    await status.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, `${options.screenshot}.png`) });
  }
  // Closed again, so that a later look at the same operation starts from its summary.
  await operation.locator('.opblock-summary').click();
  return { code, text };
}

/** The OAuth2 password flow of the Authorize dialog, with a real login against /api/v1/auth/token. */
async function authorize(page: Page, email: string, password: string): Promise<void> {
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
}

/**
 * The Authorize button with a real login, then "Try it out": GET /users/me answers 200 for the
 * user who logged in, POST /tasks creates a task (201) and GET /tasks lists it; then the version
 * selector switches to v1, whose operations replace v2's, and v1's list shows the same task.
 */
function authorizeAndCall(email: string, password: string) {
  return async (page: Page): Promise<string> => {
    await swaggerRendered(page);
    await authorize(page, email, password);
    const me = await tryItOut(page, 'v2GetMe');
    if (me.code !== '200' || !me.text.includes(email))
      throw new Error(`GET /users/me answered ${me.code}: ${me.text.slice(0, 200)}`);
    const title = `Written in the docs ${randomBytes(4).toString('hex')}`;
    const created = await tryItOut(page, 'v2CreateTask', {
      body: JSON.stringify({ title, priority: 'high' }),
      screenshot: 'docs-create-task',
    });
    if (created.code !== '201' || !created.text.includes(title))
      throw new Error(`POST /api/v2/tasks answered ${created.code}: ${created.text.slice(0, 200)}`);
    const listed = await tryItOut(page, 'v2ListTasks', { screenshot: 'docs-list-tasks' });
    if (listed.code !== '200' || !listed.text.includes(title))
      throw new Error(
        `GET /api/v2/tasks answered ${listed.code} without the task: ${listed.text.slice(0, 200)}`,
      );

    // The version selector: v1's document replaces v2's.
    await page.locator('.topbar select').selectOption('v1');
    const v1Title = page.locator('.swagger-ui .info .title', { hasText: 'Taskforge API v1' });
    await v1Title.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const heading = (await v1Title.innerText()).replace(/\s+/g, ' ').trim();
    if ((await page.locator('[id$="-v2ListTasks"]').count()) !== 0)
      throw new Error('after switching to v1 the page still shows v2 operations');
    // Swagger UI keeps the authorization across documents only when it is told to: log in again if asked.
    if ((await page.locator('.auth-wrapper .btn.authorize.locked').count()) === 0) {
      await authorize(page, email, password);
    }
    const v1Listed = await tryItOut(page, 'v1ListTasks', { screenshot: 'docs-v1-list-tasks' });
    if (v1Listed.code !== '200' || !v1Listed.text.includes(title))
      throw new Error(
        `GET /api/v1/tasks answered ${v1Listed.code} without the task: ${v1Listed.text.slice(0, 200)}`,
      );
    return `logged in through Authorize; /users/me 200 for ${email}; created a task (201) and listed it (200); switched to "${heading}", whose list shows it too`;
  };
}

async function main(): Promise<number> {
  if (!existsSync(CHROMIUM)) {
    console.error(`FAIL: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
    return 1;
  }
  await mkdir(SCREENSHOTS, { recursive: true });
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
        const expected = await documentShape(server.app, version);
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
