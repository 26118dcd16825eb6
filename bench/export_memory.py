#!/usr/bin/env python3
"""Measures the memory of a streamed export: starts `marginalia serve` on a private cluster,
seeds N reviews, creates an admin key, exports them as NDJSON and as CSV while sampling the
service's resident memory, and prints the figures (peak RSS before and during each export).

    python3 bench/export_memory.py [--rows 100000] [--release]

Memory is bounded if the peak during an export stays near the idle figure whatever --rows is
(the export reads batches of 1,000 rows and writes each one out before reading the next)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import ROOT, free_port, psql, run, wait_ready  # noqa: E402


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) / 1024


def export(base: str, key: str, query: str, pid: int) -> tuple[int, float, float]:
    """Streams one export to nowhere; returns bytes received, seconds, and the peak RSS seen."""
    peak = [rss_mib(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.time()
    request = urllib.request.Request(f"{base}/v1/exports/reviews?{query}",
                                     headers={"Authorization": f"Bearer {key}"})
    received = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(1 << 16):
            received += len(chunk)
    took = time.time() - started
    done.set()
    sampler.join()
    return received, took, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--release", action="store_true", help="measure the release build")
    args = parser.parse_args()
    profile = "release" if args.release else "debug"
    command = ["cargo", "build", "--quiet", "--bin", "marginalia"] + (["--release"] if args.release else [])
    run(command, cwd=ROOT)
    binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / profile / "marginalia"
    work = Path(tempfile.mkdtemp(prefix="marginalia-export-"))
    work.chmod(0o755)  # as root, PostgreSQL runs as `postgres` and must reach its directory
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(MARGINALIA_DATA_DIR=str(work / "data"), MARGINALIA_BIND=f"127.0.0.1:{port}",
               RUST_LOG="warn")
    log = open(work / "service.log", "w")
    service = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_ready(base, service)
        conninfo = f"host={work / 'data' / 'postgres'} port=5432 user=postgres dbname=marginalia"
        psql(conninfo, "INSERT INTO articles (article_id) VALUES ('export-article')")
        psql(conninfo, f"""INSERT INTO reviews (id, article_id, rating, title, body, author_name,
            author_email, language, status)
            SELECT gen_random_uuid(), 'export-article', 1 + n % 5, 'Заголовок ' || n,
                   repeat('Відгук читача про статтю, з комами, "лапками" і текстом. ', 6) || n,
                   'Reader ' || n, 'reader' || n || '@example.com', 'uk', 'published'
            FROM generate_series(1, {args.rows}) n""")
        key = run([str(binary), "keys", "create", "--name", "export-bench", "--scope", "admin"],
                  env=env).stdout.strip()
        idle = rss_mib(service.pid)
        print(f"{args.rows:,} reviews, {profile} build; service RSS before: {idle:.1f} MiB")
        for query in ("format=ndjson", "format=csv"):
            received, took, peak = export(base, key, query, service.pid)
            print(f"{query}: {received / 2**20:.1f} MiB in {took:.1f} s "
                  f"({args.rows / took:,.0f} rows/s); peak RSS during export {peak:.1f} MiB "
                  f"(+{peak - idle:.1f} MiB)")
    finally:
        service.terminate()
        service.wait(timeout=60)


if __name__ == "__main__":
    main()
