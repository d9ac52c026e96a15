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
      // Chromium reports each 4xx as an error; the tests answer some API
      // calls with one on purpose. Any other failed load counts.
      const onPurpose = msg.text().startsWith('Failed to load resource') && new URL(msg.location().url, base).pathname.startsWith('/auth/');
      if (msg.type() === 'error' && !onPurpose) pageErrors.push(`${page.url()}: ${msg.text()} (${msg.location().url})`);
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

// jwt makes an unsigned token with the claims the client reads.
function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'x' })}.${b64(claims)}.sig`;
}

// answer fulfils one call the way tokengate's REST API would.
const answer = (route, status, body, headers = {}) => route.fulfill({
  status,
  contentType: status >= 400 ? 'application/problem+json' : 'application/json',
  headers,
  body: body === undefined ? '' : JSON.stringify(body),
});

// A record of when the page scrubbed its address, kept by the page itself.
const watchScrub = (page) => page.addInitScript(() => {
  const replace = history.replaceState.bind(history);
  history.replaceState = (...args) => {
    window.scrubbed = { at: performance.now(), hashBefore: location.hash };
    return replace(...args);
  };
});

test('the reset page takes the token out of the address bar first, and sends it with the new password', async () => {
  const page = await context.newPage();
  await watchScrub(page);
  const token = 'AbC_dEf-0123456789.xyz';
  const bodies = [];
  const iat = Math.floor(Date.now() / 1000);
  const access = jwt({ sub: 'u1', sid: 's9', iat, exp: iat + 900 });
  const refresh = jwt({ sub: 'u1', sid: 's9', gen: 1, iat, exp: iat + 3600 });
  await page.route('**/auth/password/reset', (route) => {
    bodies.push(route.request().postDataJSON());
    if (bodies.length === 1) {
      return answer(route, 400, { status: 400, code: 'BAD_USER_INPUT', title: 'Bad Request', detail: 'password must be 8 to 72 bytes' });
    }
    return answer(route, 200, { accessToken: access, refreshToken: refresh, user: { id: 'u1' } },
      { 'x-access-token': access, 'x-refresh-token': refresh });
  });

  await page.goto(`${base}/reset-password#token=${token}`);
  await page.getByTestId('reset-form').waitFor();
  assert.equal(page.url(), `${base}/reset-password`, 'the address bar has no token');
  assert.equal(await page.evaluate(() => location.hash), '');
  const order = await page.evaluate((url) => ({
    scrubbed: window.scrubbed,
    client: performance.getEntriesByName(url)[0]?.startTime,
  }), `${base}/tokengate.js`);
  assert.equal(order.scrubbed.hashBefore, `#token=${token}`);
  assert.ok(order.client > order.scrubbed.at, 'scrubbed before the client module was even fetched');

  // A password the server refuses does not use the link up: the form stays
  // and the same token goes again.
  await page.getByTestId('reset-password').fill('short pw');
  await page.getByTestId('reset-confirm').fill('short pw');
  await page.getByTestId('reset-submit').click();
  await page.getByTestId('message').filter({ hasText: 'password must be' }).waitFor();
  assert.equal(await page.getByTestId('message').getAttribute('data-kind'), 'error');
  await page.getByTestId('reset-password').fill('a much better password');
  await page.getByTestId('reset-confirm').fill('a much better password');
  await page.getByTestId('reset-submit').click();
  await page.getByTestId('message').filter({ hasText: 'password has been changed' }).waitFor();
  assert.deepEqual(bodies, [
    { token, newPassword: 'short pw' },
    { token, newPassword: 'a much better password' },
  ]);
  assert.equal(await page.getByTestId('message').getAttribute('data-kind'), 'info');
  assert.ok(await page.getByTestId('reset-form').isHidden());
  await page.getByTestId('continue').waitFor();
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('tokengate.demo')));
  assert.equal(stored.accessToken, access, 'signed in with the new session, where the demo page looks');
  assert.equal(stored.sessionId, 's9');
  assert.ok(!page.url().includes(token) && !(await page.content()).includes(token), 'the token is nowhere on the page');
  await shot(page, 'pages-02-reset-done');
  await page.evaluate(() => localStorage.clear());
  await page.close();
});

test('two different passwords are caught before anything is sent', async () => {
  const page = await context.newPage();
  let sent = 0;
  await page.route('**/auth/password/reset', (route) => { sent++; return answer(route, 500, {}); });
  await page.goto(`${base}/reset-password#token=t1`);
  await page.getByTestId('reset-password').fill('one password here');
  await page.getByTestId('reset-confirm').fill('another password');
  await page.getByTestId('reset-submit').click();
  await page.getByTestId('message').filter({ hasText: 'differ' }).waitFor();
  assert.equal(sent, 0);
  await page.close();
});

test('a used or expired link says so in plain words and offers the way to a new one', async () => {
  const page = await context.newPage();
  await page.route('**/auth/password/reset', (route) => answer(route, 400,
    { status: 400, code: 'LINK_INVALID', title: 'Bad Request', detail: 'the link is invalid or has expired' }));
  await page.goto(`${base}/reset-password#token=spent`);
  await page.getByTestId('reset-password').fill('a much better password');
  await page.getByTestId('reset-confirm').fill('a much better password');
  await page.getByTestId('reset-submit').click();
  await page.getByTestId('message').filter({ hasText: 'no longer valid' }).waitFor();
  assert.equal(await page.getByTestId('message').getAttribute('data-code'), 'LINK_INVALID');
  assert.ok(await page.getByTestId('reset-form').isHidden(), 'no form for a dead link');
  await page.getByTestId('continue').waitFor();
  await shot(page, 'pages-03-link-invalid');
  await page.close();
});

test('the verify page takes the token out of the address bar and confirms with one click', async () => {
  const page = await context.newPage();
  await watchScrub(page);
  const bodies = [];
  await page.route('**/auth/email/verify', (route) => {
    bodies.push(route.request().postDataJSON());
    return answer(route, 200, { id: 'u1', email: 'ada@example.com', name: 'Ada', createdAt: '2030-01-01T00:00:00Z', emailVerified: true });
  });
  await page.goto(`${base}/verify-email#token=v-123`);
  await page.getByTestId('verify-card').waitFor();
  assert.equal(page.url(), `${base}/verify-email`);
  assert.equal(await page.evaluate(() => window.scrubbed.hashBefore), '#token=v-123');
  assert.deepEqual(bodies, [], 'nothing is sent before the click');
  await page.getByTestId('verify-submit').click();
  await page.getByTestId('message').filter({ hasText: 'ada@example.com is verified' }).waitFor();
  assert.deepEqual(bodies, [{ token: 'v-123' }]);
  await shot(page, 'pages-04-verified');
  await page.close();
});

test('a link without its token says it is incomplete', async () => {
  const page = await context.newPage();
  await page.goto(`${base}/verify-email`);
  await page.getByTestId('link-missing').waitFor();
  assert.ok(await page.getByTestId('verify-card').isHidden());
  await page.close();
});

test('the forgot-password form says the same neutral thing for any address', async () => {
  const page = await context.newPage();
  const bodies = [];
  await page.route('**/auth/password/forgot', (route) => {
    bodies.push(route.request().postDataJSON());
    return route.fulfill({ status: 202, body: '' });
  });
  await page.goto(`${base}/`);
  await page.getByTestId('forgot-email').fill('someone@example.com');
  await page.getByTestId('forgot-submit').click();
  await page.getByTestId('message').filter({ hasText: 'If someone@example.com has an account' }).waitFor();
  assert.equal(await page.getByTestId('message').getAttribute('data-kind'), 'info');
  assert.deepEqual(bodies, [{ email: 'someone@example.com' }]);
  await page.close();
});

test('no page had a script, console or policy error', () => {
  assert.deepEqual(pageErrors, []);
});
