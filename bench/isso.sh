#!/usr/bin/env bash
# Peer benchmark: Isso (self-hosted comment server, PyPI `isso`) under wrk.
#
# Measures two endpoints comparable to Marginalia's "create review" and
# "list reviews of an article":
#   isso_post        POST /new?uri=<thread>  (JSON body, one new comment each)
#   isso_get_thread  GET  /?uri=<thread>     (thread with ISSO_SEED comments)
#
# Server: gunicorn, sync workers, --preload, exactly the command in Isso's
# deployment docs (docs/reference/deployment: `gunicorn -b ... -w 4 --preload
# isso.run` with ISSO_SETTINGS), and what the Isso project runs its own public
# demo on. The built-in `isso run` server is documented as fit for "up to 20
# requests per second" only, so benchmarking it would not be fair to Isso.
# --preload matters for correctness, not just speed: Isso's multiprocessing
# write lock is created at import time and must be inherited by every worker.
#
# Environment (all optional):
#   BENCH_WORK    work dir; venv cached here, raw wrk output in $BENCH_WORK/raw
#                 (default: a fresh mktemp dir, kept afterwards)
#   ISSO_PORT     Isso listen port on 127.0.0.1          (default 18090)
#   ISSO_SEED     comments in the GET thread             (default 20)
#   CONCURRENCY   wrk connections                        (default 64)
#   DURATION      seconds per wrk run                    (default 15)
#   ISSO_WORKERS  gunicorn workers                       (default 4, as documented)
#   ISSO_VERSION, GUNICORN_VERSION  pinned so numbers are comparable over time
#
# stdout carries only the two result lines; progress and warnings go to stderr.
set -euo pipefail

ISSO_PORT=${ISSO_PORT:-18090}
ISSO_SEED=${ISSO_SEED:-20}
CONCURRENCY=${CONCURRENCY:-64}
DURATION=${DURATION:-15}
ISSO_WORKERS=${ISSO_WORKERS:-4}
ISSO_VERSION=${ISSO_VERSION:-0.14.0}
GUNICORN_VERSION=${GUNICORN_VERSION:-27.0.1}
WRK_THREADS=2

log() { printf '[isso-bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in ISSO_PORT ISSO_SEED CONCURRENCY DURATION ISSO_WORKERS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
# wrk refuses fewer connections than threads.
((CONCURRENCY >= WRK_THREADS)) || die "CONCURRENCY must be >= $WRK_THREADS"

if [[ -z ${BENCH_WORK:-} ]]; then
  BENCH_WORK=$(mktemp -d -t isso-bench.XXXXXX)
fi
mkdir -p "$BENCH_WORK/raw" "$BENCH_WORK/isso"
BENCH_WORK=$(cd "$BENCH_WORK" && pwd)
VENV=$BENCH_WORK/isso-venv
RUN=$BENCH_WORK/isso
BASE=http://127.0.0.1:$ISSO_PORT
log "work dir: $BENCH_WORK"

ISSO_PID=
WRK_PID=
cleanup() {
  local rc=$?
  if [[ -n $WRK_PID ]]; then
    kill -TERM "$WRK_PID" 2>/dev/null || true  # timeout(1) passes it on to wrk
    wait "$WRK_PID" 2>/dev/null || true
  fi
  if [[ -n $ISSO_PID ]] && kill -0 "$ISSO_PID" 2>/dev/null; then
    # TERM lets the gunicorn master reap its workers; KILL only if it hangs.
    kill -TERM "$ISSO_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$ISSO_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ISSO_PID" 2>/dev/null || true
    wait "$ISSO_PID" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk from Debian"
  # Retry after an update only if the cached package lists don't know wrk.
  timeout 300 apt-get install -y -qq wrk >&2 ||
    { timeout 300 apt-get update -qq >&2 && timeout 300 apt-get install -y -qq wrk >&2; }
fi
command -v curl >/dev/null || die "curl is required"

# The venv is reused only if it was built for exactly these pins.
PIP_SPEC="isso==$ISSO_VERSION gunicorn==$GUNICORN_VERSION"
if [[ ! -x $VENV/bin/gunicorn || "$(cat "$VENV/.bench-spec" 2>/dev/null)" != "$PIP_SPEC" ]]; then
  log "building venv: $PIP_SPEC"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086  # PIP_SPEC is a list of requirement words
  timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check $PIP_SPEC >&2
  printf '%s' "$PIP_SPEC" >"$VENV/.bench-spec"
fi

# Refuse to benchmark whatever else may already own the port.
if curl -s -o /dev/null --max-time 1 "$BASE/"; then
  die "something already listens on 127.0.0.1:$ISSO_PORT"
fi

# --- Isso config ---------------------------------------------------------------
# Fresh database every run: GET cost depends on table size (Isso has no index
# on comments.tid, so every thread fetch scans the whole comments table).
rm -f "$RUN"/comments.db "$RUN"/comments.db-*
cat >"$RUN/isso.cfg" <<EOF
[general]
dbpath = $RUN/comments.db
# Isso refuses to start without a host; it is only used for CORS headers, a
# startup HEAD probe (a failure there is just a warning) and fetching a new
# thread's title. Every POST below sends "title", so the page is never fetched
# and no site needs to run: nothing listens on this loopback port on purpose.
host = http://127.0.0.1:9/
# The default notifier: a few log lines per comment, into server.log.
notify = stdout
latest-enabled = false

[moderation]
# Comments go live at once, so every POST answers 201 (not 202, queued).
enabled = false

[guard]
# The guard allows 2 comments/minute and 3 top-level comments per thread per
# /24 address; every wrk connection comes from 127.0.0.1, so it must be off.
enabled = false
require-author = false
require-email = false

[admin]
enabled = false
EOF

# --- start Isso ----------------------------------------------------------------
log "starting Isso $ISSO_VERSION under gunicorn $GUNICORN_VERSION ($ISSO_WORKERS sync workers)"
ISSO_SETTINGS=$RUN/isso.cfg "$VENV/bin/gunicorn" \
  --bind "127.0.0.1:$ISSO_PORT" --workers "$ISSO_WORKERS" --preload \
  --graceful-timeout 5 \
  isso.run >"$RUN/server.log" 2>&1 &
ISSO_PID=$!

for _ in $(seq 300); do
  curl -s -o /dev/null --max-time 1 "$BASE/config" && break
  kill -0 "$ISSO_PID" 2>/dev/null || { tail -n 30 "$RUN/server.log" >&2; die "Isso exited at startup"; }
  sleep 0.1
done
curl -sf -o /dev/null --max-time 2 "$BASE/config" || die "Isso not ready after 30s (see $RUN/server.log)"

# --- seed ------------------------------------------------------------------------
GET_URI=/bench/thread
POST_URI=/bench/posts   # separate thread so the GET thread stays at ISSO_SEED
urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
GET_Q=$(urlenc "$GET_URI")
POST_Q=$(urlenc "$POST_URI")

post_comment() { # uri_query text -> prints HTTP status
  # Content-Type must be application/json: Isso's @xhr CSRF check answers
  # 403 to form/text content types. No Origin/Referer is required.
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    -H 'Content-Type: application/json' \
    --data "{\"text\": \"$2\", \"author\": \"Seeder\", \"title\": \"Bench thread\"}" \
    "$BASE/new?uri=$1"
}
log "seeding $ISSO_SEED comments into $GET_URI"
for i in $(seq "$ISSO_SEED"); do
  code=$(post_comment "$GET_Q" "Seeded comment number $i: a thoughtful paragraph about the article, with *some* markdown.")
  [[ $code == 201 ]] || die "seed POST $i returned HTTP $code (see $RUN/server.log)"
done
code=$(post_comment "$POST_Q" "First comment, so the load never takes the new-thread path.")
[[ $code == 201 ]] || die "seed POST to $POST_URI returned HTTP $code"

got=$(curl -sf --max-time 10 "$BASE/?uri=$GET_Q" |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["replies"]))')
[[ $got == "$ISSO_SEED" ]] || die "GET $GET_URI returned $got comments, expected $ISSO_SEED"

# --- wrk --------------------------------------------------------------------------
cat >"$RUN/post.lua" <<'EOF'
-- Each wrk thread has its own Lua state; setup() numbers them so that comment
-- texts stay unique across threads.
local n_threads = 0
function setup(thread)
  n_threads = n_threads + 1
  thread:set("tid", n_threads)
end

local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local authors = { "Olena K.", "Marc D.", "Aiko T.", "Sam" }

function request()
  counter = counter + 1
  local body = string.format(
    '{"text": "Load comment %d-%d. The piece explains *why* the group is not defeated; %s", ' ..
    '"author": "%s", "title": "Bench posts"}',
    tid, counter, string.rep("more detail ", counter % 8), authors[counter % #authors + 1])
  return wrk.format("POST", nil, headers, body)
end
EOF

# wrk and Isso already share the 2 cores; anything else running (a cargo build,
# a test suite's PostgreSQL) easily halves the numbers, so say so.
cpu_busy_pct() { # share of all CPUs busy over one second, from /proc/stat
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat); sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; idle = y[2] - x[2];
    print (busy + idle > 0) ? int(100 * busy / (busy + idle)) : 0 }'
}

WRK_TIMEOUT=$((DURATION + 60))
run_wrk() { # name url [lua]; leaves the raw output path in WRK_OUT
  local name=$1 url=$2 lua=${3:-}
  local args=(-t "$WRK_THREADS" -c "$CONCURRENCY" -d "${DURATION}s" --timeout 10s --latency)
  [[ -n $lua ]] && args+=(-s "$lua")
  WRK_OUT=$BENCH_WORK/raw/isso-$name.txt
  local busy
  sleep 2 # let Isso drain requests the previous wrk run left queued
  busy=$(cpu_busy_pct)
  ((busy < 20)) || log "WARNING: machine is ${busy}% busy before the $name run; its numbers will be low and noisy"
  log "wrk $name: ${args[*]} $url"
  # Background + wait: bash runs a trap only once a foreground child exits, so
  # this is what lets INT/TERM stop the run at once instead of after DURATION.
  timeout -k 5 "$WRK_TIMEOUT" wrk "${args[@]}" "$url" >"$WRK_OUT" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || { cat "$WRK_OUT" >&2; die "wrk $name failed"; }
  WRK_PID=
}

# Turns wrk --latency output into "rps p50_ms p99_ms non2xx socket_errors requests".
parse_wrk() {
  awk '
    function to_ms(v) {
      if (v ~ /us$/) return v * 0.001
      if (v ~ /ms$/) return v + 0
      if (v ~ /[0-9]m$/) return v * 60000
      if (v ~ /s$/) return v * 1000
      return -1
    }
    /^Requests\/sec:/                { rps = $2 }
    /^ +50% /                        { p50 = to_ms($2) }
    /^ +99% /                        { p99 = to_ms($2) }
    /Non-2xx or 3xx responses:/      { non2xx = $NF }
    /Socket errors:/                 { gsub(/,/, ""); sock = $4 + $6 + $8 + $10 }
    / requests in /                  { reqs = $1 }
    END {
      if (rps == "" || p50 == "" || p99 == "") exit 1
      printf "%.2f %.3f %.3f %d %d %d\n", rps, p50, p99, non2xx + 0, sock + 0, reqs + 0
    }' "$1"
}

# GET runs first, against a database holding only the seeded threads: after the
# POST run the table holds thousands of rows, and the unindexed scan would make
# the GET number depend on how fast the POST run was.
run_wrk get_thread "$BASE/?uri=$GET_Q"
get_raw=$WRK_OUT
run_wrk post "$BASE/new?uri=$POST_Q" "$RUN/post.lua"
post_raw=$WRK_OUT

read -r get_rps get_p50 get_p99 get_non2xx get_sock _ < <(parse_wrk "$get_raw") ||
  die "could not parse $get_raw"
read -r post_rps post_p50 post_p99 post_non2xx post_sock post_reqs < <(parse_wrk "$post_raw") ||
  die "could not parse $post_raw"

# Cross-check POST against the database: every completed 201 must be a row.
# Rows may exceed wrk's count by up to CONCURRENCY (answers in flight at the end).
rows=$("$VENV/bin/python" - "$RUN/comments.db" "$POST_URI" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
print(con.execute("SELECT count(*) FROM comments JOIN threads ON comments.tid = threads.id "
                  "WHERE threads.uri = ?", (sys.argv[2],)).fetchone()[0] - 1)
EOF
)
log "POST: wrk completed $post_reqs requests, database gained $rows comments"
if ((rows < post_reqs - post_non2xx)); then
  log "WARNING: fewer rows than successful POSTs"
fi
for r in "post $post_non2xx $post_sock" "get_thread $get_non2xx $get_sock"; do
  read -r name n s <<<"$r"
  ((n == 0)) || log "WARNING: isso_$name had $n non-2xx responses; its numbers are not valid"
  ((s == 0)) || log "WARNING: isso_$name had $s socket errors (see $BENCH_WORK/raw/isso-$name.txt)"
done

printf 'isso_post rps=%s p50_ms=%s p99_ms=%s non2xx=%s\n' "$post_rps" "$post_p50" "$post_p99" "$post_non2xx"
printf 'isso_get_thread rps=%s p50_ms=%s p99_ms=%s non2xx=%s\n' "$get_rps" "$get_p50" "$get_p99" "$get_non2xx"
