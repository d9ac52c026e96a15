package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// cmdSample samples a server during a soak, every -every for -for, and
// prints one CSV line per sample:
//
//	seconds,goroutines,heap_alloc_bytes,heap_inuse_bytes,rss_kib
//
// goroutines is the total of /debug/pprof/goroutine?debug=1 ("goroutine
// profile: total N"); the heap figures are the runtime.MemStats that
// /debug/pprof/heap?debug=1 appends, after a GC (gc=1), so HeapAlloc is
// the live heap rather than wherever the collector happened to be; rss is
// VmRSS of /proc/PID/status. Those pprof endpoints are what tokengate
// mounts with PPROF=true (chi's Profiler under /debug).
func cmdSample(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	base := fs.String("url", "", "the server, http://127.0.0.1:PORT")
	pid := fs.Int("pid", 0, "the server's process id, for its RSS")
	every := fs.Duration("every", 10*time.Second, "sampling interval")
	total := fs.Duration("for", 5*time.Minute, "how long to sample")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *pid == 0 {
		return errors.New("-url and -pid are required")
	}
	fmt.Println("seconds,goroutines,heap_alloc_bytes,heap_inuse_bytes,rss_kib")
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * *every)
		if at.Sub(start) > *total {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(at)):
		}
		g, err := goroutines(*base)
		if err != nil {
			return err
		}
		alloc, inuse, err := heap(*base)
		if err != nil {
			return err
		}
		rss, err := procStatus(*pid, "VmRSS")
		if err != nil {
			return err
		}
		fmt.Printf("%.0f,%d,%d,%d,%d\n", time.Since(start).Seconds(), g, alloc, inuse, rss)
	}
}

func get(u string) (io.ReadCloser, error) {
	c := http.Client{Timeout: 30 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", u, res.Status)
	}
	return res.Body, nil
}

func goroutines(base string) (int, error) {
	body, err := get(base + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer body.Close()
	line, _ := bufio.NewReader(body).ReadString('\n')
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("unexpected goroutine profile %q", line)
	}
	return strconv.Atoi(n)
}

func heap(base string) (alloc, inuse int64, err error) {
	body, err := get(base + "/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		return 0, 0, err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			alloc, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
			inuse, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if alloc == 0 || inuse == 0 {
		return 0, 0, errors.New("no runtime.MemStats in the heap profile")
	}
	return alloc, inuse, sc.Err()
}

// procStatus reads a kB field (VmRSS, VmHWM) of /proc/PID/status.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go runs on.
const clockTicks = 100

// processCPU returns the CPU time (user and system) a process has used.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cmdWait polls a URL until it answers 200.
func cmdWait(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	u := fs.String("url", "", "the URL to poll")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	for {
		body, err := get(*u)
		if err == nil {
			body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s: %w", *u, *timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cmdGet writes a URL's body to stdout; run.sh fetches CPU profiles with it.
func cmdGet(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	u := fs.String("url", "", "the URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := http.Client{Timeout: 5 * time.Minute}
	res, err := c.Get(*u)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", *u, res.Status)
	}
	_, err = io.Copy(os.Stdout, res.Body)
	return err
}

// cmdPort prints a loopback port that was free a moment ago.
func cmdPort(context.Context, []string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
