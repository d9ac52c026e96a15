package config

// Option changes what Load requires of the environment.
type Option func(*loadOptions)

type loadOptions struct {
	withoutTokenSecrets bool
}

// WithoutTokenSecrets is for a command that neither issues nor verifies a
// token (migrate, revoke-user): Load then neither requires
// ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET with PostgreSQL nor sets
// GenerateSecrets with SQLite, so such a command runs with the database
// settings alone and never creates a secrets file. A secret that is set
// must still be well formed: a bad value is a mistake whatever the command.
func WithoutTokenSecrets() Option {
	return func(o *loadOptions) { o.withoutTokenSecrets = true }
}
