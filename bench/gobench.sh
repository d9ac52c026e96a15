#!/usr/bin/env bash
# gobench.sh [ROUNDS] [OUT]
#
# The Go benchmarks of the access path, interleaved: each round runs every
# benchmark once (-count 1, BENCHTIME each, default 300ms), and ROUNDS
# (default 20) rounds follow each other, so a neighbour's burst on this
# shared machine hits every benchmark alike instead of whichever happened to
# run during it. The test binaries are built once, so a round measures
# nothing but the benchmarks.
#
# Writes the raw output to OUT (default bench/results/gobench-DATE.txt) and
# prints benchstat's summary, middleware vs ParseWithClaimsAlone in one
# table (the target: at most 1.25x the time, at most 10 more allocations),
# and the median of the per-round time ratios: a round's two benchmarks run
# within a second of each other, so their ratio is the least disturbed
# figure a noisy machine gives. cpu-ns/op is the process's CPU time per
# iteration (see middleware/validatetokens_bench_test.go): unlike wall time
# it does not grow while a neighbour holds the cores, so it is the figure
# the 1.25x target is judged on.
set -euo pipefail

cd "$(dirname "$0")/.."
rounds=${1:-20}
benchtime=${BENCHTIME:-300ms}
out=${2:-bench/results/gobench-$(date -u +%Y%m%dT%H%M%SZ).txt}
mkdir -p "$(dirname "$out")"

if ! command -v benchstat >/dev/null 2>&1 && [[ ! -x "$(go env GOPATH)/bin/benchstat" ]]; then
	echo "gobench: installing benchstat" >&2
	go install golang.org/x/perf/cmd/benchstat@latest
fi
benchstat=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/middleware.test" ./middleware
go test -c -o "$bin/token.test" ./token

: >"$out"
for ((i = 1; i <= rounds; i++)); do
	echo "gobench: round $i/$rounds" >&2
	"$bin/middleware.test" -test.run '^$' -test.bench 'ValidateTokensAccess' -test.benchmem -test.count 1 -test.benchtime "$benchtime" >>"$out"
	"$bin/token.test" -test.run '^$' -test.bench 'VerifyAccess|ParseWithClaimsAlone' -test.benchmem -test.count 1 -test.benchtime "$benchtime" >>"$out"
done

echo "# raw results: $out"
echo "## middleware package: the access path vs golang-jwt alone, same binary, same rounds"
grep -v '^Benchmark\(VerifyAccess\|ParseWithClaimsAlone\)-' "$out" | "$benchstat" -col /path -
# ratio FIELD: the median over the rounds of middleware / ParseWithClaimsAlone
# for the metric in that field of the benchmark lines.
ratio() {
	awk -v f="$1" '/^BenchmarkValidateTokensAccess\/path=middleware/ { m = $f }
		/^BenchmarkValidateTokensAccess\/path=ParseWithClaimsAlone/ { if (m) print m / $f; m = 0 }' "$out" |
		sort -g | awk '{ r[NR] = $1 } END { if (NR) printf "%.3f (min %.3f, max %.3f, n=%d)\n", (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2), r[1], r[NR], NR }'
}
echo "## middleware / ParseWithClaimsAlone, median of the per-round ratios"
echo "wall time (ns/op):    $(ratio 3)"
echo "CPU time (cpu-ns/op): $(ratio 5)"
echo "## token package"
grep -v '^BenchmarkValidateTokensAccess' "$out" | "$benchstat" -
