#!/usr/bin/env python3
"""What an import of a large Disqus export costs: a generated export of 1,000,000 posts over
10,000 threads (a fifth of them replies, half of those before their parent, 2 % spam, 1 % deleted),
imported with `marginalia import disqus` into a fresh database, then imported again (every post
found unchanged). Reports the time, the rate and the importer's peak resident memory (from the
kernel's accounting of the finished process: `ru_maxrss`, which covers every moment of the run).

    python3 bench/import.py [--posts 1000000] [--threads 10000] [--write]

Needs target/release/marginalia (cargo build --release) and PostgreSQL's server programs.
Everything runs on 127.0.0.1; an import contacts nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

from cluster import as_postgres, free_port, postgres_bin  # noqa: E402

BINARY = ROOT / "target" / "release" / "marginalia"
SECTION = "## Importing"
# The acceptance bound of the importer's memory, whatever the export's size.
RSS_LIMIT_MIB = 200


def generate(path: Path, posts: int, threads: int) -> None:
    """Writes the export: threads first (as Disqus does), then the posts, streamed to disk."""
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n'
                  '<disqus xmlns="http://disqus.com" '
                  'xmlns:dsq="http://disqus.com/disqus-internals">\n')
        for t in range(threads):
            out.write(f'<thread dsq:id="t{t}"><id>story-{t}</id><forum>news</forum>'
                      f'<link>https://news.example.org/{t}/</link>'
                      f'<title>Story {t}</title><createdAt>2019-01-01T00:00:00Z</createdAt></thread>\n')
        for p in range(posts):
            parent = ""
            if p % 10 == 1 and p + threads < posts:
                parent = f'<parent dsq:id="p{p + threads}"/>'  # a reply before its parent
            elif p % 10 == 2 and p >= threads:
                parent = f'<parent dsq:id="p{p - threads}"/>'
            day = dt.datetime(2019, 1, 1) + dt.timedelta(minutes=p)
            out.write(
                f'<post dsq:id="p{p}"><id/><message><![CDATA[<p>Коментар читача номер {p}: '
                f'стаття пояснює, чому це важливо.</p><p>Reader comment {p} &mdash; '
                f'<a href="https://example.org/{p}">source</a></p>]]></message>'
                f'<createdAt>{day:%Y-%m-%dT%H:%M:%SZ}</createdAt>'
                f'<isDeleted>{"true" if p % 100 == 7 else "false"}</isDeleted>'
                f'<isSpam>{"true" if p % 50 == 3 else "false"}</isSpam>'
                f'<author><email>reader{p % 50_000}@example.org</email>'
                f'<name>Reader {p % 50_000}</name><isAnonymous>false</isAnonymous></author>'
                f'<ipAddress>127.0.0.1</ipAddress><thread dsq:id="t{p % threads}"/>{parent}</post>\n')
        out.write("</disqus>\n")


def measured_run(export: Path, env: dict) -> tuple[float, float, dict]:
    """One run: seconds, peak RSS in MiB and the JSON report. The child is waited for with
    `os.wait4`, which hands back its own resource usage."""
    started = time.monotonic()
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        os.execve(str(BINARY), [str(BINARY), "import", "disqus", str(export), "--site", "default",
                                "--json"], env)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    out.seek(0)
    err.seek(0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed: {err.read().decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1024, json.loads(out.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    args = parser.parse_args()
    if not BINARY.exists():
        raise SystemExit(f"missing {BINARY}: cargo build --release")
    work = Path(tempfile.mkdtemp(prefix="marginalia-import-bench-"))
    os.chmod(work, 0o777)
    pg_port = free_port()
    data = work / "data"
    url = f"postgres://postgres@127.0.0.1:{pg_port}/postgres"
    export = work / "disqus.xml"
    print(f"generating {args.posts:,} posts over {args.threads:,} threads", flush=True)
    generate(export, args.posts, args.threads)
    size_mib = export.stat().st_size / 1024 / 1024
    subprocess.run(as_postgres([postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True)
    subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-o",
                                f"-p {pg_port} -k {work} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB",
                                "-l", str(work / "log"), "-w", "start"]), check=True, capture_output=True)
    try:
        env = {**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"}
        subprocess.run([str(BINARY), "migrate"], env=env, check=True, capture_output=True)
        print("first run", flush=True)
        first = measured_run(export, env)
        print("second run (unchanged)", flush=True)
        second = measured_run(export, env)
        table = report(args, size_mib, first, second)
        print(table)
        if max(first[1], second[1]) > RSS_LIMIT_MIB:
            raise SystemExit(f"peak RSS above {RSS_LIMIT_MIB} MiB")
        if args.write:
            write(table)
    finally:
        subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def report(args, size_mib: float, first: tuple, second: tuple) -> str:
    rows = []
    for name, (seconds, rss, result) in (("first run", first), ("second run, nothing changed", second)):
        rows.append(f"| {name} | {seconds:,.0f} s | {args.posts / seconds:,.0f} | {rss:,.0f} MiB | "
                    f"{result['imported']:,} | {result['unchanged']:,} | {result['replies']:,} | "
                    f"{result['orphans']:,} |")
    by_status = ", ".join(f"{status} {count:,}" for status, count in first[2]["by_status"].items())
    skipped = ", ".join(f"{reason} {count:,}" for reason, count in first[2]["skipped"].items()) or "none"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        SECTION, "",
        f"`python3 bench/import.py`, run {now}: a generated Disqus export of {args.posts:,} posts over "
        f"{args.threads:,} threads ({size_mib:,.0f} MiB of XML; a tenth of the posts are replies, half "
        "of those before their parent; 2 % spam, 1 % deleted) imported by the release binary into a "
        "fresh PostgreSQL on the same machine, in batches of 500, then imported again.", "",
        "| run | time | posts/s | peak RSS | imported | unchanged | replies linked | orphans |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows, "",
        f"New reviews by status: {by_status}; skipped: {skipped}. Peak RSS is the importer's own "
        f"(`ru_maxrss` of the finished process), the bound is {RSS_LIMIT_MIB} MiB: the parser holds the "
        "threads (10,000) and at most three batches of posts, whatever the file's size. The time "
        "includes the first pass over the XML (threads may follow their posts), HTML to text, "
        "language detection and, per batch, one lookup of earlier runs' keys, the insert, the "
        "counters and the reply links. The second run reads the same file and writes nothing. The first version ran at 628 "
        "posts/s on 100,000 posts and slowed as the table grew: the counters took one statement per "
        "article and day (now one per table and batch), the lookup of earlier runs' keys kept a plan "
        "made while the table was small (a sequential scan; now planned per batch), and linking "
        "replies scanned every waiting reply (now probed by the batch's keys).", "",
    ])


def write(table: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(table, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + table
    path.write_text(text)


if __name__ == "__main__":
    main()
