package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"
)

// The GraphQL documents the floor answers, byte for byte the ones
// bench/load sends (queryMe and queryLogin there).
const (
	queryMe    = `{loggedInUser{id email}}`
	queryLogin = `mutation($email:String!,$password:String!){login(email:$email,password:$password){accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt user{id email}}}`
)

// Header values as tokengate writes them (middleware/validatetokens.go).
const (
	varyOnTokens   = "Authorization, x-access-token, x-refresh-token"
	exposedHeaders = "x-access-token, x-refresh-token, WWW-Authenticate"
)

// caller is who a request acts as, decided by validateTokens.
type caller struct{ userID, sessionID string }

type callerKey struct{}

// The rotation statements, one per FLOOR_ROTATION mode (rotation.go).
//
// syncRotateSQL is tokengate's compare-and-swap as it was before
// asynchronous rotations: the same conditions and effect, committed with the
// server's synchronous_commit, so every refresh waits for a WAL flush.
const syncRotateSQL = `
	UPDATE sessions AS s SET
		generation   = s.generation + 1,
		rotated_at   = $1,
		last_used_at = $1,
		expires_at   = LEAST($2, s.max_expires_at),
		user_agent   = CASE WHEN $3 = '' THEN s.user_agent ELSE $3 END,
		ip           = CASE WHEN $4 = '' THEN s.ip ELSE $4 END
	FROM users AS u
	WHERE s.id = $5 AND s.user_id = $6 AND s.generation = $7
		AND s.revoked_at IS NULL AND s.expires_at > $1
		AND u.id = s.user_id AND u.token_version = $8
	RETURNING s.generation, s.expires_at`

// asyncRotateSQL is tokengate's rotation now (store/postgres rotateSQL):
// the lost-rotation rule in the WHERE clause and the commit mode chosen in
// the statement, $9 being the server's synchronous_commit, returning only
// the columns the new pair needs.
const asyncRotateSQL = `
	UPDATE sessions AS s SET
		generation   = $7::bigint + 1,
		rotated_at   = $1,
		last_used_at = $1,
		expires_at   = LEAST($2, s.max_expires_at),
		user_agent   = CASE WHEN $3 = '' THEN s.user_agent ELSE $3 END,
		ip           = CASE WHEN $4 = '' THEN s.ip ELSE $4 END
	FROM users AS u
	WHERE s.id = $5 AND s.user_id = $6 AND s.generation IN ($7::bigint, $7::bigint - 1)
		AND s.revoked_at IS NULL AND s.expires_at > $1
		AND u.id = s.user_id AND u.token_version = $8
		AND set_config('synchronous_commit',
			CASE WHEN s.generation <> $7::bigint
				OR s.rotated_at > $1 - GREATEST(interval '1 second', 5 * current_setting('wal_writer_delay')::interval)
				THEN $9 ELSE 'off' END, true) IS NOT NULL
	RETURNING s.generation, s.expires_at`

// readSQL is the read-only floor's check: the same conditions, read
// instead of written. The pair it issues carries the same generation.
const readSQL = `
	SELECT s.generation, s.expires_at
	FROM sessions AS s JOIN users AS u ON u.id = s.user_id
	WHERE s.id = $2 AND s.user_id = $3 AND s.generation = $4
		AND s.revoked_at IS NULL AND s.expires_at > $1
		AND u.token_version = $5`

// validateTokens does what tokengate's middleware does on the two paths the
// harness loads: a valid access token is trusted without I/O; otherwise a
// valid refresh token is rotated in one statement and the new pair goes on
// the response headers. Failures go on anonymous.
func (f *floor) validateTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", varyOnTokens)
		access := strings.TrimSpace(r.Header.Get("X-Access-Token"))
		refresh := strings.TrimSpace(r.Header.Get("X-Refresh-Token"))
		if access == "" && refresh == "" {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Cache-Control", "no-store")
		if access != "" && (refresh == "" || !f.accessLapsed(access)) {
			if c, ok := f.verifyAccess(access); ok {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
				return
			}
		}
		if refresh != "" {
			c, p, err := f.rotate(r, refresh)
			if err != nil {
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
			if c.userID != "" {
				writeTokenHeaders(h, p)
				r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// rotate checks a refresh token and advances its session in one statement.
// A zero caller means the token is not good (anonymous); an error means
// the database failed.
func (f *floor) rotate(r *http.Request, raw string) (caller, pair, error) {
	claims, ok := f.verifyRefresh(raw)
	if !ok {
		return caller{}, pair{}, nil
	}
	now := time.Now().UTC()
	var generation int64
	var expires time.Time
	var row pgx.Row
	switch f.rotation {
	case rotateRead:
		row = f.pool.QueryRow(r.Context(), readSQL,
			micros(now), claims.SessionID, claims.Subject, claims.Generation, claims.TokenVersion)
	case rotateSync:
		row = f.pool.QueryRow(r.Context(), syncRotateSQL,
			micros(now), micros(now.Add(f.cfg.refreshTTL)), r.UserAgent(), clientIP(r),
			claims.SessionID, claims.Subject, claims.Generation, claims.TokenVersion)
	default:
		row = f.pool.QueryRow(r.Context(), asyncRotateSQL,
			micros(now), micros(now.Add(f.cfg.refreshTTL)), r.UserAgent(), clientIP(r),
			claims.SessionID, claims.Subject, claims.Generation, claims.TokenVersion, f.durableCommit)
	}
	err := row.Scan(&generation, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return caller{}, pair{}, nil
	}
	if err != nil {
		return caller{}, pair{}, err
	}
	p, err := f.issue(claims.Subject, claims.SessionID, claims.TokenVersion, generation, expires)
	if err != nil {
		return caller{}, pair{}, err
	}
	return caller{userID: claims.Subject, sessionID: claims.SessionID}, p, nil
}

func writeTokenHeaders(h http.Header, p pair) {
	h.Set("X-Access-Token", p.access)
	h.Set("X-Refresh-Token", p.refresh)
	h.Set("Access-Control-Expose-Headers", exposedHeaders)
	h.Set("Cache-Control", "no-store")
}

// graphqlRequest is the part of a GraphQL-over-HTTP request the two
// documents need.
type graphqlRequest struct {
	Query     string `json:"query"`
	Variables struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	} `json:"variables"`
}

func (f *floor) graphql(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "Content-Type must be application/json", http.StatusBadRequest)
		return
	}
	var req graphqlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "malformed JSON", http.StatusBadRequest)
		return
	}
	switch req.Query {
	case queryMe:
		f.loggedInUser(w, r)
	case queryLogin:
		f.login(w, r, req.Variables.Email, req.Variables.Password)
	default:
		http.Error(w, "the floor answers only the harness's documents", http.StatusBadRequest)
	}
}

func (f *floor) loggedInUser(w http.ResponseWriter, r *http.Request) {
	c, ok := r.Context().Value(callerKey{}).(caller)
	if !ok {
		writeGraphQLError(w, "UNAUTHENTICATED")
		return
	}
	var id, email string
	err := f.pool.QueryRow(r.Context(), `SELECT id, email FROM users WHERE id = $1`, c.userID).Scan(&id, &email)
	if errors.Is(err, pgx.ErrNoRows) {
		writeGraphQLError(w, "UNAUTHENTICATED")
		return
	}
	if err != nil {
		writeGraphQLError(w, "STORE_UNAVAILABLE")
		return
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"data":{"loggedInUser":{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"email":`...)
	b = appendString(b, email)
	b = append(b, `}}}`...)
	writeJSON(w, b)
}

// login checks the password with bcrypt and starts a session. The session
// is tokengate's CreateSession in one round trip, as a batch that runs as
// one implicit transaction: lock the user (serialising one user's
// sign-ins), insert the session, revoke the user's live sessions beyond the
// newest maxSessionsPerUser.
func (f *floor) login(w http.ResponseWriter, r *http.Request, email, password string) {
	ctx := r.Context()
	var userID, storedEmail string
	var hash []byte
	var tokenVersion int64
	err := f.pool.QueryRow(ctx, `SELECT id, email, password_hash, token_version FROM users WHERE email_key = $1`,
		strings.ToLower(strings.TrimSpace(email))).Scan(&userID, &storedEmail, &hash, &tokenVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		writeGraphQLError(w, "INVALID_CREDENTIALS")
		return
	}
	if err != nil {
		writeGraphQLError(w, "STORE_UNAVAILABLE")
		return
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		writeGraphQLError(w, "INVALID_CREDENTIALS")
		return
	}

	now := time.Now().UTC()
	maxExpires := now.Add(f.cfg.sessionMaxAge)
	expires := now.Add(f.cfg.refreshTTL)
	if maxExpires.Before(expires) {
		expires = maxExpires
	}
	sessionID := uuid.NewString()
	batch := &pgx.Batch{}
	batch.Queue(`SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID)
	batch.Queue(`
		INSERT INTO sessions (id, user_id, generation, created_at, last_used_at, rotated_at, expires_at, max_expires_at, revoked_at, user_agent, ip)
		VALUES ($1, $2, 1, $3, $3, $3, $4, $5, NULL, $6, $7)`,
		sessionID, userID, micros(now), micros(expires), micros(maxExpires), r.UserAgent(), clientIP(r))
	batch.Queue(`
		UPDATE sessions SET revoked_at = $1
		WHERE id IN (
			SELECT id FROM sessions
			WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1
			ORDER BY created_at DESC, id DESC
			OFFSET $3)`,
		micros(now), userID, f.maxSessionsPerUser)
	if err := f.pool.SendBatch(ctx, batch).Close(); err != nil {
		writeGraphQLError(w, "STORE_UNAVAILABLE")
		return
	}

	p, err := f.issue(userID, sessionID, tokenVersion, 1, expires)
	if err != nil {
		writeGraphQLError(w, "INTERNAL")
		return
	}
	writeTokenHeaders(w.Header(), p)
	b := make([]byte, 0, 1024)
	b = append(b, `{"data":{"login":{"accessToken":`...)
	b = appendString(b, p.access)
	b = append(b, `,"refreshToken":`...)
	b = appendString(b, p.refresh)
	b = append(b, `,"accessTokenExpiresAt":`...)
	b = appendTime(b, p.accessExpires)
	b = append(b, `,"refreshTokenExpiresAt":`...)
	b = appendTime(b, p.refreshExpires)
	b = append(b, `,"user":{"id":`...)
	b = appendString(b, userID)
	b = append(b, `,"email":`...)
	b = appendString(b, storedEmail)
	b = append(b, `}}}}`...)
	writeJSON(w, b)
}

// writeJSON answers 200 with a JSON body, with tokengate's headers.
func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// writeGraphQLError answers a failed operation the GraphQL way (200, an
// errors list). The harness never loads this path.
func writeGraphQLError(w http.ResponseWriter, code string) {
	b := append([]byte(`{"errors":[{"message":"`), code...)
	b = append(b, `","extensions":{"code":"`...)
	b = append(b, code...)
	b = append(b, `"}}],"data":null}`...)
	writeJSON(w, b)
}

// appendString appends s as a JSON string. The values written here (ids,
// e-mails, tokens) are plain ASCII; anything that needs escaping goes
// through encoding/json, so the escaping is exactly tokengate's.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime writes a time as encoding/json does (RFC 3339, nanoseconds
// only when there are any), which is how graphql-go's Time comes out.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// micros is how tokengate's store writes a time: UTC, to the microsecond
// that timestamptz keeps.
func micros(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// clientIP is the TCP peer, as tokengate decides it without trusted proxies.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}
