#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the store's tests and
# exports HALCYTONE_TEST_POSTGRES_URL. Source it; the server stops when the
# calling shell exits. Installs Debian's postgresql package when missing.
# initdb refuses to run as root, so the server runs as the `postgres` user.

halcytone_pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(halcytone_pg_bin)" ]; then
    echo "==> apt-get install postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN="$(halcytone_pg_bin)"
PG_PORT="${HALCYTONE_PG_PORT:-55432}"
PG_DATA="$(mktemp -d /tmp/halcytone-pg.XXXXXX)"
chown postgres:postgres "$PG_DATA"
su postgres -c "$PG_BIN/initdb -D $PG_DATA -A trust -U postgres" >/dev/null
su postgres -c "$PG_BIN/pg_ctl -D $PG_DATA -l $PG_DATA/server.log -w -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1' start" >/dev/null
trap 'su postgres -c "$PG_BIN/pg_ctl -D $PG_DATA -m fast stop" >/dev/null 2>&1; rm -rf "$PG_DATA"' EXIT
su postgres -c "$PG_BIN/createdb -h 127.0.0.1 -p $PG_PORT halcytone_test"
export HALCYTONE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/halcytone_test"
echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
