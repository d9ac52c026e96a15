package resolvers

import (
	"time"

	"github.com/graph-gophers/graphql-go"

	"github.com/tokengate/tokengate/auth"
)

// userResolver copies only the public fields of auth.User, so the password
// hash and the token counter cannot be exposed by a field added later.
type userResolver struct {
	id            string
	email         string
	name          string
	createdAt     time.Time
	emailVerified bool
}

func newUser(u auth.User) *userResolver {
	return &userResolver{id: u.ID, email: u.Email, name: u.Name, createdAt: u.CreatedAt, emailVerified: u.EmailVerified}
}

func (u *userResolver) ID() graphql.ID          { return graphql.ID(u.id) }
func (u *userResolver) Email() string           { return u.email }
func (u *userResolver) Name() string            { return u.name }
func (u *userResolver) CreatedAt() graphql.Time { return gqlTime(u.createdAt) }
func (u *userResolver) EmailVerified() bool     { return u.emailVerified }

// sessionResolver resolves Session. The generation is deliberately absent.
type sessionResolver struct {
	s       auth.Session
	current bool
}

func (s *sessionResolver) ID() graphql.ID           { return graphql.ID(s.s.ID) }
func (s *sessionResolver) CreatedAt() graphql.Time  { return gqlTime(s.s.CreatedAt) }
func (s *sessionResolver) LastUsedAt() graphql.Time { return gqlTime(s.s.LastUsedAt) }
func (s *sessionResolver) ExpiresAt() graphql.Time  { return gqlTime(s.s.ExpiresAt) }
func (s *sessionResolver) UserAgent() *string       { return nullable(s.s.UserAgent) }
func (s *sessionResolver) IP() *string              { return nullable(s.s.IP) }
func (s *sessionResolver) Current() bool            { return s.current }

// tokensResolver resolves Tokens.
type tokensResolver struct {
	t auth.Tokens
}

func (t *tokensResolver) AccessToken() string  { return t.t.AccessToken }
func (t *tokensResolver) RefreshToken() string { return t.t.RefreshToken }
func (t *tokensResolver) AccessTokenExpiresAt() graphql.Time {
	return gqlTime(t.t.AccessTokenExpiresAt)
}
func (t *tokensResolver) RefreshTokenExpiresAt() graphql.Time {
	return gqlTime(t.t.RefreshTokenExpiresAt)
}
func (t *tokensResolver) User() *userResolver { return newUser(t.t.User) }

func gqlTime(t time.Time) graphql.Time { return graphql.Time{Time: t.UTC()} }

// nullable maps "not recorded" to GraphQL null rather than "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
