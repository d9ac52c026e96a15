// Command flood measures what a login flood does to everyone else: the
// latency of requests carrying a valid access token, first on a quiet
// server, then while many clients hammer POST /auth/login, in one run.
//
// Every login of the flood names an unknown e-mail, so each one costs a
// full bcrypt comparison (the same as a wrong password) and none is turned
// away early by the per-account budget: the flood can only be held back by
// the bound on concurrent hashes (auth.Policy.MaxConcurrentHashes, waiting
// at most HashWait for a slot before RATE_LIMITED). The per-IP budget is
// raised for the run, since a real flood comes from many addresses.
//
//	go run ./bench/flood                  # builds and starts tokengate itself
//	go run ./bench/flood -addr host:port  # an already running server
//
// Unless -addr is given it builds the binary from this module and starts it
// on a free loopback port with a SQLite database in a temporary directory
// (or DATABASE_URL from the environment), at -cost.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

type options struct {
	addr     string
	logins   int
	probes   int
	interval time.Duration
	duration time.Duration
	warmup   time.Duration
	cost     int
	env      string
}

func run() error {
	var o options
	flag.StringVar(&o.addr, "addr", "", "host:port of a running tokengate; empty: build and start one")
	flag.IntVar(&o.logins, "logins", 200, "concurrent clients flooding POST /auth/login")
	flag.IntVar(&o.probes, "probes", 4, "concurrent clients on the access path")
	flag.DurationVar(&o.interval, "interval", 5*time.Millisecond, "pause between two requests of one probe client")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "length of each measured phase")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "flood time before the flooded phase is measured")
	flag.IntVar(&o.cost, "cost", 12, "BCRYPT_COST of the server it starts")
	flag.StringVar(&o.env, "env", "", "extra VAR=VALUE settings, space-separated, for the server it starts (BCRYPT_CONCURRENCY=1)")
	flag.Parse()

	ctx := context.Background()
	base := "http://" + o.addr
	if o.addr == "" {
		stop, addr, err := startServer(ctx, o)
		if err != nil {
			return err
		}
		defer stop()
		base = "http://" + addr
	}
	hc := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: o.logins + o.probes, DisableCompression: true},
		Timeout:   time.Minute,
	}

	access, err := signUp(hc, base)
	if err != nil {
		return err
	}
	fmt.Printf("tokengate at %s; %d CPUs here; %d probe clients every %v; flood of %d login clients; %v per phase\n\n",
		base, runtime.NumCPU(), o.probes, o.interval, o.logins, o.duration)

	probeTargets := []probeTarget{
		{"GET /auth/me (token verified, one indexed read)", http.MethodGet, "/auth/me"},
		{"GET /healthz with the token (token verified, no I/O)", http.MethodGet, "/healthz"},
	}
	quiet := probe(hc, base, access, probeTargets, o)

	floodCtx, stopFlood := context.WithCancel(ctx)
	floodDone := make(chan loginStats, 1)
	go func() { floodDone <- flood(floodCtx, hc, base, o.logins) }()
	time.Sleep(o.warmup)
	flooded := probe(hc, base, access, probeTargets, o)
	stopFlood()
	logins := <-floodDone

	fmt.Println("| path | phase | requests | errors | p50 | p90 | p99 | max |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for i, target := range probeTargets {
		for _, ph := range []struct {
			name string
			r    latencies
		}{{"quiet", quiet[i]}, {fmt.Sprintf("%d logins flooding", o.logins), flooded[i]}} {
			fmt.Printf("| %s | %s | %s |\n", target.name, ph.name, ph.r.row())
		}
	}
	fmt.Printf("\nlogin flood over %v: %d answered (%.1f/s): %d INVALID_CREDENTIALS after a bcrypt comparison (%.1f/s), %d RATE_LIMITED (no free hash slot), %d other, %d transport errors\n",
		logins.elapsed.Round(time.Millisecond), logins.total(), float64(logins.total())/logins.elapsed.Seconds(),
		logins.hashed, float64(logins.hashed)/logins.elapsed.Seconds(), logins.limited, logins.other, logins.errors)
	fmt.Printf("login latency: %s\n", logins.latency.summary())
	return nil
}

// startServer builds tokengate from this module and starts it on a free
// loopback port; stop kills it and removes its files.
func startServer(ctx context.Context, o options) (stop func(), addr string, err error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		return nil, "", fmt.Errorf("find the module (run this from inside it): %v", err)
	}
	dir, err := os.MkdirTemp("", "tokengate-flood-")
	if err != nil {
		return nil, "", err
	}
	bin := filepath.Join(dir, "tokengate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	db := os.Getenv("DATABASE_URL")
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "tokengate.db")
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"ADDR=127.0.0.1:0",
		"DATABASE_URL=" + db,
		"ACCESS_TOKEN_SECRET=" + rand.Text() + rand.Text(),
		"REFRESH_TOKEN_SECRET=" + rand.Text() + rand.Text(),
		fmt.Sprintf("BCRYPT_COST=%d", o.cost),
		"RATE_LIMIT_IP=100000000/1m",
		"LOG_FORMAT=text",
		"PATH=" + os.Getenv("PATH"),
	}
	cmd.Env = append(cmd.Env, strings.Fields(o.env)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	found := make(chan string, 1)
	go func() {
		listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			stop()
			return nil, "", errors.New("tokengate exited before listening")
		}
		// Keep draining its log, or it blocks writing.
		return stop, addr, nil
	case <-time.After(time.Minute):
		stop()
		return nil, "", errors.New("tokengate did not start listening within a minute")
	}
}

func signUp(hc *http.Client, base string) (access string, err error) {
	body := fmt.Sprintf(`{"email":"probe-%s@example.com","password":"correct horse battery","name":"Probe"}`, rand.Text())
	res, err := hc.Post(base+"/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tok struct{ AccessToken string }
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("register the probe account: %s (%v)", res.Status, err)
	}
	return tok.AccessToken, nil
}

type probeTarget struct{ name, method, path string }

// probe runs o.probes clients for o.duration, each sending the targets in
// turn with the access token, and returns each target's latencies.
func probe(hc *http.Client, base, access string, targets []probeTarget, o options) []latencies {
	out := make([]latencies, len(targets))
	var mu sync.Mutex
	deadline := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	for range o.probes {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				target := i % len(targets)
				req, _ := http.NewRequest(targets[target].method, base+targets[target].path, nil)
				req.Header.Set("x-access-token", access)
				start := time.Now()
				res, err := hc.Do(req)
				ok := err == nil && res.StatusCode == http.StatusOK
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				took := time.Since(start)
				mu.Lock()
				out[target].add(took, ok)
				mu.Unlock()
				time.Sleep(o.interval)
			}
		})
	}
	wg.Wait()
	return out
}

type loginStats struct {
	hashed, limited, other, errors int64
	elapsed                        time.Duration
	latency                        latencies
}

func (s loginStats) total() int64 { return s.hashed + s.limited + s.other }

// flood runs n clients logging in with unknown e-mails until ctx ends.
func flood(ctx context.Context, hc *http.Client, base string, n int) loginStats {
	var hashed, limited, other, failed atomic.Int64
	var mu sync.Mutex
	var lat latencies
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				body := fmt.Sprintf(`{"email":"nobody-%s@example.com","password":"not the password at all"}`, rand.Text())
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/auth/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				res, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				took := time.Since(t0)
				switch res.StatusCode {
				case http.StatusUnauthorized:
					hashed.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
				mu.Lock()
				lat.add(took, true)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return loginStats{hashed: hashed.Load(), limited: limited.Load(), other: other.Load(), errors: failed.Load(),
		elapsed: time.Since(start), latency: lat}
}

// latencies collects request durations; failed requests are counted and
// left out of the percentiles.
type latencies struct {
	d      []time.Duration
	errors int
}

func (l *latencies) add(d time.Duration, ok bool) {
	if !ok {
		l.errors++
		return
	}
	l.d = append(l.d, d)
}

func (l latencies) percentile(p float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func (l latencies) row() string {
	return fmt.Sprintf("%d | %d | %s | %s | %s | %s", len(l.d)+l.errors, l.errors,
		ms(l.percentile(0.50)), ms(l.percentile(0.90)), ms(l.percentile(0.99)), ms(l.percentile(1)))
}

func (l latencies) summary() string {
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s", ms(l.percentile(0.50)), ms(l.percentile(0.90)),
		ms(l.percentile(0.99)), ms(l.percentile(1)))
}
