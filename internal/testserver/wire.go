package testserver

import "time"

// The response shapes of API.md sections 3 and 4 as a client reads them,
// written independently of the production encoders so a drift in either
// shows in the tests. REST bodies and GraphQL data share them.

// Tokens is a Tokens object.
type Tokens struct {
	AccessToken           string    `json:"accessToken"`
	RefreshToken          string    `json:"refreshToken"`
	AccessTokenExpiresAt  time.Time `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt time.Time `json:"refreshTokenExpiresAt"`
	User                  User      `json:"user"`
}

// User is a User object.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Session is a Session object.
type Session struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  *string   `json:"userAgent"`
	IP         *string   `json:"ip"`
	Current    bool      `json:"current"`
}
