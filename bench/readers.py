#!/usr/bin/env python3
"""What a signed-in reader costs a submission: the same POST of a review over HTTP, anonymous and
with a `Marginalia-Reader` token (HS256, checked on every request) on a site with a trust policy
(`approvals_to_trust: 3`), so that each signed-in submission also reads the reader's standing
(suspension, whether 3 of their reviews are published) in one statement. One reader has 10,000 published
reviews already (the count must stop at 3, not read them all); 200 others are new (the count must
not scan the table looking for theirs). Rounds alternate, so the machine's drift falls on all.

    python3 bench/readers.py [--rounds 3] [--duration 10] [--write]

Needs target/release/marginalia (cargo build --release), wrk (apt-get install -y wrk) and
PostgreSQL's server programs. Everything runs on 127.0.0.1; the webhook and mail workers are off.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(ROOT / "bench"))

from cluster import as_postgres, free_port, postgres_bin  # noqa: E402
from run import parse_wrk, wait_ready  # noqa: E402

BINARY = ROOT / "target" / "release" / "marginalia"
SECRET = "bench-readers-secret-shared-with-the-newsroom-login"
PROLIFIC_REVIEWS = 10_000
# Other signed-in readers with a few reviews each: the site's statistics then look like a real
# site's, where no reader owns most reviews.
OTHER_READERS = 5_000
ARTICLES = 100
SECTION = "## Signed-in readers on the write path"
ONE_READER = "signed in: one reader with 10,000 published reviews"
NEW_READERS = "signed in: 200 new readers (their reviews wait)"


def token(sub: str) -> str:
    """An HS256 reader token for the default site, valid for an hour."""
    def part(value: dict) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    claims = {"sub": sub, "aud": "marginalia:default", "exp": int(time.time()) + 3600,
              "name": "Bench Reader", "badges": ["subscriber"]}
    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def lua(reader_tokens: list[str] | None) -> str:
    """A wrk script posting a review to one of the articles, with one of `reader_tokens`."""
    tokens = ""
    header = ""
    if reader_tokens:
        tokens = f"local tokens = {{{', '.join(json.dumps(t) for t in reader_tokens)}}}\n"
        header = '  wrk.headers["Marginalia-Reader"] = tokens[math.random(1, #tokens)]\n'
    body = json.dumps({"rating": 4, "body": "A benchmark review with a realistic length for "
                       "what readers write under an article."})
    return (f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"local body = {json.dumps(body)}\n{tokens}"
            f"request = function()\n{header}  return wrk.format(nil, \"/v1/articles/bench-\" .. "
            f"math.random(1, {ARTICLES}) .. \"/reviews\", nil, body)\nend\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    args = parser.parse_args()
    for needed, hint in ((BINARY, "cargo build --release"), (shutil.which("wrk"), "apt-get install -y wrk")):
        if not needed or not Path(needed).exists():
            raise SystemExit(f"missing {needed or 'wrk'}: {hint}")
    work = Path(tempfile.mkdtemp(prefix="marginalia-readers-bench-"))
    os.chmod(work, 0o777)
    pg_port, port = free_port(), free_port()
    data = work / "data"
    url = f"postgres://postgres@127.0.0.1:{pg_port}/postgres"
    subprocess.run(as_postgres([postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True)
    subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-o",
                                f"-p {pg_port} -k {work} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB",
                                "-l", str(work / "log"), "-w", "start"]), check=True, capture_output=True)
    service = None
    try:
        env = {**os.environ, "DATABASE_URL": url, "MARGINALIA_BIND": f"127.0.0.1:{port}",
               "MARGINALIA_RATE_LIMIT_REVIEWS": "0", "MARGINALIA_WEBHOOK_WORKER": "false",
               "RUST_LOG": "warn"}
        env.pop("MARGINALIA_SMTP_URL", None)
        subprocess.run([str(BINARY), "migrate"], env=env, check=True, capture_output=True)
        key = subprocess.run([str(BINARY), "keys", "create", "--name", "bench", "--scope", "admin"],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        service = subprocess.Popen([str(BINARY), "serve"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(work / "service.log", "w"))
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, service)
        settings = {"name": "Default site", "reader_tokens": {
            "secrets": [SECRET], "trust": {"approvals_to_trust": 3}}}
        request = urllib.request.Request(f"{base}/v1/sites/default", method="PUT",
                                         data=json.dumps(settings).encode(),
                                         headers={"Authorization": f"Bearer {key}",
                                                  "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()
        psql = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"]
        seed = (f"SET marginalia.site = 'default'; "
                f"INSERT INTO articles (article_id) SELECT 'bench-' || n FROM generate_series(1, {ARTICLES}) n; "
                f"INSERT INTO reviews (id, article_id, rating, body, status, reader_id, created_at) "
                f"SELECT gen_random_uuid(), 'bench-' || (1 + n % {ARTICLES}), 4, 'an earlier review', "
                f"'published', 'prolific', now() - n * interval '1 minute' "
                f"FROM generate_series(1, {PROLIFIC_REVIEWS}) n; "
                f"INSERT INTO reviews (id, article_id, rating, body, status, reader_id, created_at) "
                f"SELECT gen_random_uuid(), 'bench-' || (1 + n % {ARTICLES}), 4, 'an earlier review', "
                f"'published', 'reader-' || (n % {OTHER_READERS}), now() - n * interval '1 second' "
                f"FROM generate_series(1, {OTHER_READERS * 4}) n; ANALYZE;")
        subprocess.run([*psql, seed], check=True, capture_output=True)
        scripts = {"anonymous": work / "anonymous.lua", ONE_READER: work / "reader.lua",
                   NEW_READERS: work / "new.lua"}
        scripts["anonymous"].write_text(lua(None))
        scripts[ONE_READER].write_text(lua([token("prolific")]))
        scripts[NEW_READERS].write_text(lua([token(f"new-reader-{n}") for n in range(200)]))
        wrk = ["wrk", "-t", "2", "-c", str(args.connections), "--latency"]
        subprocess.run([*wrk, "-d", "3s", "-s", str(scripts["anonymous"]), base], check=True,
                       capture_output=True)  # warm-up
        measured: dict[str, list] = {name: [] for name in scripts}
        for round_number in range(args.rounds):
            for name, script in scripts.items():
                print(f"round {round_number + 1}/{args.rounds}: {name}", flush=True)
                out = subprocess.run([*wrk, "-d", f"{args.duration}s", "-s", str(script), base],
                                     check=True, capture_output=True, text=True).stdout
                result = parse_wrk(name, out)
                if result.errors:
                    raise SystemExit(f"{name}: {result.errors} failed requests\n{out}")
                measured[name].append(result)
        table = report(measured, args)
        print(table)
        if args.write:
            write(table)
    finally:
        if service:
            service.terminate()
            service.wait(timeout=30)
        subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def report(measured: dict[str, list], args) -> str:
    rows = []
    medians = {}
    for name, results in measured.items():
        rates = [r.rps for r in results]
        medians[name] = statistics.median(rates)
        p50 = statistics.median(r.p50_ms for r in results)
        p99 = statistics.median(r.p99_ms for r in results)
        rows.append(f"| {name} | {medians[name]:,.0f} ({min(rates):,.0f}–{max(rates):,.0f}) "
                    f"| {p50:.2f} ms | {p99:.2f} ms |")
    anonymous = medians["anonymous"]
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        SECTION, "",
        f"`python3 bench/readers.py`, run {when}: `POST /v1/articles/{{id}}/reviews` over HTTP "
        f"(wrk, 2 threads, {args.connections} connections, {args.rounds} alternating rounds of "
        f"{args.duration} s, {ARTICLES} articles), anonymous and with an HS256 reader token on a "
        "site whose trust policy counts approvals (`approvals_to_trust: 3`), for a reader with "
        f"{PROLIFIC_REVIEWS:,} published reviews, and for 200 readers new to the site (under the "
        "policy their reviews wait for a moderator).", "",
        "| submission | reviews/s, median (min–max) | p50 | p99 |",
        "|---|---:|---:|---:|",
        *rows, "",
        f"A signed-in submission runs at {medians[ONE_READER] / anonymous:.0%} (one prolific "
        f"reader) and {medians[NEW_READERS] / anonymous:.0%} (new readers) of an anonymous one: "
        "the token's check (HMAC, claims) and one more prepared statement on a second pooled "
        "connection: the reader's suspension, whether they have 3 published reviews (one probe "
        "of `reviews_by_reader` at that offset, however many they have) and, with one review per "
        "article, their review of it (`reviews_one_per_reader`). New readers' reviews also wait "
        "for a moderator, another path through the counters. Anonymous submissions pay nothing "
        "for it. The statement first counted with a raw SQL fragment, which diesel does not "
        "cache: PostgreSQL planned it on every submission (about 0.6 ms with row-level security) "
        "and signed-in submissions ran at 39 % of anonymous ones.", "",
    ])


def write(table: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(table, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + table
    path.write_text(text)


if __name__ == "__main__":
    main()
