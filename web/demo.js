// The demo page's script: every call goes through the tokengate client, so
// the page never touches a token itself.
import { createClient, localStorageAdapter, memoryStorage } from '/tokengate.js';

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

function say(text) {
  el('message').textContent = text;
}

function describe(err) {
  return err.code ? `${err.message} (${err.code}${err.reason ? ', ' + err.reason : ''})` : String(err.message || err);
}

function showSignedOut(reason) {
  el('signed-in').hidden = true;
  el('signed-out').hidden = false;
  el('status').textContent = 'Signed out';
  el('sessions').replaceChildren();
  if (reason) say(`Signed out: ${reason}`);
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
  el('access-expiry').textContent = t.accessExpiresAt ? `refreshed after ${clock(t.accessExpiresAt)}` : 'unknown expiry';
}

client.addEventListener('tokens', async (e) => {
  lastSource = e.detail.source === 'broadcast' ? 'another tab' : 'this tab';
  logEvent(`tokens re-issued in ${lastSource}: generation ${e.detail.record.generation}`);
  if (el('signed-in').hidden) {
    showSignedIn();
    loadUser();
  }
  await showTokens();
});

client.addEventListener('signedout', (e) => {
  logEvent(`signed out: ${e.detail.reason}`);
  showSignedOut(e.detail.reason);
});

async function loadUser() {
  try {
    const { loggedInUser: u } = await client.graphql('query Me { loggedInUser { id email name } }');
    el('user-name').textContent = u.name;
    el('user-email').textContent = u.email;
    el('user-id').textContent = u.id;
    el('user-fetched').textContent = clock(Date.now());
    el('status').textContent = `Signed in as ${u.email}`;
    say('');
  } catch (err) {
    await explain(err);
  }
}

// explain shows a failed call, unless the client signed out during it: the
// signedout handler has already said why, and the call's own error (sent
// anonymously, so TOKEN_MISSING) would only hide that.
async function explain(err) {
  if (err.code === 'UNAUTHENTICATED' && !(await client.tokens())) return;
  say(describe(err));
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
      say(describe(err));
    }
  });
  td.append(b);
  tr.append(td);
  return tr;
}

async function signedIn(what) {
  logEvent(what);
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
    say(describe(err));
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
    say(describe(err));
  }
});

el('reload').addEventListener('click', () => loadUser());
el('list-sessions').addEventListener('click', () => loadSessions());
el('logout').addEventListener('click', () => client.signOut().catch((err) => say(describe(err))));
el('logout-all').addEventListener('click', () => client.signOutEverywhere().catch((err) => say(describe(err))));

if (await client.tokens()) {
  showSignedIn();
  await showTokens();
  await Promise.all([loadUser(), loadSessions()]);
} else {
  showSignedOut('');
}
