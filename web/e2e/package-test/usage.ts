// A typed use of the npm package, checked by `tsc --noEmit` in a scratch
// project that installed the packed tarball (web/npm_test.go). In
// mistakes(), each line marked as an expected error must be one, so the
// check fails if the declarations were missing or loose (any).
import {
  createClient,
  decodeClaims,
  localStorageAdapter,
  memoryStorage,
  TokengateError,
  type SignOutReason,
  type TokengateClient,
  type TokenRecord,
  type Tokens,
  type User,
} from 'tokengate-client';

const tg: TokengateClient = createClient({
  baseURL: 'https://auth.example.com',
  storage: localStorageAdapter({ key: 'app' }),
  onSignedOut: (reason: SignOutReason) => console.log('signed out', reason),
  name: 'app',
  fetch: (input, init) => fetch(input, init),
});
const inMemory = createClient({ storage: memoryStorage() });

export async function walkThrough(): Promise<void> {
  const tokens: Tokens = await tg.register({ email: 'a@example.com', password: 'long enough', name: 'Ada' });
  const verified: boolean = tokens.user.emailVerified;
  await tg.signIn({ email: 'a@example.com', password: 'long enough' });
  const me: User = await tg.me();
  const { loggedInUser } = await tg.graphql<{ loggedInUser: Pick<User, 'id' | 'name'> }>('{ loggedInUser { id name } }');
  console.log(verified, me.createdAt, loggedInUser.name.toUpperCase());
  for (const s of await tg.sessions()) if (!s.current) await tg.revokeSession(s.id);
  await tg.changePassword({ currentPassword: 'long enough', newPassword: 'even longer one' });

  await tg.requestPasswordReset('a@example.com');
  const fresh: Tokens = await tg.resetPassword({ token: 'from-the-link', newPassword: 'a new password' });
  await tg.requestEmailVerification();
  const user: User = await tg.verifyEmail('from-the-link');
  console.log(fresh.refreshTokenExpiresAt, user.emailVerified);

  tg.addEventListener('tokens', (e) => {
    const gen: number = e.detail.record.generation;
    const from: 'response' | 'broadcast' = e.detail.source;
    console.log(gen, from);
  });
  tg.addEventListener('signedout', (e) => console.log(e.detail.reason));

  const record: TokenRecord | null = await tg.tokens();
  const exp = record ? decodeClaims(record.accessToken)?.exp : undefined;
  console.log(exp?.toFixed(0));
  const res: Response = await tg.fetch('/auth/me', { headers: { accept: 'application/json' } });
  console.log(res.status);

  try {
    await tg.deleteAccount('long enough');
  } catch (err) {
    if (err instanceof TokengateError && err.code === 'INVALID_CREDENTIALS') console.log(err.status, err.reason);
  }
  await tg.signOut();
  await tg.signOutEverywhere();
  await tg.clear();
  await tg.refresh();
  tg.close();
  inMemory.close();
}

export async function mistakes(): Promise<void> {
  // @ts-expect-error resetPassword takes { token, newPassword }
  await tg.resetPassword('token', 'password');
  // @ts-expect-error deleteAccount needs the password
  await tg.deleteAccount();
  // @ts-expect-error verifyEmail resolves to a User, not Tokens
  const t: Tokens = await tg.verifyEmail('x');
  // @ts-expect-error no such method
  tg.logout();
  // @ts-expect-error no such event
  tg.addEventListener('nope', () => {});
  // @ts-expect-error emailVerified is a boolean
  const v: string = (await tg.me()).emailVerified;
  // @ts-expect-error a sign-out reason is one of the known ones
  const r: SignOutReason = 'BORED';
  console.log(t, v, r);
}
