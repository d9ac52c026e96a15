// Package integration holds tests that run tokengate the way it runs in
// production: the real binary, built once per test run, as separate
// processes on loopback, stopped with real signals, against real SQLite
// files and real PostgreSQL servers (the throwaway cluster of `make test`,
// or a private cluster a fault test starts and stops itself).
//
// It has no code of its own; everything is in its tests. They skip the
// PostgreSQL parts without TOKENGATE_TEST_DATABASE_URL (failing under
// CI=true instead), like the rest of the suite.
package integration
