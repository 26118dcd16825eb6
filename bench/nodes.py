#!/usr/bin/env python3
"""Several nodes, measured: one node against three behind HAProxy, public reads from the replica
against the primary, and what synchronous replication costs a write. The topology is the one
`tests/cluster/cluster.py` starts (a primary, a streaming replica, three nodes, HAProxy), all on
this machine's loopback.

    python3 bench/nodes.py            # print the table
    python3 bench/nodes.py --write    # and put it in docs/benchmarks.md ("Several nodes")

Every process shares the machine's cores: on two cores, three nodes, HAProxy, two PostgreSQL
servers and wrk compete for the same CPU, so the table shows what the extra hops cost, not what
three machines would gain (see docs/deployment.md for the sizing that follows).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(ROOT / "bench"))

from cluster import Cluster, request  # noqa: E402
from run import parse_wrk  # noqa: E402

BEGIN = "<!-- several nodes: written by bench/nodes.py -->"
END = "<!-- end of several nodes -->"
SEEDED = "seeded"
SEED_REVIEWS = 200

POST_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"rating": %d, "body": "A benchmark review %d with a realistic length for what readers write."}', counter % 5 + 1, counter)
  return wrk.format("POST", "/v1/articles/spread-" .. (counter % 1000) .. "/reviews",
    {["content-type"] = "application/json", ["idempotency-key"] = string.format("%d-%d-%d", os.time(), math.random(1, 1000000000), counter)}, body)
end
"""


def wrk(port: int, path: str, lua: str | None, args, work: Path, name: str):
    cmd = ["wrk", "-t", "2", "-c", str(args.concurrency), "-d", f"{args.duration}s", "--latency",
           "--timeout", "5s"]
    if lua:
        script = work / f"{name}.lua"
        script.write_text(lua)
        cmd += ["-s", str(script)]
    output = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], text=True,
                            capture_output=True, check=True).stdout
    return parse_wrk(name, output)


def seed(port: int) -> None:
    for n in range(SEED_REVIEWS):
        answer = request(port, "POST", f"/v1/articles/{SEEDED}/reviews",
                         {"rating": n % 5 + 1, "body": f"Seeded review {n}, long enough to read."},
                         headers={"idempotency-key": str(uuid.uuid4())})
        assert answer.status == 201, answer.body


def measure(args) -> list[tuple[str, str, object]]:
    work = Path(tempfile.mkdtemp(prefix="marginalia-bench-nodes-"))
    work.chmod(0o755)
    # Uncached: every read reaches PostgreSQL, which is what the replica takes over.
    cluster = Cluster(work, args.binary, sync=False,
                      overrides={"MARGINALIA_READ_CACHE_MS": "0", "RUST_LOG": "warn"})
    rows = []
    try:
        cluster.start()
        a = cluster.node("a")
        primary_only = cluster.start_extra_node("p", DATABASE_READ_URL="")
        seed(a.port)
        page = f"/v1/articles/{SEEDED}/reviews?limit=20&sort=highest"
        assert request(a.port, "GET", page).status == 200, "the page answers"
        plan = [
            ("POST, one node", "a", a.port, "/", POST_LUA),
            ("POST, one node without replicas (no write position asked)", "p",
             primary_only.port, "/", POST_LUA),
            ("POST, three nodes behind HAProxy", "haproxy", cluster.haproxy_port, "/", POST_LUA),
            ("GET page (uncached), one node, reads on the replica", "a", a.port, page, None),
            ("GET page (uncached), one node, reads on the primary", "p", primary_only.port, page,
             None),
            ("GET page (uncached), three nodes behind HAProxy, replica", "haproxy",
             cluster.haproxy_port, page, None),
        ]
        for title, target, port, path, lua in plan:
            print(f"wrk {title}…", flush=True)
            rows.append((title, target, wrk(port, path, lua, args, work, re.sub(r"\W+", "-", title))))
        cluster.set_synchronous(True)
        print("wrk POST, one node, synchronous replication…", flush=True)
        rows.append(("POST, one node, synchronous replication", "a",
                     wrk(a.port, "/", POST_LUA, args, work, "post-sync")))
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def table(rows, args) -> str:
    lines = [
        BEGIN,
        "## Several nodes",
        "",
        f"`python3 bench/nodes.py --write`: wrk, 2 threads, {args.concurrency} connections, "
        f"{args.duration} s per row; a primary, a streaming replica (asynchronous unless the row "
        "says otherwise), three nodes (one HTTP worker, 8 database connections each) and HAProxy "
        "on this machine's loopback, read cache off.",
        "",
        "| scenario | through | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for title, target, result in rows:
        if result.errors:
            raise SystemExit(f"{title}: {result.errors} errors; nothing written\n{result.raw}")
        lines.append(f"| {title} | {target} | {result.rps:,.0f} | {result.p50_ms:.1f} | "
                     f"{result.p99_ms:.1f} | {result.errors} |")
    rates = {title: result.rps for title, _, result in rows}
    sync = rates["POST, one node, synchronous replication"] / rates["POST, one node"]
    lines += [
        "",
        f"Synchronous replication: {sync:.2f}× the asynchronous write rate on one node.",
        "",
        "What two shared cores can and cannot show: every process here competes for the same two "
        "cores, so three nodes cannot serve more than one (they add HAProxy's hop and split the "
        "same CPU); the rows measure the cost of the hops and of synchronous commit, not the gain "
        "of more machines. On separate machines each node brings its own cores and the database "
        "becomes the limit (docs/deployment.md, \"Sizing\").",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "marginalia"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "marginalia"],
                       cwd=ROOT, check=True)
    text = table(measure(args), args)
    print(text)
    if args.write:
        path = ROOT / "docs" / "benchmarks.md"
        current = path.read_text()
        if BEGIN in current:
            before, rest = current.split(BEGIN, 1)
            after = rest.split(END, 1)[1]
            current = before + text + after
        else:
            current = current.rstrip("\n") + "\n\n" + text + "\n"
        path.write_text(current)


if __name__ == "__main__":
    main()
