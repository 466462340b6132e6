#!/usr/bin/env bash
# Ensures a local PostgreSQL server is running with a test role and database, and prints the URL the
# PostgreSQL tests connect to (TOKENLEDGER_TEST_PG) on stdout — and nothing else there: every other
# message goes to stderr. Idempotent: running it again reuses the running server, role and database.
#
#   export TOKENLEDGER_TEST_PG="$(bash .ci/postgres.sh)"
#
# Debian/Ubuntu with root (CI) or passwordless sudo: installs `postgresql` with apt-get when it is
# missing, starts the cluster with pg_ctlcluster (no systemd needed). With TOKENLEDGER_TEST_PG already
# set it only checks that URL answers and prints it (a server run elsewhere).
set -euo pipefail

role=tokenledger
password=tokenledger
db=tokenledger_test

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [ -n "${TOKENLEDGER_TEST_PG:-}" ]; then
  command -v psql >/dev/null && { psql "$TOKENLEDGER_TEST_PG" -qAtc 'SELECT 1' >/dev/null ||
    die "TOKENLEDGER_TEST_PG is set but does not answer"; }
  printf '%s\n' "$TOKENLEDGER_TEST_PG"
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"
  elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then runuser -u postgres -- "$@"
  else sudo -n -u postgres "$@"; fi
}

if ! command -v pg_ctlcluster >/dev/null; then
  log "PostgreSQL is not installed: apt-get install postgresql"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

# The newest cluster (the package creates `<version> main`); create one when there is none.
cluster=$(pg_lsclusters --no-header 2>/dev/null | sort -k1,1V | tail -n 1 || true)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  [ -n "$version" ] || die "no PostgreSQL version under /usr/lib/postgresql"
  log "creating cluster $version main"
  as_root pg_createcluster "$version" main >&2
  cluster=$(pg_lsclusters --no-header | sort -k1,1V | tail -n 1)
fi
read -r version name port status _ <<<"$cluster"

if [ "$status" != online ]; then
  log "starting cluster $version $name (port $port)"
  # Two runs at once may both try: the loser's "already running" is fine, the wait below decides.
  as_root pg_ctlcluster "$version" "$name" start >&2 || log "pg_ctlcluster start exited $?; waiting for the server"
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || die "cluster $version $name does not answer on port $port"

psql_admin() { as_postgres psql -p "$port" -v ON_ERROR_STOP=1 -qAt "$@"; }
# Role and database: created when missing; the password is (re)set so the URL below always works.
psql_admin <<SQL >&2
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN PASSWORD '$password';
  ELSE
    ALTER ROLE $role LOGIN PASSWORD '$password';
  END IF;
END \$\$;
SQL
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
  log "creating database $db"
  # Two runs at once may both try: the loser's "already exists" is fine.
  psql_admin -c "CREATE DATABASE $db OWNER $role" >&2 ||
    [ -n "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]
fi

url="postgres://$role:$password@127.0.0.1:$port/$db"
psql "$url" -qAtc 'SELECT 1' >/dev/null || die "cannot connect as $role to $db"
printf '%s\n' "$url"
