// Unit tests of tokengate.js in Node, against a scripted fake server: the
// paths a real browser test cannot reach on demand (a TOKEN_EXPIRED answer,
// a reused refresh token, a stale response overtaken by a refresh).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, memoryStorage, decodeClaims } from '../tokengate.js';

const base = 'http://tokengate.test';

// jwt makes an unsigned token with the claims the client reads.
function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64(claims)}.sig`;
}

function pair(gen, { sid = 's1', ttl = 900 } = {}) {
  const iat = Math.floor(Date.now() / 1000);
  return {
    access: jwt({ sub: 'u1', sid, iat, exp: iat + ttl, jti: `a${gen}${sid}` }),
    refresh: jwt({ sub: 'u1', sid, gen, iat, exp: iat + 3600, jti: `r${gen}${sid}` }),
  };
}

// expired is the stored record of pair p of generation 1 whose access token
// has run out.
const expired = (p) => ({ accessToken: p.access, refreshToken: p.refresh, accessExpiresAt: Date.now() - 1, sessionId: 's1', generation: 1 });

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const withTokens = (p) => ({ 'x-access-token': p.access, 'x-refresh-token': p.refresh });

// fakeServer answers with route(request) and records every request.
function fakeServer(route) {
  const calls = [];
  const transport = async (input, init = {}) => {
    const req = new Request(input, init);
    calls.push(req);
    return route(req, calls);
  };
  return { calls, transport };
}

// rotatingServer answers a refresh with next after a little while, so
// that concurrent callers overlap it, and everything else with a user.
function rotatingServer(next) {
  return fakeServer(async (req) => {
    if (!req.url.endsWith('/auth/refresh')) return json(200, { id: 'u1' });
    await new Promise((r) => setTimeout(r, 20));
    return json(200, {}, withTokens(next));
  });
}

function client(transport, storage = memoryStorage()) {
  // A name of its own, so no test hears another's BroadcastChannel.
  return createClient({ baseURL: base, storage, fetch: transport, name: `t${Math.random()}` });
}

test('sign-in stores the pair from the headers and every later call sends it', async () => {
  const p = pair(1);
  const { calls, transport } = fakeServer((req) => {
    if (req.url.endsWith('/auth/login')) return json(200, { user: { id: 'u1' } }, withTokens(p));
    return json(200, { id: 'u1' });
  });
  const tg = client(transport);
  await tg.signIn({ email: 'a@example.com', password: 'pw' });
  assert.equal(calls[0].headers.get('x-access-token'), null, 'nothing to send before sign-in');
  const t = await tg.tokens();
  assert.equal(t.accessToken, p.access);
  assert.equal(t.sessionId, 's1');
  assert.equal(t.generation, 1);

  await tg.me();
  assert.equal(calls[1].headers.get('x-access-token'), p.access);
  assert.equal(calls[1].headers.get('x-refresh-token'), p.refresh);
  tg.close();
});

test('no token goes to another origin', async () => {
  const storage = memoryStorage();
  const p = pair(1);
  storage.set({ accessToken: p.access, refreshToken: p.refresh, accessExpiresAt: Date.now() + 60_000, sessionId: 's1', generation: 1 });
  const { calls, transport } = fakeServer(() => json(200, {}));
  const tg = client(transport, storage);
  await tg.fetch('https://elsewhere.example/api', { headers: { 'x-custom': '1' } });
  assert.equal(calls[0].headers.get('x-access-token'), null);
  assert.equal(calls[0].headers.get('x-refresh-token'), null);
  assert.equal(calls[0].headers.get('x-custom'), '1');
  tg.close();
});

test('TOKEN_EXPIRED in a GraphQL error: one refresh, one retry', async () => {
  const old = pair(1);
  const next = pair(2);
  const storage = memoryStorage();
  storage.set({ accessToken: old.access, refreshToken: old.refresh, accessExpiresAt: Date.now() + 60_000, sessionId: 's1', generation: 1 });
  const { calls, transport } = fakeServer((req) => {
    if (req.url.endsWith('/auth/refresh')) return json(200, {}, withTokens(next));
    if (req.headers.get('x-access-token') === old.access) {
      return json(200, { data: null, errors: [{ message: 'expired', extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' } }] });
    }
    return json(200, { data: { loggedInUser: { id: 'u1' } } });
  });
  const tg = client(transport, storage);
  const data = await tg.graphql('{ loggedInUser { id } }');
  assert.deepEqual(data, { loggedInUser: { id: 'u1' } });
  assert.deepEqual(calls.map((c) => new URL(c.url).pathname), ['/graphql', '/auth/refresh', '/graphql']);
  assert.equal(calls[1].headers.get('x-refresh-token'), old.refresh);
  assert.equal(calls[1].headers.get('x-access-token'), null, 'the refresh sends the refresh token only');
  assert.equal(calls[2].headers.get('x-access-token'), next.access);
  tg.close();
});

test('concurrent calls after expiry share one refresh', async () => {
  const old = pair(1);
  const next = pair(2);
  const storage = memoryStorage();
  storage.set(expired(old));
  const { calls, transport } = rotatingServer(next);
  const tg = client(transport, storage);
  await Promise.all([tg.me(), tg.me(), tg.me(), tg.sessions()]);
  const refreshes = calls.filter((c) => c.url.endsWith('/auth/refresh'));
  assert.equal(refreshes.length, 1);
  for (const c of calls.filter((c) => !c.url.endsWith('/auth/refresh'))) {
    assert.equal(c.headers.get('x-access-token'), next.access);
  }
  tg.close();
});

// tabs returns the storage of several tabs of one browser. Chromium hands
// a localStorage write from one tab to the others asynchronously; here the
// other tabs never see it, the worst case of that delay.
function tabs(n) {
  const views = Array.from({ length: n }, () => ({ value: null }));
  return {
    storages: views.map((v) => ({ get: () => v.value, set: (r) => { v.value = r; }, clear: () => { v.value = null; } })),
    seed(record) { for (const v of views) v.value = record; },
  };
}

// fakeLocks is navigator.locks for tabs in one process: first come, first
// served, and a waiter is granted the lock the moment its holder lets go,
// before any message from the holder can arrive.
function fakeLocks() {
  const held = new Map();
  return {
    async request(lockName, options, fn) {
      if (typeof options === 'function') [fn, options] = [options, {}];
      const queue = held.get(lockName) ?? [];
      held.set(lockName, queue);
      if (options.ifAvailable && queue.length) return fn(null);
      const before = queue.at(-1);
      let release;
      queue.push(new Promise((r) => { release = r; }));
      await before;
      try {
        return await fn({ name: lockName });
      } finally {
        queue.shift();
        release();
      }
    },
  };
}

// withFakeLocks runs fn with navigator.locks installed.
async function withFakeLocks(fn) {
  const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { locks: fakeLocks() }, configurable: true, writable: true });
  try {
    return await fn();
  } finally {
    if (had) Object.defineProperty(globalThis, 'navigator', had);
    else delete globalThis.navigator;
  }
}

test('a tab granted the lock before the holder\'s write shows uses the holder\'s word, not a second refresh', () => withFakeLocks(async () => {
  const old = pair(1);
  const next = pair(2);
  const browser = tabs(2);
  browser.seed(expired(old));
  const { calls, transport } = rotatingServer(next);
  const name = `t${Math.random()}`;
  const [a, b] = browser.storages.map((storage) => createClient({ baseURL: base, storage, fetch: transport, name }));
  try {
    await Promise.all([a.me(), b.me()]);
    const refreshes = calls.filter((c) => c.url.endsWith('/auth/refresh'));
    assert.equal(refreshes.length, 1, 'one refresh between the two tabs');
    for (const c of calls.filter((c) => !c.url.endsWith('/auth/refresh'))) {
      assert.equal(c.headers.get('x-access-token'), next.access);
    }
    assert.equal((await b.tokens()).generation, 2, 'the waiting tab keeps the pair it was told of');
  } finally {
    a.close();
    b.close();
  }
}));

test('a tab waiting for the lock refreshes itself at once when the holder\'s refresh failed', () => withFakeLocks(async () => {
  // setTimeout is frozen, so a waiter that sat out the hand-off timeout
  // instead of hearing of the failure would never finish; setInterval (not
  // frozen) ends the test then.
  mock.timers.enable({ apis: ['setTimeout'] });
  let guard;
  const stuck = new Promise((_, reject) => {
    guard = setInterval(() => reject(new Error('the waiting tab did not hear that the refresh failed')), 5_000);
  });
  const old = pair(1);
  const next = pair(2);
  const browser = tabs(2);
  browser.seed(expired(old));
  let refreshes = 0;
  const { calls, transport } = fakeServer((req) => {
    if (!req.url.endsWith('/auth/refresh')) return json(200, { id: 'u1' });
    refreshes++;
    return refreshes === 1 ? json(503, { code: 'STORE_UNAVAILABLE' }, { 'retry-after': '1' }) : json(200, {}, withTokens(next));
  });
  const name = `t${Math.random()}`;
  const [a, b] = browser.storages.map((storage) => createClient({ baseURL: base, storage, fetch: transport, name }));
  try {
    await Promise.race([Promise.all([a.me(), b.me()]), stuck]);
    const sent = calls.filter((c) => c.url.endsWith('/auth/refresh')).map((c) => c.headers.get('x-refresh-token'));
    assert.deepEqual(sent, [old.refresh, old.refresh], 'the second tab tried the same token itself');
  } finally {
    clearInterval(guard);
    mock.timers.reset();
    a.close();
    b.close();
  }
}));

for (const reason of ['REFRESH_REUSED', 'SESSION_REVOKED']) {
  test(`${reason} clears the tokens and emits signedout`, async () => {
    const p = pair(1);
    const storage = memoryStorage();
    storage.set({ accessToken: p.access, refreshToken: p.refresh, accessExpiresAt: Date.now() + 60_000, sessionId: 's1', generation: 1 });
    const { transport } = fakeServer(() =>
      json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, code: 'UNAUTHENTICATED', reason },
        { 'content-type': 'application/problem+json' }));
    const seen = [];
    const tg = client(transport, storage);
    tg.addEventListener('signedout', (e) => seen.push(e.detail.reason));
    await assert.rejects(tg.me(), (err) => err.code === 'UNAUTHENTICATED' && err.reason === reason);
    assert.equal(await tg.tokens(), null);
    assert.deepEqual(seen, [reason]);
    tg.close();
  });
}

test('a refused refresh signs out; a 503 keeps the tokens', async () => {
  const p = pair(1);
  const storage = memoryStorage();
  const expiredRecord = expired(p);
  let refreshAnswer = json(503, { code: 'STORE_UNAVAILABLE' }, { 'retry-after': '2' });
  const { transport } = fakeServer((req) => (req.url.endsWith('/auth/refresh') ? refreshAnswer : json(200, { id: 'u1' })));
  storage.set(expiredRecord);
  const tg = client(transport, storage);
  await tg.me();
  assert.equal((await tg.tokens()).refreshToken, p.refresh, 'kept while the store is down');

  refreshAnswer = json(401, { code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
  const seen = [];
  tg.addEventListener('signedout', (e) => seen.push(e.detail.reason));
  await tg.fetch('/auth/me');
  assert.equal(await tg.tokens(), null);
  assert.deepEqual(seen, ['SESSION_REVOKED']);
  tg.close();
});

test('a slow response with an older generation does not replace newer tokens', async () => {
  const g2 = pair(2);
  const g3 = pair(3);
  const storage = memoryStorage();
  storage.set({ accessToken: g3.access, refreshToken: g3.refresh, accessExpiresAt: Date.now() + 60_000, sessionId: 's1', generation: 3 });
  const { transport } = fakeServer(() => json(200, {}, withTokens(g2)));
  const tg = client(transport, storage);
  await tg.fetch('/auth/me');
  assert.equal((await tg.tokens()).generation, 3);
  tg.close();
});

test('decodeClaims reads a JWT payload and rejects garbage', () => {
  assert.equal(decodeClaims(pair(7).refresh).gen, 7);
  assert.equal(decodeClaims('not a jwt'), null);
});

// A fake of the recovery routes of API.md sections 4 and 10: it checks the
// method, path and body of each call, and answers as the contract says.
function recoveryServer({ newPair, password = 'right password', user = { id: 'u1', email: 'a@example.com', emailVerified: true } } = {}) {
  return fakeServer(async (req) => {
    const path = new URL(req.url).pathname;
    // A clone, so that the test can read the body too.
    const body = req.method === 'GET' ? null : await req.clone().text().then((t) => (t ? JSON.parse(t) : null));
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'POST /auth/password/forgot':
        return new Response(null, { status: 202 });
      case 'POST /auth/password/reset':
        if (body?.token !== 'reset-token') return json(400, { code: 'LINK_INVALID', title: 'Bad Request', detail: 'the link is invalid or has expired' });
        return json(200, { accessToken: newPair.access, refreshToken: newPair.refresh, user }, withTokens(newPair));
      case 'POST /auth/email/verification':
        return new Response(null, { status: 202 });
      case 'POST /auth/email/verify':
        if (body?.token !== 'verify-token') return json(400, { code: 'LINK_INVALID', detail: 'the link is invalid or has expired' });
        return json(200, user);
      case 'DELETE /auth/me':
        if (body?.password !== password) return json(401, { code: 'INVALID_CREDENTIALS', detail: 'wrong e-mail or password' });
        return new Response(null, { status: 204 });
      default:
        return json(404, { code: 'NOT_FOUND' });
    }
  });
}

const signedIn = (p, sid = 's1') => ({ accessToken: p.access, refreshToken: p.refresh, accessExpiresAt: Date.now() + 60_000, sessionId: sid, generation: 1 });

async function bodyOf(req) {
  const raw = await req.text();
  return raw ? JSON.parse(raw) : undefined;
}

test('requestPasswordReset posts the address and resolves on 202, with nothing to tell', async (t) => {
  const { calls, transport } = recoveryServer();
  const tg = client(transport);
  t.after(() => tg.close());
  assert.equal(await tg.requestPasswordReset('a@example.com'), undefined);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].method, 'POST');
  assert.equal(new URL(calls[0].url).pathname, '/auth/password/forgot');
  assert.equal(calls[0].headers.get('content-type'), 'application/json');
  assert.deepEqual(await bodyOf(calls[0]), { email: 'a@example.com' });
});

test('resetPassword stores the new session like signIn, replacing the old one', async (t) => {
  const old = pair(4, { sid: 's-old' });
  const fresh = pair(1, { sid: 's-new' });
  const storage = memoryStorage();
  storage.set(signedIn(old, 's-old'));
  const { calls, transport } = recoveryServer({ newPair: fresh });
  const tg = client(transport, storage);
  t.after(() => tg.close());
  const seen = [];
  tg.addEventListener('tokens', (e) => seen.push(e.detail.record.sessionId));
  const body = await tg.resetPassword({ token: 'reset-token', newPassword: 'a new password' });
  assert.equal(body.user.id, 'u1');
  assert.deepEqual(await bodyOf(calls[0]), { token: 'reset-token', newPassword: 'a new password' });
  const stored = await tg.tokens();
  assert.equal(stored.accessToken, fresh.access);
  assert.equal(stored.sessionId, 's-new');
  assert.deepEqual(seen, ['s-new']);
});

test('resetPassword with a used link rejects with LINK_INVALID and stores nothing', async (t) => {
  const { transport } = recoveryServer({ newPair: pair(1) });
  const tg = client(transport);
  t.after(() => tg.close());
  await assert.rejects(tg.resetPassword({ token: 'used', newPassword: 'a new password' }),
    (err) => err.code === 'LINK_INVALID' && err.status === 400);
  assert.equal(await tg.tokens(), null);
});

test('requestEmailVerification posts with the tokens and resolves on 202', async (t) => {
  const p = pair(1);
  const storage = memoryStorage();
  storage.set(signedIn(p));
  const { calls, transport } = recoveryServer();
  const tg = client(transport, storage);
  t.after(() => tg.close());
  assert.equal(await tg.requestEmailVerification(), undefined);
  assert.equal(calls[0].method, 'POST');
  assert.equal(new URL(calls[0].url).pathname, '/auth/email/verification');
  assert.equal(calls[0].headers.get('x-access-token'), p.access);
});

test('verifyEmail posts the token and resolves to the user; a bad one is LINK_INVALID', async (t) => {
  const { calls, transport } = recoveryServer();
  const tg = client(transport);
  t.after(() => tg.close());
  const user = await tg.verifyEmail('verify-token');
  assert.equal(user.emailVerified, true);
  assert.equal(new URL(calls[0].url).pathname, '/auth/email/verify');
  assert.deepEqual(await bodyOf(calls[0]), { token: 'verify-token' });
  await assert.rejects(tg.verifyEmail('nope'), (err) => err.code === 'LINK_INVALID');
});

test('deleteAccount sends DELETE /auth/me with the password, then signs out locally', async (t) => {
  const p = pair(1);
  const storage = memoryStorage();
  storage.set(signedIn(p));
  const { calls, transport } = recoveryServer();
  const tg = client(transport, storage);
  t.after(() => tg.close());
  const seen = [];
  tg.addEventListener('signedout', (e) => seen.push(e.detail.reason));

  await assert.rejects(tg.deleteAccount('wrong'), (err) => err.code === 'INVALID_CREDENTIALS');
  assert.equal((await tg.tokens()).accessToken, p.access, 'a wrong password keeps the session');
  assert.deepEqual(seen, []);

  assert.equal(await tg.deleteAccount('right password'), undefined);
  const last = calls.at(-1);
  assert.equal(last.method, 'DELETE');
  assert.equal(new URL(last.url).pathname, '/auth/me');
  assert.equal(last.headers.get('x-access-token'), p.access);
  assert.deepEqual(await bodyOf(last), { password: 'right password' });
  assert.equal(await tg.tokens(), null);
  assert.deepEqual(seen, ['ACCOUNT_DELETED']);
});
