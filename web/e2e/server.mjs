// Starts the real tokengate binary for the browser tests: on 127.0.0.1 with
// a port the kernel picks, SQLite in a fresh temporary directory (its mail
// written to the outbox/ folder there), cheap bcrypt and 2-second access
// tokens, so that expiry can be waited out.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const ACCESS_TOKEN_TTL_MS = 2000;

// binary returns TOKENGATE_BIN (the Go test builds it) or builds one.
function binary(dir) {
  if (process.env.TOKENGATE_BIN) return process.env.TOKENGATE_BIN;
  const out = join(dir, 'tokengate');
  execFileSync('go', ['build', '-o', out, '.'], { cwd: repo, stdio: 'inherit' });
  return out;
}

export async function startTokengate() {
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-e2e-'));
  const proc = spawn(binary(dir), ['serve'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      ADDR: '127.0.0.1:0',
      DATABASE_URL: `sqlite:${join(dir, 'tokengate.db')}`,
      // Where the default puts it too; named, so the tests need not know
      // the default.
      SMTP_URL: `file:${join(dir, 'outbox')}`,
      ACCESS_TOKEN_SECRET: 'e2e-access-secret-0123456789abcdefghijkl',
      REFRESH_TOKEN_SECRET: 'e2e-refresh-secret-0123456789abcdefghijk',
      ACCESS_TOKEN_TTL: `${ACCESS_TOKEN_TTL_MS / 1000}s`,
      BCRYPT_COST: '4',
      LOG_FORMAT: 'text',
      LOG_LEVEL: 'info',
    },
  });
  let logs = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tokengate did not start in 20s:\n${logs}`)), 20_000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      logs += chunk;
      const m = /msg=listening addr=(\S+)/.exec(logs);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tokengate exited with ${code} before listening:\n${logs}`));
    });
  });
  return {
    url,
    // Where the mail goes (SMTP_URL=file:…, API.md section 7): one .eml
    // file per e-mail.
    outbox: join(dir, 'outbox'),
    logs: () => logs,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// counter reads one sample of a Prometheus counter from /metrics.
export async function counter(baseURL, name, labels) {
  const text = await (await fetch(`${baseURL}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${want}} `)) return Number(line.split(' ')[1]);
  }
  throw new Error(`no ${name}{${want}} in /metrics`);
}

// linkIn finds a tokengate link (/reset-password or /verify-email, with
// its #token=) in the raw text of an RFC 5322 message, whatever transfer
// encoding its parts use: as is, quoted-printable, or base64.
export function linkIn(raw, page) {
  const texts = [];
  if (/quoted-printable/i.test(raw)) {
    texts.push(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))));
  }
  for (const m of raw.matchAll(/\r?\n\r?\n([A-Za-z0-9+/=\r\n]{24,})/g)) {
    texts.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64').toString('utf8'));
  }
  texts.push(raw);
  // Link tokens are base64url (API.md section 10: at least 128 random bits).
  const re = new RegExp(`/${page}#token=([A-Za-z0-9_-]{16,})`);
  for (const t of texts) {
    const m = re.exec(t);
    if (m) return m[1];
  }
  return null;
}

// mailedToken waits for an e-mail to address in outbox whose link opens
// page (reset-password or verify-email), and returns the link's token.
// Files seen before (skip) are left out. The mail worker sends in the
// background, so the outbox is polled, up to timeoutMs.
export async function mailedToken(outbox, { address, page, skip = new Set(), timeoutMs = 15_000 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let names = [];
    try {
      names = readdirSync(outbox).filter((n) => n.endsWith('.eml')).sort();
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      if (skip.has(name)) continue;
      const raw = readFileSync(join(outbox, name), 'utf8');
      if (!raw.toLowerCase().includes(address.toLowerCase())) continue;
      const token = linkIn(raw, page);
      if (token) {
        skip.add(name);
        return token;
      }
    }
    if (Date.now() > deadline) throw new Error(`no ${page} e-mail to ${address} in ${outbox} after ${timeoutMs} ms (files: ${names.join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
