package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

// result is what `load run` prints, one JSON object per run.
type result struct {
	Scenario string  `json:"scenario"`
	Conns    int     `json:"conns"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	Errors   int     `json:"errors"`
	// CPUusPerReq is the server's CPU time (user and system, from
	// /proc/PID/stat) over the measured window per measured request: unlike
	// the throughput, it hardly moves when a neighbour takes a core.
	CPUusPerReq float64 `json:"cpu_us_per_req,omitempty"`
	// VmHWMKiB is the server's peak resident set, read after the run.
	VmHWMKiB int64 `json:"vmhwm_kib,omitempty"`
	// FirstError describes the first failure, for the log.
	FirstError string `json:"first_error,omitempty"`
}

// worker is one connection's share of a run.
type worker struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

func (w *worker) fail(format string, args ...any) {
	w.errors++
	if w.firstErr == "" {
		w.firstErr = fmt.Sprintf(format, args...)
	}
}

// scenario runs one request on a connection and reports whether the worker
// can go on (a refresh worker that lost its session cannot).
type scenario func(c *client, w *worker) (ok, goOn bool)

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	base := fs.String("url", "", "the server, http://127.0.0.1:PORT")
	name := fs.String("scenario", "", "access, refresh or login")
	conns := fs.Int("c", 32, "connections, each with its own worker")
	duration := fs.Duration("d", 10*time.Second, "measured duration, after the warm-up")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	rate := fs.Float64("rate", 0, "total requests per second, paced per connection (0: as fast as answered)")
	users := fs.Int("users", 1000, "seeded users (as given to seed)")
	sessions := fs.Int("sessions", 1000, "seeded sessions (as given to seed)")
	first := fs.Int("first", 0, "refresh: the first session to use; each connection follows one session from here on, spread over the rest")
	ring := fs.Int("ring", 1, "refresh: sessions each connection takes turns over (1: one session, rotated back to back)")
	pid := fs.Int("pid", 0, "the server's process id: report its CPU time per request and its peak RSS")
	keysDB := fs.String("keys-db", "", "sign access tokens with the signing keys in this tokengate database (ACCESS_TOKEN_ALG -alg); empty: HS256 with ACCESS_TOKEN_SECRET")
	alg := fs.String("alg", "ES256", "with -keys-db, the server's ACCESS_TOKEN_ALG")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return errors.New("-url must be http://HOST:PORT")
	}
	m, err := newMinter(ctx, *keysDB, *alg)
	if err != nil {
		return err
	}
	var newScenario func(k int) scenario
	switch *name {
	case "access":
		newScenario = accessScenario(m, *conns, *users)
	case "refresh":
		if *ring < 1 || *first+*conns**ring > *sessions {
			return fmt.Errorf("refresh needs -ring sessions per connection: -first %d + -c %d × -ring %d exceeds -sessions %d", *first, *conns, *ring, *sessions)
		}
		if *ring > 1 {
			newScenario = refreshRingScenario(m, *conns, *users, *first, *ring)
		} else {
			newScenario = refreshScenario(m, *conns, *users, *sessions, *first)
		}
	case "login":
		newScenario = loginScenario(*conns, *users)
	default:
		return errors.New("-scenario must be access, refresh or login")
	}

	start := time.Now()
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	cpuAtStart := make(chan time.Duration, 1)
	if *pid != 0 {
		go func() {
			time.Sleep(time.Until(measureFrom))
			t, _ := processCPU(*pid)
			cpuAtStart <- t
		}()
	}
	workers := make([]*worker, *conns)
	var wg sync.WaitGroup
	for k := range workers {
		w := &worker{lat: make([]time.Duration, 0, 4096)}
		workers[k] = w
		do := newScenario(k)
		var interval time.Duration
		if *rate > 0 {
			interval = time.Duration(float64(*conns) / *rate * float64(time.Second))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(u.Host)
			defer c.close()
			// Paced workers start spread over one interval, not in step.
			next := start.Add(interval * time.Duration(k) / time.Duration(*conns))
			for ctx.Err() == nil {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
				}
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				ok, goOn := do(c, w)
				if ok && !t0.Before(measureFrom) {
					w.lat = append(w.lat, time.Since(t0))
				}
				if !goOn {
					return
				}
			}
		}()
	}
	wg.Wait()

	res := result{Scenario: *name, Conns: *conns, Seconds: duration.Seconds()}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errors
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	slices.Sort(all)
	res.Requests = len(all)
	res.RPS = float64(len(all)) / duration.Seconds()
	res.P50ms, res.P90ms, res.P99ms = ms(quantile(all, 0.50)), ms(quantile(all, 0.90)), ms(quantile(all, 0.99))
	if len(all) > 0 {
		res.MaxMs = ms(all[len(all)-1])
	}
	if *pid != 0 {
		before := <-cpuAtStart
		after, err := processCPU(*pid)
		if err != nil {
			return err
		}
		if len(all) > 0 {
			res.CPUusPerReq = float64((after - before).Microseconds()) / float64(len(all))
		}
		if res.VmHWMKiB, err = procStatus(*pid, "VmHWM"); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// accessScenario: queryMe with a valid access token, the connections taking
// turns over up to 1024 users spread across the whole users table.
func accessScenario(m *minter, conns, users int) func(int) scenario {
	n := min(users, 1024)
	tokens, answers := make([]string, n), make([][]byte, n)
	for j := range n {
		u := j * users / n // session u belongs to user u
		tokens[j], answers[j] = m.access(u, users), []byte(meAnswer(u))
	}
	return func(k int) scenario {
		j := k % n
		return func(c *client, w *worker) (bool, bool) {
			res, err := c.post("/graphql", tokens[j], "", meBody)
			ok := check(w, res, err, answers[j], false)
			j = (j + conns) % n
			return ok, true
		}
	}
}

// refreshScenario: queryMe with an expired access token and the session's
// current refresh token, so every request rotates; each connection follows
// its own session's rotations.
func refreshScenario(m *minter, conns, users, sessions, first int) func(int) scenario {
	stride := max(1, (sessions-first)/conns)
	return func(k int) scenario {
		s := first + k*stride
		expired, refresh, answer := m.expiredAccess(s, users), m.refresh(s, users), []byte(meAnswer(s%users))
		return func(c *client, w *worker) (bool, bool) {
			res, err := c.post("/graphql", expired, refresh, meBody)
			if !check(w, res, err, answer, true) {
				// Whether the session moved on without this worker is
				// unknown now, so it cannot go on.
				return false, false
			}
			refresh = res.refresh
			return true, true
		}
	}
}

// refreshRingScenario is refreshScenario with each connection taking turns
// over ring sessions of its own (connection k has sessions first+k,
// first+k+conns, ...), so a session rotates once every ring requests of its
// connection instead of back to back: closer to clients, which refresh
// once per access token lifetime, and the pattern tokengate's rotation
// commits asynchronously for (its previous rotation is over a second old).
func refreshRingScenario(m *minter, conns, users, first, ring int) func(int) scenario {
	return func(k int) scenario {
		type held struct {
			expired, refresh string
			answer           []byte
		}
		sessions := make([]held, ring)
		for j := range sessions {
			s := first + k + j*conns
			sessions[j] = held{m.expiredAccess(s, users), m.refresh(s, users), []byte(meAnswer(s % users))}
		}
		j := 0
		return func(c *client, w *worker) (bool, bool) {
			h := &sessions[j]
			res, err := c.post("/graphql", h.expired, h.refresh, meBody)
			if !check(w, res, err, h.answer, true) {
				return false, false
			}
			h.refresh = res.refresh
			j = (j + 1) % ring
			return true, true
		}
	}
}

var loginPrefix = []byte(`{"data":{"login":{"accessToken":"`)

// loginScenario: login by password, the connections taking turns over up
// to 1000 users.
func loginScenario(conns, users int) func(int) scenario {
	n := min(users, 1000)
	return func(k int) scenario {
		j := k % n
		return func(c *client, w *worker) (bool, bool) {
			res, err := c.post("/graphql", "", "", loginBody(j))
			ok := check(w, res, err, nil, true)
			if ok && !bytes.HasPrefix(res.body, loginPrefix) {
				w.fail("login answered %s", res.body)
				ok = false
			}
			j = (j + conns) % n
			return ok, true
		}
	}
}

// check holds one answer to status 200, the expected body (when given) and
// the token headers (when wanted); a failure is counted on w.
func check(w *worker, res response, err error, want []byte, wantTokens bool) bool {
	switch {
	case err != nil:
		w.fail("request: %v", err)
	case res.status != 200:
		w.fail("status %d: %.300s", res.status, res.body)
	case want != nil && !bytes.Equal(res.body, want):
		w.fail("body %.300s, want %s", res.body, want)
	case wantTokens && (res.access == "" || res.refresh == ""):
		w.fail("no token headers; body %.300s", res.body)
	default:
		return true
	}
	return false
}
