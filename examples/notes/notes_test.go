package notes_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/notes"

	"github.com/tokengate/tokengate/client"
	"github.com/tokengate/tokengate/tokengatetest"
)

const password = "correct horse battery"

func newServer(t *testing.T) *tokengatetest.Server {
	return tokengatetest.NewServer(t, tokengatetest.WithApp(notes.Options()...))
}

func TestNotesThroughGraphQL(t *testing.T) {
	s := newServer(t)
	tok := s.SignUp(t, "ada@example.com", password, "Ada")
	res := s.GraphQL(t, `mutation($t: String!) { addNote(text: $t) { id text } }`, map[string]any{"t": "first"}, "x-access-token", tok.AccessToken)
	if res.StatusCode != http.StatusOK || strings.Contains(string(res.Body), `"errors"`) {
		t.Fatalf("addNote: %d %s", res.StatusCode, res.Body)
	}
	// tokengate's own fields sit beside the app's in one operation.
	res = s.GraphQL(t, `{ loggedInUser { email } notes { text } }`, nil, "x-access-token", tok.AccessToken)
	var body struct {
		Data struct {
			LoggedInUser struct{ Email string }
			Notes        []struct{ Text string }
		}
	}
	res.Decode(t, &body)
	if body.Data.LoggedInUser.Email != "ada@example.com" || len(body.Data.Notes) != 1 || body.Data.Notes[0].Text != "first" {
		t.Fatalf("query: %s", res.Body)
	}
	// Another user sees none of them.
	other := s.SignUp(t, "grace@example.com", password, "Grace")
	res = s.GraphQL(t, `{ notes { text } }`, nil, "x-access-token", other.AccessToken)
	if !strings.Contains(string(res.Body), `"notes":[]`) {
		t.Errorf("another user's notes: %s", res.Body)
	}
}

func TestProtectedFieldsNeedACaller(t *testing.T) {
	s := newServer(t)
	res := s.GraphQL(t, `{ notes { text } }`, nil)
	if !strings.Contains(string(res.Body), `"code":"UNAUTHENTICATED"`) {
		t.Errorf("GraphQL anonymous: %s", res.Body)
	}
	res = s.Do(t, http.MethodGet, "/notes", nil)
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("REST anonymous: %d %s", res.StatusCode, res.Body)
	}
}

func TestTheAppsOwnCodeComesOutRightOnBothTransports(t *testing.T) {
	s := newServer(t)
	tok := s.SignUp(t, "ada@example.com", password, "Ada")
	long := strings.Repeat("x", notes.MaxNoteRunes+1)
	res := s.Do(t, http.MethodPost, "/notes", map[string]string{"text": long}, "x-access-token", tok.AccessToken)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `"code":"NOTE_TOO_LONG"`) {
		t.Errorf("REST: %d %s", res.StatusCode, res.Body)
	}
	res = s.GraphQL(t, `mutation($t: String!) { addNote(text: $t) { id } }`, map[string]any{"t": long}, "x-access-token", tok.AccessToken)
	if !strings.Contains(string(res.Body), `"code":"NOTE_TOO_LONG"`) || !strings.Contains(string(res.Body), "at most 1000") {
		t.Errorf("GraphQL: %s", res.Body)
	}
}

// TestTheGoClientRefreshesPastExpiry: the client's transport keeps the
// pair fresh while the test moves the server's clock.
func TestTheGoClientRefreshesPastExpiry(t *testing.T) {
	s := newServer(t)
	s.SignUp(t, "ada@example.com", password, "Ada")
	c := client.New(s.URL, client.WithHTTPClient(s.Client()), client.WithClock(s.Now))
	ctx := context.Background()
	if err := c.SignIn(ctx, "ada@example.com", password); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Tokens(ctx)
	post := func(text string) *http.Response {
		t.Helper()
		res, err := c.HTTPClient().Post(s.URL+"/notes", "application/json", strings.NewReader(`{"text":"`+text+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post("before"); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /notes: %d", res.StatusCode)
	}
	s.Advance(20 * time.Minute)
	if res := post("after"); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /notes after expiry: %d", res.StatusCode)
	}
	after, _ := c.Tokens(ctx)
	if after.RefreshToken == before.RefreshToken {
		t.Error("the client did not refresh")
	}
	res, err := c.HTTPClient().Get(s.URL + "/notes")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []notes.Note
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list) != 2 || list[0].Text != "after" {
		t.Fatalf("GET /notes: %v %+v", err, list)
	}
}

func TestTokengatesContractStillHolds(t *testing.T) {
	tokengatetest.Conformance(t, nil, tokengatetest.WithApp(notes.Options()...))
}
