// Starts the real tokengate binary for the browser tests: on 127.0.0.1 with
// a port the kernel picks, SQLite in a fresh temporary directory, cheap
// bcrypt and 2-second access tokens, so that expiry can be waited out.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
