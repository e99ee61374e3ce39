#!/usr/bin/env bash
# The whole test run, from a fresh clone on a fresh machine:
#   1. a virtualenv in .venv with the pinned dependencies (constraints.txt),
#   2. headless Chromium (apt) for the dashboard test, Node and npm (apt, when missing) for the
#      AsyncAPI parser test and the Grafana dashboard schema (`npm ci` in tools/asyncapi and
#      tools/grafana-schema), and the real services
#      (Mosquitto, Kafka, InfluxDB) installed/fetched/built and started,
#   3. ruff, mypy, then pytest (unit, property and integration tests),
#   4. the services stopped again if this run started them.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k kafka`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Python >= 3.11 is required ($PYTHON is $("$PYTHON" -V 2>&1))" >&2
  exit 2
fi

step() { printf '\n==> %s\n' "$*"; }

step "Python environment (.venv, pinned by constraints.txt)"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

step "Headless Chromium for the dashboard test (Debian's chromium + chromium-driver)"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q chromium chromium-driver
fi

step "Node and npm for the AsyncAPI and Grafana schema tests (Debian's nodejs + npm when missing)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q nodejs npm
fi
node --version

step "Services (tradelane services up)"
started_here=()
for name in mosquitto kafka influxdb prometheus; do
  if ! tradelane services status "$name" >/dev/null 2>&1; then started_here+=("$name"); fi
done
stop_started() {
  if [ ${#started_here[@]} -gt 0 ]; then
    step "Stopping services this run started: ${started_here[*]}"
    tradelane services down "${started_here[@]}" || true
  fi
}
trap stop_started EXIT
tradelane services up

step "Lint (ruff) and types (mypy --strict)"
ruff check .
ruff format --check .
mypy

set +e
if [ $# -gt 0 ]; then
  step "Tests (pytest $*)"
  pytest "$@"
  status=$?
else
  # The integration tests wait on brokers and child processes most of the time; the unit
  # tests use that time on the second core, and after them the integration tests that run on
  # services of their own (ISOLATED: their own Kafka cluster and Mosquitto on free ports, so
  # no other test's bridge sees their fleet). Each is a pytest of its own, so a failure in any
  # fails the run; the background reports follow the foreground's.
  ISOLATED=(tests/integration/test_broker_kill.py)
  step "Tests (pytest: tests/integration in the foreground; tests/unit, then ${ISOLATED[*]}, in the background)"
  unit_log=$(mktemp) isolated_log=$(mktemp) unit_rc=$(mktemp) isolated_rc=$(mktemp)
  (
    pytest tests/unit >"$unit_log" 2>&1
    echo $? >"$unit_rc"
    pytest "${ISOLATED[@]}" --durations=5 >"$isolated_log" 2>&1
    echo $? >"$isolated_rc"
  ) &
  background_pid=$!
  pytest tests/integration "${ISOLATED[@]/#/--ignore=}" --durations=20
  integration_status=$?
  wait "$background_pid"
  unit_status=$(cat "$unit_rc")
  isolated_status=$(cat "$isolated_rc")
  step "Unit tests (ran alongside)"
  cat "$unit_log"
  step "Integration tests on their own services (ran alongside, after the unit tests)"
  cat "$isolated_log"
  rm -f "$unit_log" "$isolated_log" "$unit_rc" "$isolated_rc"
  status=0
  for s in "$integration_status" "$unit_status" "$isolated_status"; do
    if [ "$s" -ne 0 ] && [ "$s" -ne 5 ]; then status=$s; fi
  done
  if [ "$status" -eq 0 ] && [ "$integration_status" -eq 5 ] && [ "$unit_status" -eq 5 ]; then
    status=5
  fi
fi
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
fi
exit "$status"
