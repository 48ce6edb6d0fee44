#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster on a free loopback port, as the `postgres` user.
#   scripts/pg-throwaway.sh start DIR   → prints the SQLAlchemy URL on stdout
#   scripts/pg-throwaway.sh stop DIR
# Installs Debian's postgresql package when no server binary is found (needs root).
set -euo pipefail

action=${1:?start|stop}
dir=${2:?data directory}

find_bin() {
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/pg_ctl" ] && { echo "$candidate"; return 0; }
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

run_as_postgres() {
  if [ "$(id -u)" = "0" ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

case "$action" in
  start)
    if ! bin=$(find_bin); then
      echo "PostgreSQL not found; installing it from Debian packages" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql >&2
      bin=$(find_bin)
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$dir"
    if [ "$(id -u)" = "0" ]; then
      id postgres >/dev/null 2>&1 || useradd --system --home "$dir" postgres
      chown postgres "$dir"
    fi
    run_as_postgres "'$bin/initdb' -D '$dir/data' -U postgres -A trust -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1"
    run_as_postgres "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start >&2"
    run_as_postgres "'$bin/psql' -h 127.0.0.1 -p $port -U postgres -qAtc 'CREATE DATABASE cityops_test' postgres >&2"
    echo "$bin" > "$dir/bin"
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/cityops_test"
    ;;
  stop)
    [ -f "$dir/bin" ] || exit 0
    bin=$(cat "$dir/bin")
    run_as_postgres "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop >&2" || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
