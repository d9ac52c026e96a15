// Package metrics exposes tokengate's Prometheus metrics: sign-ins,
// refreshes and rate-limit refusals by outcome (as an auth.Observer), and
// request latency by route pattern (as a middleware). The domain reports
// outcomes through auth.Observer and never imports Prometheus.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// Metrics holds tokengate's collectors in a registry of its own, so that
// tests can build as many as they like and nothing depends on Prometheus's
// global default registry.
type Metrics struct {
	reg         *prometheus.Registry
	logins      *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

var _ auth.Observer = (*Metrics)(nil)

// New returns the collectors, registered together with the Go runtime and
// process collectors and extra (the revocation view's, say). Every known
// outcome starts at zero, so a dashboard shows a flat line rather than no
// data before the first event.
func New(extra ...prometheus.Collector) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokengate_logins_total",
			Help: "Sign-in attempts by outcome.",
		}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokengate_refreshes_total",
			Help: "Refresh-token checks by outcome; parallel requests sharing one store round trip count once.",
		}, []string{"outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokengate_rate_limited_total",
			Help: "Requests refused by a rate-limit budget.",
		}, []string{"budget"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tokengate_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern, method and status code.",
			// From a cached access-token check (well under a millisecond) to
			// a bcrypt hash at a high cost (hundreds of milliseconds).
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
	}
	m.reg.MustRegister(m.logins, m.refreshes, m.rateLimited, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(extra...)
	for _, o := range []string{auth.LoginSuccess, auth.LoginInvalidCredentials, auth.LoginRateLimited, auth.LoginError} {
		m.logins.WithLabelValues(o)
	}
	for _, o := range []string{auth.RefreshRotated, auth.RefreshGrace, auth.RefreshReused, auth.RefreshRevoked,
		auth.RefreshExpired, auth.RefreshInvalid, auth.RefreshStoreError, auth.RefreshRateLimited} {
		m.refreshes.WithLabelValues(o)
	}
	for _, b := range []string{auth.BudgetLogin, auth.BudgetIP, auth.BudgetRefresh} {
		m.rateLimited.WithLabelValues(b)
	}
	return m
}

// Login counts a sign-in attempt (auth.Observer).
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Refresh counts a refresh-token check (auth.Observer).
func (m *Metrics) Refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// RateLimited counts a request a budget refused (auth.Observer).
func (m *Metrics) RateLimited(budget string) { m.rateLimited.WithLabelValues(budget).Inc() }

// Handler serves the registry in the Prometheus exposition format, for
// GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Middleware records each request's latency under its chi route pattern
// (such as /auth/sessions/{id}, see edge.RoutePattern), never the raw
// path, which would put ids in label values and grow a series per id, and
// lets scanners of random paths add none ("unmatched"). Use it in a chi
// router: the pattern is read after the route ran.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			// Nothing was written: net/http answers 200.
			status = http.StatusOK
		}
		m.latency.WithLabelValues(edge.RoutePattern(r), r.Method, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
	})
}
