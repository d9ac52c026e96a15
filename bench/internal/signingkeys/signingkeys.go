// Package signingkeys lends the load tool and the floor tokengate's access
// signing keys: the current key of the schedule in a tokengate database,
// unsealed with KEY_ENCRYPTION_KEY through tokengate's own key manager, so
// the tokens they sign are the ones tokengate signs and verifies.
package signingkeys

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/token"
)

// Install gives every codec the keys tokengate signs with under the
// asymmetric ACCESS_TOKEN_ALG alg, read from the database at databaseURL;
// the rest of tokengate's configuration comes from the environment. The
// codecs must have been made with AccessAlg alg.
func Install(ctx context.Context, databaseURL, alg string, codecs ...*token.Codec) error {
	cfg, err := config.Load(nil, func(name string) string {
		switch name {
		case "DATABASE_URL":
			return databaseURL
		case "ACCESS_TOKEN_ALG":
			return alg
		}
		return os.Getenv(name)
	}, io.Discard)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	defer st.Close()
	for _, c := range codecs {
		m, err := app.NewKeyManager(&cfg, st, c, slog.New(slog.DiscardHandler))
		if err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
		if err := m.Refresh(ctx); err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
	}
	return nil
}
