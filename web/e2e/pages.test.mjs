// Browser tests of the pages, served by web/pages_browser_test.go from the
// handlers of packages web and graphiql (PAGES_URL): they need no wiring in
// server/ and no server-side recovery. The browser is kept offline: every
// request to another origin is refused and recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const artifacts = process.env.ARTIFACTS_DIR || join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(artifacts, { recursive: true });
const base = process.env.PAGES_URL;

let browser;
let context;
const elsewhere = []; // requests that tried to leave the server's origin
const pageErrors = [];

before(async () => {
  assert.ok(base, 'PAGES_URL is set by web/pages_browser_test.go');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext();
  const origin = new URL(base).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    elsewhere.push(url);
    return route.abort('internetdisconnected');
  });
  // A policy violation is also a console error in Chromium; the event is
  // the documented signal, so record it too.
  await context.exposeBinding('reportViolation', ({ page }, v) => pageErrors.push(`${page.url()}: CSP ${v}`));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.reportViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  context.on('page', (page) => {
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`${page.url()}: ${msg.text()}`);
    });
  });
});

after(async () => {
  await browser?.close();
});

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

test('GraphiQL renders offline from the server\'s own assets', async () => {
  const page = await context.newPage();
  const posts = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/graphql') posts.push(req);
  });
  await page.goto(base + '/graphql');
  await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
  assert.ok(!(await page.content()).includes('Loading GraphiQL'), 'the placeholder is gone');
  // The editor is usable: its introspection query went to this server.
  await page.waitForFunction(() => document.querySelector('.graphiql-doc-explorer, [aria-label="Show Documentation Explorer"]') !== null);
  assert.ok(posts.length >= 1, 'GraphiQL introspected the schema');
  const res = await posts[0].response();
  assert.equal(res.status(), 200);

  // Open the docs, type with completion, run an operation: the parts that
  // draw tooltips, hints and panes, so that the policy meets them all.
  await page.getByLabel('Show Documentation Explorer').click();
  await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor();
  await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ loggedInUser { id } }\n'));
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('{ sess');
  await page.locator('.CodeMirror-hints').waitFor();
  await page.keyboard.press('Escape');
  await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ loggedInUser { id } }'));
  await page.locator('.graphiql-execute-button').click();
  await page.locator('.graphiql-response').getByText('UNAUTHENTICATED').first().waitFor();
  assert.deepEqual(elsewhere, [], 'no request left the origin');
  await shot(page, 'pages-01-graphiql');
  await page.close();
});

test('the demo page names its favicon, and it is served', async () => {
  const page = await context.newPage();
  await page.goto(base + '/');
  const href = await page.locator('link[rel="icon"]').getAttribute('href');
  const res = await page.request.get(new URL(href, base).href);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-type'], 'image/svg+xml');
  await page.close();
});

test('no page had a script, console or policy error', () => {
  assert.deepEqual(pageErrors, []);
});
