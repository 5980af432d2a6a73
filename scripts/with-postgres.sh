#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server: a fresh cluster in a temporary folder,
# listening on a free loopback port only, trusted local connections, removed afterwards.
# The command sees BACKTIDE_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres (the
# store's test suite and the cluster tests create their own databases there) and
# BACKTIDE_PG_BIN (the server's binaries, for tests that restart it).
#
#   scripts/with-postgres.sh cargo nextest run -p backtide-server store
#
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql). As root, the
# server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

bin=""
for candidate in "${BACKTIDE_PG_BIN:-}" "$(pg_config --bindir 2>/dev/null || true)" \
    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
        bin="$candidate"
        break
    fi
done
if [ -z "$bin" ]; then
    echo "with-postgres.sh: no PostgreSQL server binaries (initdb, pg_ctl) found;" \
        "install them (Debian: apt-get install postgresql)" >&2
    exit 2
fi

dir="$(mktemp -d /tmp/backtide-pg.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_owner=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    as_owner=(runuser -u postgres --)
fi

stop() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
    --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" \
    start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }

export BACKTIDE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
export BACKTIDE_PG_BIN="$bin"
export BACKTIDE_PG_DATA="$dir/data"
echo "with-postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"
