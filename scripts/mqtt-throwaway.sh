#!/usr/bin/env bash
# Start or stop a throwaway Mosquitto broker on a free loopback port.
#   scripts/mqtt-throwaway.sh start DIR   → prints the broker URL (mqtt://127.0.0.1:PORT) on stdout
#   scripts/mqtt-throwaway.sh stop DIR
# Installs Debian's mosquitto package when no broker binary is found (needs root).
set -euo pipefail

action=${1:?start|stop}
dir=${2:?working directory}

find_bin() {
  for candidate in /usr/sbin/mosquitto /usr/bin/mosquitto; do
    [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  command -v mosquitto 2>/dev/null && return 0
  return 1
}

case "$action" in
  start)
    if ! bin=$(find_bin); then
      echo "Mosquitto not found; installing it from Debian packages" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq mosquitto >&2
      bin=$(find_bin)
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$dir"
    cat > "$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 1000000
max_inflight_messages 0
log_dest file $dir/mosquitto.log
CONF
    # Run as the invoking user: Mosquitto drops root privileges to "mosquitto" otherwise.
    if [ "$(id -u)" = "0" ]; then
      chown -R mosquitto "$dir" 2>/dev/null || true
    fi
    "$bin" -c "$dir/mosquitto.conf" -d
    for _ in $(seq 50); do
      if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    pgrep -f "mosquitto -c $dir/mosquitto.conf" | head -1 > "$dir/pid"
    echo "mqtt://127.0.0.1:$port"
    ;;
  stop)
    [ -f "$dir/pid" ] || exit 0
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
