#!/usr/bin/env bash
# The review widget and the editors' console in a real browser: Debian's chromium driven by
# playwright-core (which never downloads a browser), against the service on a private throwaway
# PostgreSQL cluster. See sse.test.mjs, widget.test.mjs, docs.test.mjs, console.test.mjs and
# threads.test.mjs for what they prove.
#
#   bash tests/browser/run.sh                     # needs a built target/debug/marginalia
#   WRITE_SCREENSHOT=1 bash tests/browser/run.sh  # also refreshes docs/widget-screenshot.png,
#                                                 # docs/console-queue.png, docs/console-article.png
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/support/service.sh
source tests/support/service.sh

binary=${CARGO_TARGET_DIR:-target}/debug/marginalia
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$binary" ] || { echo "browser: $binary is missing: cargo build --bin marginalia" >&2; exit 1; }
[ -x "$CHROMIUM" ] || { echo "browser: $CHROMIUM is missing: apt-get install chromium" >&2; exit 1; }

# Pinned playwright-core and axe-core, exactly as package-lock.json says.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# The console's Server-Sent Events parser on its own: no browser, no service.
node tests/browser/sse.test.mjs

# Every submission comes from 127.0.0.1: the per-address limit would cut the test short.
export MARGINALIA_RATE_LIMIT_REVIEWS=0
# For the console: a rule that holds a review for the queue, and a webhook receiver the test runs
# on 127.0.0.1 (private targets are refused by default; loopback-only, set by service.sh, refuses
# everything else and counts it, so the end checks see any attempt to leave the machine).
export MARGINALIA_BANNED_TERMS='шахрай,шахрая,шахраєм' MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS=true
unset MARGINALIA_CORS_ORIGINS
service_start browser "$binary"
work=$SERVICE_WORK
base=$SERVICE_BASE
service_wait_ready
key=$("$binary" keys create --name browser --scope cms 2>/dev/null)
# A second site of the installation, created before the service first reads its sites: the
# widget's data-site puts its reviews there.
site=ukrainian
"$binary" sites put "$site" --name 'Українська служба' --language uk 2>/dev/null
site_key=$("$binary" keys create --name browser-site --scope cms --site "$site" 2>/dev/null)

# The fixture article as the CMS registers it (the id is the path; the body is not sent), and a
# second article whose reviews wait for a moderator.
article=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["article_id"])' tests/fixtures/article.json)
premoderated=browser-premoderated
register() { # id, extra JSON members
  python3 -c '
import json, sys
article = json.load(open("tests/fixtures/article.json"))
for field in ("article_id", "body"):
    del article[field]
article.update(json.loads(sys.argv[1]))
print(json.dumps(article))' "$2" |
    curl -fsS -o /dev/null -X PUT "$base/v1/articles/$1" -H "Authorization: Bearer $key" \
      -H 'Content-Type: application/json' --data-binary @-
}
register "$article" '{}'
register "$premoderated" '{"moderation": "pre", "url": "https://news.example.org/a/premoderated"}'
# The same article id in the second site: another article, without reviews.
curl -fsS -o /dev/null -X PUT "$base/sites/$site/v1/articles/$article" \
  -H "Authorization: Bearer $site_key" -H 'Content-Type: application/json' \
  --data '{"title": "Напади ІДІЛ-Хорасан", "language": "uk"}'

# An installation-wide admin key: the widget test gives the second site reader tokens (and its
# article page's origin) for its signed-in readers, and takes them back; the console test uses it too.
admin=$("$binary" keys create --name ops-admin --scope admin 2>/dev/null)

set +e
MARGINALIA_URL=$base ARTICLE_ID=$article PREMODERATED_ARTICLE_ID=$premoderated SITE_ID=$site ADMIN_KEY=$admin \
  node tests/browser/widget.test.mjs
status=$?
# Swagger UI at /docs/ under its Content-Security-Policy.
MARGINALIA_URL=$base node tests/browser/docs.test.mjs
docs_status=$?
set -e
[ "$docs_status" -eq 0 ] || status=$docs_status

# The console: a moderator, the admin, and a moderator key the test revokes while it is in use
# (`keys create` prints the key on stdout and its id on stderr).
moderator=$("$binary" keys create --name desk-olha --scope moderator 2>/dev/null)
revoked=$("$binary" keys create --name night-shift --scope moderator 2>"$work/revoked.txt")
revoked_id=$(sed -nE 's/.*Created key ([0-9a-f-]{36}) .*/\1/p' "$work/revoked.txt")
site_moderator=$("$binary" keys create --name uk-desk --scope moderator --site "$site" 2>/dev/null)
set +e
MARGINALIA_URL=$base ARTICLE_ID=$article PREMODERATED_ARTICLE_ID=$premoderated MARGINALIA_BIN=$binary \
  CMS_KEY=$key MODERATOR_KEY=$moderator ADMIN_KEY=$admin REVOKED_KEY=$revoked REVOKED_KEY_ID=$revoked_id \
  SITE_ID=$site SITE_MODERATOR_KEY=$site_moderator \
  node tests/browser/console.test.mjs
console_status=$?
set -e
[ "$console_status" -eq 0 ] || status=$console_status
# Reviews without stars and reply chains (an imported comment thread), in the widget and the
# console. Last: it lets the default site take reviews without stars for a while.
set +e
MARGINALIA_URL=$base MARGINALIA_BIN=$binary CMS_KEY=$key MODERATOR_KEY=$moderator ADMIN_KEY=$admin \
  node tests/browser/threads.test.mjs
threads_status=$?
set -e
[ "$threads_status" -eq 0 ] || status=$threads_status
# The 5xx and loopback net, from the service's metrics (see tests/support/service.sh).
service_end_checks || status=1
echo "browser: exit $status"
exit "$status"
