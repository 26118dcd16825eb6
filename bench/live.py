#!/usr/bin/env python3
"""Idle live streams, measured: one node holding 10,000 concurrent `GET …/live` streams from a
loopback client, its resident memory and CPU at rest, and one review reaching every subscriber.

    python3 bench/live.py                    # print the table
    python3 bench/live.py --write            # and put it in docs/benchmarks.md ("Live streams")
    python3 bench/live.py --streams 2000 --articles 10 --no-one-article   # a quick look

For each variant (the streams spread over --articles articles; then all of them on one article)
it starts `marginalia serve` on a private PostgreSQL cluster, measures the service's RSS (VmRSS)
and CPU (utime + stime) with no stream open, opens the streams from one asyncio process (raw
HTTP/1.1, `Accept: text/event-stream`; a stream counts once its head and `retry:` have arrived),
lets them rest, measures again over --rest seconds (heartbeats included), then posts one review
and counts its `review.published` arriving on every subscriber of its article. The run is bounded:
every phase has a timeout, and the whole stops after --time-limit seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(ROOT / "bench"))

import sse  # noqa: E402
from measure import CpuMeter  # noqa: E402
from cluster import request  # noqa: E402
from run import (check_loopback_guard, current_rss_mib, free_port, machine, psql,  # noqa: E402
                 wait_ready)

BEGIN = "<!-- live streams: written by bench/live.py -->"
END = "<!-- end of live streams -->"
TARGET_BYTES_PER_STREAM = 20 * 1024
HEARTBEAT_SECS = 20
# Seconds the streams are left alone after the last one opened, before anything is measured.
SETTLE_SECS = 5
# Seconds of CPU measured with no stream open.
IDLE_SECS = 5


@dataclass
class Measured:
    title: str
    streams: int
    articles: int
    open_secs: float
    rss_before_mib: float
    rss_rest_mib: float
    cpu_idle_pct: float  # the service, no stream open
    cpu_rest_pct: float  # the service, every stream open and idle
    postgres_rest_pct: float  # the private PostgreSQL's processes meanwhile
    heartbeats: int  # heartbeat comments the client received in the rest window
    rest_secs: float
    subscribers: int  # the streams of the article the review was posted to
    arrivals: int  # review.published events with the review's id, on any stream
    p50_ms: float  # from the POST's answer to the event, over the arrivals
    last_ms: float

    @property
    def per_stream_bytes(self) -> float:
        return (self.rss_rest_mib - self.rss_before_mib) * 2**20 / self.streams


# -- CPU -------------------------------------------------------------------------------------------


class CpuWindow:
    """CPU used by the service and by PostgreSQL between start() and percent() (bench/measure.py
    reads it from /proc)."""

    def __init__(self, pid: int, data: Path) -> None:
        self.meter = CpuMeter(pid, data / "postgres" / "postmaster.pid")

    def start(self) -> None:
        self.started = time.monotonic()
        self.service, self.postgres = self.meter.seconds()

    def percent(self) -> tuple[float, float, float]:
        """(service %, PostgreSQL %, seconds); 100 % is one core."""
        elapsed = time.monotonic() - self.started
        service, postgres = self.meter.seconds()
        return ((service - self.service) / elapsed * 100,
                (postgres - self.postgres) / elapsed * 100, elapsed)


# -- The service -----------------------------------------------------------------------------------


class Service:
    """`marginalia serve` on the private cluster in `work/data`, with the run's live settings."""

    def __init__(self, binary: str, work: Path, args) -> None:
        self.binary, self.work, self.args = binary, work, args
        self.port = free_port()
        self.metrics_url = f"http://127.0.0.1:{free_port()}/metrics"
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MARGINALIA_") and k != "DATABASE_URL"}
        env.update(
            MARGINALIA_DATA_DIR=str(self.work / "data"), MARGINALIA_BIND=f"127.0.0.1:{self.port}",
            MARGINALIA_METRICS_BIND=self.metrics_url.removeprefix("http://")
                                                    .removesuffix("/metrics"),
            # The webhook worker may send only to loopback (checked at the end, as in bench/run.py).
            MARGINALIA_WEBHOOK_LOOPBACK_ONLY="true",
            MARGINALIA_RATE_LIMIT_REVIEWS="0", MARGINALIA_RATE_LIMIT_REACTIONS="0",
            MARGINALIA_LIVE_MAX_STREAMS=str(max(20_000, self.args.streams)),
            MARGINALIA_LIVE_MAX_STREAMS_PER_CLIENT=str(max(20_000, self.args.streams)),
            MARGINALIA_LIVE_HEARTBEAT_SECS=str(HEARTBEAT_SECS),
            # Every stream is a connection: room for them all and for the requests beside them
            # (the default, 10,000, is shared by the workers and would leave none).
            # Above the stream cap (the service refuses to start otherwise).
            MARGINALIA_MAX_CONNECTIONS=str(max(20_000, self.args.streams) + 1_000),
            RUST_LOG="warn", NO_PROXY="*")
        return env

    def start(self) -> None:
        log = open(self.work / "service.log", "a")
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env(), stdout=log,
                                        stderr=log)
        wait_ready(f"http://127.0.0.1:{self.port}", self.process)

    def psql(self, sql: str) -> str:
        return psql(f"host={self.work / 'data' / 'postgres'} port=5432 user=postgres "
                    "dbname=marginalia", sql)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- One variant -----------------------------------------------------------------------------------


def article(n: int) -> str:
    return f"live-bench-{n}"


async def measure_variant(service: Service, title: str, streams: int, articles: int,
                          args) -> Measured:
    pid = service.process.pid
    window = CpuWindow(pid, service.work / "data")
    print(f"{title}: the service at rest, no stream…", flush=True)
    await asyncio.sleep(1)
    window.start()
    await asyncio.sleep(IDLE_SECS)
    cpu_idle, _, _ = window.percent()
    rss_before = current_rss_mib(pid)

    arrivals: dict[str, list[float]] = {}

    def on_event(stream: sse.Stream, event: sse.Event) -> None:
        if event.name == "review.published":
            arrivals.setdefault(event.json()["id"], []).append(event.at)

    targets = [(service.port, f"/v1/articles/{article(n % articles)}/live") for n in range(streams)]
    print(f"{title}: opening {streams:,} streams…", flush=True)
    started = time.monotonic()
    opened, failures = await sse.open_many(targets, on_event=on_event, keep=False,
                                           concurrency=args.concurrency, timeout=30)
    open_secs = time.monotonic() - started
    try:
        if failures:
            kinds: dict[str, int] = {}
            for failure in failures:
                kinds[failure[:80]] = kinds.get(failure[:80], 0) + 1
            raise SystemExit(f"{title}: {len(failures)} of {streams} streams not opened: {kinds}")
        print(f"{title}: {len(opened):,} streams open in {open_secs:.1f} s, every one 200 with "
              "retry:; resting…", flush=True)
        await asyncio.sleep(SETTLE_SECS)
        heartbeats = sum(stream.heartbeats for stream in opened)
        window.start()
        await asyncio.sleep(args.rest)
        cpu_rest, postgres_rest, rest_secs = window.percent()
        rss_rest = current_rss_mib(pid)
        heartbeats = sum(stream.heartbeats for stream in opened) - heartbeats
        dropped = sum(stream.ended for stream in opened)
        if dropped:
            raise SystemExit(f"{title}: {dropped} streams ended while at rest")

        # One review to the first article: every one of its subscribers gets it, nobody else.
        subscribers = sum(1 for _, path in targets if path == targets[0][1])
        print(f"{title}: one review to {subscribers:,} subscribers…", flush=True)
        answer, answered = await asyncio.to_thread(post_review, service.port, article(0))
        assert answer.status == 201, f"POST {answer.status} {answer.body[:200]!r}"
        review_id = answer.json()["id"]
        assert answer.json()["status"] == "published", answer.json()["status"]
        deadline = time.monotonic() + 20
        while len(arrivals.get(review_id, [])) < subscribers and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # room for a duplicate or a stray delivery to show
        got = [at - answered for at in arrivals.get(review_id, [])]
    finally:
        sse.close_all(opened)
    return Measured(title, streams, articles, open_secs, rss_before, rss_rest, cpu_idle, cpu_rest,
                    postgres_rest, heartbeats, rest_secs, subscribers, len(got),
                    statistics.median(got) * 1000 if got else float("nan"),
                    max(got) * 1000 if got else float("nan"))


@dataclass
class Burst:
    subscribers: int
    reviews: int
    posters: int
    post_secs: float
    deliveries: int  # (review, subscriber) pairs that arrived
    p50_ms: float  # from each POST's answer (after its commit) to the event on a subscriber
    p99_ms: float
    last_ms: float


async def measure_burst(service: Service, args) -> Burst:
    """`args.burst` reviews posted by `args.burst_posters` concurrent clients to one article that
    `args.burst_subscribers` streams follow; each review's `review.published` timed on every
    subscriber from the moment its POST was answered (which follows its commit)."""
    arrivals: dict[str, list[float]] = {}

    def on_event(stream: sse.Stream, event: sse.Event) -> None:
        if event.name == "review.published":
            arrivals.setdefault(event.json()["id"], []).append(event.at)

    path = f"/v1/articles/{article(0)}/live"
    targets = [(service.port, path)] * args.burst_subscribers
    print(f"burst: opening {len(targets):,} streams on one article…", flush=True)
    opened, failures = await sse.open_many(targets, on_event=on_event, keep=False,
                                           concurrency=args.concurrency, timeout=30)
    try:
        if failures:
            raise SystemExit(f"burst: {len(failures)} streams not opened: {failures[0][:120]}")
        await asyncio.sleep(SETTLE_SECS)
        print(f"burst: {args.burst} reviews from {args.burst_posters} clients…", flush=True)
        answered: dict[str, float] = {}

        def post_share(share: int) -> None:
            for _ in range(share):
                answer, at = post_review(service.port, article(0))
                assert answer.status == 201, f"POST {answer.status} {answer.body[:200]!r}"
                answered[answer.json()["id"]] = at

        started = time.monotonic()
        shares = [args.burst // args.burst_posters + (1 if n < args.burst % args.burst_posters else 0)
                  for n in range(args.burst_posters)]
        await asyncio.gather(*(asyncio.to_thread(post_share, share) for share in shares))
        post_secs = time.monotonic() - started
        expected = len(answered) * len(opened)
        deadline = time.monotonic() + 30
        while (sum(len(arrivals.get(review, [])) for review in answered) < expected
               and time.monotonic() < deadline):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # room for a duplicate to show
        delays = sorted((at - answered[review]) * 1000 for review in answered
                        for at in arrivals.get(review, []))
    finally:
        sse.close_all(opened)
    quantiles = statistics.quantiles(delays, n=100) if len(delays) > 1 else [float("nan")] * 99
    return Burst(len(opened), len(answered), args.burst_posters, post_secs, len(delays),
                 quantiles[49], quantiles[98], delays[-1] if delays else float("nan"))


def post_review(port: int, article_id: str):
    answer = request(port, "POST", f"/v1/articles/{article_id}/reviews",
                     {"rating": 5, "body": "A review every subscriber of the article receives "
                                           f"(at {time.time_ns()}: not the last run's again)."},
                     headers={"idempotency-key": f"live-bench-{time.time_ns()}"})
    return answer, time.monotonic()


def measure(args) -> list[Measured]:
    binary = str(Path(args.binary).resolve())
    work = Path(tempfile.mkdtemp(prefix="marginalia-bench-live-"))
    work.chmod(0o755)  # as root, PostgreSQL runs as `postgres` and must reach its directory
    # The client holds a descriptor per stream, the service (which inherits the limit) one more
    # per stream, beside its pool and files.
    limit = sse.raise_open_files(args.streams + 2_048)
    if limit < args.streams + 256:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too few for {args.streams} streams "
                         "(raise the hard limit: ulimit -Hn, or run as root)")
    variants = [(f"{args.streams:,} streams over {args.articles} articles", args.articles)]
    if args.one_article and args.articles != 1:
        variants.append((f"{args.streams:,} streams on one article", 1))
    results = []
    burst = None
    try:
        if args.burst:
            service = Service(binary, work, args)
            service.start()
            try:
                service.psql(f"INSERT INTO articles (article_id) VALUES ('{article(0)}') "
                             "ON CONFLICT DO NOTHING")
                burst = asyncio.run(measure_burst(service, args))
                check_loopback_guard(service.metrics_url, work)
            finally:
                service.stop()
        for number, (title, articles) in enumerate(variants):
            service = Service(binary, work, args)
            service.start()
            try:
                if number == 0:
                    service.psql(f"INSERT INTO articles (article_id) SELECT 'live-bench-' || n "
                                 f"FROM generate_series(0, {args.articles - 1}) n "
                                 "ON CONFLICT DO NOTHING")
                results.append(asyncio.run(measure_variant(service, title, args.streams,
                                                            articles, args)))
                check_loopback_guard(service.metrics_url, work)
            finally:
                service.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results, burst


# -- The table -------------------------------------------------------------------------------------


def table(results: list[Measured], burst: Burst | None, args, started: str) -> str:
    lines = [
        BEGIN,
        "## Live streams",
        "",
        f"`python3 bench/live.py --write`, run {started}: one node (the release build, default "
        "workers and database pool), its private PostgreSQL, and one asyncio client "
        "process holding every stream over loopback (raw HTTP/1.1 `GET /v1/articles/{id}/live`; "
        "a stream counts once its head and `retry:` arrived). Settings: "
        f"`MARGINALIA_LIVE_HEARTBEAT_SECS={HEARTBEAT_SECS}`, `MARGINALIA_LIVE_MAX_STREAMS` and "
        "`MARGINALIA_LIVE_MAX_STREAMS_PER_CLIENT` at 20,000 (one client address holds them all), "
        "`MARGINALIA_MAX_CONNECTIONS` 1,000 above the stream cap (the service refuses a cap at "
        "or above the connection limit: a node whose connections are all streams answers "
        "nothing else); the rest as `serve` defaults. "
        f"RSS before: the service with no stream open; with streams: {SETTLE_SECS} s after the "
        f"last one opened plus {args.rest} s at rest, the end of the CPU window (heartbeats "
        "included). CPU: 100 % is one core. Then one review is posted to the first article and "
        "its `review.published` counted on every stream, timed from the POST's answer.",
        f"Machine: {machine()}.",
        "",
        "| streams | articles | opened in | RSS before | RSS with streams | per idle stream "
        "| CPU, no stream | CPU at rest | PostgreSQL CPU at rest | heartbeats received "
        "| one review: arrivals | p50 / last |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        lines.append(
            f"| {m.streams:,} | {m.articles:,} | {m.open_secs:.1f} s | {m.rss_before_mib:.1f} MiB "
            f"| {m.rss_rest_mib:.1f} MiB | **{m.per_stream_bytes / 1024:.1f} KiB** "
            f"| {m.cpu_idle_pct:.2f} % | {m.cpu_rest_pct:.2f} % | {m.postgres_rest_pct:.2f} % "
            f"| {m.heartbeats:,} in {m.rest_secs:.0f} s | {m.arrivals:,} of {m.subscribers:,} "
            f"| {m.p50_ms:.0f} / {m.last_ms:.0f} ms |")
    worst = max(m.per_stream_bytes for m in results)
    met = worst <= TARGET_BYTES_PER_STREAM
    lines += [
        "",
        f"Target: at most 20 KiB per idle stream; this run: {worst / 1024:.1f} KiB at most, "
        + ("met." if met else "**missed**."),
        "",
    ]
    if burst:
        lines += [
            f"A burst: {burst.reviews} reviews posted by {burst.posters} concurrent clients (in "
            f"{burst.post_secs:.1f} s) to one article that {burst.subscribers:,} streams follow, on a "
            "fresh node; each review's `review.published` timed on every subscriber from its POST's "
            "answer, which follows the commit:",
            "",
            "| subscribers | reviews | deliveries | commit to event p50 | p99 | last |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {burst.subscribers:,} | {burst.reviews} | {burst.deliveries:,} of "
            f"{burst.subscribers * burst.reviews:,} | {burst.p50_ms:.1f} ms | {burst.p99_ms:.1f} ms "
            f"| {burst.last_ms:.1f} ms |",
            "",
        ]
    lines += [
        "RSS is the service's own memory; the kernel's socket buffers of an idle connection are "
        "not in it (an idle stream has nothing queued). The client's CPU is not counted. "
        f"Heartbeats: a comment every {HEARTBEAT_SECS} s on every stream, which is most of what "
        "an idle stream costs the CPU.",
        END,
    ]
    return "\n".join(lines)


def put_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    current = path.read_text()
    if BEGIN in current:
        before, rest = current.split(BEGIN, 1)
        current = before + text + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(current)


def check(results: list[Measured], burst: Burst | None = None) -> list[str]:
    """What makes a run's table untrustworthy: it is printed, but not written."""
    problems = []
    if burst and burst.deliveries != burst.subscribers * burst.reviews:
        problems.append(f"burst: {burst.deliveries} deliveries for {burst.reviews} reviews to "
                        f"{burst.subscribers} subscribers")
    for m in results:
        if m.arrivals != m.subscribers:
            problems.append(f"{m.title}: the review arrived {m.arrivals} times for "
                            f"{m.subscribers} subscribers")
        expected = m.streams * int(m.rest_secs // HEARTBEAT_SECS)
        if m.heartbeats < expected:
            problems.append(f"{m.title}: {m.heartbeats} heartbeats in {m.rest_secs:.0f} s, at "
                            f"least {expected} expected")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "marginalia"))
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=100,
                        help="the articles the streams are spread over (round robin)")
    parser.add_argument("--no-one-article", dest="one_article", action="store_false",
                        help="skip the variant with every stream on one article")
    parser.add_argument("--rest", type=int, default=30, help="seconds of CPU measured at rest")
    parser.add_argument("--concurrency", type=int, default=200, help="streams connecting at once")
    parser.add_argument("--time-limit", type=int, default=240,
                        help="seconds after which the run stops, whatever it is doing")
    parser.add_argument("--burst", type=int, default=50,
                        help="reviews of the burst variant (0: none)")
    parser.add_argument("--burst-subscribers", type=int, default=1_000)
    parser.add_argument("--burst-posters", type=int, default=4,
                        help="clients posting the burst's reviews at once")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.streams < 1 or args.articles < 1:
        parser.error("--streams and --articles must be at least 1")
    # Whatever proxy the machine sets, everything here is on loopback.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "marginalia"],
                       cwd=ROOT, check=True)

    def out_of_time(*_) -> None:
        raise SystemExit(f"bench/live.py: stopped after {args.time_limit} s (--time-limit)")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.time_limit)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results, burst = measure(args)
    signal.alarm(0)
    text = table(results, burst, args, started)
    print(text)
    problems = check(results, burst)
    if problems:
        raise SystemExit("bench/live.py: nothing written:\n  " + "\n  ".join(problems))
    if args.write:
        put_section(text)


if __name__ == "__main__":
    main()
