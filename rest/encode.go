package rest

import (
	"net/http"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// encode writes v as JSON with the given status (edge.WriteJSON).
func encode(w http.ResponseWriter, status int, v any) error {
	return edge.WriteJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	return edge.WriteJSONAs(w, status, contentType, v)
}

// The response shapes of API.md sections 3 and 4, named like the GraphQL
// fields. They are the only views of the domain types a client gets: no
// hash, token counter or generation has a field here.

type tokensResponse struct {
	AccessToken           string       `json:"accessToken"`
	RefreshToken          string       `json:"refreshToken"`
	AccessTokenExpiresAt  time.Time    `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt time.Time    `json:"refreshTokenExpiresAt"`
	User                  userResponse `json:"user"`
}

type userResponse struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"createdAt"`
	EmailVerified bool      `json:"emailVerified"`
}

type sessionResponse struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  *string   `json:"userAgent"`
	IP         *string   `json:"ip"`
	Current    bool      `json:"current"`
}

type statusResponse struct {
	Status string `json:"status"`
}

func tokensOf(t auth.Tokens) tokensResponse {
	return tokensResponse{
		AccessToken:           t.AccessToken,
		RefreshToken:          t.RefreshToken,
		AccessTokenExpiresAt:  t.AccessTokenExpiresAt.UTC(),
		RefreshTokenExpiresAt: t.RefreshTokenExpiresAt.UTC(),
		User:                  userOf(t.User),
	}
}

func userOf(u auth.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt.UTC(), EmailVerified: u.EmailVerified}
}

// sessionsOf marks the caller's own session as current. An empty list is
// [] on the wire, never null.
func sessionsOf(list []auth.Session, currentID string) []sessionResponse {
	out := make([]sessionResponse, 0, len(list))
	for _, s := range list {
		out = append(out, sessionResponse{
			ID:         s.ID,
			CreatedAt:  s.CreatedAt.UTC(),
			LastUsedAt: s.LastUsedAt.UTC(),
			ExpiresAt:  s.ExpiresAt.UTC(),
			UserAgent:  nullIfEmpty(s.UserAgent),
			IP:         nullIfEmpty(s.IP),
			Current:    s.ID == currentID,
		})
	}
	return out
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
