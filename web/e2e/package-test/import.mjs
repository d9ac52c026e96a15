// Run in a scratch project that installed the packed tarball
// (web/npm_test.go): the package imports by its name, works, and its
// client has exactly the methods its declarations name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as pkg from 'tokengate-client';

for (const name of ['createClient', 'memoryStorage', 'localStorageAdapter', 'decodeClaims', 'TokengateError']) {
  assert.equal(typeof pkg[name], 'function', `tokengate-client exports ${name}`);
}

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const iat = Math.floor(Date.now() / 1000);
const access = `${b64({ alg: 'HS256' })}.${b64({ sub: 'u1', sid: 's1', iat, exp: iat + 900 })}.sig`;
const refresh = `${b64({ alg: 'HS256' })}.${b64({ sub: 'u1', sid: 's1', gen: 1, iat, exp: iat + 3600 })}.sig`;
const tg = pkg.createClient({
  baseURL: 'http://tokengate.test',
  name: 'package-test',
  fetch: async () => new Response(JSON.stringify({ accessToken: access, refreshToken: refresh, user: { id: 'u1' } }), {
    status: 200,
    headers: { 'content-type': 'application/json', 'x-access-token': access, 'x-refresh-token': refresh },
  }),
});
await tg.signIn({ email: 'a@example.com', password: 'long enough' });
assert.equal((await tg.tokens()).sessionId, 's1');

// The declared members of TokengateClient, from the installed .d.ts.
const require = createRequire(import.meta.url);
const manifest = require('tokengate-client/package.json');
const dts = readFileSync(require.resolve('tokengate-client/package.json').replace(/package\.json$/, manifest.types), 'utf8');
const body = /export interface TokengateClient \{([\s\S]*?)\n\}/.exec(dts)[1];
const declared = [...body.matchAll(/^ {2}([a-zA-Z]+)[<(]/gm)].map((m) => m[1]).sort();
assert.deepEqual(Object.keys(tg).sort(), declared, 'the declarations name every method of the client, and only those');
tg.close();
console.log(`tokengate-client ${manifest.version}: ${declared.length} client methods, all declared`);
