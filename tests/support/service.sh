# shellcheck shell=bash
# The service under test for the scripts in tests/ (fuzz, clients, browser): sourced, not run.
# One place starts `marginalia serve` on a private throwaway PostgreSQL cluster, waits until it is
# ready, stops it on exit, and checks at the end of the run, from its Prometheus metrics rather
# than from its log wording, that it answered no 5xx and sent no webhook outside loopback.
#
#   source tests/support/service.sh
#   export MARGINALIA_...=...            # the run's own settings
#   service_start fuzz "$binary"         # sets SERVICE_WORK, SERVICE_BASE, SERVICE_PORT, SERVICE_LOG
#   service_wait_ready
#   …the run…
#   service_end_checks || status=1      # prints what failed
#
# Every run here sets MARGINALIA_WEBHOOK_LOOPBACK_ONLY=true: the webhook worker refuses every
# target but 127.0.0.0/8, ::1 and localhost, before any DNS lookup or connection, and counts each
# refusal in marginalia_webhook_non_loopback_refused_total, which must still be 0 at the end.

SERVICE_SUPPORT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Whatever proxy the machine sets for the package registries, requests to the service under test
# (curl, urllib, requests, httpx: schemathesis and the generated clients) go straight to loopback.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy=$NO_PROXY

# A TCP port nothing listens on right now, on loopback.
service_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# GET a loopback URL; prints the body, fails on anything but 200.
service_get() { # url [file]
  python3 - "$@" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
    body = answer.read()
if len(sys.argv) > 2:
    open(sys.argv[2], "wb").write(body)
else:
    sys.stdout.buffer.write(body)
PY
}

# Starts the service in the background with the settings exported so far.
service_start() { # label binary
  SERVICE_LABEL=$1
  SERVICE_WORK=$(mktemp -d)
  chmod 755 "$SERVICE_WORK" # as root, PostgreSQL runs as `postgres` and must reach its data directory
  SERVICE_PORT=$(service_free_port)
  SERVICE_METRICS_PORT=$(service_free_port)
  SERVICE_BASE="http://127.0.0.1:$SERVICE_PORT"
  SERVICE_METRICS_URL="http://127.0.0.1:$SERVICE_METRICS_PORT/metrics"
  SERVICE_LOG=$SERVICE_WORK/service.log
  # The metrics on an address of their own, without a key, so that the end checks need none.
  export MARGINALIA_DATA_DIR="$SERVICE_WORK/data" MARGINALIA_BIND="127.0.0.1:$SERVICE_PORT" \
    MARGINALIA_METRICS_BIND="127.0.0.1:$SERVICE_METRICS_PORT" MARGINALIA_WEBHOOK_LOOPBACK_ONLY=true
  unset DATABASE_URL
  "$2" serve >"$SERVICE_LOG" 2>&1 &
  SERVICE_PID=$!
  trap service_stop EXIT
}

service_stop() {
  if [ -n "${SERVICE_PID:-}" ]; then
    kill -TERM "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null || true
  fi
  [ -n "${SERVICE_WORK:-}" ] && rm -rf "$SERVICE_WORK"
  return 0
}

# Waits (up to two minutes: a loaded machine starts PostgreSQL slowly) for /readyz to answer 200,
# then records the metrics as they stand: 503s from /readyz while the cluster was starting are not
# the run's answers, and the end checks count only what happened after this point.
service_wait_ready() {
  local deadline=$((SECONDS + 120))
  until service_get "$SERVICE_BASE/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
      cat "$SERVICE_LOG" >&2
      echo "$SERVICE_LABEL: the service exited before it was ready" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      cat "$SERVICE_LOG" >&2
      echo "$SERVICE_LABEL: the service was not ready within 120 s" >&2
      exit 1
    fi
    sleep 0.2
  done
  service_get "$SERVICE_METRICS_URL" "$SERVICE_WORK/metrics-ready.txt" || {
    echo "$SERVICE_LABEL: could not read $SERVICE_METRICS_URL" >&2
    exit 1
  }
}

# The end-of-run net: scrapes the metrics and fails (non-zero, with the reasons on stderr) if any
# 5xx was answered since the service became ready, if the request counter is missing, or if the
# loopback guard's counter is missing or not 0.
service_end_checks() {
  if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
    echo "$SERVICE_LABEL: the service is no longer running at the end of the run" >&2
    tail -n 50 "$SERVICE_LOG" >&2
    return 1
  fi
  if ! service_get "$SERVICE_METRICS_URL" "$SERVICE_WORK/metrics-end.txt"; then
    echo "$SERVICE_LABEL: could not read $SERVICE_METRICS_URL at the end of the run" >&2
    return 1
  fi
  python3 "$SERVICE_SUPPORT_DIR/check_metrics.py" --label "$SERVICE_LABEL" \
    --baseline "$SERVICE_WORK/metrics-ready.txt" "$SERVICE_WORK/metrics-end.txt" || {
    # What the service logged about it, whatever its wording: the last lines at WARN or above.
    grep -E 'ERROR|WARN' "$SERVICE_LOG" | tail -n 20 >&2 || true
    return 1
  }
}
