#!/usr/bin/env bash
# API fuzzing from our own spec: runs schemathesis (from PyPI, pinned in requirements.txt) with
# every check against the real service on a private throwaway PostgreSQL cluster, and fails on any
# finding. First with an admin key (every operation reachable), then once more without a key and
# with a key of each other scope: every operation that needs a key must refuse valid input with
# exactly 401 (no key) or 403 (a scope without the right), so scope enforcement is fuzzed too.
# At the end, the service's metrics must show no 5xx answered and no webhook target outside
# loopback (tests/support/service.sh).
#
#   bash tests/fuzz/run.sh                       # CI budget: 120 examples per operation
#   FUZZ_EXAMPLES=1000 bash tests/fuzz/run.sh    # deeper, on demand
#   FUZZ_SEED=random bash tests/fuzz/run.sh      # a new exploration instead of the CI seed
#   FUZZ_SCOPE_EXAMPLES=0 bash tests/fuzz/run.sh # the admin run only
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/support/service.sh
source tests/support/service.sh

examples=${FUZZ_EXAMPLES:-120}
scope_examples=${FUZZ_SCOPE_EXAMPLES:-10}
seed=${FUZZ_SEED:-20261125}
minimum_cases=${FUZZ_MIN_CASES:-1000}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}

if ! cmp -s tests/fuzz/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/fuzz/requirements.txt
  cp tests/fuzz/requirements.txt "$venv/requirements.txt"
fi

cargo build --quiet --bin marginalia
binary=${CARGO_TARGET_DIR:-target}/debug/marginalia

# Every fuzz request comes from 127.0.0.1: the per-address rate limits would answer most of them
# with 429 instead of exercising the operations.
export MARGINALIA_RATE_LIMIT_REVIEWS=0 MARGINALIA_RATE_LIMIT_REACTIONS=0
# schemathesis creates webhook endpoints at whatever public host names it generates (the
# document's example cms.example.org among them): no worker may resolve or reach them. The worker
# is off, and loopback-only (service.sh) stands guard should it ever run.
export MARGINALIA_WEBHOOK_WORKER=false
service_start fuzz "$binary"
service_wait_ready

key() { "$binary" keys create --name "fuzz-$1" --scope "$1" 2>/dev/null; }
seed_args=()
[ "$seed" != random ] && seed_args=(--seed "$seed")
status=0
cases=0
fuzz() { # label, max examples, config file, schemathesis arguments…
  local label=$1 max=$2 config=$3
  shift 3
  echo "fuzz: $label"
  set +e
  # The live streams answer a body that never ends, which a request-and-response fuzzer can only
  # time out on: their refusals are tested in tests/api/live.rs instead.
  "$venv/bin/schemathesis" --config-file "$config" run openapi/openapi.json \
    --url "$SERVICE_BASE" --max-examples "$max" "${seed_args[@]}" --exclude-path-regex '/live$' \
    --suppress-health-check all "$@" | tee "$SERVICE_WORK/schemathesis.log"
  local exit=${PIPESTATUS[0]}
  set -e
  [ "$exit" -eq 0 ] || { echo "fuzz: the $label run failed (exit $exit)" >&2; status=1; }
  local generated
  generated=$(grep -Eo '[0-9]+ generated' "$SERVICE_WORK/schemathesis.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  cases=$((cases + generated))
}

fuzz "admin key, every operation" "$examples" tests/fuzz/schemathesis.toml \
  -H "Authorization: Bearer $(key admin)"

if [ "$scope_examples" -gt 0 ]; then
  # Without a key: every operation, the public ones as the public sends them.
  python3 tests/fuzz/scope_config.py none >"$SERVICE_WORK/none.toml"
  fuzz "no key, every operation" "$scope_examples" "$SERVICE_WORK/none.toml" --phases examples,coverage,fuzzing
  # A key of each other scope: the operations that need a key.
  keyed='^(PUT|PATCH) /v1/articles/\{article_id\}$|/v1/(data-rights|exports|me|moderation|webhook-endpoints)|/reply$'
  for scope in cms moderator; do
    python3 tests/fuzz/scope_config.py "$scope" >"$SERVICE_WORK/$scope.toml"
    fuzz "$scope key, the operations that need a key" "$scope_examples" "$SERVICE_WORK/$scope.toml" \
      --phases examples,coverage,fuzzing --include-name-regex "$keyed" -H "Authorization: Bearer $(key "$scope")"
  done
fi

service_end_checks || status=1
if [ "$status" -eq 0 ] && [ "$cases" -lt "$minimum_cases" ]; then
  echo "fuzz: only $cases test cases ran, fewer than $minimum_cases" >&2
  status=1
fi
echo "fuzz: $cases test cases, exit $status"
exit "$status"
