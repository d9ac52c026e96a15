package rest

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// HandleRegister serves POST /auth/register: it creates an account from
// {email, password, name} and answers 201 with the new session's tokens.
func HandleRegister(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		t, err := svc.Register(r.Context(), in.Email, in.Password, in.Name)
		respondTokens(w, r, onError, http.StatusCreated, t, err)
	})
}

// HandleLogin serves POST /auth/login: it signs in with {email, password}
// and answers 200 with a new session's tokens.
func HandleLogin(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		t, err := svc.Login(r.Context(), in.Email, in.Password)
		respondTokens(w, r, onError, http.StatusOK, t, err)
	})
}

// HandleRefresh serves POST /auth/refresh: it rotates the refresh token of
// the body {refreshToken}, or with no body (or no token in it) the
// x-refresh-token header, and answers 200 with the new pair.
func HandleRefresh(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	type request struct {
		RefreshToken string `json:"refreshToken"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in request
		// A client that relies on the header sends no body at all.
		if r.ContentLength != 0 {
			if err := edge.ReadJSON(w, r, &in); err != nil {
				onError(w, r, err)
				return
			}
		}
		t, err := edge.RefreshOnce(r.Context(), in.RefreshToken, svc.Refresh)
		respondTokens(w, r, onError, http.StatusOK, t, err)
	})
}

// HandleLogout serves POST /auth/logout: it ends the caller's session and
// answers 204.
func HandleLogout(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondNoContent(w, r, onError, svc.Logout(r.Context()))
	})
}

// HandleLogoutAll serves POST /auth/logout-all: it ends every session of
// the caller and answers 204.
func HandleLogoutAll(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondNoContent(w, r, onError, svc.LogoutAll(r.Context()))
	})
}

// HandleMe serves GET /auth/me: 200 with the caller's account.
func HandleMe(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := svc.Me(r.Context())
		if err != nil {
			onError(w, r, err)
			return
		}
		if err := encode(w, http.StatusOK, userOf(u)); err != nil {
			onError(w, r, err)
		}
	})
}

// HandleSessions serves GET /auth/sessions: 200 with the caller's live
// sessions, newest first, the one making the request marked current.
func HandleSessions(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := svc.Sessions(r.Context())
		if err != nil {
			onError(w, r, err)
			return
		}
		current := auth.CallerFromContext(r.Context()).SessionID
		if err := encode(w, http.StatusOK, sessionsOf(list, current)); err != nil {
			onError(w, r, err)
		}
	})
}

// HandleRevokeSession serves DELETE /auth/sessions/{id}: it ends one of the
// caller's sessions and answers 204, or 404 when the session is not the
// caller's (indistinguishable from one that does not exist).
func HandleRevokeSession(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondNoContent(w, r, onError, svc.RevokeSession(r.Context(), chi.URLParam(r, "id")))
	})
}

// HandleChangePassword serves POST /auth/password: with {currentPassword,
// newPassword} it replaces the caller's password, ends every other session
// and every older refresh token, and answers 200 with a new pair for the
// caller's session.
func HandleChangePassword(svc *auth.Service, onError edge.ErrorWriter) http.Handler {
	type request struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		t, err := svc.ChangePassword(r.Context(), in.CurrentPassword, in.NewPassword)
		respondTokens(w, r, onError, http.StatusOK, t, err)
	})
}

// HandleHealthz serves GET /healthz: 200 {"status":"ok"} for as long as the
// process can answer at all. It checks nothing else, so an orchestrator
// never restarts the server over a database outage.
func HandleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = encode(w, http.StatusOK, statusResponse{Status: "ok"})
	})
}

// readyTimeout bounds a readiness check, so a hung database fails the probe
// instead of hanging it.
const readyTimeout = 2 * time.Second

// HandleReadyz serves GET /readyz: 200 {"status":"ready"} when ready
// reports the store answering, else 503 STORE_UNAVAILABLE with Retry-After.
func HandleReadyz(ready func(context.Context) error, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		// Run apart so a check that ignores its context still cannot hold
		// the probe past the timeout; the channel is buffered so the
		// goroutine always ends.
		done := make(chan error, 1)
		go func() { done <- ready(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			if auth.ErrorOf(err).Code != auth.CodeStoreUnavailable {
				err = auth.Unavailable(err)
			}
			onError(w, r, err)
			return
		}
		_ = encode(w, http.StatusOK, statusResponse{Status: "ready"})
	})
}

// respondTokens answers an operation that issued tokens. They go in the
// headers too, before the body is written (later headers would be lost),
// so one client interceptor serves every route.
func respondTokens(w http.ResponseWriter, r *http.Request, onError edge.ErrorWriter, status int, t auth.Tokens, err error) {
	if err != nil {
		onError(w, r, err)
		return
	}
	edge.WriteTokens(w, t)
	if err := encode(w, status, tokensOf(t)); err != nil {
		onError(w, r, err)
	}
}

func respondNoContent(w http.ResponseWriter, r *http.Request, onError edge.ErrorWriter, err error) {
	if err != nil {
		onError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// withBody reads the request's JSON body into a T with the edge's strict
// reader and serves the request with it; a body it refuses is answered
// through onError.
func withBody[T any](onError edge.ErrorWriter, serve func(w http.ResponseWriter, r *http.Request, in T)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in T
		if err := edge.ReadJSON(w, r, &in); err != nil {
			onError(w, r, err)
			return
		}
		serve(w, r, in)
	})
}
