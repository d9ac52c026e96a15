// Package ratelimit provides the keyed budgets of API.md section 5: failed
// logins per account, attempts per client IP, refreshes per session. Each
// key has its own token bucket, so a flood on one key never spends another.
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a budget of N attempts per Per: a bucket holds at most N tokens
// and refills continuously at N per Per, so a client may burst N at once and
// then goes on at the average rate.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate parses the "N/period" form of the RATE_LIMIT_* variables, such as
// "10/15m" or "300/1m": N a positive integer, period a positive Go duration.
func ParseRate(s string) (Rate, error) {
	count, period, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		return Rate{}, fmt.Errorf("%q is not a rate: want N/period, e.g. 10/15m", s)
	}
	count, period = strings.TrimSpace(count), strings.TrimSpace(period)
	n, err := strconv.Atoi(count)
	// Atoi accepts a sign; a budget is written as plain digits.
	if err != nil || n <= 0 || strings.ContainsAny(count, "+-") {
		return Rate{}, fmt.Errorf("%q is not a rate: %q is not a positive whole number of attempts", s, count)
	}
	per, err := time.ParseDuration(period)
	if err != nil {
		return Rate{}, fmt.Errorf("%q is not a rate: %q is not a duration (e.g. 1m, 15m, 1h)", s, period)
	}
	if per <= 0 {
		return Rate{}, fmt.Errorf("%q is not a rate: the period must be positive", s)
	}
	return Rate{N: n, Per: per}, nil
}

// String returns the rate in the form ParseRate reads, with the period in
// its shortest form ("10/15m", not "10/15m0s").
func (r Rate) String() string {
	return strconv.Itoa(r.N) + "/" + shortDuration(r.Per)
}

func (r Rate) validate() error {
	if r.N <= 0 || r.Per <= 0 {
		return errors.New("ratelimit: a rate needs a positive N and Per")
	}
	return nil
}

// limit is the refill rate in tokens per second.
func (r Rate) limit() rate.Limit {
	return rate.Limit(float64(r.N) / r.Per.Seconds())
}

// shortDuration drops the zero units time.Duration.String keeps after the
// largest one: 15m0s becomes 15m, 1h0m0s becomes 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
