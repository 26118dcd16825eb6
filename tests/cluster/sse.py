"""A Server-Sent Events client for asyncio over raw HTTP/1.1, light enough to hold thousands of
streams in one process: the live scenarios (tests/cluster/scenarios.py) and the idle-streams
benchmark (bench/live.py) both use it.

It speaks what `GET /v1/articles/{article_id}/live` answers (docs/live.md): a response head, then a
chunked (or close-delimited) body of SSE lines — `event`, `data`, `id`, `retry` and comments (the
heartbeats). Every event is stamped with time.monotonic() as the bytes completing it reach the
stream, before they are parsed; with many streams served by one event loop, a stream read later
in a round waits for the others' parsing, so latencies measured with it are upper bounds.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import dataclass
from typing import Callable

HOST = "127.0.0.1"


@dataclass
class Event:
    name: str  # the `event:` field ("message" without one)
    data: str  # the `data:` lines, joined by newlines
    id: str | None  # this event's own `id:` field, None if it had none
    at: float  # time.monotonic() when the bytes that completed it arrived

    def json(self):
        return json.loads(self.data)


class Stream(asyncio.Protocol):
    """One subscription: sends the GET, parses the answer as it comes. `ready` resolves once the
    head and the `retry:` advice of a 200 have arrived, or once a refusal's whole answer has (then
    `status` and `body` say what it was), or when the connection ends before either."""

    def __init__(self, port: int, path: str, last_event_id: str | None = None,
                 on_event: Callable[["Stream", Event], None] | None = None,
                 keep: bool = True, label: str = "") -> None:
        headers = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: text/event-stream",
                   "Cache-Control: no-cache"]
        if last_event_id is not None:
            headers.append(f"Last-Event-ID: {last_event_id}")
        self.request = ("\r\n".join(headers) + "\r\n\r\n").encode()
        self.port = port
        self.path = path
        self.label = label
        self.on_event = on_event
        self.keep = keep
        self.events: list[Event] = []
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.retry: int | None = None
        # As an EventSource keeps it: the last `id:` seen, starting from the one resumed from.
        self.last_id = last_event_id
        self.heartbeats = 0
        self.ended = False  # the server ended the body (last chunk) or closed the connection
        # Resolves, with the time, when the stream ends: its body's last chunk arrived (the
        # connection, kept alive for HTTP, is then closed here, as a browser's EventSource
        # reconnects at the end of the body) or the connection closed.
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self._raw = b""  # bytes not yet parsed as head or chunk framing
        self._text = b""  # body bytes of a line not yet complete
        self._head = True
        self._chunked = False
        self._chunk_left = 0
        self._length: int | None = None
        self._name = ""
        self._data: list[str] = []
        self._id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.retry is not None

    def describe(self) -> str:
        if self.status is None:
            return "no answer"
        if self.status == 200:
            return "200 without retry:" if self.retry is None else "200"
        return f"{self.status} {self.body[:200].decode(errors='replace')}"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        self._end(time.monotonic())

    def _end(self, now: float) -> None:
        self.ended = True
        self._resolve()
        if not self.closed.done():
            self.closed.set_result(now)
        self.close()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self._head:
            self._raw += data
            end = self._raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self._parse_head(self._raw[:end].decode("latin-1"))
            data, self._raw = self._raw[end + 4:], b""
        if self._chunked:
            data = self._dechunk(data)
        if self.status != 200:
            self.body += data
            if self.ended or (self._length is not None and len(self.body) >= self._length):
                self._end(now)
            return
        self._feed(data, now)
        if self.ended:
            self._end(now)

    # -- HTTP ------------------------------------------------------------------------------------

    def _parse_head(self, head: str) -> None:
        status_line, *lines = head.split("\r\n")
        self.status = int(status_line.split()[1])
        for line in lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._head = False
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if "content-length" in self.headers:
            self._length = int(self.headers["content-length"])
        if self.status != 200 and self._length == 0:
            self._resolve()

    def _dechunk(self, data: bytes) -> bytes:
        self._raw += data
        out = []
        while self._raw:
            if self._chunk_left == 0:
                line_end = self._raw.find(b"\r\n")
                if line_end < 0:
                    break
                size = self._raw[:line_end].split(b";")[0].strip()
                self._raw = self._raw[line_end + 2:]
                if not size:  # the CRLF that closes a chunk's data
                    continue
                self._chunk_left = int(size, 16)
                if self._chunk_left == 0:  # the last chunk: the body is over
                    self.ended = True
                    self._raw = b""
                    break
                continue
            taken = self._raw[:self._chunk_left]
            out.append(taken)
            self._chunk_left -= len(taken)
            self._raw = self._raw[len(taken):]
        return b"".join(out)

    def _resolve(self) -> None:
        if not self.ready.done():
            self.ready.set_result(self.status)

    # -- SSE -------------------------------------------------------------------------------------

    def _feed(self, data: bytes, now: float) -> None:
        self._text += data
        *lines, self._text = self._text.split(b"\n")
        for raw in lines:
            self._line((raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8", "replace"), now)

    def _line(self, line: str, now: float) -> None:
        if not line:
            self._dispatch(now)
            return
        if line.startswith(":"):
            self.heartbeats += 1
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._name = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
            self._resolve()

    def _dispatch(self, now: float) -> None:
        if self._data:
            event = Event(self._name or "message", "\n".join(self._data), self._id, now)
            if self.keep:
                self.events.append(event)
            if self.on_event is not None:
                self.on_event(self, event)
        self._name, self._data, self._id = "", [], None

    # -- What the callers ask ----------------------------------------------------------------------

    def named(self, name: str) -> list[Event]:
        return [event for event in self.events if event.name == name]

    def published_ids(self) -> list[str]:
        return [event.json()["id"] for event in self.named("review.published")]


async def subscribe(port: int, path: str, *, last_event_id: str | None = None,
                    on_event=None, keep: bool = True, label: str = "",
                    timeout: float = 10.0) -> Stream:
    """Opens one stream and waits until it is ready (see Stream); a stream that does not become
    ready in time is closed and returned as it is (its `ok` is False). Connection errors raise."""
    loop = asyncio.get_running_loop()
    _, stream = await asyncio.wait_for(loop.create_connection(
        lambda: Stream(port, path, last_event_id, on_event, keep, label), HOST, port), timeout)
    try:
        await asyncio.wait_for(asyncio.shield(stream.ready), timeout)
    except asyncio.TimeoutError:
        stream.close()
    return stream


async def subscribe_when_known(port: int, path: str, seconds: float = 10.0, **kwargs) -> Stream:
    """subscribe(), again while the node answers 404 (an article created through another node
    and not yet on the replica this one reads)."""
    deadline = time.monotonic() + seconds
    while True:
        stream = await subscribe(port, path, **kwargs)
        if stream.status != 404 or time.monotonic() > deadline:
            return stream
        await asyncio.sleep(0.1)


async def open_many(targets: list[tuple[int, str]], *, on_event=None, keep: bool = True,
                    concurrency: int = 200,
                    timeout: float = 20.0) -> tuple[list[Stream], list[str]]:
    """Opens a stream per (port, path), `concurrency` connecting at a time; answers the streams
    that are ready and a description of each that is not (which is closed)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, port: int, path: str) -> Stream | str:
        async with gate:
            try:
                return await subscribe(port, path, on_event=on_event, keep=keep,
                                       label=str(index), timeout=timeout)
            except (OSError, asyncio.TimeoutError) as error:
                return f"{type(error).__name__}: {error}"

    opened = await asyncio.gather(*(one(i, port, path) for i, (port, path) in enumerate(targets)))
    streams = [s for s in opened if isinstance(s, Stream) and s.ok]
    failures = [s if isinstance(s, str) else s.describe() for s in opened
                if not (isinstance(s, Stream) and s.ok)]
    for stream in opened:
        if isinstance(stream, Stream) and not stream.ok:
            stream.close()
    return streams, failures


def close_all(streams: list[Stream]) -> None:
    for stream in streams:
        stream.close()


def raise_open_files(needed: int) -> int:
    """Raises this process's RLIMIT_NOFILE (inherited by the processes it starts) to at least
    `needed` if it can (the hard limit too, as root); answers the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            pass  # not privileged: as far as the hard limit goes
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

