#!/usr/bin/env python3
"""Marginalia benchmark: our HTTP API side by side with pgbench (the database limit for the very
statements the service issues) and with Isso (a peer), on this machine, in one run.

    python3 bench/run.py                      # full run, writes docs/benchmarks.md
    python3 bench/run.py --duration 5 --no-isso   # quick look, nothing written unless --write

Steps: build release; start the service on a fresh private PostgreSQL cluster; seed 100,000
reviews on one article and 100 small articles with SQL; drive each HTTP scenario with wrk from a
second process; run pgbench with the same statements and the same number of connections; run
bench/isso.sh; record throughput, p50/p99 latency and the service's peak RSS; write the table.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from measure import CpuMeter, Rounds, Run, Spread, metered, ratio_chart  # noqa: E402

# What the report is held against: the first run of the performance issue, recorded with
# --record-baseline (CPU per request before and after, the chart's "before" bars).
BASELINE = ROOT / "docs" / "benchmarks-baseline.json"
CHART = ROOT / "docs" / "benchmarks-ratios.svg"
FLAMEGRAPHS = ROOT / "docs" / "flamegraphs"
RAW_DIR = ROOT / "docs" / "benchmarks-raw"

DEEP_ARTICLE = "deep"
# The four-site rows: the default site and three more, each request to one of them at random.
FOUR_SITES = ("default", "bench-uk", "bench-ru", "bench-fa")
DEEP_REVIEWS = 100_000
PAGE_SIZE = 20
DEEP_PAGE = 5_000
BULK_ARTICLES = 100
SPREAD_ARTICLES = 1_000
# The mixed workload's articles (seeded with a few reviews each) and their popularity: the k-th
# most popular is read in proportion to 1/k (Zipf, s = 1).
MIX_ARTICLES = 1_000
MIX_REVIEWS_EACH = 5

# The page and stats statements the service issues, as diesel sends them (prepared, one round trip
# each); the submission statement comes from the binary itself (`marginalia sql submit-review`).
# Every column of store::reviews::PublicReviewRow, as the page statement selects them.
REVIEW_COLUMNS = ("id, article_id, rating, title, body, author_name, language, created_at, status, "
                  "edited_at, helpful_count, unhelpful_count, reply_body, reply_created_at, "
                  "reply_updated_at, reader_id, reader_badges, in_reply_to")
SQL_NEW_ID = (
    "(lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') || '7' "
    "|| substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid"
)


@dataclass
class Scenario:
    name: str
    title: str
    method: str
    path: str
    body_lua: str | None = None
    pgbench: str | None = None
    # pgbench variables (`-D name=value`) the pgbench script reads as parameters.
    pgbench_vars: dict[str, str] = field(default_factory=dict)
    isso: str | None = None
    notes: list[str] = field(default_factory=list)
    # SQL run before and after the scenario (for wrk and for pgbench alike).
    setup: str | None = None
    teardown: str | None = None
    # Request headers wrk sends.
    headers: dict[str, str] = field(default_factory=dict)
    # Send the ETag the path answers with right before the run as If-None-Match (a revalidating
    # CDN or browser: every answer a 304).
    revalidate: bool = False


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready")


def check_loopback_guard(metrics_url: str, work: Path) -> None:
    """Fails the run if the webhook worker tried to send outside loopback (or the guard's counter
    is missing): tests/support/check_metrics.py on the metrics as the run leaves them."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        (work / "metrics-end.txt").write_bytes(response.read())
    checked = subprocess.run([sys.executable, str(ROOT / "tests" / "support" / "check_metrics.py"),
                              "--label", "bench", "--loopback-only", str(work / "metrics-end.txt")],
                             text=True, capture_output=True)
    print(checked.stdout + checked.stderr, end="", flush=True)
    if checked.returncode != 0:
        raise SystemExit("bench: the loopback guard failed (see above)")


# Rows belong to the site the session is bound to (migrations/*_sites): seeding writes the
# default site's, and pgbench works as the service does, as marginalia_app held by the site policy.
SEED_OPTIONS = "-c marginalia.site=default"
SERVICE_OPTIONS = f"{SEED_OPTIONS} -c role=marginalia_app"


def psql(conninfo: str, sql: str) -> str:
    return run(["psql", conninfo, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
               env=dict(os.environ, PGOPTIONS=SEED_OPTIONS)).stdout.strip()


def seed(conninfo: str) -> dict[int, tuple[str, str, str]]:
    """Seeds the deep article and the bulk articles; returns, for pages 2 and 5,000, the default
    site's cursor that leads there and the position it stands for."""
    def reviews(article: str, count: int, start_ms_ago: int, step_ms: int = 1) -> str:
        return f"""
        INSERT INTO articles (article_id) VALUES ('{article}') ON CONFLICT DO NOTHING;
        INSERT INTO reviews (id, article_id, rating, title, body, author_name, language, status,
                             created_at, updated_at)
        SELECT (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '7'
                || substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text), 4, 15))::uuid,
               '{article}', 1 + g % 5, 'Seeded review ' || g,
               'Seeded review number ' || g || ': a considered opinion about the article, '
               || 'long enough to look like what readers really write.',
               'Reader ' || g, CASE WHEN g % 3 = 0 THEN 'uk' ELSE 'en' END, 'published', t, t
        FROM (SELECT g, now() - interval '{start_ms_ago} milliseconds' + g * interval '{step_ms} milliseconds' AS t
              FROM generate_series(1, {count}) g) s;
        """
    # The deep article's reviews spread over the last 29 days, one every 25 s.
    deep_step_ms = 25_000
    statements = [reviews(DEEP_ARTICLE, DEEP_REVIEWS, deep_step_ms * (DEEP_REVIEWS + 1), deep_step_ms)]
    statements += [reviews(f"bulk-{i}", 10, 20 * DEEP_REVIEWS + i * 100) for i in range(BULK_ARTICLES)]
    statements.append(f"""
        INSERT INTO articles (article_id) SELECT 'mix-' || i FROM generate_series(0, {MIX_ARTICLES - 1}) i
            ON CONFLICT DO NOTHING;
        INSERT INTO reviews (id, article_id, rating, title, body, author_name, language, status,
                             created_at, updated_at)
        SELECT gen_random_uuid(), 'mix-' || (g % {MIX_ARTICLES}), 1 + g % 5, 'Seeded review ' || g,
               'Seeded review number ' || g || ': a considered opinion about the article, '
               || 'long enough to look like what readers really write.',
               'Reader ' || g, 'en', 'published', t, t
        FROM (SELECT g, now() - interval '1 day' + g * interval '1 millisecond' AS t
              FROM generate_series(1, {MIX_ARTICLES * MIX_REVIEWS_EACH}) g) s;
    """)
    # The counters the service keeps in step with every write, per stripe as it reads them.
    # The other sites of the four-site rows: each with the deep article's newest 1,000 reviews
    # (page 2 reads 20 of them after the same cursor, as in the default site).
    for site in FOUR_SITES[1:]:
        statements.append(f"""
        INSERT INTO sites (site_id, name) VALUES ('{site}', 'Bench {site}') ON CONFLICT DO NOTHING;
        INSERT INTO articles (site_id, article_id) VALUES ('{site}', '{DEEP_ARTICLE}');
        INSERT INTO reviews (id, site_id, article_id, rating, title, body, author_name, language,
                             status, created_at, updated_at)
        SELECT gen_random_uuid(), '{site}', article_id, rating, title, body, author_name, language,
               status, created_at, updated_at
        FROM reviews WHERE site_id = 'default' AND article_id = '{DEEP_ARTICLE}'
        ORDER BY created_at DESC LIMIT 1000;
        """)
    statements.append("""
        INSERT INTO article_stats (site_id, article_id, stripe, review_count, rating_sum, count_1, count_2, count_3, count_4, count_5)
        SELECT site_id, article_id, (get_byte(uuid_send(id), 15) % 8)::smallint, count(*), sum(rating),
               count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
               count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
               count(*) FILTER (WHERE rating = 5)
        FROM reviews GROUP BY 1, 2, 3
        ON CONFLICT (site_id, article_id, stripe) DO UPDATE SET review_count = EXCLUDED.review_count,
            rating_sum = EXCLUDED.rating_sum, count_1 = EXCLUDED.count_1, count_2 = EXCLUDED.count_2,
            count_3 = EXCLUDED.count_3, count_4 = EXCLUDED.count_4, count_5 = EXCLUDED.count_5;
        INSERT INTO article_daily_stats (site_id, article_id, day, language, stripe, count_1, count_2, count_3, count_4, count_5)
        SELECT site_id, article_id, (created_at AT TIME ZONE 'UTC')::date, COALESCE(language, ''),
               (get_byte(uuid_send(id), 15) % 8)::smallint,
               count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
               count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
               count(*) FILTER (WHERE rating = 5)
        FROM reviews GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (site_id, article_id, day, language, stripe) DO UPDATE SET
            count_1 = EXCLUDED.count_1, count_2 = EXCLUDED.count_2, count_3 = EXCLUDED.count_3,
            count_4 = EXCLUDED.count_4, count_5 = EXCLUDED.count_5;
    """)
    psql(conninfo, "\n".join(statements))
    psql(conninfo, "VACUUM ANALYZE")
    return {page: cursor_of_page(conninfo, page) for page in (2, DEEP_PAGE)}


def cursor_of_page(conninfo: str, page: int, site: str = "default") -> tuple[str, str, str]:
    """The cursor of `site` that leads to `page` of the deep article, and the `created_at` and
    `id` of the review it continues after."""
    offset = (page - 1) * PAGE_SIZE - 1
    row = psql(conninfo, f"SELECT rating, (extract(epoch from created_at) * 1000000)::bigint, "
                         f"replace(id::text, '-', ''), created_at, id FROM reviews "
                         f"WHERE site_id = '{site}' AND article_id = '{DEEP_ARTICLE}' "
                         f"AND status = 'published' "
                         f"ORDER BY created_at DESC, id DESC OFFSET {offset} LIMIT 1")
    rating, micros, uuid_hex, created_at, uuid = row.split("|")
    # The last review of the previous page, encoded as src/domain/page.rs does: the list scope is
    # the first 8 bytes of SHA-256 over the site and a slash (none for the default site), the
    # article id, a zero byte, the rating filter (none: 0) and the language filter (none: empty).
    listed = (b"" if site == "default" else site.encode() + b"/") + DEEP_ARTICLE.encode()
    scope = hashlib.sha256(listed + bytes([0, 0])).hexdigest()[:16]
    plain = f"v2.newest.{rating}.{micros}.{uuid_hex}.{scope}".encode()
    cursor = base64.urlsafe_b64encode(plain).decode().rstrip("=")
    return cursor, created_at, uuid


def submission_script(binary: Path, name: str, articles: int) -> str:
    """A pgbench script running the service's own submission statement (as `marginalia sql
    submit-review` prints it), with a pgbench expression for each of its parameters."""
    statement = json.loads(run([str(binary), "sql", "submit-review"]).stdout)
    values = {
        "site": "'default'", "article": name, "create_missing_article": "true", "id": SQL_NEW_ID, "rating": ":rating",
        "title": "NULL", "author_name": "NULL", "author_email": "NULL", "language": "'en'",
        "reader_id": "NULL", "reader_badges": "'{}'::text[]", "reader_sole": "false", "notify": "false",
        "body": "'A benchmark review number with a realistic length for what readers write.'",
        # initial_status per stored fact (src/domain/review.rs::status_table) for a review no
        # rule caught, the duplicate rule holding, on a post-moderated site.
        "statuses": "'{published,pending,published,pending,pending,pending}'::text[]",
        "reasons": "'{}'::text[]",
        # From a pgbench variable, not random(): a volatile value in the duplicate probe's WHERE
        # would keep PostgreSQL from using the digest index (the service binds a parameter).
        "duplicate_digest": "decode(md5(:digest::text), 'hex')",
        "edit_token_digest": "sha256(random()::text::bytea)", "stripe": ":stripe",
        "created_at": "now()", "open_lifecycle": "'published'", "event_id": SQL_NEW_ID,
        "event_type": "'review.created'", "event_data": "'{}'", "log_id": SQL_NEW_ID,
    }
    sql = statement["sql"]
    # Highest first, so that $1 never replaces the start of $10.
    for index in range(len(statement["parameters"]), 0, -1):
        sql = sql.replace(f"${index}", f"({values[statement['parameters'][index - 1]]})")
    return (f"\\set rating random(1, 5)\n\\set article random(0, {articles})\n"
            f"\\set stripe random(0, 7)\n\\set digest random(1, 2000000000)\n{sql};\n")


def scenarios(cursors: dict[int, tuple[str, str, str]], site_cursors: dict[str, str],
              binary: Path) -> list[Scenario]:
    bulk_query = "&".join(f"article_id=bulk-{i}" for i in range(BULK_ARTICLES))
    bulk_array = "{" + ",".join(f"bulk-{i}" for i in range(BULK_ARTICLES)) + "}"
    # The values the service binds as parameters are pgbench variables (`-D`), which `-M prepared`
    # sends as parameters too: both sides run the same generic plan, not one planned for literals.
    read_vars = {"site": "default", "article": DEEP_ARTICLE, "published": "published",
                 "deleted": "deleted", "limit": str(PAGE_SIZE + 1)}
    # Reads hide a deleted article's reviews and stats with a probe of its row, as the service does.
    not_deleted = ("NOT EXISTS (SELECT 1 FROM articles WHERE articles.site_id = :site "
                   "AND articles.article_id = {column} "
                   "AND articles.lifecycle = :deleted)")
    page_sql = (f"SELECT {REVIEW_COLUMNS} FROM reviews WHERE site_id = :site "
                f"AND article_id = :article "
                f"AND status = :published AND {not_deleted.format(column=':article')} "
                f"{{bound}} ORDER BY created_at DESC, id DESC LIMIT :limit;")
    after = "AND (created_at, id) < (:after_at::timestamptz, :after_id::uuid)"

    def after_page(page: int) -> dict[str, str]:
        return dict(read_vars, after_at=cursors[page][1], after_id=cursors[page][2])
    stats_not_deleted = not_deleted.format(column="article_stats.article_id")
    stats_sums = "sum(count_1), sum(count_2), sum(count_3), sum(count_4), sum(count_5)"
    today = dt.datetime.now(dt.timezone.utc).date()
    daily_vars = dict(read_vars, day_from=str(today - dt.timedelta(days=29)), day_to=str(today))
    # The statement the service runs for an article with counters: the per-day counters grouped
    # by day and by language at once, a deleted article's hidden by the same probe as a page's
    # (the service checks the article on its own only when no counters come back).
    daily_sql = ("SELECT CASE WHEN GROUPING(day) = 0 THEN day END, "
                 "CASE WHEN GROUPING(language) = 0 THEN language END, "
                 "sum(count_1)::bigint, sum(count_2)::bigint, sum(count_3)::bigint, "
                 "sum(count_4)::bigint, sum(count_5)::bigint, sum(unrated)::bigint FROM article_daily_stats "
                 "WHERE site_id = :site AND article_id = :article "
                 "AND day BETWEEN :day_from::date AND :day_to::date "
                 f"AND {not_deleted.format(column=':article')} "
                 "GROUP BY GROUPING SETS ((day), (language));")
    review_lua = ('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                  'local n = 0\nrequest = function()\n  n = n + 1\n'
                  '  local body = string.format(\'{{"rating": %d, "body": "A benchmark review number %d with a realistic length for what readers write."}}\', n % 5 + 1, n)\n'
                  '  return wrk.format(nil, {path}, nil, body)\nend\n')
    sites_lua = "({" + ", ".join(f'"{site}"' for site in FOUR_SITES) + "})"
    def rotating_get(paths: list[str]) -> str:
        """A wrk script asking one of `paths` (one per site) at random."""
        listed = "({" + ", ".join(f'"{path}"' for path in paths) + "})"
        return ("request = function()\n"
                f"  return wrk.format(\"GET\", {listed}[math.random(1, {len(paths)})])\n"
                "end\n")
    # A viral day: 90 % reads (first pages and stats, as widgets ask), 10 % new reviews, over
    # 1,000 articles whose popularity follows Zipf's law.
    mixed_lua = MIXED_LUA.format(articles=MIX_ARTICLES)
    return [
        Scenario("mixed", "Mixed: 90 % reads, 10 % POST, 1,000 Zipf articles", "GET", "",
                 body_lua=mixed_lua),
        Scenario("post_spread", "POST review, 1,000 articles", "POST", "",
                 body_lua=review_lua.format(path='string.format("/v1/articles/spread-%d/reviews", math.random(0, 999))'),
                 pgbench=submission_script(binary, "'pg-spread-' || :article", SPREAD_ARTICLES - 1),
                 isso="isso_post"),
        # The same load with a webhook endpoint enabled: every review also writes its outbox event
        # (same statement), and the worker fans events out and attempts deliveries meanwhile. The
        # endpoint's loopback address is refused by the default target policy (private targets
        # off) before any network traffic, so the receiver's speed does not enter the measure;
        # being loopback, it never trips the loopback-only guard the bench runs under.
        Scenario("post_spread_outbox", "POST review, 1,000 articles, webhooks on", "POST", "",
                 body_lua=review_lua.format(path='string.format("/v1/articles/spread-%d/reviews", math.random(0, 999))'),
                 pgbench=submission_script(binary, "'pg-outbox-' || :article", SPREAD_ARTICLES - 1),
                 setup="INSERT INTO webhook_endpoints (id, url, event_types, secret) VALUES "
                       "(gen_random_uuid(), 'http://127.0.0.1:9/bench', "
                       "ARRAY['review.created', 'article.stats_changed'], "
                       "'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')",
                 teardown="TRUNCATE webhook_attempts, webhook_deliveries, outbox_events, webhook_endpoints"),
        # The same load spread over four sites (/sites/{site}/v1/…), 250 articles each: the same
        # 1,000 articles' worth of rows and pages as the single-site row, so that only what
        # serving several sites costs tells them apart (a pooled connection serving another site
        # than last time is rebound to it first).
        Scenario("post_spread_4_sites", "POST review, 1,000 articles, 4 sites", "POST", "",
                 body_lua=review_lua.format(path=f'string.format("/sites/%s/v1/articles/spread-%d/reviews", {sites_lua}[math.random(1, 4)], math.random(0, 249))')),
        Scenario("post_hot", "POST review, one hot article", "POST", "",
                 body_lua=review_lua.format(path='"/v1/articles/hot/reviews"'),
                 pgbench=submission_script(binary, "'pg-hot'", 0)),
        Scenario("get_first_page", "GET first page (20 of 100,000)", "GET",
                 f"/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}",
                 pgbench=page_sql.format(bound=""), pgbench_vars=read_vars,
                 isso="isso_get_thread"),
        # What a CDN or browser holding the first page costs when it revalidates (304, no body),
        # and the first page compressed for a client that accepts gzip.
        Scenario("get_first_page_304", "GET first page, revalidated (304)", "GET",
                 f"/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}", revalidate=True),
        Scenario("get_first_page_gzip", "GET first page, gzip", "GET",
                 f"/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}",
                 headers={"Accept-Encoding": "gzip"}),
        # The floor of any answer: the liveness probe, no database.
        Scenario("get_healthz", "GET /healthz", "GET", "/healthz"),
        Scenario("get_page_2", "GET page 2 (20 of 100,000)", "GET",
                 f"/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}&cursor={cursors[2][0]}",
                 pgbench=page_sql.format(bound=after), pgbench_vars=after_page(2)),
        # Page 2 of one site asked the way the four-site row asks (wrk's `request()` scripted
        # per request, which costs the load generator CPU that a fixed path does not, on the same
        # two cores as the service): the single-site side of the four-against-one pair.
        Scenario("get_page_2_scripted", "GET page 2, scripted like the 4-site row", "GET", "",
                 body_lua=rotating_get([
                     f"/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}&cursor={cursors[2][0]}"])),
        Scenario("get_page_2_4_sites", "GET page 2, 4 sites", "GET", "",
                 body_lua=rotating_get([
                     f"/sites/{site}/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}&cursor={site_cursors[site]}"
                     for site in FOUR_SITES])),
        Scenario("get_page_5000", "GET page 5,000 (20 of 100,000)", "GET",
                 f"/v1/articles/{DEEP_ARTICLE}/reviews?limit={PAGE_SIZE}&cursor={cursors[DEEP_PAGE][0]}",
                 pgbench=page_sql.format(bound=after), pgbench_vars=after_page(DEEP_PAGE)),
        Scenario("get_stats", "GET stats", "GET", f"/v1/articles/{DEEP_ARTICLE}/stats",
                 pgbench=f"SELECT {stats_sums} FROM article_stats WHERE site_id = :site "
                         f"AND article_id = :article AND {stats_not_deleted};",
                 pgbench_vars=read_vars),
        # The editors' chart: the default 30 days, which hold all 100,000 seeded reviews (seeded
        # over the last 29 days), read from their per-day counters.
        Scenario("get_daily", "GET reviews per day, 30 days of 100,000", "GET",
                 f"/v1/articles/{DEEP_ARTICLE}/stats/daily",
                 pgbench=daily_sql, pgbench_vars=daily_vars),
        Scenario("get_bulk_stats", "GET bulk stats, 100 articles", "GET", f"/v1/stats?{bulk_query}",
                 pgbench=f"SELECT article_id, {stats_sums} FROM article_stats "
                         f"WHERE site_id = :site AND article_id = ANY(:articles::text[]) "
                         f"AND {stats_not_deleted} "
                         f"GROUP BY article_id;",
                 pgbench_vars=dict(read_vars, articles=bulk_array)),
    ]


MIXED_LUA = """
local articles = {articles}
local cumulative = {{}}
local total = 0
for k = 1, articles do
  total = total + 1 / k
  cumulative[k] = total
end
local function article()
  local x = math.random() * total
  local low, high = 1, articles
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < x then low = middle + 1 else high = middle end
  end
  return "mix-" .. (low - 1)
end
local n = 0
request = function()
  n = n + 1
  local roll = math.random(1, 10)
  if roll == 1 then
    local body = string.format('{{"rating": %d, "body": "A mixed-load review number %d, as long as readers write them."}}', n % 5 + 1, n)
    return wrk.format("POST", "/v1/articles/" .. article() .. "/reviews",
                      {{["Content-Type"] = "application/json"}}, body)
  elseif roll <= 5 then
    return wrk.format("GET", "/v1/articles/" .. article() .. "/stats")
  else
    return wrk.format("GET", "/v1/articles/" .. article() .. "/reviews?limit=20")
  end
end
"""

# The soak paces the mixed workload: each connection waits this long between requests.
SOAK_DELAY_LUA = "delay = function() return {delay_ms} end\n"


@contextlib.contextmanager
def profiled(args, scenario: Scenario, pid: int, work: Path):
    """With --profile, samples the service's stacks while the block runs (perf, 499 Hz, DWARF
    unwinding from .eh_frame, so the release build needs no frame pointers) and draws them as
    `docs/flamegraphs/<scenario>.svg` with inferno. Frames narrower than two pixels are left out:
    they make most of an SVG's size and none of what it shows."""
    if not args.profile:
        yield
        return
    data = work / f"perf-{scenario.name}.data"
    recorder = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,65528",
                                 "-p", str(pid), "-o", str(data)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=120)
    stacks = run(["perf", "script", "-i", str(data)]).stdout
    collapsed = subprocess.run(["inferno-collapse-perf"], input=stacks, check=True, text=True,
                               capture_output=True).stdout
    if args.stacks:
        args.stacks.mkdir(parents=True, exist_ok=True)
        (args.stacks / f"{scenario.name}.folded").write_text(collapsed)
    svg = subprocess.run(["inferno-flamegraph", "--title", scenario.title, "--width", "1600",
                          "--minwidth", "2"],
                         input=collapsed, check=True, text=True, capture_output=True).stdout
    (FLAMEGRAPHS / f"{scenario.name}.svg").write_text(svg)
    data.unlink(missing_ok=True)


@contextlib.contextmanager
def prepared(conninfo: str, scenario: Scenario):
    """Runs the scenario's setup SQL before and its teardown SQL after the block."""
    if scenario.setup:
        psql(conninfo, scenario.setup)
    try:
        yield
    finally:
        if scenario.teardown:
            # The service's worker may still be busy with the scenario's rows: a deadlock with it
            # is retried.
            for attempt in range(5):
                try:
                    psql(conninfo, scenario.teardown)
                    break
                except subprocess.CalledProcessError as error:
                    if attempt == 4:
                        raise
                    print(f"teardown retried: {error.stderr.strip()}", flush=True)
                    time.sleep(1)


LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(name: str, text: str) -> Run:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))

    def percentile(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
        return float(value) * LATENCY_UNITS[unit]

    errors = 0
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if match:
        errors += int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if match:
        errors += sum(int(n) for n in match.groups())
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    return Run(name, rps, percentile("50"), percentile("99"), errors, text, requests)


def drive_wrk(base: str, scenario: Scenario, args, work: Path) -> Run:
    script = work / f"{scenario.name}.lua"
    headers = dict(scenario.headers)
    if scenario.revalidate:
        with urllib.request.urlopen(base + scenario.path, timeout=10) as response:
            headers["If-None-Match"] = response.headers["ETag"]
    header_lua = "".join(f'wrk.headers["{name}"] = {json.dumps(value)}\n'
                         for name, value in headers.items())
    script.write_text(header_lua + (scenario.body_lua or ""))
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.concurrency), "-d", f"{args.duration}s",
           "--latency", "--timeout", "5s"]
    if scenario.body_lua or headers:
        cmd += ["-s", str(script)]
    output = run(cmd + [base + scenario.path]).stdout
    return parse_wrk(scenario.name, output)


@dataclass
class SoakMinute:
    rps: float
    p99_ms: float
    errors: int
    rss_mib: float
    raw: str
    # CPU milliseconds per request of the service and of PostgreSQL in this minute: which side a
    # late slowdown comes from.
    service_cpu_ms: float = 0.0
    postgres_cpu_ms: float = 0.0
    # PostgreSQL checkpoints started so far (timed + requested): a write-heavy minute that
    # follows one pays for full-page images in the WAL.
    checkpoints: int = 0
    # WAL written per request in this minute, and how many full-page images it held: whether the
    # commits wait on more WAL than in the first minutes.
    wal_bytes_per_request: float = 0.0
    full_page_images_per_request: float = 0.0


def current_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def drive_soak(base: str, peak: Run, args, work: Path, pid: int, meter: CpuMeter,
               conninfo: str) -> list[SoakMinute]:
    """The mixed workload for `args.soak` minutes at about 70 % of its peak rate: each connection
    pauses between requests so that together they offer that rate. One wrk run per minute, so p99
    and the service's RSS can be followed over time."""
    target_rps = 0.7 * peak.rps
    delay_ms = max(0, round(args.concurrency * 1000 / target_rps - peak.p50_ms))
    script = work / "soak.lua"
    script.write_text(SOAK_DELAY_LUA.format(delay_ms=delay_ms)
                      + MIXED_LUA.format(articles=MIX_ARTICLES))
    minutes = []
    wal_before = wal_written(conninfo)
    for minute in range(1, args.soak + 1):
        print(f"soak minute {minute}/{args.soak} (~{target_rps:,.0f} req/s offered)…", flush=True)
        result = metered(meter, lambda: parse_wrk("soak", run(
            ["wrk", "-t", str(args.threads), "-c", str(args.concurrency), "-d", "60s",
             "--latency", "--timeout", "5s", "-s", str(script), base]).stdout))
        checkpoints = int(psql(conninfo, "SELECT checkpoints_timed + checkpoints_req "
                                         "FROM pg_stat_bgwriter"))
        wal_after = wal_written(conninfo)
        wal_bytes, full_page_images = (after - before for after, before in zip(wal_after, wal_before))
        wal_before = wal_after
        requests = max(result.requests, 1)
        minutes.append(SoakMinute(result.rps, result.p99_ms, result.errors, current_rss_mib(pid),
                                  result.raw, result.per_thousand(result.service_cpu_s),
                                  result.per_thousand(result.postgres_cpu_s), checkpoints,
                                  wal_bytes / requests, full_page_images / requests))
    return minutes


def wal_written(conninfo: str) -> tuple[int, int]:
    """Bytes of WAL and full-page images PostgreSQL has written since its statistics began."""
    wal_bytes, full_page_images = psql(conninfo, "SELECT wal_bytes, wal_fpi FROM pg_stat_wal").split("|")
    return int(wal_bytes), int(full_page_images)


def drive_pgbench(conninfo: str, scenario: Scenario, args, work: Path) -> Run:
    script = work / f"{scenario.name}.sql"
    script.write_text(scenario.pgbench)
    logs = work / f"pglog-{scenario.name}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(args.concurrency), "-j", str(args.threads),
           "-T", str(args.duration), "-f", str(script), "--log", f"--log-prefix={logs}/tx"]
    cmd += [f"-D{name}={value}" for name, value in scenario.pgbench_vars.items()] + [conninfo]
    output = run(cmd, env=dict(os.environ, PGOPTIONS=SERVICE_OPTIONS)).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", output).group(1))
    latencies = []
    for log in logs.iterdir():
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000.0)
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    failed = re.search(r"number of failed transactions: (\d+)", output)
    processed = int(re.search(r"number of transactions actually processed: (\d+)", output).group(1))
    return Run(scenario.name, tps, quantiles[49], quantiles[98],
               int(failed.group(1)) if failed else 0, output, processed)


def parse_isso(text: str) -> dict[str, Run]:
    results = {}
    for line in text.splitlines():
        match = re.match(r"(isso_\w+) rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) non2xx=(\d+)", line)
        if match:
            name, rps, p50, p99, errors = match.groups()
            results[name] = Run(name, float(rps), float(p50), float(p99), int(errors))
    return results


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    postgres = run(["psql", "--version"]).stdout.strip()
    return (f"{CORES} cores ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB RAM, "
            f"Linux {platform.release()}, {postgres}; service, PostgreSQL and load generator share "
            f"the machine")


# The four-site rows against their single-site rows, measured again in alternating rounds so that
# drift over the run (autovacuum after the writes, checkpoints, the machine's other work) falls on
# both sides alike: the ratio of the sums over the rounds is the one the acceptance bar is held to.
SITE_PAIRS = [("POST review, 1,000 articles", "post_spread", "post_spread_4_sites"),
              ("GET page 2 (uncached)", "get_page_2_scripted", "get_page_2_4_sites")]
PAIR_ROUNDS = 8
PAIR_SECONDS = 10


@dataclass
class PairedRounds:
    what: str
    one: list[float]
    four: list[float]

    @property
    def ratio(self) -> float:
        return sum(self.four) / sum(self.one)


def drive_site_pairs(base: str, chosen, args, work: Path, conninfo: str) -> list[PairedRounds]:
    """Each pair of `SITE_PAIRS` whose scenarios were chosen, in `--site-pair-rounds` rounds of
    `PAIR_SECONDS` each, the order within a round alternating."""
    if not args.site_pair_rounds:
        return []
    by_name = {scenario.name: scenario for scenario in chosen}
    short = copy.copy(args)
    short.duration = PAIR_SECONDS
    paired = []
    for what, one, four in SITE_PAIRS:
        if one not in by_name or four not in by_name:
            continue
        rounds = PairedRounds(what, [], [])
        for round_number in range(args.site_pair_rounds):
            order = [(one, rounds.one), (four, rounds.four)]
            for name, rates in order if round_number % 2 == 0 else reversed(order):
                print(f"wrk {name}, round {round_number + 1} of {args.site_pair_rounds}…", flush=True)
                with prepared(conninfo, by_name[name]):
                    rates.append(drive_wrk(base, by_name[name], short, work).rps)
        paired.append(rounds)
    return paired


# The targets of the performance issue (docs/benchmarks.md): each ratio is the median of the
# rounds, each round's service run back to back with pgbench's.
PGBENCH_FLOORS = {"post_spread": 0.75, "post_spread_outbox": 0.7, "get_page_2": 0.6,
                  "get_page_5000": 0.6, "get_daily": 0.6}
ISSO_FLOOR = 15
P99_OVER_PGBENCH = 1.5
# Service CPU per request to cut by a third from the baseline.
CPU_CUT = {"post_spread": "POST", "get_page_2": "uncached page"}
# The cores the service, PostgreSQL and the load generator share: together they may spend this
# many CPU seconds per second, which bounds every scenario's rate.
CORES = os.cpu_count() or 1


def targets(measured: dict[str, Rounds], isso, rss: float, soak=(),
            baseline: dict[str, Rounds] | None = None) -> list[str]:
    """The targets of the performance issue, checked against this run's medians."""
    rows = []

    def check(target: str, value: str, met: bool) -> None:
        rows.append(f"| {target} | {value} | {'met' if met else '**missed**'} |")

    for name, floor in PGBENCH_FLOORS.items():
        spread = measured[name].ratio() if name in measured else None
        if spread:
            value = spread.text()
            if spread.median < floor:
                value += service_budget(measured[name], floor)
            check(f"{measured[name].title}: ≥ {floor}× pgbench", value, spread.median >= floor)
    if "get_first_page_304" in measured and "get_healthz" in measured:
        value = measured["get_first_page_304"].rps().median / measured["get_healthz"].rps().median
        check("304 revalidation: ≥ 0.8× the /healthz rate", f"{value:.2f}×", value >= 0.8)
    if "post_spread" in measured and "isso_post" in isso:
        value = measured["post_spread"].rps().median / isso["isso_post"].rps
        postgres_ms = measured["post_spread"].median("postgres_cpu_per_k")
        # PostgreSQL's own CPU per submission alone, with nothing else on the machine, caps the rate.
        ceiling = (f"; PostgreSQL's {postgres_ms:.3f} ms of CPU per submission alone caps "
                   f"{CORES} cores at {CORES * 1000 / postgres_ms / isso['isso_post'].rps:.1f}×"
                   if value < ISSO_FLOOR and postgres_ms else "")
        check(f"{measured['post_spread'].title}: ≥ {ISSO_FLOOR}× Isso", f"{value:.1f}×{ceiling}",
              value >= ISSO_FLOOR)
    for rounds in measured.values():
        ours, theirs = rounds.median("p99_ms"), rounds.median("p99_ms", pg=True)
        if ours is not None and theirs:
            check(f"{rounds.title}: p99 ≤ {P99_OVER_PGBENCH}× pgbench's ({theirs:.1f} ms)",
                  f"{ours:.1f} ms ({ours / theirs:.2f}×)", ours <= P99_OVER_PGBENCH * theirs)
    for name, what in CPU_CUT.items():
        if baseline and name in baseline and name in measured:
            before = baseline[name].median("service_cpu_per_k")
            after = measured[name].median("service_cpu_per_k")
            if before and after is not None:
                check(f"service CPU per 1,000 {what} requests: a third less than the baseline "
                      f"({before:.3f} s)", f"{after:.3f} s ({(after / before - 1) * 100:+.0f} %)",
                      after <= before * 2 / 3)
    if soak:
        errors = sum(m.errors for m in soak)
        check("soak: no errors", str(errors), errors == 0)
        drift = soak[-1].p99_ms / soak[0].p99_ms
        check("soak: last minute's p99 within 1.5× of the first's", f"{drift:.2f}×", drift <= 1.5)
        growth = soak[-1].rss_mib / soak[0].rss_mib - 1
        check("soak: RSS growth < 10 %", f"{growth * 100:+.1f} %", growth < 0.10)
    check("peak RSS ≤ 64 MiB", f"{rss:.1f} MiB", rss <= 64)
    return ["Targets (medians of the rounds; in brackets the lowest and highest round):", "",
            "| target | this run | |", "|---|---|---|", *rows, ""]


def service_budget(rounds: Rounds, floor: float) -> str:
    """For a missed ratio: the service's CPU per request that would meet it on this machine, at
    the rate pgbench ran and what PostgreSQL and wrk spent per request in this run (the three
    share the cores, so together they may spend `CORES` seconds per second)."""
    pg_rps = rounds.median("rps", pg=True)
    others = [rounds.median("postgres_cpu_per_k"), rounds.median("load_cpu_per_k")]
    service = rounds.median("service_cpu_per_k")
    if not pg_rps or service is None or None in others or not others[1]:
        return ""
    allowed = CORES * 1000 / (floor * pg_rps)
    return (f"; at {floor}× the three may spend {allowed:.3f} ms per request, which leaves the "
            f"service {max(allowed - sum(others), 0):.3f} ms (it spent {service:.3f})")


def load_baseline(path: Path) -> tuple[str, dict[str, Rounds], int] | None:
    """The baseline's start, rounds, and the version of its pgbench statements."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return (data["started"], {name: Rounds.from_summary(name, rounds)
                              for name, rounds in data["scenarios"].items()},
            data.get("pgbench_statements", 1))


# The version of pgbench's statements: 2 binds what the service binds as parameters and selects
# every column the service reads (version 1, before the performance issue, used literals and 8
# of a page's 18 columns). Ratios of runs with different versions do not compare.
PGBENCH_STATEMENTS = 2


def summary(measured: dict[str, Rounds], started: str) -> dict:
    return {"started": started, "machine": machine(), "pgbench_statements": PGBENCH_STATEMENTS,
            "scenarios": {name: rounds.summary() for name, rounds in measured.items()}}


def chart(measured: dict[str, Rounds], baseline: dict[str, Rounds] | None) -> str:
    """Each scenario's ratio to pgbench (and the 304's to /healthz), before and after."""
    def healthz_ratio(source: dict[str, Rounds]) -> Spread | None:
        if "get_first_page_304" not in source or "get_healthz" not in source:
            return None
        pairs = zip(source["get_first_page_304"].ours, source["get_healthz"].ours)
        return Spread.of([revalidated.rps / healthz.rps for revalidated, healthz in pairs])

    rows = []
    for name, rounds in measured.items():
        after = rounds.ratio()
        if after:
            before = baseline[name].ratio() if baseline and name in baseline else None
            rows.append((f"{rounds.title} / pgbench", PGBENCH_FLOORS.get(name, 0.0), before, after))
    revalidated = healthz_ratio(measured)
    if revalidated:
        rows.append(("304 revalidation / GET /healthz", 0.8,
                     healthz_ratio(baseline) if baseline else None, revalidated))
    return ratio_chart(rows, "Marginalia against the same statements in pgbench (and 304 "
                             "against /healthz)")


def report(args, measured: dict[str, Rounds], isso, rss: float, started: str, soak=(),
           paired=(), baseline: tuple[str, dict[str, Rounds]] | None = None) -> str:
    base_started, base, base_statements = baseline if baseline else ("", None, PGBENCH_STATEMENTS)
    lines = [
        "# Benchmarks",
        "",
        "Reproduce with `python3 bench/run.py` (add `--help` for options). It builds release, starts",
        "the service on a fresh private PostgreSQL cluster, seeds 100,000 reviews on one article and",
        "100 articles of 10 reviews with SQL, then drives each scenario with wrk from a second process.",
        "The same run measures pgbench with the very statements the service issues for the scenario",
        "(prepared, same number of connections) and Isso (`bench/isso.sh`) at the same concurrency.",
        f"Every scenario runs {args.repeats} times, each time back to back with its pgbench counterpart",
        "(the order of the two, and of the scenarios, alternating from round to round), so that the",
        "machine's drift over the run falls on both sides alike: the ratios below are the medians of",
        "the rounds' ratios, with the lowest and highest round in brackets. CPU is read from `/proc`",
        "before and after each run: the service's own threads, and PostgreSQL's postmaster with every",
        "child (backends, autovacuum, WAL and background writers, and the reaped ones); wrk's and",
        "pgbench's from `getrusage` once each has exited; and, from each of the service's threads'",
        "`schedstat`, the time they were runnable but waited for a core.",
        "Raw output of this run: `docs/benchmarks-raw/` (`summary.json` holds every round).",
        "",
        *PREREQUISITES_MD,
        "",
        f"Run {started}, {args.repeats} rounds of {args.duration} s per scenario, "
        f"{args.concurrency} connections, {args.threads} load threads.",
        f"Machine: {machine()}.",
        "",
        "![Each scenario's ratio to pgbench, before and after](benchmarks-ratios.svg)",
        "",
        "| scenario | Marginalia req/s | p50 ms | p99 ms | errors | pgbench tx/s | vs pgbench | Isso req/s | vs Isso |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    scenario_of = {scenario.name: scenario for scenario in args.chosen}
    for name, rounds in measured.items():
        rps = rounds.rps()
        pg_rps = Spread.of([run.rps for run in rounds.pg])
        spread = rounds.ratio()
        isso_name = scenario_of[name].isso
        peer = isso.get(isso_name) if isso_name else None
        lines.append(
            f"| {rounds.title} | {rps.text(0, '')} | {rounds.median('p50_ms'):.2f} | "
            f"{rounds.median('p99_ms'):.2f} | {sum(run.errors for run in rounds.ours)} | "
            + (f"{pg_rps.text(0, '')} | {spread.text()} | " if spread else "– | – | ")
            + (f"{peer.rps:,.0f} | {rps.median / peer.rps:.2f}× |" if peer else "– | – |"))
    lines += ["", "CPU per 1,000 requests (seconds, medians of the rounds): what the service, "
              "PostgreSQL and wrk spend on the scenario, and what PostgreSQL and pgbench spend on "
              "pgbench's transactions of the same statements. The three share the machine, so "
              f"their sum bounds the rate: {CORES} cores give at most {CORES:,} × 1,000 / sum "
              "requests per second. *Waiting*: of the time the service's threads were runnable, "
              "the share they spent waiting for a core.", "",
              "| scenario | service | PostgreSQL | wrk | sum | at most req/s | waiting "
              "| PostgreSQL under pgbench | pgbench | sum |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rounds in measured.items():
        ours = [rounds.median(key) for key in ("service_cpu_per_k", "postgres_cpu_per_k",
                                               "load_cpu_per_k")]
        theirs = ([rounds.median(key, pg=True) for key in ("postgres_cpu_per_k", "load_cpu_per_k")]
                  if rounds.pg else [])
        lines.append(f"| {rounds.title} | " + " | ".join(f"{value:.3f}" for value in ours)
                     + f" | {sum(ours):.3f} | "
                     + (f"{CORES * 1000 / sum(ours):,.0f}" if sum(ours) else "–")
                     + f" | {rounds.median('service_waiting_share') * 100:.0f} % | "
                     + (" | ".join(f"{value:.3f}" for value in theirs) + f" | {sum(theirs):.3f} |"
                        if theirs else "– | – | – |"))
    if base:
        lines += ["", f"Before and after: the baseline is the first run of the performance issue "
                  f"({base_started}, `docs/benchmarks-baseline.json`, recorded with "
                  "`--record-baseline`)."
                  + ("" if base_statements == PGBENCH_STATEMENTS else
                     " Its pgbench read statements were written with literals and, for pages, 8 of "
                     "the 18 columns the service reads; since then they bind the same parameters "
                     "as the service (the same generic plans) and select every column. So the "
                     "reads' ratios before and after do not compare; their CPU per request does."),
                  "",
                  "| scenario | req/s before → after | vs pgbench before → after | service CPU s / 1,000 before → after | change |",
                  "|---|---|---|---|---|"]
        for name, rounds in measured.items():
            if name not in base:
                continue
            old = base[name]
            before_cpu, after_cpu = (old.median("service_cpu_per_k"),
                                     rounds.median("service_cpu_per_k"))
            old_ratio, new_ratio = old.ratio(), rounds.ratio()
            lines.append(
                f"| {rounds.title} | {old.rps().median:,.0f} → {rounds.rps().median:,.0f} | "
                + (f"{old_ratio.median:.2f}× → {new_ratio.median:.2f}× | " if old_ratio and new_ratio else "– | ")
                + f"{before_cpu:.3f} → {after_cpu:.3f} | "
                + (f"{(after_cpu / before_cpu - 1) * 100:+.0f} % |" if before_cpu else "– |"))
    lines += site_pairs_section(measured, paired)
    lines += ["", f"Peak RSS of the service over the whole run: **{rss:.1f} MiB**.", ""]
    if soak:
        lines += [f"Soak: the mixed workload for {len(soak)} minutes at about 70 % of its peak rate "
                  "(each connection pausing between requests), one wrk run per minute:", "",
                  "| minute | req/s | p99 ms | errors | service RSS MiB | service CPU ms/request "
                  "| PostgreSQL CPU ms/request | checkpoints so far | WAL bytes/request "
                  "| full-page images/request |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {minute} | {m.rps:,.0f} | {m.p99_ms:.2f} | {m.errors} | {m.rss_mib:.1f} "
                  f"| {m.service_cpu_ms:.3f} | {m.postgres_cpu_ms:.3f} | {m.checkpoints} "
                  f"| {m.wal_bytes_per_request:,.0f} | {m.full_page_images_per_request:.3f} |"
                  for minute, m in enumerate(soak, start=1)]
        lines.append("")
    lines += targets(measured, isso, rss, soak, base)
    with_pg = [rounds for rounds in measured.values() if rounds.pg]
    if with_pg:
        lines += ["pgbench latencies for the same statements (ms, medians of the rounds):", "",
                  "| scenario | p50 | p99 |", "|---|---|---|"]
        lines += [f"| {r.title} | {r.median('p50_ms', pg=True):.2f} | {r.median('p99_ms', pg=True):.2f} |"
                  for r in with_pg]
        lines.append("")
    profiles = sorted(FLAMEGRAPHS.glob("*.svg"))
    if profiles:
        lines += ["## Profiles", "",
                  "Flamegraphs of the service's CPU per scenario, from the latest profiled run only "
                  "(`python3 bench/run.py --only <scenarios> --no-pgbench --no-isso --soak 0 "
                  "--profile`, which replaces them: perf at 499 Hz with DWARF unwinding, so a plain "
                  "release build will do; `cargo install inferno` draws them). Sampling slows the "
                  "service, so profiled runs are never the recorded numbers above.", "",
                  "- " + ", ".join(f"[{path.stem}](flamegraphs/{path.name})" for path in profiles), ""]
    if isso:
        lines += ["Isso latencies (ms): " + ", ".join(
            f"{r.name} p50 {r.p50_ms:.2f} / p99 {r.p99_ms:.2f} ({r.errors} errors)" for r in isso.values()), ""]
    return "\n".join(lines)


def site_pairs_section(measured: dict[str, Rounds], paired) -> list[str]:
    present = [(what, measured[one], measured[four]) for what, one, four in SITE_PAIRS
               if one in measured and four in measured]
    if not present:
        return []
    rounds_text = (f"The rows above, then {len(paired[0].one)} alternating rounds of {PAIR_SECONDS} s "
                   "of each, whose summed rates are the ratio the acceptance bar (within 5 %) is "
                   "held to:" if paired else "The medians of the rows above (no alternating rounds "
                   "in this run, `--site-pair-rounds 0`):")
    lines = ["", "Four sites against one, in this run (each request of a four-site row goes to one "
             f"of four sites at random). {rounds_text}", "",
             "| load | rows above: one / four req/s | ratio | rounds: one site req/s | rounds: four sites req/s | rounds: four / one |",
             "|---|---|---|---|---|---|"]
    rounds_of = {rounds.what: rounds for rounds in paired}
    for what, one, four in present:
        rounds = rounds_of.get(what)
        listed = (lambda rates: " · ".join(f"{rate:,.0f}" for rate in rates))
        one_rps, four_rps = one.rps().median, four.rps().median
        lines.append(
            f"| {what} | {one_rps:,.0f} / {four_rps:,.0f} | {four_rps / one_rps:.3f} | "
            + (f"{listed(rounds.one)} | {listed(rounds.four)} | **{rounds.ratio:.3f}** |"
               if rounds else "– | – | – |"))
    lines += ["", "Every row runs under the sites' row-level security (the service works as a role the "
              "policies hold). A four-site row routes the `/sites/{site}` prefix as the unprefixed "
              "path, and its requests take pooled connections by site: an idle connection bound to "
              "the request's site first, else a new one while the pool may open one, else one of "
              "another site, rebound by a `SET marginalia.site` sent ahead of the request's own "
              "statement (no round trip waited for). The four-site POST row spreads over 250 "
              "articles per site, the same 1,000 articles' worth of rows as the single-site row."]
    return lines


# What the run needs and how to get it on Debian or Ubuntu (docs/benchmarks.md lists the same).
APT = "apt-get install -y"


PREREQUISITES_MD = [
    "Prerequisites (checked before anything starts; the script names each missing one with its",
    "install command and exits with status 1):",
    "",
    "| program | needed for | Debian / Ubuntu |",
    "|---|---|---|",
    "| `cargo` | building the service in release | rustup, or `apt-get install -y cargo` |",
    "| `wrk` | driving every HTTP scenario | `apt-get install -y wrk` |",
    "| `psql` | seeding | `apt-get install -y postgresql-client` |",
    "| `initdb`, `pg_ctl`, `postgres` (on `PATH` or in `/usr/lib/postgresql/*/bin`) | the service's "
    "private cluster | `apt-get install -y postgresql` |",
    "| `pgbench` (not with `--no-pgbench`) | the database baseline | `apt-get install -y postgresql` |",
    "| `curl`, Python's `venv` and `ensurepip` (not with `--no-isso`) | `bench/isso.sh`, which "
    "installs Isso and gunicorn from PyPI into a venv | `apt-get install -y curl python3-venv` |",
    "| `perf`, `inferno-collapse-perf`, `inferno-flamegraph` (only with `--profile`) | flamegraphs "
    "| `apt-get install -y linux-perf` (Ubuntu: `linux-tools-generic`), `cargo install inferno` |",
]


def missing_prerequisites(args) -> list[str]:
    """Every missing program the chosen run needs, each with how to install it, found before
    anything starts (a run that died in its tenth minute for want of wrk helped nobody)."""
    def postgres_server() -> bool:
        names = ("initdb", "pg_ctl", "postgres")
        if all(shutil.which(name) for name in names):
            return True
        return any(all((Path(d) / name).is_file() for name in names)
                   for d in sorted(Path("/").glob("usr/lib/postgresql/*/bin")))

    def python_venv() -> bool:
        found = subprocess.run([sys.executable, "-c", "import venv, ensurepip"],
                               capture_output=True).returncode == 0
        return found

    needs = [
        (args.binary is not None or shutil.which("cargo") is not None,
         "cargo (builds the service; or pass --binary)",
         "the Rust toolchain: rustup, or `apt-get install -y cargo`"),
        (args.binary is None or args.binary.is_file(), f"the build --binary names ({args.binary})",
         "cargo build --release --bin marginalia"),
        (shutil.which("wrk") is not None, "wrk (drives every HTTP scenario)", f"{APT} wrk"),
        (shutil.which("psql") is not None, "psql (seeds the database)", f"{APT} postgresql-client"),
        (postgres_server(), "PostgreSQL server programs initdb, pg_ctl, postgres (the service's "
         "private cluster)", f"{APT} postgresql"),
    ]
    if not args.no_pgbench:
        needs.append((shutil.which("pgbench") is not None, "pgbench (the database baseline; "
                      "or pass --no-pgbench)", f"{APT} postgresql postgresql-client"))
    if not args.no_isso:
        needs += [
            (shutil.which("curl") is not None, "curl (bench/isso.sh waits for Isso with it; or "
             "pass --no-isso)", f"{APT} curl"),
            (python_venv(), "Python's venv and ensurepip (bench/isso.sh installs Isso from PyPI "
             "into a venv; or pass --no-isso)", f"{APT} python3-venv"),
        ]
    if args.profile:
        needs += [
            (shutil.which("perf") is not None, "perf (--profile samples the service)",
             f"{APT} linux-perf  (Ubuntu: linux-tools-generic)"),
            (all(shutil.which(name) for name in ("inferno-collapse-perf", "inferno-flamegraph")),
             "inferno-collapse-perf and inferno-flamegraph (--profile draws flamegraphs)",
             "cargo install inferno"),
        ]
    return [f"  - {what}\n      install: {how}" for found, what, how in needs if not found]


def drive_rounds(base: str, conninfo: str, chosen: list[Scenario], args, work: Path,
                 meter: CpuMeter, service_pid: int) -> dict[str, Rounds]:
    """Every chosen scenario `args.repeats` times: wrk against the service, back to back with
    pgbench on the same statements. Odd rounds reverse both the order of the scenarios and which
    of the pair goes first, so that a slow stretch of the machine (autovacuum after the writes, a
    checkpoint) falls on both sides."""
    measured = {scenario.name: Rounds(scenario.name, scenario.title) for scenario in chosen}
    for round_index in range(args.repeats):
        forward = round_index % 2 == 0
        for scenario in chosen if forward else list(reversed(chosen)):
            rounds = measured[scenario.name]
            sides = ["wrk", "pgbench"] if forward else ["pgbench", "wrk"]
            for side in sides:
                if side == "wrk":
                    print(f"round {round_index + 1}: wrk {scenario.name}…", flush=True)
                    with prepared(conninfo, scenario), profiled(args, scenario, service_pid, work):
                        rounds.ours.append(metered(meter, lambda: drive_wrk(base, scenario, args, work)))
                elif scenario.pgbench and not args.no_pgbench:
                    print(f"round {round_index + 1}: pgbench {scenario.name}…", flush=True)
                    with prepared(conninfo, scenario):
                        rounds.pg.append(metered(meter, lambda: drive_pgbench(conninfo, scenario, args, work)))
    return measured


# The sections other scripts write into docs/benchmarks.md (bench/nodes.py, live.py, readers.py,
# import.py …) start at the first level-two heading that is not this script's own.
OWN_SECTIONS = ("## Profiles",)


def write_report(text: str, svg: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    kept = ""
    if path.exists():
        current = path.read_text()
        starts = [m.start() for m in re.finditer(r"^(## .*|<!-- .* -->)$", current, re.M)
                  if not m.group(0).startswith(OWN_SECTIONS)]
        kept = current[starts[0]:] if starts else ""
    path.write_text(text.rstrip("\n") + "\n" + ("\n" + kept if kept else ""))
    CHART.write_text(svg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads and pgbench jobs")
    parser.add_argument("--no-isso", action="store_true", help="skip the Isso comparison")
    parser.add_argument("--no-nodes", action="store_true",
                        help="skip the several-nodes comparison (bench/nodes.py: one node against "
                             "three behind HAProxy, replica reads, synchronous replication)")
    parser.add_argument("--no-live", action="store_true",
                        help="skip the idle live streams (bench/live.py: 10,000 streams on one "
                             "node, its memory and CPU at rest)")
    parser.add_argument("--no-import", action="store_true",
                        help="skip the import of 1,000,000 Disqus posts (bench/import.py, about "
                             "five minutes)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench comparison")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds per scenario, each interleaved with its pgbench counterpart "
                             "(1 with --profile)")
    parser.add_argument("--profile", action="store_true",
                        help="record each wrk scenario's service CPU with perf and draw a "
                             "flamegraph per scenario into docs/flamegraphs, replacing the ones "
                             "there (needs perf and inferno: `cargo install inferno`)")
    parser.add_argument("--stacks", type=Path, metavar="DIR",
                        help="with --profile, also write each scenario's folded stacks to "
                             "DIR/<scenario>.folded (one line per stack and its sample count: "
                             "what to grep or sum when a flamegraph's pruned frames hide a cost)")
    parser.add_argument("--site-pair-rounds", type=int, default=PAIR_ROUNDS,
                        help="alternating rounds of the four-sites-against-one pairs (0: none)")
    parser.add_argument("--record-baseline", action="store_true",
                        help="also keep this run's rounds as docs/benchmarks-baseline.json, what "
                             "later runs are compared with (before/after, the chart)")
    parser.add_argument("--soak", type=int, default=10,
                        help="minutes of the mixed workload at 70 %% of its peak after the scenarios "
                             "(0: none)")
    parser.add_argument("--rate-limit", type=int, default=0,
                        help="MARGINALIA_RATE_LIMIT_REVIEWS for the run (0: off); a huge value "
                             "measures the limiter's cost without refusing anything")
    parser.add_argument("--binary", type=Path,
                        help="run this build of marginalia instead of building the tree's "
                             "(bench/ab.py compares two builds this way)")
    parser.add_argument("--summary", type=Path,
                        help="also write the run's rounds (summary.json's content) to this file")
    parser.add_argument("--write", action="store_true",
                        help="write docs/benchmarks.md and the raw output (default for a full run)")
    args = parser.parse_args()
    if args.stacks and not args.profile:
        parser.error("--stacks writes the stacks --profile records: pass --profile too")
    missing = missing_prerequisites(args)
    if missing:
        sys.exit("bench/run.py cannot start; missing:\n" + "\n".join(missing)
                 + "\n(see docs/benchmarks.md, Prerequisites)")
    full_run = not (args.no_isso or args.no_pgbench or args.only or args.profile or args.binary)
    if args.profile:
        args.repeats = 1
        shutil.rmtree(FLAMEGRAPHS, ignore_errors=True)
        FLAMEGRAPHS.mkdir(parents=True)
    write = args.write or full_run

    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.binary:
        binary = args.binary.resolve()
    else:
        print("building release…", flush=True)
        run(["cargo", "build", "--release", "--quiet", "--bin", "marginalia"], cwd=ROOT)
        binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "marginalia"

    # Whatever proxy the machine sets for the package registries, the bench's own requests (urllib
    # here, curl in isso.sh) go straight to loopback.
    no_proxy = ",".join(filter(None, ["127.0.0.1,localhost,::1", os.environ.get("NO_PROXY")]))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = no_proxy

    work = Path(tempfile.mkdtemp(prefix="marginalia-bench-"))
    work.chmod(0o755)  # as root, PostgreSQL runs as `postgres` and must reach its directory
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    # The load comes from one address, 127.0.0.1: the per-address rate limits stay off unless a
    # scenario is about them (the rate limiter's own cost is measured separately, see --limits).
    metrics_url = f"http://127.0.0.1:{free_port()}/metrics"
    env.update(MARGINALIA_DATA_DIR=str(work / "data"), MARGINALIA_BIND=f"127.0.0.1:{port}",
               # The webhook worker may send only to loopback; what it refuses is counted, and
               # checked at the end (the metrics on an address of their own, without a key).
               MARGINALIA_WEBHOOK_LOOPBACK_ONLY="true",
               MARGINALIA_METRICS_BIND=metrics_url.removeprefix("http://").removesuffix("/metrics"),
               RUST_LOG="warn", MARGINALIA_RATE_LIMIT_REVIEWS=str(args.rate_limit),
               MARGINALIA_RATE_LIMIT_REACTIONS="0",
               # The rules a newsroom runs: every submission is checked against 50 terms.
               MARGINALIA_BANNED_TERMS_FILE=str(ROOT / "bench" / "banned-terms.txt"),
               # Only the gzip scenario asks for it (wrk sends no Accept-Encoding otherwise).
               MARGINALIA_COMPRESSION="true")
    service_log = open(work / "service.log", "w")
    service = subprocess.Popen([str(binary), "serve"], env=env, stdout=service_log, stderr=service_log)
    try:
        wait_ready(base, service)
        conninfo = f"host={work / 'data' / 'postgres'} port=5432 user=postgres dbname=marginalia"
        print("seeding…", flush=True)
        cursors = seed(conninfo)
        # A cursor is bound to its site: each site's own, to the same position.
        site_cursors = {site: cursor_of_page(conninfo, 2, site)[0] for site in FOUR_SITES}
        chosen = scenarios(cursors, site_cursors, binary)
        if args.only:
            names = set(args.only.split(","))
            chosen = [s for s in chosen if s.name in names]
        args.chosen = chosen
        meter = CpuMeter(service.pid, work / "data" / "postgres" / "postmaster.pid")
        measured = drive_rounds(base, conninfo, chosen, args, work, meter, service.pid)
        paired = drive_site_pairs(base, chosen, args, work, conninfo)
        soak = []
        if args.soak and "mixed" in measured:
            mixed = measured["mixed"]
            peak = Run("mixed", mixed.rps().median, mixed.median("p50_ms"), mixed.median("p99_ms"))
            soak = drive_soak(base, peak, args, work, service.pid, meter, conninfo)
        rss = peak_rss_mib(service.pid)
        check_loopback_guard(metrics_url, work)
    finally:
        service.terminate()
        service.wait(timeout=60)
    isso = {}
    if not args.no_isso:
        print("isso…", flush=True)
        isso_env = dict(os.environ, CONCURRENCY=str(args.concurrency), DURATION=str(args.duration),
                        BENCH_WORK=str(ROOT / "target" / "bench-isso"))
        isso_output = run(["bash", str(ROOT / "bench" / "isso.sh")], env=isso_env).stdout
        isso = parse_isso(isso_output)

    recorded = summary(measured, started)
    if args.summary:
        args.summary.write_text(json.dumps(recorded, indent=1) + "\n")
    if args.record_baseline:
        BASELINE.write_text(json.dumps(recorded, indent=1) + "\n")
    baseline = load_baseline(BASELINE)
    text = report(args, measured, isso, rss, started, soak, paired, baseline)
    print(text)
    if write:
        write_report(text, chart(measured, baseline[1] if baseline else None))
        shutil.rmtree(RAW_DIR, ignore_errors=True)
        RAW_DIR.mkdir(parents=True)
        (RAW_DIR / "summary.json").write_text(json.dumps(recorded, indent=1) + "\n")
        for minute, result in enumerate(soak, start=1):
            (RAW_DIR / f"wrk-soak-{minute:02d}.txt").write_text(result.raw)
        for name, rounds in measured.items():
            for number, result in enumerate(rounds.ours, start=1):
                (RAW_DIR / f"wrk-{name}-{number}.txt").write_text(result.raw)
            for number, result in enumerate(rounds.pg, start=1):
                (RAW_DIR / f"pgbench-{name}-{number}.txt").write_text(result.raw)
        if isso:
            (RAW_DIR / "isso.txt").write_text(isso_output)
    shutil.rmtree(work, ignore_errors=True)
    if not args.no_nodes:
        if shutil.which("haproxy"):
            # After the table is written: it appends its own section to docs/benchmarks.md.
            subprocess.run([sys.executable, str(ROOT / "bench" / "nodes.py"), "--no-build",
                            "--binary", str(binary)] + (["--write"] if write else []), check=True)
        else:
            print("several nodes: skipped, haproxy is not installed (apt-get install haproxy)")
    if not args.no_live:
        # After the table too: it puts its own section in docs/benchmarks.md.
        subprocess.run([sys.executable, str(ROOT / "bench" / "live.py"), "--no-build",
                        "--binary", str(binary)] + (["--write"] if write else []), check=True)
    if not args.no_import:
        # The same: bench/import.py replaces its "Importing" section.
        subprocess.run([sys.executable, str(ROOT / "bench" / "import.py")]
                       + (["--write"] if write else []), check=True)


if __name__ == "__main__":
    sys.exit(main())
