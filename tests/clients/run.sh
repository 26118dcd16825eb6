#!/usr/bin/env bash
# Generated API clients against the live service: generates a TypeScript client (openapi-typescript
# + openapi-fetch) and two Python clients (openapi-python-client; openapi-generator's `python`)
# from the OpenAPI document, type-checks each client's flow against its generated types (tsc
# --strict, mypy --strict), and runs the flows against the service on a private throwaway
# PostgreSQL cluster. Fails when any client fails.
# docs/clients.md describes the clients and the flows.
#
#   bash tests/clients/run.sh                                  # the committed openapi/openapi.json
#   CLIENTS_SPEC=/tmp/changed.json bash tests/clients/run.sh   # would these clients survive a change?
#
# Needs the built binary (cargo build --bin marginalia: this script does not build), Node >= 20 with
# npm, python3 with venv, a Java runtime >= 11 for openapi-generator (Debian: default-jre-headless),
# and the PostgreSQL server programs. Installs the pinned npm packages
# (tests/clients/typescript/package-lock.json) and the pinned Python packages
# (tests/clients/python/requirements.txt, into target/clients-venv, and
# tests/clients/openapi-generator/requirements.txt, into target/clients-ogen-venv; each rebuilt
# when its file changes).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/support/service.sh
source tests/support/service.sh

started=$SECONDS
spec=$(realpath "${CLIENTS_SPEC:-openapi/openapi.json}")
binary=${CARGO_TARGET_DIR:-target}/debug/marginalia
venv=$(realpath -m "${CLIENTS_VENV:-target/clients-venv}")
ts=$PWD/tests/clients/typescript
clients=$PWD/tests/clients
py=$PWD/tests/clients/python
og=$PWD/tests/clients/openapi-generator
ogen_venv=$(realpath -m "${CLIENTS_OGEN_VENV:-target/clients-ogen-venv}")

if [ ! -x "$binary" ]; then
  echo "clients: $binary is missing; build it first (cargo build --bin marginalia)" >&2
  exit 1
fi
for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "clients: $tool is not installed" >&2; exit 1; }
done

# --- The service, started first so that PostgreSQL's start overlaps the installs. ---------------
# Every request comes from 127.0.0.1, more reviews than the per-address limit allows in a minute;
# the flows expect the fixture reviews to be published at once.
export MARGINALIA_RATE_LIMIT_REVIEWS=0 MARGINALIA_RATE_LIMIT_REACTIONS=0 MARGINALIA_MODERATION=post
service_start clients "$binary"
work=$SERVICE_WORK

# --- The pinned tools. ---------------------------------------------------------------------------
# A venv per requirements file, made again only when the file changed since it was installed.
pinned_venv() {
  local requirements=$1 venv_dir=$2
  cmp -s "$requirements" "$venv_dir/requirements.txt" && return 0
  echo "clients: installing ${requirements#"$PWD"/} into $venv_dir"
  rm -rf "$venv_dir"
  python3 -m venv "$venv_dir"
  "$venv_dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv_dir/requirements.txt"
}
pinned_venv "$py/requirements.txt" "$venv"
(cd "$ts" && npm ci --no-audit --no-fund --loglevel=error)
pinned_venv "$og/requirements.txt" "$ogen_venv"

# --- The service is ready and the CMS has a key. -------------------------------------------------
service_wait_ready
MARGINALIA_CMS_KEY=$("$binary" keys create --name clients-cms --scope cms 2>/dev/null)
export MARGINALIA_CMS_KEY MARGINALIA_URL=$SERVICE_BASE

# --- Each client: generate it fresh, type-check its flow against it, run the flow. ---------------
# Each flow registers and reviews an article of its own (the fixture's id with -ts / -py).
# `stage` names the step a failure stopped at.
typescript_client() {
  rm -rf "$ts/generated"
  stage="generate (openapi-typescript)"
  (cd "$ts" && node_modules/.bin/openapi-typescript "$spec" -o generated/schema.d.ts) || return 1
  stage="type-check (tsc --noEmit, strict)"
  "$ts/node_modules/.bin/tsc" --noEmit -p "$ts" || return 1
  stage="flow (tsx flow.ts)"
  MARGINALIA_ARTICLE_ID=voa-2020-05-iskp-attacks-ts "$ts/node_modules/.bin/tsx" "$ts/flow.ts" || return 1
}
python_client() {
  rm -rf "$py/generated"
  stage="generate (openapi-python-client)"
  # Its post-hooks format the output with ruff, found on PATH; any warning (a part of the document
  # it cannot represent) is a failure.
  (cd "$py" && PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$spec" \
    --output-path generated --overwrite --config config.yaml --fail-on-warning) || return 1
  stage="install (pip install ./generated)"
  # No build isolation and no index: the build backend (poetry-core) and the client's dependencies
  # are the pinned ones in the venv, and pip check proves they satisfy the generated package.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-index --no-build-isolation \
    --no-deps --force-reinstall "$py/generated" || return 1
  "$venv/bin/pip" check --disable-pip-version-check >/dev/null || return 1
  stage="type-check (mypy --strict)"
  # Both Python flows import flow_support.py from this directory.
  (cd "$py" && MYPYPATH="$clients" "$venv/bin/mypy" --strict --cache-dir "$work/mypy-cache" flow.py) || return 1
  stage="flow (python flow.py)"
  PYTHONPATH="$clients" MARGINALIA_ARTICLE_ID=voa-2020-05-iskp-attacks-py "$venv/bin/python" "$py/flow.py" || return 1
}

openapi_generator_client() {
  rm -rf "$og/generated"
  stage="java (openapi-generator runs on a JRE; Debian: apt-get install default-jre-headless)"
  command -v java >/dev/null || return 1
  stage="generate (openapi-generator python)"
  mkdir -p "$og/generated"
  cp "$og/openapi-generator-ignore" "$og/generated/.openapi-generator-ignore"
  # Any module that does not compile (the old shared `webhooks` tag made the package's import a
  # SyntaxError) fails here rather than at the flow's first import.
  "$ogen_venv/bin/openapi-generator-cli" generate --generator-name python --input-spec "$spec" \
    --output "$og/generated" --additional-properties=packageName=marginalia_ogen,projectName=marginalia-ogen \
    --global-property=apiTests=false,modelTests=false,apiDocs=false,modelDocs=false \
    >"$work/openapi-generator.log" 2>&1 || { cat "$work/openapi-generator.log" >&2; return 1; }
  stage="compile (python -m compileall generated/marginalia_ogen)"
  "$ogen_venv/bin/python" -m compileall -q "$og/generated/marginalia_ogen" || return 1
  stage="type-check (mypy --strict)"
  # The generated package is followed for its types, its own code is not judged.
  (cd "$og" && MYPYPATH="$og/generated:$clients" "$ogen_venv/bin/mypy" --strict --follow-imports=silent \
    --cache-dir "$work/mypy-ogen-cache" flow.py) || return 1
  stage="flow (python flow.py)"
  PYTHONPATH="$og/generated:$clients" MARGINALIA_ARTICLE_ID=voa-2020-05-iskp-attacks-og \
    "$ogen_venv/bin/python" "$og/flow.py" || return 1
}

passed=0
failed=0
summary=()
for client in typescript python openapi_generator; do
  began=$SECONDS
  stage=
  if "${client}_client"; then
    passed=$((passed + 1))
    summary+=("clients: $client ok: generated, type-checked, flow passed ($((SECONDS - began)) s)")
  else
    failed=$((failed + 1))
    summary+=("clients: $client FAILED at $stage ($((SECONDS - began)) s)")
  fi
done
# The 5xx and loopback net, from the service's metrics (see tests/support/service.sh).
if ! service_end_checks; then
  summary+=("clients: the end checks failed (5xx answered or a webhook target outside loopback, see above)")
  failed=$((failed + 1))
fi
printf '%s\n' "${summary[@]}"
echo "clients: the whole run took $((SECONDS - started)) s"
echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
