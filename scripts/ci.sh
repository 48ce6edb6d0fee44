#!/usr/bin/env bash
# What `make ci` runs: real services on loopback, lint, then the whole suite on SQLite and
# PostgreSQL, with every "service missing" skip turned into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_dir=$(mktemp -d /tmp/cityops-ci-pg.XXXXXX)
mqtt_dir=$(mktemp -d /tmp/cityops-ci-mqtt.XXXXXX)
cleanup() {
  bash scripts/pg-throwaway.sh stop "$pg_dir" || true
  bash scripts/mqtt-throwaway.sh stop "$mqtt_dir" || true
}
trap cleanup EXIT

if [ ! -x /usr/bin/chromium ]; then
  # The browser tests (tests/e2e/test_map_browser.py) drive Debian's Chromium; CJK fonts for
  # the pages' Chinese text.
  echo "== installing Chromium and fonts-wqy-microhei"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei
fi

echo "== starting a throwaway Mosquitto broker (installed from Debian when missing)"
CITYOPS_TEST_MQTT_URL=$(bash scripts/mqtt-throwaway.sh start "$mqtt_dir")
export CITYOPS_TEST_MQTT_URL
echo "   $CITYOPS_TEST_MQTT_URL"

echo "== starting a throwaway PostgreSQL"
CITYOPS_TEST_DATABASE_URL=$(bash scripts/pg-throwaway.sh start "$pg_dir")
export CITYOPS_TEST_DATABASE_URL
export CITYOPS_REQUIRE_SERVICES=1
echo "   $CITYOPS_TEST_DATABASE_URL"

echo "== lint"
make --no-print-directory lint

echo "== tests (SQLite and PostgreSQL)"
status=0
.venv/bin/pytest -n auto -q -p no:cacheprovider || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
