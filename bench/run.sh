#!/usr/bin/env bash
# bench/run.sh: tokengate against its floor (bench/floor), side by side in
# one run. See bench/README.md for what is measured and how to read it.
#
# It starts a throwaway PostgreSQL (scripts/with-postgres.sh, which installs
# it with apt-get when missing), seeds a template database, checks both
# servers' answers to every scenario, then loads each scenario on each
# server in turn, REPS times, and prints the medians, the ratios and the
# targets. Then the growth runs (more sessions in the table) and the soak.
#
# Settings, from the environment (defaults in brackets):
#   REPS [5]             repetitions of every (scenario, server) pair
#   SCENARIOS [access refresh login]  ("" skips the main runs)
#   DURATION [10s]       measured time of an access or refresh run
#   LOGIN_DURATION [20s] measured time of a login run (bcrypt: few requests)
#   WARMUP [2s]          unmeasured lead-in of every run
#   CONNS [32]           connections for access and refresh
#   REFRESH_RING [SESSIONS / CONNS]  sessions each refresh connection takes
#                        turns over, so a session rotates once every
#                        REFRESH_RING requests of its connection: like
#                        clients, which refresh once per access token
#                        lifetime. tokengate commits a rotation without
#                        waiting for the disk when its session's previous
#                        one is over a second old, so the default holds
#                        only while CONNS x REFRESH_RING / (refreshes per
#                        second) stays over a second (10,000 sessions at
#                        4,000 refreshes/s: 2.5 s); on a faster machine,
#                        raise SESSIONS. 1 rotates one session back to
#                        back, every rotation durable: the worst case, a
#                        client refreshing several times a second.
#                        CONNS x REFRESH_RING <= SESSIONS
#   TOKENGATE_ALG [ES256]  tokengate's ACCESS_TOKEN_ALG (the floor's is HS256)
#   FLOOR_VARIANTS [sync read read-TOKENGATE_ALG]  extra floors for the
#                        refresh scenario, each ROTATION or ROTATION-ALG
#                        (bench/floor's FLOOR_ROTATION and ACCESS_TOKEN_ALG):
#                        the floor rotating with a WAL flush every time, the
#                        floor that only reads, and the floor that only reads
#                        but signs access tokens as tokengate does (left out
#                        when TOKENGATE_ALG is HS256, where "read" is that)
#   DURABLE [1]          1: the throwaway cluster runs with fsync,
#                        synchronous_commit and full_page_writes on, as a
#                        production server does; 0: the test cluster's off
#   LOGIN_CONNS [4]      connections for login (2 cores, bcrypt-bound)
#   BCRYPT_COST [12]     tokengate's default; the seeded hashes use it too
#   USERS [1000], SESSIONS [10000]  the main runs' table (ten sessions a user)
#   GROWTH [1000 100000 1000000]   session counts of the growth runs ("" skips)
#   GROWTH_REPS [5]      runs per size; with 3 a neighbour's burst alone moved
#                        a size's median by 16% on a shared 2-core machine
#   SOAK [300s]          soak length in whole seconds ("" or 0 skips)
#   SOAK_ACCESS_RATE [1000], SOAK_REFRESH_RATE [200]  the soak's steady load, req/s
#   TOKENGATE_ENV []     extra VAR=VALUE settings for tokengate, to measure a
#                        variant (e.g. "LOG_LEVEL=warn METRICS=false")
#   PROFILE [0]          1: tokengate serves pprof and a CPU profile of each
#                        of its runs is saved (for finding where time goes)
#
# Results go to bench/results/DATE/ (git-ignored): runs.jsonl (one line per
# run), report.md (the tables), soak.csv, the check transcripts, the
# servers' logs.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--inner" ]]; then
	if ! command -v go >/dev/null 2>&1; then
		echo "bench/run.sh: needs Go (the version in go.mod) on PATH" >&2
		exit 1
	fi
	# with-postgres.sh makes the throwaway cluster and removes it after,
	# however this script ends.
	exec scripts/with-postgres.sh "$0" --inner "$@"
fi

REPS=${REPS:-5}
SCENARIOS=${SCENARIOS-access refresh login}
DURATION=${DURATION:-10s}
LOGIN_DURATION=${LOGIN_DURATION:-20s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
# tokengate signs access tokens with TOKENGATE_ALG; the floor keeps HS256,
# a fair price the default pays in the access and login scenarios. The
# load tool signs tokengate's with the keys in its database (-keys-db).
TOKENGATE_ALG=${TOKENGATE_ALG:-ES256}
if [[ $TOKENGATE_ALG == HS256 ]]; then
	FLOOR_VARIANTS=${FLOOR_VARIANTS-sync read}
else
	FLOOR_VARIANTS=${FLOOR_VARIANTS-sync read read-$TOKENGATE_ALG}
fi
DURABLE=${DURABLE:-1}
LOGIN_CONNS=${LOGIN_CONNS:-4}
BCRYPT_COST=${BCRYPT_COST:-12}
USERS=${USERS:-1000}
SESSIONS=${SESSIONS:-10000}
REFRESH_RING=${REFRESH_RING:-$((SESSIONS / CONNS))}
GROWTH=${GROWTH-1000 100000 1000000}
GROWTH_REPS=${GROWTH_REPS:-5}
SOAK=${SOAK-300s}
SOAK_ACCESS_RATE=${SOAK_ACCESS_RATE:-1000}
SOAK_REFRESH_RATE=${SOAK_REFRESH_RATE:-200}
PROFILE=${PROFILE:-0}
TOKENGATE_ENV=${TOKENGATE_ENV:-}
# tokengate's collector target when GOGC is unset (config.DefaultGCPercent),
# given to the floor too.
TOKENGATE_GOGC=$(sed -n 's/^const DefaultGCPercent = \([0-9][0-9]*\)$/\1/p' config/config.go)
if [[ -z "$TOKENGATE_GOGC" ]]; then
	echo "bench/run.sh: cannot read DefaultGCPercent from config/config.go" >&2
	exit 1
fi

out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-bench.XXXXXX")
log() { echo "bench: $*" >&2; }

server_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local status=$?
	stop_server
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

log "building tokengate, the floor and the load tool"
go build -o "$work/tokengate" .
go build -o "$work/floor" ./bench/floor
go build -o "$work/load" ./bench/load
load="$work/load"

# Fixed secrets: both servers and the load tool (which mints the tokens the
# runs start from) read the same ones.
export ACCESS_TOKEN_SECRET=bench-access-secret-not-for-production-0123456789
export REFRESH_TOKEN_SECRET=bench-refresh-secret-not-for-production-0123456789
export BCRYPT_COST
export KEY_ENCRYPTION_KEY=bench-key-encryption-key-not-for-production-0123
export PUBLIC_URL=http://localhost:8080
export SMTP_URL=file:$work/outbox

# --- databases ---------------------------------------------------------------

admin=$TOKENGATE_TEST_DATABASE_URL
if [[ $DURABLE == 1 ]]; then
	# with-postgres.sh's cluster skips every flush, which would make a
	# commit's cost vanish from the refresh scenario. All three settings
	# take effect on reload.
	for setting in "fsync = on" "synchronous_commit = on" "full_page_writes = on"; do
		"$TOKENGATE_TEST_PGBIN/psql" -X -q "$admin" -c "ALTER SYSTEM SET $setting"
	done
	"$TOKENGATE_TEST_PGBIN/psql" -X -q -t "$admin" -c "SELECT pg_reload_conf()" >/dev/null
fi
log "PostgreSQL: $("$TOKENGATE_TEST_PGBIN/psql" -X -q -t -A "$admin" -c "SELECT 'fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') || ', wal_writer_delay ' || current_setting('wal_writer_delay')")"

# template USERS SESSIONS: a database migrated by tokengate and seeded,
# made once and copied (CREATE DATABASE ... TEMPLATE) for every run, so
# every run starts from the same rows: generation 1 for every session.
template() {
	local name="tpl_$1_$2"
	if [[ ! -e "$work/$name" ]]; then
		local url
		url=$("$load" db -admin "$admin" -create "$name")
		DATABASE_URL=$url "$work/tokengate" migrate >/dev/null
		"$load" seed -db "$url" -users "$1" -sessions "$2" -cost "$BCRYPT_COST"
		touch "$work/$name"
	fi
	echo "$name"
}

# fresh_db TEMPLATE: sets db to the URL of a new copy of TEMPLATE, dropping
# the previous run's copy. (Not called in a subshell: it counts the runs.)
run_db=0
fresh_db() {
	"$load" db -admin "$admin" -drop "run_$run_db"
	run_db=$((run_db + 1))
	db=$("$load" db -admin "$admin" -create "run_$run_db" -template "$1")
}

# --- servers -----------------------------------------------------------------

# start_server TARGET DATABASE_URL [ENV=VALUE...]: starts tokengate or the
# floor on a free loopback port; sets server_pid and server_url.
start_server() {
	local target=$1 db=$2
	shift 2
	local port
	port=$("$load" port)
	server_url="http://127.0.0.1:$port"
	local logfile="$out/logs/$target.log"
	if [[ $target == tokengate ]]; then
		# Generous budgets: the rate limits are not what is measured, and
		# every request of a run comes from 127.0.0.1. Everything else is
		# tokengate's default (request logs at info, metrics on).
		# shellcheck disable=SC2086 # TOKENGATE_ENV is a list of words
		env DATABASE_URL="$db" ADDR="127.0.0.1:$port" ACCESS_TOKEN_ALG="$TOKENGATE_ALG" \
			RATE_LIMIT_LOGIN=1000000/1s RATE_LIMIT_IP=1000000/1s RATE_LIMIT_REFRESH=1000000/1s \
			PPROF="$([[ $PROFILE == 1 ]] && echo true || echo false)" $TOKENGATE_ENV "$@" \
			"$work/tokengate" >>"$logfile" 2>&1 &
	else
		local rotation alg
		read -r rotation alg <<<"$(floor_variant "$target")"
		# The floor runs with the collector target tokengate sets for itself
		# (config.DefaultGCPercent) unless GOGC is set for both: a GC
		# setting is neither server's work.
		env DATABASE_URL="$db" ADDR="127.0.0.1:$port" GOGC="${GOGC:-$TOKENGATE_GOGC}" FLOOR_ROTATION="$rotation" ACCESS_TOKEN_ALG="$alg" "$@" \
			"$work/floor" >>"$logfile" 2>&1 &
	fi
	server_pid=$!
	if ! "$load" wait -url "$server_url/healthz" -timeout 60s; then
		tail -n 20 "$logfile" >&2
		return 1
	fi
}

# floor_variant TARGET: a floor target's FLOOR_ROTATION and
# ACCESS_TOKEN_ALG: floor, floor-ROTATION or floor-ROTATION-ALG.
floor_variant() {
	local variant=async-HS256
	if [[ $1 == floor-* ]]; then
		variant=${1#floor-}
		[[ $variant == *-* ]] || variant+=-HS256
	fi
	echo "${variant%%-*} ${variant#*-}"
}

# keys_flags TARGET DATABASE_URL: the load tool's flags that make it sign
# access tokens as TARGET does: with tokengate's signing keys, unless it
# runs with HS256.
keys_flags() {
	local alg=$TOKENGATE_ALG
	if [[ $1 != tokengate ]]; then
		local rotation
		read -r rotation alg <<<"$(floor_variant "$1")"
	fi
	if [[ $alg != HS256 ]]; then
		echo "-keys-db $2 -alg $alg"
	fi
}

stop_server() {
	if [[ -n "$server_pid" ]]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}

# --- runs --------------------------------------------------------------------

# measure KIND TARGET SCENARIO REP TEMPLATE USERS SESSIONS: one run on a
# fresh copy of TEMPLATE and a freshly started server; appends one JSON line
# to runs.jsonl.
measure() {
	local kind=$1 target=$2 scenario=$3 rep=$4 tpl=$5 users=$6 sessions=$7
	local conns=$CONNS duration=$DURATION ring=1
	if [[ $scenario == login ]]; then
		conns=$LOGIN_CONNS duration=$LOGIN_DURATION
	fi
	if [[ $scenario == refresh && $kind == main ]]; then
		ring=$REFRESH_RING
	fi
	fresh_db "$tpl"
	# Copying a large template leaves hundreds of MiB of dirty pages that
	# the kernel would write back during the run, on the same cores.
	sync
	start_server "$target" "$db"
	local profiler=
	if [[ $PROFILE == 1 && $target == tokengate ]]; then
		(sleep "$WARMUP" && "$load" get -url "$server_url/debug/pprof/profile?seconds=${duration%s}" \
			>"$out/logs/$kind-$scenario-$sessions-$rep.pprof") &
		profiler=$!
	fi
	local line
	line=$("$load" run -url "$server_url" -scenario "$scenario" -c "$conns" -d "$duration" -warmup "$WARMUP" \
		-users "$users" -sessions "$sessions" -ring "$ring" -pid "$server_pid" $(keys_flags "$target" "$db"))
	if [[ -n "$profiler" ]]; then
		wait "$profiler"
	fi
	stop_server
	echo "{\"kind\":\"$kind\",\"target\":\"$target\",\"rep\":$rep,\"users\":$users,\"sessions\":$sessions,\"ring\":$ring,${line#\{}" >>"$out/runs.jsonl"
	log "$kind $scenario $target #$rep ($sessions sessions): $line"
}

log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "results in $out"
tpl=$(template "$USERS" "$SESSIONS")

# Correctness first: both servers' answers to every scenario, asserted and
# transcribed; the transcripts must not differ. tokengate's X-Request-Id
# (its request log's id) is the one header the floor, which logs nothing,
# does not send. The floor signing as tokengate does is checked too.
checked="tokengate floor"
if [[ $TOKENGATE_ALG != HS256 ]]; then
	checked+=" floor-async-$TOKENGATE_ALG"
fi
for target in $checked; do
	fresh_db "$tpl"
	start_server "$target" "$db"
	if ! "$load" check -url "$server_url" -db "$db" -users "$USERS" $(keys_flags "$target" "$db") >"$out/check-$target.txt"; then
		log "$target answers a scenario wrongly; see $out/check-$target.txt"
		exit 1
	fi
	stop_server
	if [[ $target != tokengate ]] && ! diff -u -I '^X-Request-Id: ' -I '^Content-Length: ' "$out/check-tokengate.txt" "$out/check-$target.txt" >"$out/check-$target.diff"; then
		cat "$out/check-$target.diff" >&2
		log "tokengate and $target answer differently (above); fix that before measuring"
		exit 1
	fi
done
log "check: both servers answer every scenario correctly and alike"

# The main runs, interleaved: every repetition runs every scenario on both
# servers, alternating which goes first, so a slow spell on the shared
# machine falls on both.
for ((rep = 1; rep <= REPS; rep++)); do
	for scenario in $SCENARIOS; do
		if ((rep % 2)); then order="tokengate floor"; else order="floor tokengate"; fi
		if [[ $scenario == refresh ]]; then
			for variant in $FLOOR_VARIANTS; do order+=" floor-$variant"; done
		fi
		for target in $order; do
			measure main "$target" "$scenario" "$rep" "$tpl" "$USERS" "$SESSIONS"
		done
	done
done

# Growth: the same access and refresh runs on tokengate with more sessions
# in the table (and a user per ten sessions, at least USERS). The templates
# are made first, so the repetitions can cycle through the sizes and a slow
# spell does not fall on one size only.
declare -A growth_tpl growth_users
for n in $GROWTH; do
	growth_users[$n]=$((n / 10 > USERS ? n / 10 : USERS))
	growth_tpl[$n]=$(template "${growth_users[$n]}" "$n")
done
for ((rep = 1; rep <= GROWTH_REPS; rep++)); do
	for n in $GROWTH; do
		for scenario in access refresh; do
			measure growth tokengate "$scenario" "$rep" "${growth_tpl[$n]}" "${growth_users[$n]}" "$n"
		done
	done
done

# Soak: a steady access and refresh load on one tokengate process, sampling
# its goroutines, live heap and RSS every 10 s.
if [[ -n "$SOAK" && "$SOAK" != 0 && "$SOAK" != 0s ]]; then
	fresh_db "$tpl"
	start_server tokengate "$db" PPROF=true
	log "soak: $SOAK at $SOAK_ACCESS_RATE access + $SOAK_REFRESH_RATE refresh req/s"
	# The load starts 10 s before the sampling and ends 10 s after it, so
	# every sample is taken under the steady load.
	load_for="$((${SOAK%s} + 20))s"
	"$load" run -url "$server_url" -scenario access -c 16 -rate "$SOAK_ACCESS_RATE" -d "$load_for" -warmup 0s \
		-users "$USERS" -sessions "$SESSIONS" $(keys_flags tokengate "$db") >"$out/soak-access.json" &
	access_pid=$!
	"$load" run -url "$server_url" -scenario refresh -c 16 -rate "$SOAK_REFRESH_RATE" -d "$load_for" -warmup 0s \
		-users "$USERS" -sessions "$SESSIONS" $(keys_flags tokengate "$db") >"$out/soak-refresh.json" &
	refresh_pid=$!
	sleep 10
	"$load" sample -url "$server_url" -pid "$server_pid" -every 10s -for "$SOAK" >"$out/soak.csv"
	wait "$access_pid" "$refresh_pid"
	stop_server
	log "soak access: $(cat "$out/soak-access.json")"
	log "soak refresh: $(cat "$out/soak-refresh.json")"
fi

{
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')),"
	echo "$(uname -sr), $(go version | cut -d' ' -f3), $("${TOKENGATE_TEST_PGBIN:-/nonexistent}/postgres" --version 2>/dev/null || echo PostgreSQL) on loopback;"
	echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: medians of $REPS)."
	echo "Command: ${TOKENGATE_ENV:+TOKENGATE_ENV=\"$TOKENGATE_ENV\" }TOKENGATE_ALG=$TOKENGATE_ALG SCENARIOS=\"$SCENARIOS\" DURABLE=$DURABLE REFRESH_RING=$REFRESH_RING SESSIONS=$SESSIONS FLOOR_VARIANTS=\"$FLOOR_VARIANTS\" REPS=$REPS DURATION=$DURATION LOGIN_DURATION=$LOGIN_DURATION CONNS=$CONNS LOGIN_CONNS=$LOGIN_CONNS BCRYPT_COST=$BCRYPT_COST GROWTH=\"$GROWTH\" SOAK=$SOAK bench/run.sh"
	echo
	"$load" report -runs "$out/runs.jsonl" -soak "$out/soak.csv"
} >"$out/report.md"
cat "$out/report.md"
