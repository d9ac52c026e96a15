package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/store/storetest"
)

func TestRecoveryContractInMemory(t *testing.T) {
	storetest.RunRecovery(t, func(t testing.TB) storetest.Store { return openStore(t, sqlite.Memory) })
}

func TestRecoveryContractFile(t *testing.T) {
	storetest.RunRecovery(t, func(t testing.TB) storetest.Store {
		return openStore(t, filepath.Join(t.TempDir(), "tokengate.db"))
	})
}
