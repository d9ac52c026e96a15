// The whole account-recovery flow in a real browser against the real
// tokengate binary (API.md sections 4 and 10): a reset link read from the
// file outbox, opened, a new password set, and the other device signed
// out; the verification badge and its e-mail; deleting the account. Needs
// the server side of recovery: while POST /auth/password/forgot is 404 on
// this binary, every test here skips, saying so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startTokengate, mailedToken } from './server.mjs';

const artifacts = process.env.ARTIFACTS_DIR || join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(artifacts, { recursive: true });

const NOT_WIRED = 'the server side of account recovery is not in this binary yet (POST /auth/password/forgot is 404): ' +
  'wire the recovery routes, /reset-password and /verify-email (web.HandleRecoveryPage), /recovery.js, and User.emailVerified, and these tests run';

let server;
let browser;
let available = false;
const seenMail = new Set();
const pageErrors = [];

before(async () => {
  server = await startTokengate();
  const probe = await fetch(`${server.url}/auth/password/forgot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'nobody@example.com' }),
  });
  available = probe.status !== 404;
  if (!available) return;
  assert.equal(probe.status, 202, 'forgot answers 202 for an address without an account');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// device is a browser of its own (its own storage, so its own session).
async function device(t) {
  const ctx = await browser.newContext();
  t.after(() => ctx.close());
  ctx.on('page', (page) => {
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(`${page.url()}: ${msg.text()}`);
    });
  });
  return ctx;
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const text = (page, testid) => page.getByTestId(testid).textContent();

async function signUp(page, email, password) {
  await page.goto(server.url + '/');
  await page.getByTestId('signup-name').fill('Grace Hopper');
  await page.getByTestId('signup-email').fill(email);
  await page.getByTestId('signup-password').fill(password);
  await page.getByTestId('signup-submit').click();
  await page.getByTestId('user-email').filter({ hasText: email }).waitFor();
}

async function signIn(page, email, password) {
  await page.getByTestId('signin-email').fill(email);
  await page.getByTestId('signin-password').fill(password);
  await page.getByTestId('signin-submit').click();
}

test('a reset link from the outbox sets a new password, and the other device is signed out', async (t) => {
  if (!available) return t.skip(NOT_WIRED);
  const email = 'grace@example.com';
  const laptop = await (await device(t)).newPage();
  await signUp(laptop, email, 'the old password');

  const phone = await (await device(t)).newPage();
  await phone.goto(server.url + '/');
  await phone.getByTestId('forgot-email').fill(email);
  await phone.getByTestId('forgot-submit').click();
  await phone.getByTestId('message').filter({ hasText: `If ${email} has an account` }).waitFor();

  const token = await mailedToken(server.outbox, { address: email, page: 'reset-password', skip: seenMail });
  await phone.goto(`${server.url}/reset-password#token=${token}`);
  await phone.getByTestId('reset-form').waitFor();
  assert.equal(phone.url(), `${server.url}/reset-password`, 'the token left the address bar');
  await phone.getByTestId('reset-password').fill('the new password');
  await phone.getByTestId('reset-confirm').fill('the new password');
  await phone.getByTestId('reset-submit').click();
  await phone.getByTestId('message').filter({ hasText: 'password has been changed' }).waitFor();
  await phone.getByTestId('continue').getByRole('link').click();
  await phone.getByTestId('status').filter({ hasText: `Signed in as ${email}` }).waitFor();
  await shot(phone, 'recovery-01-phone-reset');

  // The laptop's session ended with the reset; its page finds out by itself.
  await laptop.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
  assert.equal(await laptop.evaluate(() => localStorage.getItem('tokengate.demo')), null);
  await shot(laptop, 'recovery-01-laptop-signed-out');

  await signIn(laptop, email, 'the old password');
  await laptop.getByTestId('message').filter({ hasText: 'do not match' }).waitFor();
  await signIn(laptop, email, 'the new password');
  await laptop.getByTestId('status').filter({ hasText: `Signed in as ${email}` }).waitFor();

  // The link was used up.
  const again = await (await device(t)).newPage();
  await again.goto(`${server.url}/reset-password#token=${token}`);
  await again.getByTestId('reset-password').fill('yet another password');
  await again.getByTestId('reset-confirm').fill('yet another password');
  await again.getByTestId('reset-submit').click();
  await again.getByTestId('message').filter({ hasText: 'no longer valid' }).waitFor();
});

test('the verified badge turns from not verified to verified through the mailed link', async (t) => {
  if (!available) return t.skip(NOT_WIRED);
  const email = 'katherine@example.com';
  const ctx = await device(t);
  const page = await ctx.newPage();
  await signUp(page, email, 'a fine password');
  await page.getByTestId('email-badge').filter({ hasText: 'not verified' }).waitFor();
  await page.getByTestId('send-verification').click();
  await page.getByTestId('message').filter({ hasText: 'verification link is on its way' }).waitFor();

  const token = await mailedToken(server.outbox, { address: email, page: 'verify-email', skip: seenMail });
  const link = await ctx.newPage();
  await link.goto(`${server.url}/verify-email#token=${token}`);
  assert.equal(link.url(), `${server.url}/verify-email`);
  await link.getByTestId('verify-submit').click();
  await link.getByTestId('message').filter({ hasText: `${email} is verified` }).waitFor();

  await page.getByTestId('reload').click();
  await page.getByTestId('email-badge').filter({ hasText: /^verified$/ }).waitFor();
  assert.ok(await page.getByTestId('send-verification').isHidden());
  await shot(page, 'recovery-02-verified');
});

test('deleting the account asks for the password, then signs out for good', async (t) => {
  if (!available) return t.skip(NOT_WIRED);
  const email = 'dorothy@example.com';
  const page = await (await device(t)).newPage();
  await signUp(page, email, 'a fine password');
  await page.getByTestId('delete-account').click();
  await page.getByTestId('delete-password').fill('not my password');
  await page.getByTestId('delete-confirm').click();
  await page.getByTestId('message').filter({ hasText: 'password is not right' }).waitFor();
  assert.equal(await text(page, 'status'), `Signed in as ${email}`);

  await page.getByTestId('delete-password').fill('a fine password');
  await page.getByTestId('delete-confirm').click();
  await page.getByTestId('status').filter({ hasText: 'Signed out' }).waitFor();
  assert.equal(await text(page, 'message'), 'Your account has been deleted.');
  await signIn(page, email, 'a fine password');
  await page.getByTestId('message').filter({ hasText: 'do not match' }).waitFor();
  await shot(page, 'recovery-03-deleted');
});

test('no page had a script or console error', (t) => {
  if (!available) return t.skip(NOT_WIRED);
  assert.deepEqual(pageErrors, []);
});
