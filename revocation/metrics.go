package revocation

import "github.com/prometheus/client_golang/prometheus"

// Collectors returns the View's Prometheus metrics, read from Stats at
// each scrape, for the metrics registry to register: whether the view is
// stale and for how long, how many access checks went to the store and
// how many of those failed, and the entries held.
func (v *View) Collectors() []prometheus.Collector {
	stat := func(f func(Stats) float64) func() float64 { return func() float64 { return f(v.Stats()) } }
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokengate_revocation_view_stale",
			Help: "1 while the revocation view is unconfirmed for longer than REVOCATION_MAX_STALENESS and access tokens are checked in the store.",
		}, func() float64 {
			if v.isStale() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokengate_revocation_view_unconfirmed_seconds",
			Help: "Seconds since a feed last confirmed the revocation view current (0 for SQLite's in-process view).",
		}, stat(func(s Stats) float64 { return s.Staleness.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tokengate_revocation_stale_checks_total",
			Help: "Access tokens checked in the store because the revocation view was stale.",
		}, stat(func(s Stats) float64 { return float64(s.StaleChecks) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tokengate_revocation_stale_check_failures_total",
			Help: "Store checks of a stale view that failed, so the view's own answer stood.",
		}, stat(func(s Stats) float64 { return float64(s.FallbackFailures) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tokengate_revocation_stale_episodes_total",
			Help: "Times the revocation view became stale.",
		}, stat(func(s Stats) float64 { return float64(s.StaleEpisodes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokengate_revocation_view_sessions",
			Help: "Ended sessions the revocation view holds.",
		}, stat(func(s Stats) float64 { return float64(s.Sessions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokengate_revocation_view_users",
			Help: "Users with a raised token counter the revocation view holds.",
		}, stat(func(s Stats) float64 { return float64(s.Users) })),
	}
}
