# Tests run against SQLite and a throwaway PostgreSQL that
# scripts/with-postgres.sh starts for the run (or the server already named
# by TOKENGATE_TEST_DATABASE_URL).

.PHONY: test test-short vet fmt browser-deps fuzz check crash

test: browser-deps
	scripts/with-postgres.sh go test -race -count=1 ./...
	cd examples/notes && go test -race -count=1 ./...

# The browser tests (web/browser_test.go, web/pages_browser_test.go) and the
# npm package test (web/npm_test.go) need Debian's chromium, curl, and
# playwright-core and typescript from web/e2e/package-lock.json. As root,
# whatever is missing is installed; otherwise a warning, and those tests
# skip (or fail under CI=true).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			echo "browser-deps: installing chromium and curl"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl; \
		else \
			echo "browser-deps: chromium or curl missing and not root; browser tests will skip" >&2; \
		fi; \
	fi
	@if [ ! -d web/e2e/node_modules/playwright-core ] || [ ! -d web/e2e/node_modules/typescript ]; then \
		if command -v npm >/dev/null 2>&1; then \
			cd web/e2e && npm ci --no-audit --no-fund; \
		else \
			echo "browser-deps: npm missing; browser tests will skip" >&2; \
		fi; \
	fi
	@if [ ! -d token/jwkstest/node_modules/jose ] && command -v npm >/dev/null 2>&1; then \
		cd token/jwkstest && npm ci --no-audit --no-fund; \
	fi

# The PostgreSQL crash test (integration/pgcrash_test.go) CRASH_COUNT times
# in a row, with CRASH_ROTATIONS answered rotations before each crash; make
# test runs it once with 600. Each run prints how many rotations the crash
# lost and the lost-rotation rule recovered.
CRASH_COUNT ?= 5
CRASH_ROTATIONS ?= 2000
crash:
	CRASH_ROTATIONS=$(CRASH_ROTATIONS) scripts/with-postgres.sh go test -count=$(CRASH_COUNT) -v \
		-run '^TestPostgresCrashLosesNoRefreshToken$$' ./integration/

# Without PostgreSQL: its tests skip, saying so.
test-short:
	go test ./...

vet:
	go vet ./...

fmt:
	go fmt ./...

# Each fuzz target for FUZZTIME (FUZZTIME=30s make fuzz), one after
# another; not part of make test. FUZZFLAGS adds flags (FUZZFLAGS=-parallel=1
# on a shared machine). Go 1.26's fuzz coordinator can end a clean run with
# "context deadline exceeded" (go.dev/issue/75804): a target fails only when
# it wrote a failing input under testdata/fuzz, or failed otherwise.
FUZZTIME ?= 5m
FUZZFLAGS ?=
FUZZ_TARGETS = token:FuzzVerify middleware:FuzzValidateTokensHeaders middleware:FuzzClientIP \
	rest:FuzzDecode resolvers:FuzzGraphQLRequest edge:FuzzScanJSON

fuzz:
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; dir=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls $$dir 2>/dev/null | wc -l); \
		echo "== $$name ($$pkg) for $(FUZZTIME)"; \
		go test ./$$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -timeout 0 $(FUZZFLAGS) 2>&1 | tee $$out; \
		grep -q '^ok' $$out && continue; \
		if [ "$$(ls $$dir 2>/dev/null | wc -l)" != "$$before" ]; then \
			echo "fuzz: $$name found a failing input, written to $$dir" >&2; exit 1; \
		fi; \
		if ! grep -q 'context deadline exceeded' $$out; then echo "fuzz: $$name failed" >&2; exit 1; fi; \
		echo "fuzz: $$name stopped with go.dev/issue/75804 at the deadline; no failing input" >&2; \
	done

# Static checks. staticcheck and govulncheck are installed into GOBIN (or
# GOPATH/bin) when missing: @latest, else a pinned version whose
# dependencies the module proxy has. govulncheck needs its vulnerability
# database online; when that cannot be reached it says so and is skipped.
GOVULNCHECK_FALLBACK = v1.1.4

check:
	go vet ./...
	cd examples/notes && go vet ./...
	@bin=$$(go env GOBIN); bin=$${bin:-$$(go env GOPATH)/bin}; \
	test -x $$bin/staticcheck || go install honnef.co/go/tools/cmd/staticcheck@latest; \
	echo "$$bin/staticcheck ./..."; $$bin/staticcheck ./... || exit 1; \
	test -x $$bin/govulncheck || go install golang.org/x/vuln/cmd/govulncheck@latest || \
		go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_FALLBACK) || exit 1; \
	echo "$$bin/govulncheck ./..."; out=$$($$bin/govulncheck ./... 2>&1); status=$$?; echo "$$out"; \
	if [ $$status -ne 0 ] && echo "$$out" | grep -q 'fetching vulnerabilities'; then \
		echo "check: govulncheck skipped: its vulnerability database cannot be reached from here" >&2; \
	elif [ $$status -ne 0 ]; then exit $$status; fi
