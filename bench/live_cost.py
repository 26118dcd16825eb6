#!/usr/bin/env python3
"""What the live events cost a submission, in the database: the service's own submission
statement (`marginalia sql submit-review`, as bench/run.py runs it) with and without its
`live_events` row, one client at a time on a private PostgreSQL, in rounds that alternate the
two. Reports the WAL written per submission (deterministic) and the median latency (the
machine's noise shows in the spread; `synchronous_commit = off` so that the disk's flush time,
which swamps both on a shared machine, does not hide the difference).

    python3 bench/live_cost.py [--rounds 3] [--transactions 3000]

Needs target/release/marginalia (cargo build --release), pgbench and PostgreSQL's server
programs. Everything runs on 127.0.0.1 and a private socket directory.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(ROOT / "bench"))

from cluster import as_postgres, free_port, postgres_bin  # noqa: E402
from run import submission_script  # noqa: E402

BINARY = ROOT / "target" / "release" / "marginalia"
# The submission statement's common table expression that writes the live event.
LIVE_CTE = re.compile(r"live AS \(INSERT INTO live_events .*? FROM review\), ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=3000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="marginalia-live-cost-"))
    os.chmod(work, 0o777)
    port = free_port()
    data = work / "data"
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    env = {**os.environ, "PGOPTIONS": "-c marginalia.site=default"}
    subprocess.run(as_postgres([postgres_bin("initdb"), "-D", str(data), "-A", "trust",
                                "-U", "postgres"]), check=True, capture_output=True)
    options = (f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB "
               "-c synchronous_commit=off")
    subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-o", options,
                                "-l", str(work / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        subprocess.run([str(BINARY), "migrate"], env={**os.environ, "DATABASE_URL": url},
                       check=True, capture_output=True)
        with_live = submission_script(BINARY, ":article::text", 1000)
        without = LIVE_CTE.sub("", with_live)
        assert without != with_live, "the statement has no live_events row to leave out"
        scripts = {"without the live row": work / "without.sql", "with it": work / "with.sql"}
        scripts["without the live row"].write_text(without)
        scripts["with it"].write_text(with_live)

        def wal_position() -> int:
            out = subprocess.run(["psql", url, "-X", "-t", "-A", "-c",
                                  "SELECT pg_current_wal_lsn() - '0/0'"],
                                 capture_output=True, text=True, env=env, check=True)
            return int(out.stdout.strip())

        def one_round(script: Path, transactions: int) -> tuple[float, float]:
            before = wal_position()
            out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", "1",
                                  "-t", str(transactions), "-f", str(script), url],
                                 capture_output=True, text=True, env=env, check=True)
            latency = re.search(r"latency average = ([0-9.]+) ms", out.stdout)
            assert latency, out.stdout
            return (wal_position() - before) / transactions, float(latency.group(1))

        one_round(scripts["without the live row"], 500)  # warm-up
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in scripts}
        for _ in range(args.rounds):
            for name, script in scripts.items():
                measured[name].append(one_round(script, args.transactions))
        print("| submission statement | WAL per submission | latency, median (min–max) |")
        print("|---|---:|---:|")
        for name, rounds in measured.items():
            wal = statistics.median(r[0] for r in rounds)
            latencies = [r[1] for r in rounds]
            print(f"| {name} | {wal:,.0f} B | {statistics.median(latencies):.3f} ms "
                  f"({min(latencies):.3f}–{max(latencies):.3f}) |")
    finally:
        subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast",
                                    "stop"]), capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
