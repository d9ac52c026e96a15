package postgres

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordingSink writes down what a feed tells it.
type recordingSink struct{ calls []string }

func (r *recordingSink) RevokeSession(sid string, at time.Time) {
	r.calls = append(r.calls, "session "+sid+" "+at.Format(time.RFC3339Nano))
}

func (r *recordingSink) RevokeUser(uid string, v int64, at time.Time) {
	r.calls = append(r.calls, "user "+uid+" "+strconv.FormatInt(v, 10)+" "+at.Format(time.RFC3339Nano))
}
func (r *recordingSink) UserChanged(uid string) { r.calls = append(r.calls, "changed "+uid) }
func (r *recordingSink) Confirm(time.Time)      {}

// The payloads the triggers send (tokengate_notify_revocation and the
// user-changed notice), and ones no trigger sends, which are dropped: the
// next heartbeat reads the log anyway.
func TestFeedReadsTriggerPayloads(t *testing.T) {
	sink := &recordingSink{}
	f, err := NewFeed(FeedConfig{URL: "postgres://localhost/db", Sink: sink, Window: time.Minute, Clock: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		`{"s" : "s1", "u" : "u1", "v" : 0, "t" : 1700000000123456}`,
		`{"s" : null, "u" : "u2", "v" : 3, "t" : 1700000000000000}`,
		`{"c" : "u3"}`,
		`not json`,
		`{}`,
	} {
		f.apply(p)
	}
	want := []string{
		"session s1 2023-11-14T22:13:20.123456Z",
		"user u2 3 2023-11-14T22:13:20Z",
		"changed u3",
	}
	if strings.Join(sink.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("sink heard:\n%s\nwant:\n%s", strings.Join(sink.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewFeedHidesTheURL(t *testing.T) {
	_, err := NewFeed(FeedConfig{URL: "postgres://u:s3cret@host:notaport/db", Sink: &recordingSink{}, Window: time.Minute, Clock: time.Now})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("NewFeed error = %v; want one that does not quote the password", err)
	}
}
