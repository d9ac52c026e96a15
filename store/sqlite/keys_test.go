package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/store/storetest"
)

func TestKeysContractInMemory(t *testing.T) {
	storetest.RunKeys(t, func(t testing.TB) auth.KeyStore { return openStore(t, sqlite.Memory) })
}

func TestKeysContractFile(t *testing.T) {
	storetest.RunKeys(t, func(t testing.TB) auth.KeyStore {
		return openStore(t, filepath.Join(t.TempDir(), "data", "tokengate.db"))
	})
}
