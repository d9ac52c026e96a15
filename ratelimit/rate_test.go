package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want Rate
	}{
		{"10/15m", Rate{10, 15 * time.Minute}},
		{"300/1m", Rate{300, time.Minute}},
		{"60/1m", Rate{60, time.Minute}},
		{"1/1s", Rate{1, time.Second}},
		{"5/1h30m", Rate{5, 90 * time.Minute}},
		{"100/500ms", Rate{100, 500 * time.Millisecond}},
		{" 10 / 15m ", Rate{10, 15 * time.Minute}},
	}
	for _, tt := range good {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}

	bad := []struct {
		in, wantErr string
	}{
		{"", "want N/period"},
		{"10", "want N/period"},
		{"15m", "want N/period"},
		{"abc", "want N/period"},
		{"0/1m", "positive whole number"},
		{"-1/1m", "positive whole number"},
		{"+5/1m", "positive whole number"},
		{"1.5/1m", "positive whole number"},
		{"x/1m", "positive whole number"},
		{"/1m", "positive whole number"},
		{"99999999999999999999/1m", "positive whole number"},
		{"10/", "not a duration"},
		{"10/m", "not a duration"},
		{"10/15", "not a duration"},
		{"10/1m/2", "not a duration"},
		{"10/0s", "must be positive"},
		{"10/-1m", "must be positive"},
	}
	for _, tt := range bad {
		_, err := ParseRate(tt.in)
		if err == nil {
			t.Errorf("ParseRate(%q) succeeded; want an error", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseRate(%q) error = %q; want it to mention %q", tt.in, err, tt.wantErr)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseRate(%q) error spans lines: %q", tt.in, err)
		}
	}
}

func TestRateStringRoundTrips(t *testing.T) {
	for _, in := range []string{"10/15m", "300/1m", "60/1m", "1/1h", "7/1h30m", "3/2s", "100/500ms", "2/1h0m1s"} {
		r, err := ParseRate(in)
		if err != nil {
			t.Fatalf("ParseRate(%q): %v", in, err)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Errorf("ParseRate(%q).String() = %q, which parses to %v, %v", in, r.String(), back, err)
		}
	}
	if got := (Rate{10, 15 * time.Minute}).String(); got != "10/15m" {
		t.Errorf("String() = %q; want 10/15m", got)
	}
	if got := (Rate{1, time.Hour}).String(); got != "1/1h" {
		t.Errorf("String() = %q; want 1/1h", got)
	}
}
