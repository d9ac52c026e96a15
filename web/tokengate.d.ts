// Type declarations for tokengate.js, the browser client of tokengate. The
// names and shapes are those of tokengate's wire contract (API.md): the
// REST bodies of section 4, the error codes and reasons of section 5.

/** ErrorCode is a code of API.md section 5. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'BAD_REQUEST'
  | 'UNAUTHENTICATED'
  | 'INVALID_CREDENTIALS'
  | 'EMAIL_TAKEN'
  | 'LINK_INVALID'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'STORE_UNAVAILABLE'
  | 'INTERNAL';

/** UnauthenticatedReason is the reason of an UNAUTHENTICATED error. */
export type UnauthenticatedReason = 'TOKEN_MISSING' | 'TOKEN_EXPIRED' | 'TOKEN_INVALID' | 'SESSION_REVOKED' | 'REFRESH_REUSED';

/**
 * SignOutReason says why the client signed out: a reason the server gave,
 * or SIGNED_OUT (signOut, signOutEverywhere), CLEARED (clear) or
 * ACCOUNT_DELETED (deleteAccount).
 */
export type SignOutReason = UnauthenticatedReason | 'SIGNED_OUT' | 'CLEARED' | 'ACCOUNT_DELETED';

/** User is tokengate's User; times are RFC 3339 strings. */
export interface User {
  id: string;
  email: string;
  name: string;
  createdAt: string;
  emailVerified: boolean;
}

/** Tokens is the body of a sign-in, registration, refresh or password change. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
  refreshTokenExpiresAt: string;
  user: User;
}

/** Session is one of the user's live sessions. */
export interface Session {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent?: string | null;
  ip?: string | null;
  current: boolean;
}

/** TokenRecord is what the client stores for a pair of tokens. */
export interface TokenRecord {
  accessToken: string;
  refreshToken: string;
  /** When the client refreshes, in ms on this machine's clock (shortly before expiry); null if unknown. */
  accessExpiresAt: number | null;
  userId: string;
  sessionId: string;
  /** The refresh token's rotation generation. */
  generation: number;
  /** When the pair was received, in ms on this machine's clock. */
  issuedAt: number;
}

/** TokenStorage keeps the record; each method may be sync or async. */
export interface TokenStorage {
  get(): TokenRecord | null | Promise<TokenRecord | null>;
  set(record: TokenRecord): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** GraphQLError is one entry of a GraphQL response's errors. */
export interface GraphQLError {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: { code?: ErrorCode | (string & {}); reason?: UnauthenticatedReason | (string & {}); retryAfter?: number; [key: string]: unknown };
}

/** TokengateError is what the helpers throw when tokengate refuses a call. */
export declare class TokengateError extends Error {
  constructor(
    message: string,
    options?: { status?: number; code?: ErrorCode | (string & {}); reason?: string; errors?: GraphQLError[]; data?: unknown },
  );
  name: 'TokengateError';
  /** The HTTP status, 0 if there was none. */
  status: number;
  code: ErrorCode | (string & {});
  /** The reason of an UNAUTHENTICATED error, else ''. */
  reason: UnauthenticatedReason | '' | (string & {});
  /** Every error of a GraphQL response. */
  errors?: GraphQLError[];
  /** The partial data of a GraphQL response. */
  data?: unknown;
}

/** ClientOptions configures createClient. */
export interface ClientOptions {
  /** Where tokengate is served ('' for this page's origin). Tokens are sent to this origin only. */
  baseURL?: string;
  /** memoryStorage() by default. */
  storage?: TokenStorage;
  /** Called whenever the client signs out. */
  onSignedOut?: (reason: SignOutReason) => void;
  /** Names the Web Lock and BroadcastChannel ('tokengate'). */
  name?: string;
  /** The underlying fetch (window.fetch by default). */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
}

/** TokensEventDetail is the detail of a "tokens" event. */
export interface TokensEventDetail {
  record: TokenRecord;
  /** response: this tab received the pair; broadcast: another tab did. */
  source: 'response' | 'broadcast';
}

/** SignedOutEventDetail is the detail of a "signedout" event. */
export interface SignedOutEventDetail {
  reason: SignOutReason;
}

/** TokengateEventMap maps the client's event types to their events. */
export interface TokengateEventMap {
  tokens: CustomEvent<TokensEventDetail>;
  signedout: CustomEvent<SignedOutEventDetail>;
}

/** TokengateClient is what createClient returns. */
export interface TokengateClient {
  /** fetch is window.fetch with tokengate's tokens sent, stored, refreshed and retried. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** graphql runs one operation and resolves to its data, or throws a TokengateError. */
  graphql<TData = Record<string, unknown>, TVariables extends Record<string, unknown> = Record<string, unknown>>(
    query: string,
    variables?: TVariables,
    options?: { operationName?: string; signal?: AbortSignal },
  ): Promise<TData>;
  register(input: { email: string; password: string; name: string }): Promise<Tokens>;
  signIn(input: { email: string; password: string }): Promise<Tokens>;
  signOut(): Promise<void>;
  signOutEverywhere(): Promise<void>;
  me(): Promise<User>;
  sessions(): Promise<Session[]>;
  revokeSession(id: string): Promise<void>;
  changePassword(input: { currentPassword: string; newPassword: string }): Promise<Tokens>;
  /** Resolves the same whether or not the address has an account. */
  requestPasswordReset(email: string): Promise<void>;
  /** Signs in on a new session; every other session of the user ends. */
  resetPassword(input: { token: string; newPassword: string }): Promise<Tokens>;
  requestEmailVerification(): Promise<void>;
  verifyEmail(token: string): Promise<User>;
  /** Deletes the signed-in user, then signs out (reason ACCOUNT_DELETED). */
  deleteAccount(password: string): Promise<void>;
  refresh(): Promise<TokenRecord | null>;
  tokens(): Promise<TokenRecord | null>;
  clear(): Promise<void>;
  addEventListener<K extends keyof TokengateEventMap>(
    type: K,
    listener: (event: TokengateEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof TokengateEventMap>(
    type: K,
    listener: (event: TokengateEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Stops listening to other tabs. */
  close(): void;
}

/** createClient returns a tokengate client. */
export declare function createClient(options?: ClientOptions): TokengateClient;

/** memoryStorage keeps the tokens in this page's memory only (the default). */
export declare function memoryStorage(): TokenStorage;

/** localStorageAdapter keeps the tokens in localStorage under key, shared by the origin's tabs. */
export declare function localStorageAdapter(options?: {
  key?: string;
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}): TokenStorage;

/** JwtClaims is a JWT payload as decodeClaims reads it, unverified. */
export interface JwtClaims {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  sid?: string;
  ver?: number;
  gen?: number;
  iat?: number;
  exp?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** decodeClaims returns a JWT's payload without verifying it, or null if it is not a JWT. */
export declare function decodeClaims(jwt: string): JwtClaims | null;
