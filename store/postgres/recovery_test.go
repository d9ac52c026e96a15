package postgres_test

import (
	"testing"

	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/store/storetest"
)

func TestRecoveryContract(t *testing.T) {
	pgtest.Require(t)
	storetest.RunRecovery(t, func(t testing.TB) storetest.Store { return openStore(t, pgtest.URL(t)) })
}
