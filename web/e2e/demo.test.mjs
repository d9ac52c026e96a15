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
import { startTokengate, counter, ACCESS_TOKEN_TTL_MS } from './server.mjs';

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

// pastExpiry waits until the access token of record has run out, by the
// same clock the client uses.
async function pastExpiry(page, record) {
  const wait = record.accessExpiresAt - (await page.evaluate(() => Date.now())) + 100;
  if (wait > 0) await page.waitForTimeout(wait);
}

test('sign up shows the user', async () => {
  tabA = await laptop.newPage();
  await tabA.goto(server.url + '/');
  await tabA.getByTestId('signup-name').fill('Ada Lovelace');
  await tabA.getByTestId('signup-email').fill(email);
  await tabA.getByTestId('signup-password').fill(password);
  await tabA.getByTestId('signup-submit').click();

  await tabA.getByTestId('user-email').filter({ hasText: email }).waitFor();
  assert.equal(await text(tabA, 'user-name'), 'Ada Lovelace');
  assert.equal(await text(tabA, 'status'), `Signed in as ${email}`);
  assert.equal(await text(tabA, 'token-generation'), '1');
  await tabA.getByTestId('session-row').first().waitFor();
  await shot(tabA, '01-signed-up');
});

test('a call after expiry refreshes silently', async () => {
  const before = await stored(tabA);
  const refreshes = refreshRequests(tabA);
  const fetched = await text(tabA, 'user-fetched');
  await pastExpiry(tabA, before);

  await tabA.getByTestId('reload').click();
  await tabA.getByTestId('user-fetched').filter({ hasNotText: fetched }).waitFor();
  assert.equal(await text(tabA, 'user-email'), email);
  assert.equal(await text(tabA, 'message'), '', 'no error shown');
  const after = await stored(tabA);
  assert.equal(after.generation, before.generation + 1);
  assert.notEqual(after.refreshToken, before.refreshToken);
  assert.equal(refreshes.count, 1, 'one refresh request');
  await tabA.getByTestId('token-generation').filter({ hasText: String(after.generation) }).waitFor();
  await shot(tabA, '02-refreshed');
});

test('two tabs calling at once after expiry refresh once', async () => {
  tabB = await laptop.newPage();
  await tabB.goto(server.url + '/');
  await tabB.getByTestId('user-email').filter({ hasText: email }).waitFor();

  const before = await stored(tabA);
  const rotated = await counter(server.url, 'tokengate_refreshes_total', { outcome: 'rotated' });
  const grace = await counter(server.url, 'tokengate_refreshes_total', { outcome: 'grace' });
  const refreshesA = refreshRequests(tabA);
  const refreshesB = refreshRequests(tabB);
  const fetchedA = await text(tabA, 'user-fetched');
  const fetchedB = await text(tabB, 'user-fetched');
  await pastExpiry(tabA, before);

  // Both tabs click at the same millisecond of the shared clock.
  const at = (await tabA.evaluate(() => Date.now())) + 300;
  const clickAt = (when) => new Promise((resolve) => setTimeout(() => {
    document.querySelector('[data-testid="reload"]').click();
    resolve();
  }, when - Date.now()));
  await Promise.all([tabA.evaluate(clickAt, at), tabB.evaluate(clickAt, at)]);

  await tabA.getByTestId('user-fetched').filter({ hasNotText: fetchedA }).waitFor();
  await tabB.getByTestId('user-fetched').filter({ hasNotText: fetchedB }).waitFor();
  for (const tab of [tabA, tabB]) {
    assert.equal(await text(tab, 'status'), `Signed in as ${email}`);
    assert.equal(await text(tab, 'message'), '');
  }
  const afterA = await stored(tabA);
  const afterB = await stored(tabB);
  assert.equal(afterA.refreshToken, afterB.refreshToken, 'both tabs hold the same pair');
  assert.equal(afterA.generation, before.generation + 1, 'the generation advanced once');
  assert.equal(refreshesA.count + refreshesB.count, 1, 'one refresh request between the two tabs');
  assert.equal(await counter(server.url, 'tokengate_refreshes_total', { outcome: 'rotated' }), rotated + 1, 'one rotation');
  assert.equal(await counter(server.url, 'tokengate_refreshes_total', { outcome: 'grace' }), grace, 'no grace-window answer was needed');
  await tabB.getByTestId('token-generation').filter({ hasText: String(afterA.generation) }).waitFor();
  await shot(tabA, '03-two-tabs-a');
  await shot(tabB, '03-two-tabs-b');
});

test('revoking a session from one tab signs the other out at its next call', async () => {
  // A second device: its own browser context, so its own session.
  const phone = await browser.newContext();
  const tabC = watch(await phone.newPage());
  try {
    await tabC.goto(server.url + '/');
    await tabC.getByTestId('signin-email').fill(email);
    await tabC.getByTestId('signin-password').fill(password);
    await tabC.getByTestId('signin-submit').click();
    await tabC.getByTestId('user-email').filter({ hasText: email }).waitFor();
    const phoneSession = (await stored(tabC)).sessionId;

    await tabA.getByTestId('list-sessions').click();
    const row = tabA.locator(`[data-testid="session-row"][data-session-id="${phoneSession}"]`);
    await row.getByTestId('revoke').click();
    await row.waitFor({ state: 'detached' });

    // The phone's access token is still valid (access tokens are checked
    // without the database); its next call after expiry finds the session
    // ended.
    await pastExpiry(tabC, await stored(tabC));
    await tabC.getByTestId('reload').click();
    await tabC.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
    assert.match(await text(tabC, 'message'), /SESSION_REVOKED/);
    assert.equal(await stored(tabC), null, 'the tokens are gone');
    assert.equal(await text(tabA, 'status'), `Signed in as ${email}`, 'the revoking tab stays signed in');
    await shot(tabA, '04-revoking-tab');
    await shot(tabC, '04-revoked-tab');
  } finally {
    await phone.close();
  }
});

test('logging out in one tab signs the other tab out at once', async () => {
  await tabA.getByTestId('logout').click();
  await tabA.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
  // No call from tab B: the BroadcastChannel tells it.
  await tabB.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
  assert.match(await text(tabB, 'message'), /SIGNED_OUT/);
  await shot(tabB, '05-signed-out-other-tab');
});

test('no page had a script or console error', () => {
  assert.deepEqual(pageErrors, []);
});
