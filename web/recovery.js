// The pages that links in e-mails open: /reset-password#token=… and
// /verify-email#token=… (API.md section 10). The token travels in the URL
// fragment, so it reaches no server log and no Referer; this script then
// takes it out of the address bar and this history entry before anything
// else runs (the client module is imported only after), so it is not left
// on screen, in the history, or in a bookmark.
const found = /^#token=([^&]*)/.exec(location.hash);
if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
let linkToken = '';
try {
  linkToken = found ? decodeURIComponent(found[1]) : '';
} catch {
  // A malformed escape is no token.
}

const { createClient, localStorageAdapter } = await import('/tokengate.js');

// The demo page's storage, so that a reset signs the demo page in.
const client = createClient({ storage: localStorageAdapter({ key: 'tokengate.demo' }) });

const el = (testid) => document.querySelector(`[data-testid="${testid}"]`);

function say(text, kind, code = '') {
  const m = el('message');
  m.textContent = text;
  m.dataset.kind = text ? kind : '';
  m.dataset.code = code;
}

function sayError(err) {
  if (err instanceof TypeError) {
    say('The server cannot be reached. Check your connection and try again.', 'error');
    return;
  }
  switch (err.code) {
    case 'LINK_INVALID':
      // The token is spent or dead: forget it, and offer the way to a new one.
      linkToken = '';
      el('reset-form').hidden = true;
      el('verify-card').hidden = true;
      el('continue').hidden = false;
      say('This link is no longer valid: it has expired, was already used, or a newer one was sent. Ask for a new one from the demo page.', 'error', err.code);
      return;
    case 'BAD_USER_INPUT':
      // The password broke a rule; the link is not used up, try again.
      say(err.message, 'error', err.code);
      return;
    case 'RATE_LIMITED':
      say('Too many attempts. Please wait a little and try again.', 'error', err.code);
      return;
    case 'STORE_UNAVAILABLE':
      say('The server cannot reach its database right now. Please try again in a moment.', 'error', err.code);
      return;
    default:
      say('Something went wrong. Please try again.', 'error', err.code || '');
  }
}

const resetting = location.pathname === '/reset-password';
el('recovery-title').textContent = resetting ? 'Choose a new password' : 'Confirm your e-mail address';
document.title = `tokengate: ${el('recovery-title').textContent}`;

if (!linkToken) {
  el('link-missing').hidden = false;
} else if (resetting) {
  el('reset-form').hidden = false;
} else {
  el('verify-card').hidden = false;
}

el('reset-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  if (f.get('password') !== f.get('confirm')) {
    say('The two passwords differ.', 'error');
    return;
  }
  try {
    await client.resetPassword({ token: linkToken, newPassword: f.get('password') });
    linkToken = '';
    e.target.reset();
    e.target.hidden = true;
    el('continue').hidden = false;
    say('Your password has been changed. Every other session has been signed out, and you are signed in here.', 'info');
  } catch (err) {
    sayError(err);
  }
});

el('verify-submit').addEventListener('click', async () => {
  try {
    const user = await client.verifyEmail(linkToken);
    linkToken = '';
    el('verify-card').hidden = true;
    el('continue').hidden = false;
    say(`Thank you: ${user.email} is verified.`, 'info');
  } catch (err) {
    sayError(err);
  }
});
