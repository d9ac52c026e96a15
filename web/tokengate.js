// tokengate.js: the browser client of tokengate. A dependency-free ES module
// that single-page apps use instead of bare fetch.
//
//   import { createClient, localStorageAdapter } from '/tokengate.js';
//   const tg = createClient({ baseURL: '', storage: localStorageAdapter() });
//   await tg.signIn({ email, password });
//   const { loggedInUser } = await tg.graphql('{ loggedInUser { id name } }');
//
// What it does for the app (API.md sections 2 and 5):
// - sends x-access-token and x-refresh-token on every call to tokengate's
//   origin, and nothing to any other origin;
// - stores every pair the server hands back in a response's
//   x-access-token / x-refresh-token headers (login, register, refresh, a
//   rotation the server did by itself, a password change);
// - refreshes before the access token runs out, one refresh at a time: the
//   calls of one tab share a single refresh, and tabs take a Web Lock per
//   session, so that two tabs never spend the same refresh token. The tab
//   holding the lock tells the others how its refresh ended over a
//   BroadcastChannel before letting go; a tab that waited for the lock takes
//   that word (or the stored tokens, whichever shows it first) and refreshes
//   only if nobody else did;
// - retries a call once when the server answers UNAUTHENTICATED with reason
//   TOKEN_EXPIRED (problem+json `reason`, or GraphQL
//   errors[].extensions.reason);
// - on REFRESH_REUSED or SESSION_REVOKED, or any refusal of a refresh,
//   forgets the tokens and emits "signedout".
//
// Its fetch has the signature of window.fetch, so it plugs into Apollo
// Client's HttpLink ({ fetch: tg.fetch }) or any library that takes a fetch.

const ACCESS_HEADER = 'x-access-token';
const REFRESH_HEADER = 'x-refresh-token';

// Reasons after which the session is gone for good (API.md section 5).
const SESSION_OVER = new Set(['REFRESH_REUSED', 'SESSION_REVOKED']);

// The access token is refreshed this much before it expires (a tenth of its
// lifetime, at most 10 s), so that a call started just before expiry does not
// arrive just after it.
const MAX_EARLY_MS = 10_000;

// How long a refresh may take before it is given up (and the old pair kept).
const REFRESH_TIMEOUT_MS = 30_000;

// How long a tab that waited for the refresh lock waits for the word of the
// tab that held it. That word is posted before the lock is let go, so it is
// normally in flight already; this bound only matters when the holder's tab
// closed during its refresh.
const HANDOFF_TIMEOUT_MS = 2_000;

/**
 * TokengateError is what the helpers throw when tokengate refuses a call:
 * `code` and `reason` are those of API.md section 5.
 */
export class TokengateError extends Error {
  constructor(message, { status = 0, code = 'INTERNAL', reason = '', errors = undefined, data = undefined } = {}) {
    super(message);
    this.name = 'TokengateError';
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.errors = errors;
    this.data = data;
  }
}

/**
 * memoryStorage keeps the tokens in this page's memory only: the safest
 * place (no script of another page, and nothing on disk), at the cost of
 * signing in again after a reload. The default.
 */
export function memoryStorage() {
  let value = null;
  return {
    get: () => value,
    set: (record) => { value = record; },
    clear: () => { value = null; },
  };
}

/**
 * localStorageAdapter keeps the tokens in window.localStorage under `key`,
 * shared by every tab of the origin and kept across reloads. Any script
 * running on the origin can read them, so use it only with a strict
 * Content-Security-Policy.
 */
export function localStorageAdapter({ key = 'tokengate', storage = globalThis.localStorage } = {}) {
  return {
    get() {
      const raw = storage.getItem(key);
      if (!raw) return null;
      try {
        return JSON.parse(raw);
      } catch {
        return null;
      }
    },
    set(record) { storage.setItem(key, JSON.stringify(record)); },
    clear() { storage.removeItem(key); },
  };
}

/**
 * decodeClaims returns the payload of a JWT without verifying it (the
 * server verifies; the client only reads expiry, session and generation), or
 * null if it is not a JWT.
 */
export function decodeClaims(jwt) {
  try {
    const part = String(jwt).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * makeRecord turns a pair of tokens into what the client stores. Expiry is
 * kept on this machine's clock (received now + the token's lifetime), so a
 * client whose clock is off from the server's still refreshes on time.
 */
function makeRecord(accessToken, refreshToken, now) {
  const a = decodeClaims(accessToken) || {};
  const r = decodeClaims(refreshToken) || {};
  let accessExpiresAt = null;
  if (Number.isFinite(a.exp) && Number.isFinite(a.iat) && a.exp > a.iat) {
    const lifetime = (a.exp - a.iat) * 1000;
    accessExpiresAt = now + lifetime - Math.min(MAX_EARLY_MS, lifetime / 10);
  }
  return {
    accessToken,
    refreshToken,
    accessExpiresAt,
    userId: r.sub || a.sub || '',
    sessionId: r.sid || a.sid || '',
    generation: Number.isFinite(r.gen) ? r.gen : 0,
    issuedAt: now,
  };
}

function expired(record, now) {
  return record.accessExpiresAt != null && now >= record.accessExpiresAt;
}

/**
 * createClient returns a tokengate client.
 *
 * Options:
 * - baseURL: where tokengate is served ('' for this page's origin). Tokens
 *   are sent to this origin only.
 * - storage: { get, set, clear } (sync or async); memoryStorage() by default.
 * - onSignedOut(reason): called whenever the client signs out.
 * - name: names the Web Lock and BroadcastChannel ('tokengate'); clients
 *   of different tokengate servers on one origin need different names.
 * - fetch: the underlying fetch (window.fetch by default).
 */
export function createClient({
  baseURL = '',
  storage = memoryStorage(),
  onSignedOut = undefined,
  name = 'tokengate',
  fetch: transport = (input, init) => globalThis.fetch(input, init),
} = {}) {
  const base = String(baseURL).replace(/\/+$/, '');
  const pageURL = globalThis.location?.href ?? 'http://localhost/';
  const home = new URL(base || '/', pageURL).origin;
  const events = new EventTarget();
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`${name}:tokens`) : null;
  // The refresh this tab is doing, which every call of the tab waits for.
  let refreshing = null;
  // The session whose sign-out was last announced, so that one sign-out
  // seen several ways (the response, another tab) is announced once.
  let announced = null;
  // The last word from another tab on each session's refresh: its new
  // record, its end, or a refresh that could not be done. A tab granted the
  // lock after another tab's refresh needs it, because shared storage need
  // not show that tab's write yet: Chromium hands localStorage writes to
  // other tabs asynchronously, and the lock can arrive first.
  const heard = new Map();
  const hearing = new EventTarget();

  const endpoint = (path) => base + path;

  function emit(type, detail) {
    const ev = typeof CustomEvent === 'function' ? new CustomEvent(type, { detail }) : Object.assign(new Event(type), { detail });
    events.dispatchEvent(ev);
  }

  function post(message) {
    try {
      channel?.postMessage(message);
    } catch {
      // A closed channel only means no other tab hears of it.
    }
  }

  // store keeps a pair the server issued, unless it is older than what is
  // stored already (a slow response overtaken by a refresh) or belongs to a
  // session this client has signed out of since it sent the request.
  async function store(accessToken, refreshToken, sent) {
    const record = makeRecord(accessToken, refreshToken, Date.now());
    const current = await storage.get();
    if (current && current.sessionId === record.sessionId && record.generation < current.generation) {
      return current;
    }
    if (!current && sent && sent.sessionId === record.sessionId) {
      return null; // signed out while the request was in flight
    }
    await storage.set(record);
    announced = null;
    post({ type: 'tokens', record });
    emit('tokens', { record, source: 'response' });
    return record;
  }

  async function signedOut(reason, record) {
    const current = await storage.get();
    if (current && record && current.sessionId !== record.sessionId) {
      return; // a newer sign-in replaced that session; keep it
    }
    const sessionId = record?.sessionId ?? current?.sessionId ?? '';
    await storage.clear();
    post({ type: 'signedout', sessionId, reason });
    announce(sessionId, reason);
  }

  function announce(sessionId, reason) {
    if (announced === sessionId) return;
    announced = sessionId;
    emit('signedout', { reason });
    if (onSignedOut) onSignedOut(reason);
  }

  if (channel) {
    channel.onmessage = async ({ data }) => {
      if (!data || typeof data !== 'object') return;
      note(data);
      const current = await storage.get();
      if (data.type === 'tokens' && current && data.record?.sessionId === current.sessionId) {
        await adopt(data.record, current);
        emit('tokens', { record: data.record, source: 'broadcast' });
      } else if (data.type === 'signedout' && (!current || current.sessionId === data.sessionId)) {
        if (current) await storage.clear();
        announce(data.sessionId, data.reason);
      }
    };
  }

  // adopt keeps a pair another tab announced when it is a newer generation
  // of current's session, and returns the pair now in force. Shared storage
  // will show it soon anyway; storage of this tab alone needs it.
  async function adopt(record, current) {
    if (record.sessionId !== current.sessionId || !(record.generation > current.generation)) return current;
    await storage.set(record);
    return record;
  }

  function note(data) {
    const sessionId = data.type === 'tokens' ? data.record?.sessionId : data.sessionId;
    if (typeof sessionId !== 'string' || !sessionId) return;
    heard.set(sessionId, data);
    hearing.dispatchEvent(new Event(sessionId));
  }

  // settles reports whether word about a session tells what became of the
  // refresh of stale: a newer record, the end of the session, or that the
  // refresh of that very generation failed (so this tab may try).
  function settles(word, stale) {
    if (!word) return false;
    if (word.type === 'tokens') return Number(word.record?.generation) > stale.generation;
    if (word.type === 'signedout') return true;
    return word.type === 'refreshfailed' && word.generation >= stale.generation;
  }

  // handoff waits for another tab's word on the refresh of stale, and
  // resolves to it, or to null when none came in time.
  function handoff(stale) {
    const known = heard.get(stale.sessionId);
    if (settles(known, stale)) return Promise.resolve(known);
    if (!channel) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (word) => {
        clearTimeout(timer);
        hearing.removeEventListener(stale.sessionId, listen);
        resolve(word);
      };
      const listen = () => {
        const word = heard.get(stale.sessionId);
        if (settles(word, stale)) done(word);
      };
      const timer = setTimeout(() => done(null), HANDOFF_TIMEOUT_MS);
      hearing.addEventListener(stale.sessionId, listen);
    });
  }

  // withLock runs fn(waited) holding this session's refresh lock; waited
  // says whether another tab held it first.
  async function withLock(sessionId, fn) {
    const locks = globalThis.navigator?.locks;
    if (!locks?.request) return fn(false);
    const lockName = `${name}:refresh:${sessionId}`;
    const taken = Symbol('taken');
    const result = await locks.request(lockName, { ifAvailable: true }, (lock) => (lock ? fn(false) : taken));
    if (result !== taken) return result;
    return locks.request(lockName, () => fn(true));
  }

  // refresh returns a usable pair in place of stale, refreshing if nobody
  // else did: null when the session is over, and an error (the old pair
  // kept) when the server could not be asked or refused to answer now.
  function refresh(stale) {
    if (!refreshing) {
      refreshing = withLock(stale.sessionId, (waited) => refreshLocked(stale, waited)).finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  // fresher reports whether current already replaces stale.
  const fresher = (current, stale) => current.refreshToken !== stale.refreshToken && !expired(current, Date.now());

  async function refreshLocked(stale, waited) {
    // Whoever held the lock before may have refreshed already.
    let current = await storage.get();
    if (!current) return null;
    if (fresher(current, stale)) return current;
    if (waited) {
      const word = await handoff(stale);
      current = await storage.get();
      if (!current || word?.type === 'signedout') return null;
      if (word?.type === 'tokens') current = await adopt(word.record, current);
      if (fresher(current, stale)) return current;
    }

    let res;
    try {
      res = await transport(endpoint('/auth/refresh'), {
        method: 'POST',
        headers: { [REFRESH_HEADER]: current.refreshToken },
        cache: 'no-store',
        // The lock is held meanwhile: a hung refresh must not stall every tab.
        signal: AbortSignal.timeout?.(REFRESH_TIMEOUT_MS),
      });
    } catch (err) {
      failed(current);
      throw err;
    }
    const access = res.headers.get(ACCESS_HEADER);
    const refreshed = res.headers.get(REFRESH_HEADER);
    if (res.ok && access && refreshed) {
      return store(access, refreshed, current);
    }
    const problem = await res.json().catch(() => null);
    if (res.status === 401) {
      await signedOut(problem?.reason || 'TOKEN_INVALID', current);
      return null;
    }
    // Rate limited or store unavailable: keep the tokens and let the caller
    // go on with them.
    failed(current);
    throw errorFrom(res.status, problem, 'refresh failed');
  }

  // failed tells the tabs waiting for the lock that this refresh came to
  // nothing, so that they need not wait for a word that will not come.
  function failed(record) {
    post({ type: 'refreshfailed', sessionId: record.sessionId, generation: record.generation });
  }

  // usable returns the stored pair, refreshed first if its access token has
  // run out; the old pair if the refresh could not be done now.
  async function usable() {
    const record = await storage.get();
    if (!record || !expired(record, Date.now())) return record;
    try {
      return await refresh(record);
    } catch {
      return record;
    }
  }

  function ours(url) {
    try {
      return new URL(url, pageURL).origin === home;
    } catch {
      return false;
    }
  }

  async function send(input, init, record) {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (record) {
      headers.set(ACCESS_HEADER, record.accessToken);
      headers.set(REFRESH_HEADER, record.refreshToken);
    } else {
      headers.delete(ACCESS_HEADER);
      headers.delete(REFRESH_HEADER);
    }
    const res = await transport(input, { ...init, headers });
    const access = res.headers.get(ACCESS_HEADER);
    const refreshed = res.headers.get(REFRESH_HEADER);
    if (access && refreshed) await store(access, refreshed, record);
    return res;
  }

  /**
   * fetch is window.fetch with tokengate's tokens: it sends them to
   * tokengate's origin, stores re-issued ones, refreshes when they run out,
   * and retries once after TOKEN_EXPIRED. A path starting with '/' is taken
   * relative to baseURL. Requests to other origins go out untouched.
   */
  async function clientFetch(input, init = undefined) {
    if (typeof input === 'string' && input.startsWith('/') && !input.startsWith('//')) input = endpoint(input);
    const url = input instanceof Request ? input.url : String(input);
    if (!ours(url)) return transport(input, init);
    // A Request's body can be read once; keep a copy for the retry.
    const again = input instanceof Request ? input.clone() : input;

    let record = await usable();
    let res = await send(input, init, record);
    let reason = await unauthenticatedReason(res);
    if (reason === 'TOKEN_EXPIRED' && record) {
      let fresh = null;
      try {
        fresh = await refresh(record);
      } catch {
        return res; // the server cannot refresh now; the app sees the 401
      }
      if (!fresh) return res; // signed out: the refresh was refused
      record = fresh;
      res = await send(again, init, record);
      reason = await unauthenticatedReason(res);
    }
    if (SESSION_OVER.has(reason) && record) await signedOut(reason, record);
    return res;
  }

  async function call(method, path, body = undefined) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await clientFetch(endpoint(path), init);
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) throw errorFrom(res.status, data, `${method} ${path} failed`);
    return data;
  }

  /**
   * graphql runs one operation against tokengate's /graphql and returns its
   * data, or throws a TokengateError carrying the first error's code and
   * reason and every error.
   */
  async function graphql(query, variables = undefined, { operationName = undefined, signal = undefined } = {}) {
    const res = await clientFetch(endpoint('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables, operationName }),
      signal,
    });
    const body = await res.json().catch(() => null);
    if (body?.errors?.length) {
      const first = body.errors[0];
      throw new TokengateError(first.message || 'GraphQL error', {
        status: res.status,
        code: first.extensions?.code || 'INTERNAL',
        reason: first.extensions?.reason || '',
        errors: body.errors,
        data: body.data,
      });
    }
    if (!res.ok || !body) throw errorFrom(res.status, body, 'GraphQL request failed');
    return body.data;
  }

  return {
    fetch: clientFetch,
    graphql,
    /** register creates an account and signs in; resolves to the Tokens body. */
    register: ({ email, password, name: userName }) => call('POST', '/auth/register', { email, password, name: userName }),
    /** signIn signs in on a new session; resolves to the Tokens body. */
    signIn: ({ email, password }) => call('POST', '/auth/login', { email, password }),
    /** signOut ends this session on the server and forgets the tokens. */
    async signOut() {
      const record = await storage.get();
      try {
        if (record) await call('POST', '/auth/logout');
      } finally {
        await signedOut('SIGNED_OUT', record);
      }
    },
    /** signOutEverywhere ends every session of the user and forgets the tokens. */
    async signOutEverywhere() {
      const record = await storage.get();
      await call('POST', '/auth/logout-all');
      await signedOut('SIGNED_OUT', record);
    },
    /** me resolves to the signed-in user. */
    me: () => call('GET', '/auth/me'),
    /** sessions resolves to the user's live sessions, newest first. */
    sessions: () => call('GET', '/auth/sessions'),
    /** revokeSession ends one of the user's sessions; ending this one signs out. */
    async revokeSession(id) {
      const record = await storage.get();
      await call('DELETE', `/auth/sessions/${encodeURIComponent(id)}`);
      if (record && record.sessionId === id) await signedOut('SESSION_REVOKED', record);
    },
    /** changePassword replaces the password; every other session ends. */
    changePassword: ({ currentPassword, newPassword }) => call('POST', '/auth/password', { currentPassword, newPassword }),
    /**
     * requestPasswordReset asks for a reset link to be mailed to email. The
     * server answers the same whether or not the address has an account, so
     * this resolves to nothing either way.
     */
    async requestPasswordReset(email) {
      await call('POST', '/auth/password/forgot', { email });
    },
    /**
     * resetPassword sets a new password with the token of a reset link,
     * which ends every session of the user, and signs in on a new session
     * (stored like signIn's); resolves to the Tokens body.
     */
    resetPassword: ({ token, newPassword }) => call('POST', '/auth/password/reset', { token, newPassword }),
    /** requestEmailVerification mails the signed-in user's address a verification link. */
    async requestEmailVerification() {
      await call('POST', '/auth/email/verification');
    },
    /** verifyEmail marks the address verified with the token of a verification link; resolves to the User. No sign-in needed. */
    verifyEmail: (token) => call('POST', '/auth/email/verify', { token }),
    /**
     * deleteAccount deletes the signed-in user, who confirms with the
     * password, and then forgets the tokens (signedout, reason
     * ACCOUNT_DELETED). A wrong password rejects and keeps them.
     */
    async deleteAccount(password) {
      const record = await storage.get();
      await call('DELETE', '/auth/me', { password });
      await signedOut('ACCOUNT_DELETED', record);
    },
    /** refresh refreshes now (normally the client does it when needed). */
    async refresh() {
      const record = await storage.get();
      return record ? refresh({ ...record, accessExpiresAt: 0 }) : null;
    },
    /** tokens resolves to the stored record ({accessToken, refreshToken, sessionId, generation, issuedAt, ...}) or null. */
    tokens: async () => (await storage.get()) ?? null,
    /** clear forgets the tokens without asking the server, and signs out. */
    async clear() {
      await signedOut('CLEARED', await storage.get());
    },
    addEventListener: (type, fn, opts) => events.addEventListener(type, fn, opts),
    removeEventListener: (type, fn, opts) => events.removeEventListener(type, fn, opts),
    /** close stops listening to other tabs. */
    close: () => channel?.close(),
  };
}

// unauthenticatedReason returns the reason of an UNAUTHENTICATED answer (a
// problem+json 401, or a GraphQL error), or '' for anything else. It reads
// a clone, so the caller still gets the whole body.
async function unauthenticatedReason(res) {
  if (res.status !== 401 && res.status !== 200) return '';
  if (!/json/i.test(res.headers.get('content-type') || '')) return '';
  let body;
  try {
    body = await res.clone().json();
  } catch {
    return '';
  }
  if (body?.code === 'UNAUTHENTICATED') return body.reason || '';
  if (Array.isArray(body?.errors)) {
    for (const e of body.errors) {
      if (e?.extensions?.code === 'UNAUTHENTICATED') return e.extensions.reason || '';
    }
  }
  return '';
}

function errorFrom(status, problem, fallback) {
  return new TokengateError(problem?.detail || problem?.title || `${fallback} (HTTP ${status})`, {
    status,
    code: problem?.code || (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'),
    reason: problem?.reason || '',
  });
}
