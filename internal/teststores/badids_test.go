package teststores_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/internal/teststores"
)

// A session id no session can have (a NUL, invalid UTF-8) is an unknown
// session through the whole stack on both stores: 404 over REST and
// NOT_FOUND over GraphQL, never a 500 from a database that refuses the
// bytes.
func TestUnstorableSessionIDIsNotFound(t *testing.T) {
	teststores.Each(t, func(t *testing.T, st auth.Store) {
		srv := testserver.New(t, testserver.Options{Store: st})
		signups++
		tok := srv.SignUp(t, fmt.Sprintf("nul%d@example.com", signups))
		for _, escaped := range []string{"%00", "a%00b", "%FF", "%C3%28"} {
			r := srv.Do(t, http.MethodDelete, "/auth/sessions/"+escaped, "", "x-access-token", tok.AccessToken)
			if r.StatusCode != http.StatusNotFound {
				t.Errorf("DELETE /auth/sessions/%s: %d %s, want 404", escaped, r.StatusCode, r.Body)
			}
		}
		// JSON can carry a NUL (\u0000) but not invalid UTF-8, which the
		// GraphQL edge refuses on its own (BAD_USER_INPUT).
		for _, id := range []string{"\x00", "x\x00"} {
			r := srv.GraphQL(t, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": id},
				"x-access-token", tok.AccessToken)
			if !strings.Contains(string(r.Body), `"code":"NOT_FOUND"`) {
				t.Errorf("revokeSession(id: %q): %d %s, want NOT_FOUND", id, r.StatusCode, r.Body)
			}
		}
	})
}
