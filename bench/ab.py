#!/usr/bin/env python3
"""Two builds of marginalia against each other, in interleaved pairs.

One run of a scenario on this kind of machine can move by 40 % from the next (docs/benchmarks.md),
so a change is measured by running both builds back to back, several times, alternating which goes
first, and comparing medians. Each half of a pair is one `bench/run.py --binary <build>` round
(fresh cluster, same seed, same scenarios, no pgbench, nothing written to docs/).

    git worktree add /tmp/before <commit>
    (cd /tmp/before && CARGO_TARGET_DIR=/tmp/before-target cargo build --release --bin marginalia)
    cargo build --release --bin marginalia
    python3 bench/ab.py --before /tmp/before-target/release/marginalia \\
        --after target/release/marginalia --only get_page_2,post_spread

Prints a Markdown table: each scenario's median requests per second, CPU seconds per 1,000
requests of the service and of PostgreSQL, p99 and errors, before and after, and every pair's
values.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_round(binary: Path, args, summary: Path) -> dict:
    """One round of the scenarios on `binary`: each scenario's rps and service CPU per 1,000."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--binary", str(binary),
                    "--only", args.only, "--duration", str(args.duration), "--repeats", "1",
                    "--no-pgbench", "--no-isso", "--soak", "0", "--no-nodes", "--no-live",
                    "--no-import", "--site-pair-rounds", "0", "--summary", str(summary)],
                   check=True, stdout=subprocess.DEVNULL)
    scenarios = json.loads(summary.read_text())["scenarios"]
    measured = {}
    for name, rounds in scenarios.items():
        ours = rounds["ours"][0]
        requests = max(ours["requests"], 1)
        measured[name] = Measured(rounds["title"], ours["rps"],
                                  1000 * ours["service_cpu_s"] / requests,
                                  1000 * ours["postgres_cpu_s"] / requests,
                                  ours["p99_ms"], ours["errors"])
    return measured


@dataclass
class Measured:
    """One scenario in one round: what the table compares."""
    title: str
    rps: float
    service_cpu_per_k: float
    postgres_cpu_per_k: float
    p99_ms: float
    errors: int


def compared(rounds: dict[str, list], name: str, value: str, fmt: str) -> str:
    """`value`'s medians before → after, each pair's value in brackets."""
    values = {side: [getattr(r[name], value) for r in rounds[side]] for side in rounds}
    listed = (lambda side: " · ".join(fmt.format(v) for v in values[side]))
    return (f"{fmt.format(statistics.median(values['before']))} → "
            f"{fmt.format(statistics.median(values['after']))} "
            f"({listed('before')} → {listed('after')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the build to compare with")
    parser.add_argument("--after", type=Path, required=True, help="the build being measured")
    parser.add_argument("--only", required=True, help="comma-separated scenario names (bench/run.py)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs of rounds")
    parser.add_argument("--duration", type=int, default=12, help="seconds per scenario")
    args = parser.parse_args()
    for build in (args.before, args.after):
        if not build.is_file():
            sys.exit(f"bench/ab.py: no build at {build}")

    rounds: dict[str, list] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="marginalia-ab-") as work:
        for pair in range(args.pairs):
            # Alternating which goes first, so that the machine's drift falls on both alike.
            order = ["before", "after"] if pair % 2 == 0 else ["after", "before"]
            for side in order:
                build = args.before if side == "before" else args.after
                print(f"pair {pair + 1} of {args.pairs}: {side}…", flush=True)
                rounds[side].append(one_round(build, args, Path(work) / f"{side}-{pair}.json"))

    print(f"\n{args.pairs} interleaved pairs, {args.duration} s per scenario; medians "
          f"(every pair's value in brackets).\n")
    print("| scenario | req/s before → after | service CPU s / 1,000 | change | "
          "PostgreSQL CPU s / 1,000 | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for name in rounds["after"][0]:
        title = rounds["after"][0][name].title
        cpu = {side: statistics.median(r[name].service_cpu_per_k for r in rounds[side])
               for side in rounds}
        errors = {side: sum(r[name].errors for r in rounds[side]) for side in rounds}
        print(f"| {title} | {compared(rounds, name, 'rps', '{:,.0f}')} | "
              f"{compared(rounds, name, 'service_cpu_per_k', '{:.3f}')} | "
              f"{100 * (cpu['after'] - cpu['before']) / cpu['before']:+.0f} % | "
              f"{compared(rounds, name, 'postgres_cpu_per_k', '{:.3f}')} | "
              f"{compared(rounds, name, 'p99_ms', '{:.1f}')} | "
              f"{errors['before']} → {errors['after']} |")


if __name__ == "__main__":
    main()
