#!/usr/bin/env python3
"""The end-of-run net of the scripts in tests/ (see service.sh), on the service's Prometheus text.

Fails (exit 1, the reasons on stderr) when:
- `marginalia_http_requests_total` is missing: without it, "no 5xx" would prove nothing;
- any series of it with a 5xx status grew since the baseline (the metrics read when the service
  became ready), or the baseline itself holds a 5xx other than /readyz's 503 while the cluster
  was starting;
- `marginalia_webhook_non_loopback_refused_total` is missing or not 0: the webhook worker tried to
  send outside loopback (it refuses, under MARGINALIA_WEBHOOK_LOOPBACK_ONLY, and counts it).

    check_metrics.py [--label NAME] [--baseline READY.txt] [--loopback-only] END.txt
"""

from __future__ import annotations

import argparse
import re
import sys

HTTP_REQUESTS = "marginalia_http_requests_total"
NON_LOOPBACK = "marginalia_webhook_non_loopback_refused_total"

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Series:
    """Every sample of the text format, keyed by name and sorted labels."""
    series: Series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            continue
        labels = tuple(sorted(LABEL.findall(match["labels"] or "")))
        series[(match["name"], labels)] = float(match["value"])
    return series


def of(series: Series, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (key, labels), value in series.items() if key == name}


def is_5xx(labels: tuple[tuple[str, str], ...]) -> bool:
    return dict(labels).get("status", "").startswith("5")


def describe(labels: tuple[tuple[str, str], ...]) -> str:
    fields = dict(labels)
    return f"{fields.get('method', '?')} {fields.get('route', '?')} -> {fields.get('status', '?')}"


def loopback_problems(end: Series) -> list[str]:
    refused = of(end, NON_LOOPBACK)
    if not refused:
        return [f"{NON_LOOPBACK} is missing from the metrics: is "
                "MARGINALIA_WEBHOOK_LOOPBACK_ONLY=true in force?"]
    if sum(refused.values()) != 0:
        return [f"{NON_LOOPBACK} is {sum(refused.values()):g}: the webhook worker tried to "
                "send outside loopback"]
    return []


def problems(end: Series, baseline: Series) -> list[str]:
    found = []
    requests = of(end, HTTP_REQUESTS)
    if not requests:
        found.append(f"{HTTP_REQUESTS} is missing from the metrics: no 5xx net")
    before = of(baseline, HTTP_REQUESTS)
    for labels, value in sorted(before.items()):
        starting = dict(labels).get("route") == "/readyz" and dict(labels).get("status") == "503"
        if is_5xx(labels) and not starting and value > 0:
            found.append(f"{describe(labels)} answered {value:g} time(s) before the service was ready")
    for labels, value in sorted(requests.items()):
        grew = value - before.get(labels, 0.0)
        if is_5xx(labels) and grew > 0:
            found.append(f"{describe(labels)} answered {grew:g} time(s) during the run")
    return found + loopback_problems(end)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="service")
    parser.add_argument("--baseline", help="the metrics when the service became ready")
    parser.add_argument("--loopback-only", action="store_true",
                        help="check only the loopback guard (the bench, whose overload 503s are "
                             "measured, not failures)")
    parser.add_argument("end", help="the metrics at the end of the run")
    args = parser.parse_args()
    with open(args.end, encoding="utf-8") as file:
        end = parse(file.read())
    baseline: Series = {}
    if args.baseline:
        with open(args.baseline, encoding="utf-8") as file:
            baseline = parse(file.read())
    found = loopback_problems(end) if args.loopback_only else problems(end, baseline)
    for problem in found:
        print(f"{args.label}: {problem}", file=sys.stderr)
    if found:
        return 1
    if args.loopback_only:
        print(f"{args.label}: metrics checked: no webhook target outside loopback")
        return 0
    total = sum(of(end, HTTP_REQUESTS).values()) - sum(of(baseline, HTTP_REQUESTS).values())
    print(f"{args.label}: metrics checked: {total:g} requests answered, no 5xx, "
          f"no webhook target outside loopback")
    return 0


if __name__ == "__main__":
    sys.exit(main())
