// verify.mjs JWKS_URL TOKEN ISSUER AUDIENCE [NOW_UNIX]
//
// What a downstream service does with tokengate's access tokens: fetch the
// published keys with jose's createRemoteJWKSet and verify a token with
// them, pinning the algorithms, the typ, the issuer and the audience.
// Prints {"kid","alg","sub","sid","ver"} and exits 0 when the token
// verifies; prints the reason and exits 1 when it does not. NOW_UNIX, if
// given, is the time to verify at (to check expiry without waiting).
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [url, token, issuer, audience, now] = process.argv.slice(2);
if (!url || !token || !issuer || !audience) {
  console.error('usage: node verify.mjs JWKS_URL TOKEN ISSUER AUDIENCE [NOW_UNIX]');
  process.exit(2);
}

const jwks = createRemoteJWKSet(new URL(url));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: 'at+jwt',
    algorithms: ['ES256', 'EdDSA', 'RS256'],
    clockTolerance: 30,
    ...(now ? { currentDate: new Date(Number(now) * 1000) } : {}),
  });
  console.log(JSON.stringify({
    kid: protectedHeader.kid, alg: protectedHeader.alg,
    sub: payload.sub, sid: payload.sid, ver: payload.ver,
  }));
} catch (err) {
  console.log(JSON.stringify({ refused: err.code ?? err.name, message: err.message }));
  process.exit(1);
}
