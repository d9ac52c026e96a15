// The demo page's script: every call goes through the tokengate client, so
// the page never touches a token itself.
import { createClient, decodeClaims, localStorageAdapter, memoryStorage } from '/tokengate.js';

// localStorage by default, so that tabs share the session and a reload keeps
// it; ?storage=memory keeps the tokens in this tab only.
const inMemory = new URLSearchParams(location.search).get('storage') === 'memory';
const client = createClient({
  storage: inMemory ? memoryStorage() : localStorageAdapter({ key: 'tokengate.demo' }),
});

const el = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) + '.' + String(ms % 1000).padStart(3, '0');

function logEvent(text) {
  const li = document.createElement('li');
  li.textContent = `${clock(Date.now())}  ${text}`;
  el('events').prepend(li);
}

// say shows one message: 'info' for ordinary events (a sign-out the user
// asked for), 'error' for what went wrong. code, when known, is kept in a
// data attribute for tests and curious users; the text is plain language.
function say(text, kind = 'error', code = '') {
  const m = el('message');
  m.textContent = text;
  m.dataset.kind = text ? kind : '';
  m.dataset.code = code;
}

// Plain-language words for the reasons a session ends (API.md section 5,
// and the client's own SIGNED_OUT and CLEARED).
const SIGN_OUT_REASONS = {
  SIGNED_OUT: ['You have signed out.', 'info'],
  CLEARED: ['You have signed out on this device.', 'info'],
  SESSION_REVOKED: ['This session was ended, from this or another device. Please sign in again.', 'info'],
  ACCOUNT_DELETED: ['Your account has been deleted.', 'info'],
  TOKEN_EXPIRED: ['Your session has expired. Please sign in again.', 'info'],
  REFRESH_REUSED: ['For your safety this session was ended: its sign-in was used from two places at once. Please sign in again, and change your password if that was not you.', 'error'],
  TOKEN_INVALID: ['Your sign-in is no longer valid. Please sign in again.', 'error'],
  TOKEN_MISSING: ['Please sign in.', 'info'],
};

// Plain-language words for the error codes a call can end with.
const ERROR_CODES = {
  INVALID_CREDENTIALS: 'That e-mail and password do not match an account.',
  EMAIL_TAKEN: 'An account with that e-mail already exists. Try signing in instead.',
  LINK_INVALID: 'This link is no longer valid: it has expired, was already used, or a newer one was sent. Please ask for a new one.',
  UNAUTHENTICATED: 'Please sign in first.',
  NOT_FOUND: 'That was not found; it may have ended already.',
  STORE_UNAVAILABLE: 'The server cannot reach its database right now. Please try again in a moment.',
  INTERNAL: 'Something went wrong on the server. Please try again.',
  BAD_REQUEST: 'The request was refused as malformed.',
};

function describe(err) {
  if (err instanceof TypeError) return 'The server cannot be reached. Check your connection and try again.';
  switch (err.code) {
    case 'BAD_USER_INPUT':
      // The server's own words name the field and the rule.
      return err.message;
    case 'RATE_LIMITED':
      return 'Too many attempts. Please wait a little and try again.';
    default:
      return ERROR_CODES[err.code] || 'Something went wrong. Please try again.';
  }
}

function sayError(err) {
  say(describe(err), 'error', err.code || '');
}

function showSignedOut(reason) {
  el('signed-in').hidden = true;
  el('signed-out').hidden = false;
  el('status').textContent = 'Signed out';
  el('sessions').replaceChildren();
  stopCountdown();
  currentUser = null;
  el('delete-form').reset();
  el('delete-form').hidden = true;
  if (reason) {
    const [text, kind] = SIGN_OUT_REASONS[reason] || ['You have been signed out. Please sign in again.', 'info'];
    say(text, kind, reason);
  }
}

function showSignedIn() {
  el('signed-out').hidden = true;
  el('signed-in').hidden = false;
  el('storage-kind').textContent = inMemory ? 'memory (this tab only)' : 'localStorage (shared by tabs)';
}

let lastSource = 'stored';

async function showTokens() {
  const t = await client.tokens();
  if (!t) return;
  el('tokens-issued').textContent = clock(t.issuedAt);
  el('tokens-source').textContent = lastSource;
  el('session-id').textContent = t.sessionId;
  el('token-generation').textContent = String(t.generation);
  el('access-expiry').textContent = t.accessExpiresAt ? `at ${clock(t.accessExpiresAt)}` : 'at the first call after expiry';
  scheduleRefresh(t);
}

// The page refreshes by itself when the client would (record.accessExpiresAt,
// shortly before the token runs out), rather than at the first call after
// it: a page left open stays signed in, and a session ended elsewhere is
// noticed then, without a click. Every tab schedules it; the client's lock
// makes one refresh of them.
let refreshTimer = null;
let countdownTimer = null;
let expiresAt = null;

function scheduleRefresh(record) {
  clearTimeout(refreshTimer);
  const claims = decodeClaims(record.accessToken);
  // On this machine's clock, like the client's own expiry.
  expiresAt = claims && claims.exp > claims.iat ? record.issuedAt + (claims.exp - claims.iat) * 1000 : null;
  tick();
  if (!countdownTimer) countdownTimer = setInterval(tick, 250);
  if (record.accessExpiresAt == null) return;
  refreshTimer = setTimeout(async () => {
    try {
      // The client emits "tokens" for a pair it stored; one another tab
      // stored first may come back without it, so schedule from it here.
      if (await client.refresh()) await showTokens();
    } catch (err) {
      // The old pair is kept; the next call or timer tries again.
      logEvent(`refresh failed: ${err.code || err.message}`);
      sayError(err);
      setTimeout(() => client.tokens().then((t) => t && scheduleRefresh(t)), 5_000);
    }
  }, Math.max(0, record.accessExpiresAt - Date.now()));
}

function tick() {
  const c = el('access-countdown');
  if (expiresAt == null) {
    c.textContent = 'unknown';
    return;
  }
  const left = Math.max(0, expiresAt - Date.now());
  c.textContent = left > 0 ? `expires in ${(left / 1000).toFixed(left < 10_000 ? 1 : 0)} s` : 'expired';
  c.dataset.ms = String(left);
}

function stopCountdown() {
  clearTimeout(refreshTimer);
  clearInterval(countdownTimer);
  refreshTimer = countdownTimer = expiresAt = null;
}

client.addEventListener('tokens', async (e) => {
  lastSource = e.detail.source === 'broadcast' ? 'another tab' : 'this tab';
  logEvent(`tokens re-issued in ${lastSource}: generation ${e.detail.record.generation}`);
  // Another tab signed in on the session this tab shares: show it. A
  // sign-in in this tab is shown by signedIn(), which loads the user once;
  // loading it here too was a second loggedInUser per sign-in.
  if (el('signed-in').hidden && e.detail.source === 'broadcast') {
    showSignedIn();
    loadUser();
  }
  await showTokens();
});

client.addEventListener('signedout', (e) => {
  logEvent(`signed out: ${e.detail.reason}`);
  showSignedOut(e.detail.reason);
});

// userFields resolves to the names of the User type's fields, asked once
// per page: emailVerified (API.md v2) is asked for only where the server
// has it, so the page also works against a server without it.
let userFields = null;
function knownUserFields() {
  userFields ??= client.graphql('query UserFields { __type(name: "User") { fields { name } } }')
    .then((d) => new Set((d.__type?.fields || []).map((f) => f.name)))
    .catch(() => {
      userFields = null; // ask again next time
      return new Set();
    });
  return userFields;
}

let currentUser = null;

async function loadUser() {
  try {
    const verifiable = (await knownUserFields()).has('emailVerified');
    const { loggedInUser: u } = await client.graphql(`query Me { loggedInUser { id email name${verifiable ? ' emailVerified' : ''} } }`);
    currentUser = u;
    el('user-name').textContent = u.name;
    el('user-email').textContent = u.email;
    el('user-id').textContent = u.id;
    el('user-fetched').textContent = clock(Date.now());
    el('status').textContent = `Signed in as ${u.email}`;
    showBadge(verifiable ? u.emailVerified : undefined);
    if (el('message').dataset.kind === 'error') say('');
  } catch (err) {
    await explain(err);
  }
}

// showBadge shows whether the address is verified, and the button that
// mails a link while it is not; nothing when the server does not say.
function showBadge(verified) {
  const badge = el('email-badge');
  badge.hidden = verified === undefined;
  badge.textContent = verified ? 'verified' : 'not verified';
  badge.dataset.verified = String(Boolean(verified));
  el('send-verification').hidden = verified !== false;
}

// explain shows a failed call, unless the client signed out during it: the
// signedout handler has already said why, and the call's own error (sent
// anonymously, so TOKEN_MISSING) would only hide that.
async function explain(err) {
  if (err.code === 'UNAUTHENTICATED' && !(await client.tokens())) return;
  sayError(err);
}

async function loadSessions() {
  try {
    const { sessions } = await client.graphql('query Sessions { sessions { id createdAt lastUsedAt userAgent ip current } }');
    el('sessions').replaceChildren(...sessions.map(sessionRow));
  } catch (err) {
    await explain(err);
  }
}

function sessionRow(s) {
  const tr = document.createElement('tr');
  tr.dataset.testid = 'session-row';
  tr.dataset.sessionId = s.id;
  if (s.current) tr.className = 'current';
  const cells = [
    s.id.slice(0, 8) + (s.current ? ' (this one)' : ''),
    new Date(s.createdAt).toLocaleString(),
    new Date(s.lastUsedAt).toLocaleString(),
    `${(s.userAgent || 'unknown').slice(0, 40)} ${s.ip || ''}`,
  ];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  const td = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'danger';
  b.dataset.testid = 'revoke';
  b.textContent = 'Revoke';
  b.addEventListener('click', async () => {
    try {
      await client.revokeSession(s.id);
      logEvent(`revoked session ${s.id.slice(0, 8)}`);
      if (!s.current) await loadSessions();
    } catch (err) {
      sayError(err);
    }
  });
  td.append(b);
  tr.append(td);
  return tr;
}

async function signedIn(what) {
  logEvent(what);
  say('');
  lastSource = 'sign-in';
  showSignedIn();
  await showTokens();
  await Promise.all([loadUser(), loadSessions()]);
}

el('signup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    await client.register({ name: f.get('name'), email: f.get('email'), password: f.get('password') });
    e.target.reset();
    await signedIn('signed up');
  } catch (err) {
    sayError(err);
  }
});

el('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    await client.signIn({ email: f.get('email'), password: f.get('password') });
    e.target.reset();
    await signedIn('signed in');
  } catch (err) {
    sayError(err);
  }
});

el('forgot-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const address = new FormData(e.target).get('email');
  try {
    await client.requestPasswordReset(address);
    e.target.reset();
    // The server answers the same whether or not the address has an
    // account, and so does the page.
    say(`If ${address} has an account, a link to choose a new password is on its way there. Check your e-mail.`, 'info');
  } catch (err) {
    sayError(err);
  }
});

el('send-verification').addEventListener('click', async () => {
  try {
    await client.requestEmailVerification();
    say(`A verification link is on its way to ${currentUser?.email || 'your address'}. Open it on any device.`, 'info');
  } catch (err) {
    sayError(err);
  }
});

el('delete-account').addEventListener('click', () => {
  el('delete-form').hidden = false;
  el('delete-password').focus();
});
el('delete-cancel').addEventListener('click', () => {
  el('delete-form').reset();
  el('delete-form').hidden = true;
});
el('delete-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const password = new FormData(e.target).get('password');
  try {
    await client.deleteAccount(password);
    // signedout (ACCOUNT_DELETED) has shown the signed-out page.
    e.target.reset();
    e.target.hidden = true;
  } catch (err) {
    if (err.code === 'INVALID_CREDENTIALS') say('That password is not right; the account is kept.', 'error', err.code);
    else sayError(err);
  }
});

el('reload').addEventListener('click', () => loadUser());
el('list-sessions').addEventListener('click', () => loadSessions());
el('logout').addEventListener('click', () => client.signOut().catch((err) => sayError(err)));
el('logout-all').addEventListener('click', () => client.signOutEverywhere().catch((err) => sayError(err)));

if (await client.tokens()) {
  showSignedIn();
  await showTokens();
  await Promise.all([loadUser(), loadSessions()]);
} else {
  showSignedOut('');
}
