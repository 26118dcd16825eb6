#!/usr/bin/env bash
# Shows that the end-of-run net of tests/support/service.sh fires: check_metrics.py must refuse
# metrics with a 5xx, a missing request counter, or a missing or non-zero loopback guard counter,
# and must pass clean ones; then, against the real service, a 503 provoked by freezing its
# PostgreSQL cluster must make service_end_checks fail.
#
#   bash tests/support/selftest.sh            # needs a built target/debug/marginalia for the last part
set -euo pipefail
cd "$(dirname "$0")/../.."

check=tests/support/check_metrics.py
work=$(mktemp -d)
failures=0

metrics() { # file, extra lines
  {
    echo '# TYPE marginalia_http_requests_total counter'
    echo 'marginalia_http_requests_total{route="/readyz",method="GET",status="200"} 3'
    echo 'marginalia_http_requests_total{route="/v1/articles/{article_id}/reviews",method="POST",status="201"} 12'
    printf '%s\n' "${@:2}"
  } >"$1"
}
guard='marginalia_webhook_non_loopback_refused_total 0'
expect() { # pass|fail, description, check arguments…
  local want=$1 what=$2
  shift 2
  local got=pass
  python3 "$check" --label selftest "$@" >"$work/out.txt" 2>&1 || got=fail
  if [ "$got" = "$want" ]; then
    echo "selftest: ok: $what ($got)"
  else
    echo "selftest: WRONG: $what: expected $want, got $got" >&2
    cat "$work/out.txt" >&2
    failures=$((failures + 1))
  fi
}

metrics "$work/ready.txt" 'marginalia_http_requests_total{route="/readyz",method="GET",status="503"} 4' "$guard"
metrics "$work/clean.txt" 'marginalia_http_requests_total{route="/readyz",method="GET",status="503"} 4' "$guard"
expect pass "clean metrics, /readyz 503s only while starting" --baseline "$work/ready.txt" "$work/clean.txt"

metrics "$work/500.txt" 'marginalia_http_requests_total{route="/v1/moderation/log",method="GET",status="500"} 1' "$guard"
expect fail "a 500 during the run" --baseline "$work/ready.txt" "$work/500.txt"
metrics "$work/503.txt" 'marginalia_http_requests_total{route="/readyz",method="GET",status="503"} 5' "$guard"
expect fail "a /readyz 503 after the service was ready" --baseline "$work/ready.txt" "$work/503.txt"
metrics "$work/502.txt" 'marginalia_http_requests_total{status="502",method="GET",route="unmatched"} 2' "$guard"
expect fail "a 5xx whatever the label order, without a baseline" "$work/502.txt"
metrics "$work/early.txt" 'marginalia_http_requests_total{route="/v1/stats",method="GET",status="500"} 1' "$guard"
expect fail "a 500 before the service was ready" --baseline "$work/early.txt" "$work/early.txt"

echo "$guard" >"$work/no-requests.txt"
expect fail "no request counter" "$work/no-requests.txt"
metrics "$work/no-guard.txt"
expect fail "no loopback guard counter" "$work/no-guard.txt"
metrics "$work/guard.txt" 'marginalia_webhook_non_loopback_refused_total 1'
expect fail "a webhook target outside loopback refused" "$work/guard.txt"
metrics "$work/bench.txt" 'marginalia_http_requests_total{route="/v1/stats",method="GET",status="503"} 9' "$guard"
expect pass "the bench's check: overload 503s are measured, only the guard counts" --loopback-only "$work/bench.txt"
expect fail "the bench's check: a refused target" --loopback-only "$work/guard.txt"

# The real service: freeze its PostgreSQL cluster (every process of it, SIGSTOP) so that /readyz
# answers 503 within its deadline, thaw it, and the end checks must fail.
binary=${CARGO_TARGET_DIR:-target}/debug/marginalia
if [ -x "$binary" ]; then
  # shellcheck source=tests/support/service.sh
  source tests/support/service.sh
  service_start selftest "$binary"
  service_wait_ready
  if ! service_end_checks >"$work/out.txt" 2>&1; then
    echo "selftest: WRONG: the untouched service fails the end checks" >&2
    cat "$work/out.txt" >&2
    failures=$((failures + 1))
  fi
  postmaster=$(head -n 1 "$SERVICE_WORK/data/postgres/postmaster.pid")
  cluster=("$postmaster" $(pgrep -P "$postmaster" || true))
  kill -STOP "${cluster[@]}"
  answered=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$SERVICE_BASE/readyz" || true)
  kill -CONT "${cluster[@]}"
  if [ "$answered" != 503 ]; then
    echo "selftest: WRONG: /readyz answered $answered with PostgreSQL frozen, not 503" >&2
    failures=$((failures + 1))
  elif service_end_checks >"$work/out.txt" 2>&1; then
    echo "selftest: WRONG: the end checks passed after a real 503" >&2
    failures=$((failures + 1))
  elif grep -q '/readyz -> 503 answered 1 time' "$work/out.txt"; then
    echo "selftest: ok: a real 503 (PostgreSQL frozen) fails the end checks"
  else
    echo "selftest: WRONG: the end checks failed, but not for the 503:" >&2
    cat "$work/out.txt" >&2
    failures=$((failures + 1))
  fi
else
  echo "selftest: $binary is missing: skipped the real service's 503 (cargo build --bin marginalia)"
fi

rm -rf "$work"
[ "$failures" -eq 0 ] || { echo "selftest: $failures wrong" >&2; exit 1; }
echo "selftest: the end-of-run net fires"
