package resolvers

import (
	"context"

	"github.com/graph-gophers/graphql-go"

	"github.com/tokengate/tokengate/auth"
)

// MyProfileStats resolves Query.myProfileStats of schema/example.graphql:
// the worked example of a protected field of your own. It reads who the
// caller is from the context (ValidateTokens decided that before any
// resolver ran) and never touches a token.
func (r *Resolver) MyProfileStats(ctx context.Context) (*profileStatsResolver, error) {
	caller, err := auth.RequireCaller(ctx)
	if err != nil {
		// UNAUTHENTICATED with the reason (TOKEN_MISSING, TOKEN_EXPIRED,
		// ...): the transport shows it as extensions.code and .reason.
		return nil, err
	}
	// It reads the store: aliases must not multiply that (at most 10 such
	// fields per operation).
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	u, err := r.svc.Me(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := r.svc.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	stats := &profileStatsResolver{memberSince: gqlTime(u.CreatedAt), activeSessions: int32(len(sessions))}
	for _, s := range sessions {
		if s.ID == caller.SessionID {
			since := gqlTime(s.CreatedAt)
			stats.currentSessionSince = &since
		}
	}
	return stats, nil
}

// profileStatsResolver resolves ProfileStats.
type profileStatsResolver struct {
	memberSince         graphql.Time
	activeSessions      int32
	currentSessionSince *graphql.Time
}

func (p *profileStatsResolver) MemberSince() graphql.Time          { return p.memberSince }
func (p *profileStatsResolver) ActiveSessions() int32              { return p.activeSessions }
func (p *profileStatsResolver) CurrentSessionSince() *graphql.Time { return p.currentSessionSince }
