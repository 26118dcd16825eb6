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

Prints a Markdown table: each scenario's median requests per second and service CPU seconds per
1,000 requests, before and after, and every pair's values.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
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
        measured[name] = (rounds["title"], ours["rps"],
                          1000 * ours["service_cpu_s"] / max(ours["requests"], 1))
    return measured


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
    print("| scenario | req/s before → after | service CPU s / 1,000 before → after | change |")
    print("|---|---|---|---|")
    for name in rounds["after"][0]:
        title = rounds["after"][0][name][0]
        rps = {side: [r[name][1] for r in rounds[side]] for side in rounds}
        cpu = {side: [r[name][2] for r in rounds[side]] for side in rounds}
        listed = (lambda values, fmt: " · ".join(fmt.format(v) for v in values))
        before_cpu, after_cpu = statistics.median(cpu["before"]), statistics.median(cpu["after"])
        print(f"| {title} | {statistics.median(rps['before']):,.0f} → "
              f"{statistics.median(rps['after']):,.0f} ({listed(rps['before'], '{:,.0f}')} → "
              f"{listed(rps['after'], '{:,.0f}')}) | {before_cpu:.3f} → {after_cpu:.3f} "
              f"({listed(cpu['before'], '{:.3f}')} → {listed(cpu['after'], '{:.3f}')}) | "
              f"{100 * (after_cpu - before_cpu) / before_cpu:+.0f} % |")


if __name__ == "__main__":
    main()
