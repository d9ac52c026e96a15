# Tests run against SQLite and a throwaway PostgreSQL that
# scripts/with-postgres.sh starts for the run (or the server already named
# by TOKENGATE_TEST_DATABASE_URL).

.PHONY: test test-short vet fmt

test:
	scripts/with-postgres.sh go test -race -count=1 ./...

# Without PostgreSQL: its tests skip, saying so.
test-short:
	go test ./...

vet:
	go vet ./...

fmt:
	go fmt ./...
