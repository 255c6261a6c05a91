#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the test suite (called by scripts/test.sh).
#
#   pg-test-cluster.sh start   installs PostgreSQL from Debian's packages when missing (as
#                              root), creates a cluster in a temporary directory, starts it on
#                              127.0.0.1 with a free port, creates the test database, and prints
#                                RISTAPO_TEST_POSTGRES_URL=postgresql+psycopg://...
#                                RISTAPO_PG_ADMIN_URL=postgresql+psycopg://...
#                                RISTAPO_PG_TEST_DIR=/tmp/ristapo-pg.XXXX
#                              on stdout (KEY=VALUE lines for `env`). Diagnostics go to stderr.
#                              When PostgreSQL cannot be installed or started it prints nothing
#                              and exits 0: the PostgreSQL tests then skip with a clear reason.
#   pg-test-cluster.sh stop    stops the cluster named by RISTAPO_PG_TEST_DIR, or else every
#                              cluster started from this process group, and removes its files.
#   pg-test-cluster.sh down|up stops / restarts the server of RISTAPO_PG_TEST_DIR, keeping its
#                              data and port (the "database stopped mid-run" reliability test).
#
# Why a cluster per run and not the system one: several people run the suite at the same time
# in one checkout; each run gets its own port and data directory, and nothing lingers.
# Why not as root: the server refuses to run as root, so root runs it as the `postgres` user.
set -u

base="${TMPDIR:-/tmp}"
registry="$base/ristapo-pg-clusters"
say() { echo "pg-test-cluster: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null)"
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

install_postgres() {
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    say "PostgreSQL is not installed (run as root on Debian/Ubuntu to install it); PostgreSQL tests will skip"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # why: the package would otherwise create and start a system cluster we do not use
  mkdir -p /etc/postgresql-common
  if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  say "installing PostgreSQL from Debian's packages"
  if ! apt-get update -qq >/dev/null 2>&1; then
    say "apt-get update failed; PostgreSQL tests will skip"
    return 1
  fi
  if ! apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    say "apt-get install postgresql failed; PostgreSQL tests will skip"
    return 1
  fi
  return 0
}

free_port() {
  local py
  for py in python3 python "$(dirname "$0")/../.venv/bin/python"; do
    if command -v "$py" >/dev/null 2>&1 || [ -x "$py" ]; then
      "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return 0
    fi
  done
  echo $(( 20000 + RANDOM % 20000 ))
}

# Run a command as the cluster owner (postgres when we are root, else ourselves).
as_owner() {
  if [ "$(id -u)" = "0" ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

my_pgid() { ps -o pgid= -p $$ 2>/dev/null | tr -d ' '; }

stop_dir() {
  local dir="$1" bindir
  [ -d "$dir" ] || { rm -f "$registry/$(basename "$dir")"; return 0; }
  bindir="$(cat "$dir/bindir" 2>/dev/null || find_bindir)"
  if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  rm -f "$registry/$(basename "$dir")"
}

# Clusters whose starting process group has ended (a run killed before `stop`) are removed.
reap_stale() {
  local entry dir owner
  [ -d "$registry" ] || return 0
  for entry in "$registry"/*; do
    [ -f "$entry" ] || continue
    dir="$(sed -n 1p "$entry")"; owner="$(sed -n 2p "$entry")"
    if [ -n "$owner" ] && ! kill -0 -- "-$owner" 2>/dev/null; then
      say "removing stale cluster $dir (its run has ended)"
      stop_dir "$dir"
    fi
  done
}

cmd_start() {
  local bindir dir port user owner_user i started=0
  bindir="$(find_bindir)" || { install_postgres && bindir="$(find_bindir)"; } || true
  if [ -z "${bindir:-}" ]; then
    say "no PostgreSQL server binaries; PostgreSQL tests will skip"
    return 0
  fi
  if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    say "no 'postgres' user to run the server as; PostgreSQL tests will skip"
    return 0
  fi
  mkdir -p "$registry" 2>/dev/null || true
  reap_stale
  dir="$(mktemp -d "$base/ristapo-pg.XXXXXX")" || return 0
  echo "$bindir" > "$dir/bindir"
  owner_user="$(id -un)"
  [ "$(id -u)" = "0" ] && { chown postgres "$dir"; owner_user=postgres; }
  chmod 700 "$dir"
  echo "$dir" > "$registry/$(basename "$dir")"
  my_pgid >> "$registry/$(basename "$dir")"

  if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
     && ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
    say "initdb failed: $(tail -n 3 "$dir/initdb.log" 2>/dev/null | tr '\n' ' ')"
    stop_dir "$dir"; return 0
  fi
  # why: a test cluster trades durability for speed; loopback and its own socket dir only
  cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
# the inbox and outbox are queue tables (rows churn from pending to done within seconds):
# vacuum and analyze them often, or their indexes fill with dead entries (docs/deploy.md)
autovacuum_naptime = 1s
EOF
  for i in 1 2 3 4 5; do
    port="$(free_port)"
    # why setsid: the server must not belong to the caller's process group (signals, reaping)
    if as_owner setsid "$bindir/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      started=1; break
    fi
  done
  if [ "$started" != 1 ]; then
    say "server did not start: $(tail -n 3 "$dir/server.log" 2>/dev/null | tr '\n' ' ')"
    stop_dir "$dir"; return 0
  fi
  echo "$port" > "$dir/port"
  local psql="$bindir/psql"
  if ! as_owner "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE ROLE ristapo_app LOGIN CREATEDB" \
      -c "CREATE DATABASE ristapo_test OWNER ristapo_app" >"$dir/psql.log" 2>&1; then
    say "could not create the test database: $(tail -n 3 "$dir/psql.log" | tr '\n' ' ')"
    stop_dir "$dir"; return 0
  fi
  echo "RISTAPO_TEST_POSTGRES_URL=postgresql+psycopg://ristapo_app@127.0.0.1:$port/ristapo_test"
  echo "RISTAPO_PG_ADMIN_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  echo "RISTAPO_PG_TEST_DIR=$dir"
  say "PostgreSQL $("$bindir/postgres" --version 2>/dev/null | awk '{print $3}') on 127.0.0.1:$port ($dir)"
}

cmd_stop() {
  local entry dir owner me
  if [ -n "${RISTAPO_PG_TEST_DIR:-}" ]; then
    stop_dir "$RISTAPO_PG_TEST_DIR"
    return 0
  fi
  me="$(my_pgid)"
  [ -d "$registry" ] || return 0
  for entry in "$registry"/*; do
    [ -f "$entry" ] || continue
    dir="$(sed -n 1p "$entry")"; owner="$(sed -n 2p "$entry")"
    if [ "$owner" = "$me" ]; then stop_dir "$dir"; fi
  done
  reap_stale
}

cmd_down_up() {
  local dir="${RISTAPO_PG_TEST_DIR:-}" bindir port
  [ -n "$dir" ] && [ -d "$dir/data" ] || { say "RISTAPO_PG_TEST_DIR does not name a running test cluster"; exit 1; }
  bindir="$(cat "$dir/bindir")"; port="$(cat "$dir/port")"
  if [ "$1" = down ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || exit 1
  else
    as_owner setsid "$bindir/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null || exit 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  down|up) cmd_down_up "$1" ;;
  *) echo "usage: $0 start|stop|down|up" >&2; exit 2 ;;
esac
exit 0
