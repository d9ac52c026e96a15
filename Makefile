# Tests run against SQLite and a throwaway PostgreSQL that
# scripts/with-postgres.sh starts for the run (or the server already named
# by TOKENGATE_TEST_DATABASE_URL).

.PHONY: test test-short vet fmt browser-deps

test: browser-deps
	scripts/with-postgres.sh go test -race -count=1 ./...

# The browser tests (web/browser_test.go) need Debian's chromium, curl and
# playwright-core from web/e2e/package-lock.json. As root, whatever is
# missing is installed; otherwise a warning, and those tests skip (or fail
# under CI=true).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			echo "browser-deps: installing chromium and curl"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl; \
		else \
			echo "browser-deps: chromium or curl missing and not root; browser tests will skip" >&2; \
		fi; \
	fi
	@if [ ! -d web/e2e/node_modules/playwright-core ]; then \
		if command -v npm >/dev/null 2>&1; then \
			cd web/e2e && npm ci --no-audit --no-fund; \
		else \
			echo "browser-deps: npm missing; browser tests will skip" >&2; \
		fi; \
	fi

# Without PostgreSQL: its tests skip, saying so.
test-short:
	go test ./...

vet:
	go vet ./...

fmt:
	go fmt ./...
