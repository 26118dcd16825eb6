#!/usr/bin/env bash
# API fuzzing from our own spec: runs schemathesis (from PyPI) with every check against the real
# service on a private throwaway PostgreSQL cluster, and fails on any finding.
#
#   bash tests/fuzz/run.sh                       # CI budget: 120 examples per operation
#   FUZZ_EXAMPLES=1000 bash tests/fuzz/run.sh    # deeper, on demand
#   FUZZ_SEED=random bash tests/fuzz/run.sh      # a new exploration instead of the CI seed
set -euo pipefail
cd "$(dirname "$0")/../.."

examples=${FUZZ_EXAMPLES:-120}
seed=${FUZZ_SEED:-20261125}
minimum_cases=${FUZZ_MIN_CASES:-1000}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

cargo build --quiet --bin marginalia
binary=${CARGO_TARGET_DIR:-target}/debug/marginalia

work=$(mktemp -d)
chmod 755 "$work" # as root, PostgreSQL runs as `postgres` and must reach its data directory
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export MARGINALIA_DATA_DIR="$work/data" MARGINALIA_BIND="127.0.0.1:$port"
# Every fuzz request comes from 127.0.0.1: the per-address rate limits would answer most of them
# with 429 instead of exercising the operations.
export MARGINALIA_RATE_LIMIT_REVIEWS=0 MARGINALIA_RATE_LIMIT_REACTIONS=0
unset DATABASE_URL

"$binary" serve >"$work/service.log" 2>&1 &
service=$!
cleanup() {
  kill -TERM "$service" 2>/dev/null && wait "$service" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$service" 2>/dev/null || { cat "$work/service.log"; exit 1; }
  sleep 0.2
done
MARGINALIA_FUZZ_KEY=$("$binary" keys create --name fuzz --scope admin 2>/dev/null)
export MARGINALIA_FUZZ_KEY

seed_args=()
[ "$seed" != random ] && seed_args=(--seed "$seed")
set +e
"$venv/bin/schemathesis" --config-file tests/fuzz/schemathesis.toml run openapi/openapi.json \
  --url "http://127.0.0.1:$port" --max-examples "$examples" "${seed_args[@]}" \
  --suppress-health-check all | tee "$work/schemathesis.log"
status=${PIPESTATUS[0]}
set -e

cases=$(grep -Eo '[0-9]+ generated' "$work/schemathesis.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
if grep -q '"status":500\| 500 Internal' "$work/service.log"; then
  echo "fuzz: the service logged a 500" >&2
  status=1
fi
if [ "$status" -eq 0 ] && [ "$cases" -lt "$minimum_cases" ]; then
  echo "fuzz: only $cases test cases ran, fewer than $minimum_cases" >&2
  status=1
fi
echo "fuzz: $cases test cases, exit $status"
exit "$status"
