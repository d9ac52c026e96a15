package postgres_test

import (
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/store/storetest"
)

func TestKeysContract(t *testing.T) {
	pgtest.Require(t)
	storetest.RunKeys(t, func(t testing.TB) auth.KeyStore { return openStore(t, pgtest.URL(t)) })
}
