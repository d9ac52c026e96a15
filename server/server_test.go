package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/testserver"
)

const allowed = "https://app.example.com"

func TestCORSPreflightAllowsTheTokenHeaders(t *testing.T) {
	s := testserver.New(t, testserver.Options{CORSAllowedOrigins: []string{allowed}})
	res := s.Do(t, http.MethodOptions, "/graphql", "",
		"Origin", allowed,
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type, x-access-token, x-refresh-token")
	if res.StatusCode >= 300 {
		t.Fatalf("preflight status %d", res.StatusCode)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != allowed {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	headers := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"x-access-token", "x-refresh-token", "content-type"} {
		if !strings.Contains(headers, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", headers, h)
		}
	}
}

func TestCORSExposesTheTokenHeadersToAllowedOrigins(t *testing.T) {
	s := testserver.New(t, testserver.Options{CORSAllowedOrigins: []string{allowed}})
	tok := s.SignUp(t, "ada@example.com")
	res := s.Do(t, http.MethodGet, "/auth/me", "", "Origin", allowed, "x-refresh-token", tok.RefreshToken)
	if res.StatusCode != http.StatusOK || res.Header.Get("x-access-token") == "" {
		t.Fatalf("refresh through a cross-origin request: %d %s", res.StatusCode, res.Body)
	}
	exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"x-access-token", "x-refresh-token", "www-authenticate"} {
		if !strings.Contains(exposed, h) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}
	// Anonymous requests too: a client must be able to read a 401's reason.
	res = s.Do(t, http.MethodGet, "/auth/me", "", "Origin", allowed)
	if !strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Expose-Headers")), "www-authenticate") {
		t.Errorf("401 to an allowed origin does not expose WWW-Authenticate: %v", res.Header)
	}
}

func TestCORSRefusesOtherOrigins(t *testing.T) {
	for name, origins := range map[string][]string{"configured": {allowed}, "none configured": nil} {
		t.Run(name, func(t *testing.T) {
			s := testserver.New(t, testserver.Options{CORSAllowedOrigins: origins})
			res := s.Do(t, http.MethodOptions, "/graphql", "",
				"Origin", "https://evil.example",
				"Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "x-access-token")
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin = %q for a foreign origin", got)
			}
		})
	}
}

func TestUnknownRoutesAnswerProblemJSON(t *testing.T) {
	s := testserver.New(t, testserver.Options{})
	res := s.Do(t, http.MethodGet, "/nope", "")
	if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("404: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), res.Body)
	}
	res = s.Do(t, http.MethodPut, "/auth/login", "")
	if res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(res.Body), `"BAD_REQUEST"`) {
		t.Fatalf("405: %d %s", res.StatusCode, res.Body)
	}
}
