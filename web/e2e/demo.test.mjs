// End-to-end tests of tokengate.js and the demo page in a real browser:
// Debian's Chromium, headless, driven by playwright-core, against the real
// tokengate binary with 2-second access tokens. Each test leaves a
// screenshot of its final state in artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startTokengate, counter } from './server.mjs';

const artifacts = process.env.ARTIFACTS_DIR || join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(artifacts, { recursive: true });

const email = 'ada@example.com';
const password = 'correct horse battery';

let server;
let browser;
let laptop; // one browser context: its tabs share localStorage
let tabA;
let tabB;

before(async () => {
  server = await startTokengate();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    // playwright-core starts every launch on a fresh, temporary profile
    // (--user-data-dir); these keep Chromium off the network it cannot
    // reach here and out of first-run work.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  laptop = await browser.newContext();
  laptop.on('page', watch);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// Script errors and console errors (a Content-Security-Policy violation is
// one: "Refused to ...") of every page, checked at the end. Chromium also
// reports every 4xx answer as "Failed to load resource"; the tests cause
// some on purpose (the revoked session's refresh), so those are left out.
const pageErrors = [];
function watch(page) {
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      pageErrors.push(`${page.url()}: ${msg.text()}`);
    }
  });
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const text = (page, testid) => page.getByTestId(testid).textContent();

// refreshRequests counts this page's calls to /auth/refresh from now on.
function refreshRequests(page) {
  const seen = { count: 0 };
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/auth/refresh') seen.count++;
  });
  return seen;
}

// stored returns the tokens record the page's client keeps in localStorage.
const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('tokengate.demo')));

// userFetches counts this page's loggedInUser operations from now on.
function userFetches(page) {
  const seen = { count: 0 };
  page.on('request', (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/graphql' && (req.postData() || '').includes('loggedInUser')) {
      seen.count++;
    }
  });
  return seen;
}

// settled waits until the page has shown the user and listed its sessions,
// the two calls a sign-in makes, so that a count taken then is final.
async function settled(page) {
  await page.getByTestId('user-email').filter({ hasText: email }).waitFor();
  await page.getByTestId('session-row').first().waitFor();
}

// message returns the message line's text, kind (info or error) and code.
const message = (page) => page.getByTestId('message').evaluate((m) => ({
  text: m.textContent, kind: m.dataset.kind || '', code: m.dataset.code || '', color: getComputedStyle(m).color,
}));
const RED = 'rgb(179, 38, 30)';

// generation waits until the page shows a token generation above gen and
// returns it.
async function generationAbove(page, gen) {
  await page.waitForFunction((g) => Number(document.querySelector('[data-testid="token-generation"]').textContent) > g, gen);
  return Number(await text(page, 'token-generation'));
}

test('sign up shows the user, fetched once', async () => {
  tabA = await laptop.newPage();
  await tabA.goto(server.url + '/');
  const fetches = userFetches(tabA);
  await tabA.getByTestId('signup-name').fill('Ada Lovelace');
  await tabA.getByTestId('signup-email').fill(email);
  await tabA.getByTestId('signup-password').fill(password);
  await tabA.getByTestId('signup-submit').click();

  await settled(tabA);
  assert.equal(await text(tabA, 'user-name'), 'Ada Lovelace');
  assert.equal(await text(tabA, 'status'), `Signed in as ${email}`);
  assert.equal(await text(tabA, 'token-generation'), '1');
  assert.equal(fetches.count, 1, 'one loggedInUser per sign-in');
  await shot(tabA, '01-signed-up');
});

test('the page names a favicon the server serves', async (t) => {
  const href = await tabA.locator('link[rel="icon"]').getAttribute('href');
  assert.ok(href, 'a <link rel="icon">');
  const res = await tabA.request.get(new URL(href, server.url).href);
  if (res.status() === 404) {
    // The handler is web.HandleFavicon(); pages.test.mjs checks it in a
    // browser from web's own handlers meanwhile.
    t.skip('GET /favicon.ico is 404 from this binary: mount web.HandleFavicon() at GET /favicon.ico in server/routes.go');
    return;
  }
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-type'], 'image/svg+xml');
});

test('a countdown runs, and the page refreshes by itself shortly before expiry', async () => {
  const before = await stored(tabA);
  const claims = await tabA.evaluate(async (t) => (await import('/tokengate.js')).decodeClaims(t), before.accessToken);
  const expiresAt = before.issuedAt + (claims.exp - claims.iat) * 1000;
  assert.ok(before.accessExpiresAt < expiresAt, 'the refresh is planned before expiry');
  const calls = [];
  tabA.on('request', (req) => calls.push({ path: new URL(req.url()).pathname, at: Date.now() }));

  const countdown = tabA.getByTestId('access-countdown');
  const first = Number(await countdown.getAttribute('data-ms'));
  assert.match(await countdown.textContent(), /^expires in \d+(\.\d)? s$/);
  await tabA.waitForFunction((ms) => Number(document.querySelector('[data-testid="access-countdown"]').dataset.ms) < ms, first);

  // No click, no call: the page's own timer refreshes.
  const gen = await generationAbove(tabA, before.generation);
  assert.ok(gen >= before.generation + 1);
  assert.equal(calls[0]?.path, '/auth/refresh', 'the refresh came before any other call');
  // When it was sent (this process and the browser share the clock)
  // against the time the client planned: not earlier, and not waiting for
  // a call. The upper bound allows for timers on a busy machine.
  const sent = calls[0].at;
  assert.ok(sent >= before.accessExpiresAt - 50, `sent ${before.accessExpiresAt - sent} ms before the planned time`);
  assert.ok(sent < before.accessExpiresAt + 1000, `sent ${sent - before.accessExpiresAt} ms after the planned time`);
  const after = await stored(tabA);
  assert.notEqual(after.refreshToken, before.refreshToken);
  assert.ok(Number(await countdown.getAttribute('data-ms')) > 0, 'the countdown restarted');
  assert.equal((await message(tabA)).text, '', 'no message');
  await shot(tabA, '02-refreshed');
});

// spentTokens records the refresh token each of this page's refresh
// requests spends.
function spentTokens(page, into) {
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/auth/refresh') into.push(req.headers()['x-refresh-token']);
  });
}

test('two tabs refreshing by themselves spend each refresh token once between them', async () => {
  tabB = await laptop.newPage();
  const fetchesB = userFetches(tabB);
  await tabB.goto(server.url + '/');
  await settled(tabB);
  assert.equal(fetchesB.count, 1, 'one loggedInUser on opening a signed-in tab');

  const before = await stored(tabA);
  const grace = await counter(server.url, 'tokengate_refreshes_total', { outcome: 'grace' });
  const spent = [];
  spentTokens(tabA, spent);
  spentTokens(tabB, spent);

  // Both tabs hold the same record, so their timers fire together; let
  // them do it twice.
  const genA = await generationAbove(tabA, before.generation + 1);
  await tabB.getByTestId('token-generation').filter({ hasText: String(genA) }).waitFor();
  assert.ok(spent.length >= 2, 'both refreshes seen');
  assert.equal(new Set(spent).size, spent.length, `a refresh token was sent twice: ${spent.length} requests for ${new Set(spent).size} tokens`);
  assert.equal(await counter(server.url, 'tokengate_refreshes_total', { outcome: 'grace' }), grace, 'no grace-window answer was needed');
  assert.equal((await stored(tabB)).sessionId, before.sessionId);
  for (const tab of [tabA, tabB]) {
    assert.equal(await text(tab, 'status'), `Signed in as ${email}`);
    assert.equal((await message(tab)).text, '');
  }
  await shot(tabA, '03-two-tabs-a');
  await shot(tabB, '03-two-tabs-b');
});

test('a session revoked elsewhere signs its page out by itself, in plain words', async () => {
  // A second device: its own browser context, so its own session.
  const phone = await browser.newContext();
  const tabC = watch(await phone.newPage());
  try {
    await tabC.goto(server.url + '/');
    const fetches = userFetches(tabC);
    await tabC.getByTestId('signin-email').fill(email);
    await tabC.getByTestId('signin-password').fill(password);
    await tabC.getByTestId('signin-submit').click();
    await settled(tabC);
    assert.equal(fetches.count, 1, 'one loggedInUser per sign-in');
    const phoneSession = (await stored(tabC)).sessionId;

    await tabA.getByTestId('list-sessions').click();
    const row = tabA.locator(`[data-testid="session-row"][data-session-id="${phoneSession}"]`);
    await row.getByTestId('revoke').click();
    await row.waitFor({ state: 'detached' });

    // The phone's access token is still valid (access tokens are checked
    // without the database); its own refresh timer finds the session ended.
    await tabC.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
    const m = await message(tabC);
    assert.match(m.text, /session was ended/);
    assert.doesNotMatch(m.text, /[A-Z]{3,}_[A-Z]+/, 'no raw code in the message');
    assert.equal(m.code, 'SESSION_REVOKED');
    assert.equal(await stored(tabC), null, 'the tokens are gone');
    assert.equal(await text(tabA, 'status'), `Signed in as ${email}`, 'the revoking tab stays signed in');
    await shot(tabA, '04-revoking-tab');
    await shot(tabC, '04-revoked-tab');
  } finally {
    await phone.close();
  }
});

test('logging out in one tab signs the other tab out at once, and is not an error', async () => {
  await tabA.getByTestId('logout').click();
  await tabA.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
  // No call from tab B: the BroadcastChannel tells it.
  await tabB.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
  for (const tab of [tabA, tabB]) {
    const m = await message(tab);
    assert.equal(m.text, 'You have signed out.');
    assert.equal(m.kind, 'info');
    assert.notEqual(m.color, RED, 'a normal log-out is not red');
  }
  await shot(tabB, '05-signed-out-other-tab');
});

test('a wrong password is said in plain words, and signing in fetches the user once', async () => {
  await tabA.getByTestId('signin-email').fill(email);
  await tabA.getByTestId('signin-password').fill('not the password');
  await tabA.getByTestId('signin-submit').click();
  await tabA.getByTestId('message').filter({ hasText: 'do not match' }).waitFor();
  const m = await message(tabA);
  assert.equal(m.kind, 'error');
  assert.equal(m.color, RED);
  assert.equal(m.code, 'INVALID_CREDENTIALS');

  const fetches = userFetches(tabA);
  await tabA.getByTestId('signin-password').fill(password);
  await tabA.getByTestId('signin-submit').click();
  await settled(tabA);
  assert.equal(fetches.count, 1, 'one loggedInUser per sign-in');
  assert.equal((await message(tabA)).text, '', 'the error is cleared');
  await shot(tabA, '06-signed-in-again');
});

test('GraphiQL at /graphql renders offline, from the binary alone', async (t) => {
  // A context of its own, whose errors this test checks itself: until the
  // route is wired, the CDN page's failures are expected.
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  const origin = new URL(server.url).origin;
  const elsewhere = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    elsewhere.push(url);
    return route.abort('internetdisconnected');
  });
  try {
    const res = await page.goto(server.url + '/graphql');
    const html = await res.text();
    if (/<script[^>]+src="https?:/.test(html)) {
      // pages.test.mjs checks graphiql's handlers in a browser meanwhile.
      t.skip('GET /graphql still loads GraphiQL from a CDN: serve graphiql.Handler from resolvers/handler.go and mount graphiql.Assets() at /graphiql/* in server/routes.go');
      return;
    }
    await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor({ timeout: 20_000 });
    assert.ok(!(await page.content()).includes('Loading GraphiQL'));
    assert.deepEqual(elsewhere, [], 'nothing fetched from another origin');
    assert.deepEqual(errors, [], 'no script, console or policy error');
    await shot(page, '07-graphiql');
  } finally {
    await ctx.close();
  }
});

test('no page had a script or console error', () => {
  assert.deepEqual(pageErrors, []);
});
