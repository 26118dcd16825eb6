"""What `cluster.py test` runs: each scenario of the several-nodes story, under load through
HAProxy, with its numbers printed and its bar asserted. A scenario that misses its bar is reported
and the run fails; the others still run, so one run shows everything."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sse
from cluster import NODES, Cluster, Node, request, try_request

TRIALS = 100
# The bar for coherence: a change through one node gone from the others' public reads.
COHERENCE_P99_S = 1.0
# The bar for a failover: writes through HAProxy succeed again within this after the kill.
FAILOVER_BOUND_S = 30.0
# Live updates: readers' streams on the nodes but a, one article, reviews approved through a one
# at a time; the bar for the 95th percentile from the approval's answer to the event.
LIVE_SUBSCRIBERS = 1000
LIVE_APPROVALS = 20
LIVE_P95_S = 0.5


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def review(text: str, email: str | None = None) -> dict:
    body = {"rating": 4, "body": text}
    if email:
        body["author_email"] = email
    return body


def post_review(port: int, article: str, text: str, email=None, headers=None, site="") -> dict:
    sent = {"idempotency-key": str(uuid.uuid4())}
    sent.update(headers or {})
    answer = request(port, "POST", f"{site}/v1/articles/{article}/reviews", review(text, email),
                     headers=sent)
    assert answer.status == 201, f"POST through :{port}: {answer.status} {answer.body[:300]!r}"
    created = answer.json()
    created["_position"] = answer.headers.get("marginalia-position")
    return created


def listed(port: int, article: str, headers=None) -> list[str] | None:
    answer = try_request(port, "GET", f"/v1/articles/{article}/reviews?limit=100",
                         headers=headers or {})
    if answer is None or answer.status != 200:
        return None
    return [item["id"] for item in answer.json()["items"]]


class Load:
    """Readers and writers through HAProxy, counting what was acknowledged and what failed."""

    def __init__(self, port: int, writers: int = 2, readers: int = 2, pause: float = 0.01):
        self.port = port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self.requests = 0
        self.threads = [threading.Thread(target=self.write, args=(i, pause), daemon=True)
                        for i in range(writers)]
        self.threads += [threading.Thread(target=self.read, args=(i, pause), daemon=True)
                         for i in range(readers)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_flag.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def note(self, outcome: str | None, acknowledged: str | None = None) -> None:
        with self.lock:
            self.requests += 1
            if outcome:
                self.failures.append(outcome)
            if acknowledged:
                self.acknowledged.append(acknowledged)

    def write(self, worker: int, pause: float) -> None:
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            key = str(uuid.uuid4())
            try:
                answer = request(self.port, "POST", f"/v1/articles/load-{n % 20}/reviews",
                                 review(f"load {worker}-{n} {key[:8]}"),
                                 headers={"idempotency-key": key}, timeout=30)
                if answer.status == 201:
                    self.note(None, answer.json()["id"])
                else:
                    self.note(f"POST {answer.status}")
            except Exception as error:  # noqa: BLE001 (every failure is counted, not raised)
                self.note(f"POST {type(error).__name__}")
            time.sleep(pause)

    def read(self, worker: int, pause: float) -> None:
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            path = (f"/v1/articles/load-{n % 20}/reviews" if n % 2
                    else f"/v1/articles/load-{n % 20}/stats")
            try:
                answer = request(self.port, "GET", path, timeout=30)
                self.note(None if answer.status == 200 else f"GET {answer.status}")
            except Exception as error:  # noqa: BLE001
                self.note(f"GET {type(error).__name__}")
            time.sleep(pause)

    def summary(self) -> str:
        with self.lock:
            kinds: dict[str, int] = {}
            for failure in self.failures:
                kinds[failure] = kinds.get(failure, 0) + 1
            return (f"{self.requests} requests, {len(self.acknowledged)} reviews acknowledged, "
                    f"{len(self.failures)} failed {kinds or ''}")


def count_missing(cluster: Cluster, acknowledged: list[str], server=None) -> int:
    """Acknowledged reviews absent from the database (the primary, or `server`)."""
    server = server or cluster.primary
    missing = 0
    for start in range(0, len(acknowledged), 500):
        chunk = acknowledged[start:start + 500]
        ids = ",".join(f"'{review_id}'" for review_id in chunk)
        found = int(server.sql(f"SELECT count(*) FROM reviews WHERE id IN ({ids})"))
        missing += len(chunk) - found
    return missing


def wait_gone(ports: list[int], article: str, review_id: str, limit: float = 10.0) -> float:
    started = time.monotonic()
    remaining = set(ports)
    while remaining and time.monotonic() - started < limit:
        for port in list(remaining):
            ids = listed(port, article)
            if ids is not None and review_id not in ids:
                remaining.discard(port)
        if remaining:
            time.sleep(0.002)
    return time.monotonic() - started if not remaining else float("inf")


def wait_listed(ports: list[int], article: str, review_id: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    for port in ports:
        while review_id not in (listed(port, article) or []):
            assert time.monotonic() < deadline, f"{review_id} never listed on :{port}"
            time.sleep(0.005)


def coherence(cluster: Cluster, keys: dict) -> None:
    """A reject and an erasure through node a are gone from b's and c's public reads within 1 s,
    with their read caches set to a minute, under load through HAProxy."""
    a, b, c = (cluster.node(name) for name in NODES)
    moderator = {"authorization": f"Bearer {keys['moderator']}"}
    admin = {"authorization": f"Bearer {keys['admin']}"}
    others = [b.port, c.port]
    with Load(cluster.haproxy_port) as load:
        for action in ("reject", "erasure"):
            took = []
            for trial in range(TRIALS):
                article = f"coherence-{action}-{trial % 10}"
                email = f"reader-{action}-{trial}@example.org"
                created = post_review(a.port, article, f"{action} trial {trial}", email)
                wait_listed(others, article, created["id"])  # cached on b and c now
                if action == "reject":
                    answer = request(a.port, "POST", "/v1/moderation/actions",
                                     {"action": "reject", "review_ids": [created["id"]]},
                                     headers=moderator)
                else:
                    answer = request(a.port, "POST", "/v1/data-rights/erasures",
                                     {"author_email": email}, headers=admin)
                assert answer.status == 200, f"{action}: {answer.status} {answer.body[:200]!r}"
                took.append(wait_gone(others, article, created["id"]))
            p50, p99 = percentile(took, 0.5), percentile(took, 0.99)
            print(f"  {action} through a, gone from b and c: p50 {p50 * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms, max {max(took) * 1000:.0f} ms over {TRIALS} trials "
                  f"(read cache TTL 60 s)", flush=True)
            assert p99 < COHERENCE_P99_S, f"{action}: p99 {p99:.3f} s"
        print(f"  load meanwhile: {load.summary()}")
    assert count_missing(cluster, load.acknowledged) == 0


def rate_limits(cluster: Cluster, keys: dict) -> None:
    """One client through all three nodes is limited as if there were one node."""
    per_minute = 30
    cluster.cli("sites", "put", "limited", "--name", "Limited",
                "--rate-limit-reviews", str(per_minute))
    time.sleep(1.5)  # the nodes read the sites table again within a second
    admitted = refused = 0
    started = time.monotonic()
    for attempt in range(per_minute * 3):
        node = cluster.nodes[attempt % len(cluster.nodes)]
        answer = request(node.port, "POST", "/sites/limited/v1/articles/limited/reviews",
                         review(f"attempt {attempt}"),
                         headers={"idempotency-key": str(uuid.uuid4())})
        if answer.status == 201:
            admitted += 1
        elif answer.status == 429:
            refused += 1
        else:
            raise AssertionError(f"attempt {attempt}: {answer.status} {answer.body[:200]!r}")
    elapsed = time.monotonic() - started
    # A bucket refills by one every 60 / per_minute s while the attempts run.
    allowed = per_minute + elapsed * per_minute / 60
    print(f"  {per_minute * 3} attempts in {elapsed:.1f} s through 3 nodes: {admitted} admitted, "
          f"{refused} refused (one node allows {allowed:.1f})", flush=True)
    assert abs(admitted - allowed) <= 0.1 * allowed, f"{admitted} admitted, one node: {allowed}"


def read_your_writes(cluster: Cluster, keys: dict) -> None:
    """A reader's own review is on their next read through a replica-backed node, although the
    replica applies changes only after a delay."""
    delay_ms = 500
    cluster.set_apply_delay(delay_ms)
    try:
        own_seen = others_saw = 0
        for trial in range(TRIALS):
            article = f"ryw-{trial % 10}"
            created = post_review(cluster.haproxy_port, article, f"my own review {trial}")
            position = created["_position"]
            assert position, "a write answers with its position"
            mine = listed(cluster.haproxy_port, article, {"marginalia-position": position})
            anyone = listed(cluster.haproxy_port, article)
            own_seen += created["id"] in (mine or [])
            others_saw += created["id"] in (anyone or [])
        print(f"  replica applying {delay_ms} ms late: the writer saw their review {own_seen} of "
              f"{TRIALS} times; a reader without the position, at the same moment, "
              f"{others_saw} of {TRIALS} (reads served by the replica)", flush=True)
        assert own_seen == TRIALS
        assert others_saw < TRIALS, "the replica served none of the other reads"
        # A position nobody issued (one far ahead would send its sender's reads past the cache to
        # the primary) is refused.
        forged = try_request(cluster.haproxy_port, "GET", "/v1/articles/ryw-0/reviews",
                             headers={"marginalia-position": "FFFFFFFF/FFFFFFFF~" + "A" * 22})
        assert forged is not None and forged.status == 400, forged
        print("  a made-up position: 400", flush=True)
    finally:
        cluster.set_apply_delay(0)


class Receiver:
    """A webhook receiver on loopback that counts each `webhook-id` it is sent."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    key = self.headers.get("webhook-id", "")
                    receiver.seen[key] = receiver.seen.get(key, 0) + 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def webhooks(cluster: Cluster, keys: dict) -> None:
    """The three nodes' webhook workers share the outbox: each review's event is delivered once,
    by one of them."""
    receiver = Receiver()
    admin = {"authorization": f"Bearer {keys['admin']}"}
    try:
        created = request(cluster.haproxy_port, "POST", "/v1/webhook-endpoints",
                          {"url": f"http://127.0.0.1:{receiver.port}/hook",
                           "event_types": ["review.created"]}, headers=admin)
        assert created.status == 201, f"{created.status} {created.body[:300]!r}"
        count = 60
        for n in range(count):
            post_review(cluster.haproxy_port, f"hooks-{n % 3}", f"announced review {n}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with receiver.lock:
                if len(receiver.seen) >= count:
                    break
            time.sleep(0.1)
        time.sleep(2)  # room for a duplicate to show
        with receiver.lock:
            distinct, sent = len(receiver.seen), sum(receiver.seen.values())
        print(f"  {count} reviews through HAProxy: {distinct} events received, {sent} deliveries "
              f"(duplicates: {sent - distinct})", flush=True)
        assert distinct == count and sent == count
        endpoint = created.json()["id"]
        gone = request(cluster.haproxy_port, "DELETE", f"/v1/webhook-endpoints/{endpoint}",
                       headers=admin)
        assert gone.status == 204, gone.status
    finally:
        receiver.close()


# ---------------------------------------------------------------------------------------------
# Live updates (docs/live.md): readers' streams straight to the nodes (not through HAProxy, whose
# timeouts would end them), everything on one event loop per scenario.


def live_path(article: str) -> str:
    return f"/v1/articles/{article}/live"


def create_article(cluster: Cluster, keys: dict, article: str, moderation: str) -> None:
    """Registers `article` through node a in a moderation mode, and waits until the replica the
    nodes read has it (a node asked earlier would answer the stream a 404)."""
    answer = request(cluster.node("a").port, "PUT", f"/v1/articles/{article}",
                     {"title": f"Live {article}", "moderation": moderation},
                     headers={"authorization": f"Bearer {keys['admin']}"})
    assert answer.status in (200, 201), f"PUT {article}: {answer.status} {answer.body[:300]!r}"
    deadline = time.monotonic() + 10
    query = f"SELECT count(*) FROM articles WHERE article_id = '{article}'"
    while cluster.replica.sql(query) != "1":
        assert time.monotonic() < deadline, f"{article} never reached the replica"
        time.sleep(0.02)


def timed_request(*args, **kwargs):
    """request(), and the moment its answer was read (time.monotonic())."""
    answer = request(*args, **kwargs)
    return answer, time.monotonic()


class Arrivals:
    """When each review's `review.published` reached each stream opened with `on_event`."""

    def __init__(self) -> None:
        self.at: dict[str, list[float]] = {}

    def on_event(self, stream: sse.Stream, event: sse.Event) -> None:
        if event.name == "review.published":
            self.at.setdefault(event.json()["id"], []).append(event.at)

    async def wait(self, review_id: str, count: int, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.at.get(review_id, ())) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.005)


async def open_readers(nodes: list[Node], article: str, count: int, arrivals: Arrivals):
    """`count` streams on `article`, spread over `nodes` in turn; every one must open."""
    sse.raise_open_files(count + 1024)
    for node in nodes:  # the article known to each node before the crowd arrives
        probe = await sse.subscribe_when_known(node.port, live_path(article))
        assert probe.ok, f"node {node.name}: {probe.describe()}"
        probe.close()
    targets = [(nodes[n % len(nodes)].port, live_path(article)) for n in range(count)]
    streams, failures = await sse.open_many(targets, on_event=arrivals.on_event)
    assert not failures, f"{len(failures)} streams refused, e.g. {failures[:3]}"
    return streams


def live_fanout(cluster: Cluster, keys: dict) -> None:
    """A review approved through node a reaches every reader's stream on nodes b and c, once and
    in order; a review held, rejected or marked spam reaches none."""
    asyncio.run(_live_fanout(cluster, keys))


async def _live_fanout(cluster: Cluster, keys: dict) -> None:
    a = cluster.node("a")
    readers_nodes = [cluster.node(name) for name in NODES if name != "a"]
    moderator = {"authorization": f"Bearer {keys['moderator']}"}
    article = "live-fanout"
    create_article(cluster, keys, article, "pre")
    held = [post_review(a.port, article, f"live review {n}, waiting for a moderator")
            for n in range(LIVE_APPROVALS + 3)]
    assert {review["status"] for review in held} == {"pending"}, "pre-moderation holds them"
    approved = [review["id"] for review in held[:LIVE_APPROVALS]]
    withheld = dict(zip(("reject", "spam", "left held"), (r["id"] for r in held[LIVE_APPROVALS:])))
    arrivals = Arrivals()
    opened = time.monotonic()
    streams = await open_readers(readers_nodes, article, LIVE_SUBSCRIBERS, arrivals)
    opened = time.monotonic() - opened
    try:
        # Approvals one at a time through a, the rejection and the spam between them: an event
        # of theirs, were there one, would arrive before the next approval's (commit order).
        plan = [("approve", review_id) for review_id in approved]
        plan.insert(1, ("reject", withheld["reject"]))
        plan.insert(len(plan) // 2, ("spam", withheld["spam"]))
        latencies = []
        for action, review_id in plan:
            answer, committed = await asyncio.to_thread(
                timed_request, a.port, "POST", "/v1/moderation/actions",
                {"action": action, "review_ids": [review_id]}, headers=moderator)
            assert answer.status == 200, f"{action}: {answer.status} {answer.body[:300]!r}"
            if action == "approve":
                await arrivals.wait(review_id, len(streams))
                latencies += [at - committed for at in arrivals.at.get(review_id, [])]
        await asyncio.sleep(0.5)  # room for a duplicate or a stray event to show
    finally:
        sse.close_all(streams)
    wrong, leaked = [], []
    for stream in streams:
        got = stream.published_ids()
        if got != approved:
            order = "in order" if got == sorted(got, key=lambda i: approved.index(i)
                                                 if i in approved else -1) else "out of order"
            wrong.append(f"stream {stream.label} on :{stream.port}: {len(got)} published events "
                         f"({len(set(got))} distinct, {order}) for {len(approved)} approvals")
        leaked += [f"stream {stream.label} on :{stream.port}: the review {name} in {event.name}"
                   for event in stream.events for name, review_id in withheld.items()
                   if review_id in event.data]
    expected = len(approved) * len(streams)
    print(f"  {len(streams)} readers on b and c (opened in {opened:.1f} s), {len(approved)} "
          f"approvals through a: {len(latencies)} of {expected} events arrived; commit to event "
          f"p50 {in_ms(latencies, 0.5)}, p95 {in_ms(latencies, 0.95)}, "
          f"p99 {in_ms(latencies, 0.99)}, max {in_ms(latencies, 1.0)} (bar p95 < "
          f"{LIVE_P95_S * 1000:.0f} ms); streams with other published events: {len(wrong)}; "
          f"events of a held, rejected or spam review: {len(leaked)}", flush=True)
    assert not wrong, f"{len(wrong)} streams wrong, e.g. {wrong[:3]}"
    assert not leaked, f"{len(leaked)} events leaked, e.g. {leaked[:3]}"
    assert len(latencies) == expected
    assert percentile(latencies, 0.95) < LIVE_P95_S, f"p95 {percentile(latencies, 0.95):.3f} s"


def in_ms(values: list[float], share: float) -> str:
    return f"{percentile(values, share) * 1000:.0f} ms" if values else "–"


class Poster:
    """Reviews posted through one node one after another, until stopped; each acknowledged id
    with the moment its answer arrived."""

    def __init__(self, port: int, article: str, pause: float = 0.03) -> None:
        self.port, self.article, self.pause = port, article, pause
        self.posted: list[tuple[str, float]] = []
        self.failures: list[str] = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.post, daemon=True)

    def post(self) -> None:
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            try:
                created = post_review(self.port, self.article, f"live resume {n} {uuid.uuid4()}")
                assert created["status"] == "published", created["status"]
                self.posted.append((created["id"], time.monotonic()))
            except Exception as error:  # noqa: BLE001 (every failure is counted, not raised)
                self.failures.append(f"{type(error).__name__}: {error}")
            time.sleep(self.pause)

    def __enter__(self) -> "Poster":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_flag.set()
        self.thread.join(timeout=30)


def restart(cluster: Cluster, node: Node) -> float:
    """SIGTERM (the node drains), start again, back in HAProxy's rotation; answers the seconds
    the node took to stop."""
    started = time.monotonic()
    node.terminate(wait=60)
    stopped = time.monotonic() - started
    node.start()
    node.wait_ready()
    cluster.wait_servers_up({node.name})
    return stopped


def live_resume(cluster: Cluster, keys: dict) -> None:
    """A reader on node b reads some events, b restarts, the reader resumes on node c with
    Last-Event-ID while reviews keep coming through a: each arrives exactly once, in order."""
    asyncio.run(_live_resume(cluster, keys))


async def _live_resume(cluster: Cluster, keys: dict) -> None:
    a, b, c = (cluster.node(name) for name in NODES)
    article = "live-resume"
    create_article(cluster, keys, article, "post")
    first = await sse.subscribe_when_known(b.port, live_path(article))
    assert first.ok, f"node b: {first.describe()}"
    second = None
    try:
        with Poster(a.port, article) as poster:
            deadline = time.monotonic() + 10
            while len(first.published_ids()) < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert len(first.published_ids()) >= 5, f"{len(first.published_ids())} events on b"
            restarting = asyncio.create_task(asyncio.to_thread(restart, cluster, b))
            ended = await asyncio.wait_for(asyncio.shield(first.closed), 60)
            # As an EventSource would: after the `retry:` advice the stream ended with (reviews
            # posted meanwhile must be replayed), to the next node, from the last id.
            await asyncio.sleep(first.retry / 1000)
            second = await sse.subscribe(c.port, live_path(article), last_event_id=first.last_id)
            resumed = time.monotonic()
            assert second.ok, f"node c, resuming from {first.last_id}: {second.describe()}"
            stopped = await restarting
            await asyncio.sleep(1)  # reviews keep coming after b is back
        posted = [review_id for review_id, _ in poster.posted]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not set(posted) <= set(
                first.published_ids() + second.published_ids()):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # room for a duplicate to show
    finally:
        first.close()
        if second is not None:
            second.close()
    received = first.published_ids() + second.published_ids()
    counts: dict[str, int] = {}
    for review_id in received:
        counts[review_id] = counts.get(review_id, 0) + 1
    missing = [review_id for review_id in posted if review_id not in counts]
    duplicated = [review_id for review_id, n in counts.items() if n > 1]
    unknown = [review_id for review_id in counts if review_id not in set(posted)]
    answered_at = dict(poster.posted)
    # On c, what was acknowledged before the stream there opened can only have been replayed.
    replayed = [i for i in second.published_ids() if answered_at.get(i, resumed) < resumed]
    away = [i for i, at in poster.posted if ended <= at < resumed]
    closing = [event.data for event in first.named("closing")]
    print(f"  {len(posted)} reviews posted through a ({len(poster.failures)} failed); the reader "
          f"got {len(first.published_ids())} on b, which sent {closing or 'no closing event'} and "
          f"stopped in {stopped:.1f} s; resumed on c {(resumed - ended) * 1000:.0f} ms after b "
          f"ended the stream (retry: {first.retry} ms), from {first.last_id}: {len(replayed)} "
          f"replayed ({len(away)} posted "
          f"while away), {len(second.published_ids()) - len(replayed)} live; missing "
          f"{len(missing)}, duplicated {len(duplicated)}, unknown {len(unknown)}, reload events "
          f"{len(second.named('reload'))}", flush=True)
    assert not poster.failures, poster.failures[:3]
    assert closing, "node b ended the stream without a closing event"
    assert not second.named("reload"), [event.data for event in second.named("reload")]
    assert not missing and not duplicated and not unknown, (missing[:3], duplicated[:3],
                                                             unknown[:3])
    assert received == posted, "events out of commit order"


def kill_a_node(cluster: Cluster, keys: dict) -> None:
    """kill -9 of one node under load: HAProxy routes around it, nothing acknowledged is lost."""
    victim = cluster.node("c")
    with Load(cluster.haproxy_port) as load:
        time.sleep(2)
        victim.kill()
        killed = time.monotonic()
        while "c" in cluster.servers_up():
            time.sleep(0.05)
        noticed = time.monotonic() - killed
        time.sleep(3)
        victim.start()
        victim.wait_ready()
        cluster.wait_servers_up({"c"})
        time.sleep(1)
    missing = count_missing(cluster, load.acknowledged)
    print(f"  node c killed: HAProxy took it out in {noticed:.1f} s; {load.summary()}; "
          f"acknowledged but missing: {missing}", flush=True)
    assert missing == 0


def rolling_restart(cluster: Cluster, keys: dict) -> None:
    """Every node restarted in turn under load through HAProxy: no request fails."""
    with Load(cluster.haproxy_port) as load:
        time.sleep(1)
        for node in cluster.nodes:
            stopped = restart(cluster, node)
            print(f"  node {node.name}: drained and stopped in {stopped:.1f} s, back in rotation",
                  flush=True)
        time.sleep(1)
    missing = count_missing(cluster, load.acknowledged)
    print(f"  rolling restart: {load.summary()}; acknowledged but missing: {missing}", flush=True)
    assert not load.failures, f"failed requests: {load.failures[:10]}"
    assert missing == 0


def failover(cluster: Cluster, keys: dict) -> None:
    """kill -9 of the primary under load, the standby promoted: writes resume within the bound,
    and with synchronous replication no acknowledged review is lost."""
    with Load(cluster.haproxy_port, writers=3, readers=1) as load:
        time.sleep(2)
        cluster.primary.kill()
        killed = time.monotonic()
        cluster.replica.pg_ctl("promote", "-w")
        promoted = time.monotonic() - killed
        resumed = None
        # Resumed: the first write sent after the promotion that is acknowledged.
        while time.monotonic() - killed < FAILOVER_BOUND_S * 2:
            answer = try_request(cluster.haproxy_port, "POST", "/v1/articles/failover/reviews",
                                 body=review("after the failover"),
                                 headers={"idempotency-key": str(uuid.uuid4())}, timeout=5)
            if answer is not None and answer.status == 201:
                resumed = time.monotonic() - killed
                break
            time.sleep(0.1)
        time.sleep(2)
    missing = count_missing(cluster, load.acknowledged, server=cluster.replica)
    print(f"  primary killed, standby promoted in {promoted:.1f} s; writes through HAProxy again "
          f"after {resumed if resumed is None else round(resumed, 1)} s (bound "
          f"{FAILOVER_BOUND_S:.0f} s); {load.summary()}; acknowledged but missing on the new "
          f"primary: {missing} (synchronous replication)", flush=True)
    assert resumed is not None and resumed < FAILOVER_BOUND_S
    assert missing == 0


SCENARIOS = [coherence, rate_limits, read_your_writes, webhooks, live_fanout, live_resume,
             kill_a_node, rolling_restart, failover]


def run_all(work: Path, binary: str) -> list[str]:
    # Synchronous replication throughout: the failover's bar needs it, and every other scenario
    # holds with it too.
    cluster = Cluster(work, binary, sync=True)
    failed = []
    try:
        cluster.start()
        keys = {scope: cluster.cli("keys", "create", "--name", f"cluster-{scope}", "--scope",
                                   scope).strip().splitlines()[-1]
                for scope in ("moderator", "admin")}
        for scenario in SCENARIOS:
            story = " ".join(scenario.__doc__.split())
            print(f"cluster: {scenario.__name__}: {story}", flush=True)
            started = time.monotonic()
            try:
                scenario(cluster, keys)
                print(f"cluster: {scenario.__name__} passed in "
                      f"{time.monotonic() - started:.0f} s", flush=True)
            except (AssertionError, SystemExit) as error:
                traceback.print_exc()
                print(f"cluster: {scenario.__name__} FAILED: {error}", flush=True)
                failed.append(scenario.__name__)
    finally:
        cluster.stop()
    print("cluster: " + ("every scenario passed" if not failed else f"failed: {failed}"))
    return failed
