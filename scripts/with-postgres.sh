#!/usr/bin/env bash
# with-postgres.sh CMD...
#
# Runs CMD with TOKENGATE_TEST_DATABASE_URL pointing at a throwaway
# PostgreSQL cluster, made for this run in a temporary directory and removed
# afterwards, whatever CMD's outcome. Exits with CMD's status.
#
# If TOKENGATE_TEST_DATABASE_URL is already set, CMD just runs against it.
#
# Also exported, for fault-injection tests that stop and start the server:
#   TOKENGATE_TEST_PGDATA  the cluster's data directory (its postgresql.conf
#                          holds the port and socket, so a plain
#                          `pg_ctl -D "$TOKENGATE_TEST_PGDATA" start` brings
#                          it back on the same address)
#   TOKENGATE_TEST_PGBIN   the directory of pg_ctl and friends
#   TOKENGATE_TEST_PGUSER  the OS user the server runs as (run pg_ctl as it)
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
fi

if [[ -n "${TOKENGATE_TEST_DATABASE_URL:-}" ]]; then
	exec "$@"
fi

log() { echo "with-postgres: $*" >&2; }

# find_bin prints the bin directory of the newest PostgreSQL server installed.
find_bin() {
	local initdb newest=
	for initdb in /usr/lib/postgresql/*/bin/initdb; do
		[[ -x "$initdb" ]] && newest+="$initdb"$'\n'
	done
	newest=$(printf '%s' "$newest" | sort -V | tail -n 1)
	[[ -n "$newest" ]] && dirname "$newest"
}

bin=$(find_bin || true)
if [[ -z "$bin" ]]; then
	if [[ $EUID -ne 0 ]]; then
		log "no PostgreSQL server found under /usr/lib/postgresql/*/bin, and installing one needs root."
		log "Install it (Debian/Ubuntu: apt-get install postgresql) or set TOKENGATE_TEST_DATABASE_URL to an admin DSN."
		exit 1
	fi
	log "no PostgreSQL server found; installing the postgresql package"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
	bin=$(find_bin || true)
	if [[ -z "$bin" ]]; then
		log "installed postgresql, but still no /usr/lib/postgresql/*/bin/initdb"
		exit 1
	fi
fi

# PostgreSQL refuses to run as root: as root, run it as the postgres user.
if [[ $EUID -eq 0 ]]; then
	pguser=postgres
	if ! id -u "$pguser" >/dev/null 2>&1; then
		log "creating system user $pguser"
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pguser"
	fi
	as_pg() {
		if command -v runuser >/dev/null 2>&1; then
			runuser -u "$pguser" -- "$@"
		else
			su -s /bin/sh "$pguser" -c "$(printf '%q ' "$@")"
		fi
	}
else
	pguser=$(id -un)
	as_pg() { "$@"; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-pg.XXXXXX")
data="$tmp/data"
started=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local status=$?
	if [[ -n "$started" ]]; then
		as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
# Turn signals into an exit, so the EXIT trap stops the server.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [[ $EUID -eq 0 ]]; then
	chown "$pguser:" "$tmp"
fi
chmod 700 "$tmp"

as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 || {
	cat "$tmp/initdb.log" >&2
	log "initdb failed"
	exit 1
}

# The settings live in the data directory, so a fault-injection test's
# plain `pg_ctl start` restarts the server exactly as it was.
cat >>"$data/postgresql.conf" <<CONF

# tokengate test cluster (scripts/with-postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
include_if_exists = 'tokengate_port.conf'
CONF

# A random port may be taken; the server's own bind is the only reliable
# test, so try a few.
port=
for _ in $(seq 1 20); do
	candidate=$((20000 + RANDOM % 40000))
	if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
		continue # something already listens there
	fi
	echo "port = $candidate" | as_pg tee "$data/tokengate_port.conf" >/dev/null
	if as_pg "$bin/pg_ctl" -D "$data" -l "$tmp/postgres.log" -w -t 60 start >/dev/null 2>&1; then
		started=1
		port=$candidate
		break
	fi
	# A server that got as far as writing a pid file is stopped before retrying.
	as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
done
if [[ -z "$port" ]]; then
	tail -n 30 "$tmp/postgres.log" >&2 || true
	log "could not start PostgreSQL"
	exit 1
fi

# pg_ctl -w already waited; pg_isready confirms TCP answers too.
for _ in $(seq 1 100); do
	if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
		break
	fi
	sleep 0.1
done
if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
	tail -n 30 "$tmp/postgres.log" >&2 || true
	log "PostgreSQL started but does not answer on 127.0.0.1:$port"
	exit 1
fi

export TOKENGATE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
export TOKENGATE_TEST_PGDATA="$data"
export TOKENGATE_TEST_PGBIN="$bin"
export TOKENGATE_TEST_PGUSER="$pguser"
log "$("$bin/postgres" --version) on 127.0.0.1:$port (data $data)"

status=0
"$@" || status=$?
exit "$status"
