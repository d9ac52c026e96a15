package rest

import (
	"net/http"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// HandleForgotPassword serves POST /auth/password/forgot: with {email} it
// mails a reset link if the address has an account, and answers 202 with
// no body either way, in the same time.
func HandleForgotPassword(rec *auth.Recovery, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Email string `json:"email"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		respondAccepted(w, r, onError, rec.RequestPasswordReset(r.Context(), in.Email))
	})
}

// HandleResetPassword serves POST /auth/password/reset: with {token,
// newPassword} it sets the password, ends every session of the user and
// answers 200 with the tokens of a new one.
func HandleResetPassword(rec *auth.Recovery, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Token       string `json:"token"`
		NewPassword string `json:"newPassword"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		t, err := rec.ResetPassword(r.Context(), in.Token, in.NewPassword)
		respondTokens(w, r, onError, http.StatusOK, t, err)
	})
}

// HandleRequestVerification serves POST /auth/email/verification: it mails
// the caller's own address a verification link and answers 202.
func HandleRequestVerification(rec *auth.Recovery, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondAccepted(w, r, onError, rec.RequestEmailVerification(r.Context()))
	})
}

// HandleVerifyEmail serves POST /auth/email/verify: with {token} it marks
// the link's address verified and answers 200 with the user. It needs no
// access token: the link proves the mailbox.
func HandleVerifyEmail(rec *auth.Recovery, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Token string `json:"token"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		u, err := rec.VerifyEmail(r.Context(), in.Token)
		if err == nil {
			err = encode(w, http.StatusOK, userOf(u))
		}
		if err != nil {
			onError(w, r, err)
		}
	})
}

// HandleDeleteAccount serves DELETE /auth/me: with {password} it deletes the
// caller's account, its sessions and its pending links, and answers 204.
func HandleDeleteAccount(rec *auth.Recovery, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Password string `json:"password"`
	}
	return withBody(onError, func(w http.ResponseWriter, r *http.Request, in request) {
		respondNoContent(w, r, onError, rec.DeleteAccount(r.Context(), in.Password))
	})
}

// respondAccepted answers 202 with no body: the work (a mail) is queued.
func respondAccepted(w http.ResponseWriter, r *http.Request, onError edge.ErrorWriter, err error) {
	if err != nil {
		onError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
