package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/client"
)

// exampleTB lets Example functions start the test server, which wants a
// testing.TB: it implements the methods the server uses and panics on a
// failure, since an example has no test to fail.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (e *exampleTB) Helper()                   {}
func (e *exampleTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (e *exampleTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (e *exampleTB) Cleanup(f func())          { e.cleanups = append(e.cleanups, f) }

// exampleServer starts a tokengate server for an example and returns its
// URL and the function that stops it.
func exampleServer() (string, func()) {
	tb := &exampleTB{}
	s := startServer(tb)
	return s.URL, func() {
		for i := len(tb.cleanups) - 1; i >= 0; i-- {
			tb.cleanups[i]()
		}
	}
}

func Example() {
	baseURL, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c := client.New(baseURL)
	if err := c.SignUp(ctx, "ada@example.com", "correct horse battery", "Ada"); err != nil {
		fmt.Println(err)
		return
	}
	// Every request through HTTPClient carries the access token, refreshed
	// before it expires.
	res, err := c.HTTPClient().Get(baseURL + "/auth/me")
	if errors.Is(err, client.ErrSignedOut) {
		fmt.Println("the session has ended: sign in again")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var me struct{ Email, Name string }
	if err := json.NewDecoder(res.Body).Decode(&me); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.StatusCode, me.Email, me.Name)
	// Output: 200 ada@example.com Ada
}

func ExampleClient_SignIn() {
	baseURL, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	if err := client.New(baseURL).SignUp(ctx, "ada@example.com", "correct horse battery", "Ada"); err != nil {
		fmt.Println(err)
		return
	}

	c := client.New(baseURL)
	err := c.SignIn(ctx, "ada@example.com", "wrong horse battery")
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
	fmt.Println(c.SignIn(ctx, "ada@example.com", "correct horse battery"))
	// Output:
	// 401 INVALID_CREDENTIALS
	// <nil>
}

func ExampleClient_HTTPClient() {
	baseURL, stop := exampleServer()
	defer stop()
	c := client.New(baseURL)
	if err := c.SignUp(context.Background(), "ada@example.com", "correct horse battery", "Ada"); err != nil {
		fmt.Println(err)
		return
	}
	// GraphQL goes through the same client as REST.
	res, err := c.HTTPClient().Post(baseURL+"/graphql", "application/json",
		strings.NewReader(`{"query":"{ loggedInUser { email } }"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var body struct {
		Data struct{ LoggedInUser struct{ Email string } }
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(body.Data.LoggedInUser.Email)
	// Output: ada@example.com
}

func ExampleWithOnTokens() {
	baseURL, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c := client.New(baseURL, client.WithOnTokens(func(t client.Tokens) {
		// Called after the pair is saved; the zero Tokens when cleared.
		fmt.Println("signed in:", !t.IsZero())
	}))
	if err := c.SignUp(ctx, "ada@example.com", "correct horse battery", "Ada"); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.SignOut(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// signed in: true
	// signed in: false
}

func ExampleNewFileStore() {
	baseURL, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tokengate-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokens.json")

	// The first run of a CLI signs in and keeps the tokens in a file…
	login := client.New(baseURL, client.WithStore(client.NewFileStore(path)))
	if err := login.SignUp(ctx, "ada@example.com", "correct horse battery", "Ada"); err != nil {
		fmt.Println(err)
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fi.Mode().Perm())

	// …and the next run picks them up.
	next := client.New(baseURL, client.WithStore(client.NewFileStore(path)))
	res, err := next.HTTPClient().Get(baseURL + "/auth/me")
	if err != nil {
		fmt.Println(err)
		return
	}
	res.Body.Close()
	fmt.Println(res.StatusCode == http.StatusOK)
	// Output:
	// -rw-------
	// true
}
