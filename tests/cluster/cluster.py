#!/usr/bin/env python3
"""Several nodes on loopback: a PostgreSQL primary, a streaming replica (pg_basebackup, physical
replication), three `marginalia serve` nodes and Debian's HAProxy in front, health-checking
/readyz. Everything listens on 127.0.0.1 and is started and stopped by this script.

    python3 tests/cluster/cluster.py up     # start it and keep it up until Ctrl-C
    python3 tests/cluster/cluster.py test   # start it, run every scenario, print the numbers

Options: --binary (default target/debug/marginalia), --sync (synchronous replication),
--keep (leave the work directory for reading the logs).

Nothing here contacts anything off the machine: the nodes' webhook workers may only send to
loopback, HAProxy resolves nothing (addresses only), PostgreSQL listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODES = ("a", "b", "c")
# What a node waits after SIGTERM while /readyz fails, above HAProxy's check interval × fall.
DRAIN_SECS = 3
CHECK_INTER_MS = 500
CHECK_FALL = 2


def postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise SystemExit(f"{name} not found: install Debian's postgresql package")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as `postgres` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def run(cmd: list[str], **kwargs) -> str:
    done = subprocess.run(cmd, text=True, capture_output=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


# ---------------------------------------------------------------------------------------------
# HTTP: one small client over http.client, straight to loopback (no proxy is ever consulted).


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def request(port: int, method: str, path: str, body=None, headers=None, timeout=10.0) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        sent = {"content-type": "application/json"} if payload is not None else {}
        sent.update(headers or {})
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        connection.close()


def try_request(port: int, method: str, path: str, **kwargs) -> Answer | None:
    try:
        return request(port, method, path, **kwargs)
    except (OSError, http.client.HTTPException):
        return None


# ---------------------------------------------------------------------------------------------
# The topology.


@dataclass
class Postgres:
    name: str
    data: Path
    port: int
    log: Path

    def pg_ctl(self, *args: str) -> str:
        return run(as_postgres([postgres_bin("pg_ctl"), "-D", str(self.data), *args]))

    def start(self) -> None:
        self.pg_ctl("start", "-w", "-l", str(self.log), "-o",
                    f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}")

    def kill(self) -> None:
        """kill -9 of the postmaster, as a crash would."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", str(self.data), "stop", "-m",
                                    "immediate"]), capture_output=True)

    def sql(self, statement: str, database: str = "marginalia") -> str:
        return run([postgres_bin("psql"), "-X", "-q", "-At", "-h", "127.0.0.1", "-p",
                    str(self.port), "-U", "postgres", "-d", database, "-c", statement]).strip()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/marginalia"


@dataclass
class Node:
    name: str
    port: int
    env: dict
    binary: str
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=log,
                                            stderr=log)

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise SystemExit(f"node {self.name} exited with {self.process.returncode}; "
                                 f"see {self.log}")
            answer = try_request(self.port, "GET", "/readyz", timeout=2)
            if answer and answer.status == 200:
                return
            time.sleep(0.1)
        raise SystemExit(f"node {self.name} did not become ready; see {self.log}")

    def kill(self) -> None:
        assert self.process
        self.process.kill()
        self.process.wait()

    def terminate(self, wait: float = 60) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Cluster:
    work: Path
    binary: str
    sync: bool
    # Settings every node gets on top of the topology's (the benchmark turns the read cache off).
    overrides: dict = field(default_factory=dict)
    primary: Postgres = field(init=False)
    replica: Postgres = field(init=False)
    nodes: list[Node] = field(default_factory=list)
    haproxy: subprocess.Popen | None = None
    haproxy_port: int = 0
    stats_port: int = 0

    def __post_init__(self) -> None:
        self.primary = Postgres("primary", self.work / "primary", free_port(),
                                self.work / "primary.log")
        self.replica = Postgres("replica", self.work / "replica", free_port(),
                                self.work / "replica.log")

    # -- PostgreSQL ----------------------------------------------------------------------------

    def start_databases(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres")
        run(as_postgres([postgres_bin("initdb"), "-D", str(self.primary.data), "-U", "postgres",
                         "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]))
        settings = [
            "wal_level = replica", "max_wal_senders = 4", "hot_standby = on",
            "wal_keep_size = '256MB'", "fsync = on", "max_connections = 200",
            "hot_standby_feedback = on",
        ]
        with open(self.primary.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(settings) + "\n")
        self.primary.start()
        self.primary.sql("CREATE DATABASE marginalia", database="postgres")
        run(as_postgres([postgres_bin("pg_basebackup"), "-h", "127.0.0.1", "-p",
                         str(self.primary.port), "-U", "postgres", "-D", str(self.replica.data),
                         "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"]))
        with open(self.replica.data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"primary_conninfo = 'host=127.0.0.1 port={self.primary.port} "
                       "user=postgres application_name=replica'\n")
        self.replica.start()
        self.wait_streaming()
        if self.sync:
            # From now on a commit returns once the standby has it flushed: no acknowledged write
            # is lost with the primary. (Set only now: before the standby streams, every commit,
            # CREATE DATABASE included, would wait for it.)
            self.set_synchronous(True)
            state = ""
            deadline = time.monotonic() + 10
            while state != "sync" and time.monotonic() < deadline:
                time.sleep(0.1)
                state = self.primary.sql("SELECT sync_state FROM pg_stat_replication LIMIT 1",
                                         database="postgres")
            if state != "sync":
                raise SystemExit(f"the standby is not synchronous ({state!r})")

    def wait_streaming(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = self.primary.sql("SELECT state FROM pg_stat_replication LIMIT 1",
                                     database="postgres")
            if state == "streaming":
                return
            time.sleep(0.1)
        raise SystemExit("the replica is not streaming")

    def set_apply_delay(self, millis: int) -> None:
        self.replica.sql(f"ALTER SYSTEM SET recovery_min_apply_delay = '{millis}ms'",
                         database="postgres")
        self.replica.sql("SELECT pg_reload_conf()", database="postgres")

    # -- Marginalia ----------------------------------------------------------------------------

    def node_env(self, port: int) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MARGINALIA_") and k not in ("DATABASE_URL",
                                                                 "DATABASE_READ_URL")}
        both = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.replica.port}"
        env.update(
            # Both servers, the writable one chosen at each connection: after a failover, the
            # promoted standby.
            DATABASE_URL=f"postgresql://postgres@{both}/marginalia"
                         "?target_session_attrs=read-write&connect_timeout=2",
            DATABASE_READ_URL=self.replica.url,
            MARGINALIA_READ_MAX_LAG_MS="5000",
            # A minute: a change seen on another node within a second was not seen by expiry.
            MARGINALIA_READ_CACHE_MS="60000",
            MARGINALIA_BIND=f"127.0.0.1:{port}",
            MARGINALIA_DRAIN_SECS=str(DRAIN_SECS),
            MARGINALIA_SHUTDOWN_TIMEOUT="20",
            MARGINALIA_WEBHOOK_LOOPBACK_ONLY="true",
            MARGINALIA_RATE_LIMIT_REVIEWS="0",
            MARGINALIA_RATE_LIMIT_REACTIONS="0",
            MARGINALIA_WORKERS="1",
            MARGINALIA_DB_POOL_SIZE="8",
            MARGINALIA_MODERATION="post",
            # The live scenarios hold a thousand streams from 127.0.0.1, straight to the nodes.
            MARGINALIA_LIVE_MAX_STREAMS_PER_CLIENT="2000",
            RUST_LOG="warn,marginalia=info",
            NO_PROXY="*",
        )
        env.update(self.overrides)
        return env

    def start_extra_node(self, name: str, **settings: str) -> Node:
        """One more node, not behind HAProxy, with `settings` over the others' (the benchmark's
        primary-only reader)."""
        port = free_port()
        env = self.node_env(port)
        env.update(settings)
        node = Node(name, port, env, self.binary, self.work / f"node-{name}.log")
        node.start()
        node.wait_ready()
        self.nodes.append(node)
        return node

    def set_synchronous(self, synchronous: bool) -> None:
        names = "'replica'" if synchronous else "''"
        self.primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = {names}",
                         database="postgres")
        self.primary.sql("SELECT pg_reload_conf()", database="postgres")

    def start_nodes(self) -> None:
        # Migrations first, once: the nodes would wait on each other's advisory lock anyway.
        run([self.binary, "migrate"], env=self.node_env(0))
        for name in NODES:
            port = free_port()
            node = Node(name, port, self.node_env(port), self.binary, self.work / f"node-{name}.log")
            node.start()
            self.nodes.append(node)
        for node in self.nodes:
            node.wait_ready()

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def cli(self, *args: str) -> str:
        return run([self.binary, *args], env=self.node_env(0))

    # -- HAProxy -------------------------------------------------------------------------------

    def start_haproxy(self) -> None:
        self.haproxy_port = free_port()
        self.stats_port = free_port()
        servers = "\n".join(
            f"    server {node.name} 127.0.0.1:{node.port} check inter {CHECK_INTER_MS} "
            f"fall {CHECK_FALL} rise 2" for node in self.nodes if node.name in NODES)
        config = f"""
global
    maxconn 4096
    # No resolvers, no update checks: addresses only, nothing leaves the machine.
    log stdout format raw local0 err

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 5s
    option http-buffer-request
    # A connection refused or closed without an answer (a node killed or stopping) is tried on
    # another node; writes carry Idempotency-Key, so a retried POST is answered once.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend api
    bind 127.0.0.1:{self.haproxy_port}
    default_backend nodes

frontend stats
    bind 127.0.0.1:{self.stats_port}
    http-request return status 200 content-type text/plain lf-string "ok" if {{ path /ping }}
    stats enable
    stats uri /stats

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""
        path = self.work / "haproxy.cfg"
        path.write_text(config)
        run(["haproxy", "-c", "-q", "-f", str(path)])
        log = open(self.work / "haproxy.log", "w")
        self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(path)], stdout=log,
                                        stderr=log)
        self.wait_servers_up(set(NODES))

    def servers_up(self) -> set[str]:
        answer = try_request(self.stats_port, "GET", "/stats;csv", timeout=2)
        if not answer or answer.status != 200:
            return set()
        up = set()
        for line in answer.body.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "nodes" and fields[17] == "UP":
                up.add(fields[1])
        return up

    def wait_servers_up(self, names: set[str], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if names <= self.servers_up():
                return
            time.sleep(0.1)
        raise SystemExit(f"HAProxy does not see {names} up (sees {self.servers_up()})")

    # -- The whole ---------------------------------------------------------------------------

    def start(self) -> None:
        print(f"cluster: starting in {self.work}", flush=True)
        self.start_databases()
        print(f"cluster: primary :{self.primary.port}, replica :{self.replica.port} (streaming"
              f"{', synchronous' if self.sync else ''})", flush=True)
        self.start_nodes()
        print("cluster: nodes " + ", ".join(f"{n.name} :{n.port}" for n in self.nodes), flush=True)
        self.start_haproxy()
        print(f"cluster: HAProxy :{self.haproxy_port} (stats :{self.stats_port}/stats)", flush=True)

    def stop(self) -> None:
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        for node in self.nodes:
            node.terminate(wait=DRAIN_SECS + 25)
        self.replica.stop()
        self.primary.stop()


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "test"])
    parser.add_argument("--binary", default=str(
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "marginalia"))
    parser.add_argument("--sync", action="store_true",
                        help="synchronous replication (always on for the failover scenario)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if os.geteuid() == 0 and not user_exists("postgres"):
        raise SystemExit("running as root needs the `postgres` user (Debian's postgresql package)")
    if not shutil.which("haproxy"):
        raise SystemExit("haproxy not found: apt-get install haproxy")
    work = Path(tempfile.mkdtemp(prefix="marginalia-cluster-"))
    work.chmod(0o755)
    if args.command == "up":
        cluster = Cluster(work, args.binary, args.sync)
        try:
            cluster.start()
            print("cluster: up; Ctrl-C stops it", flush=True)
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            cluster.stop()
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        return
    from scenarios import run_all  # noqa: E402 (the scenarios need the topology above)

    failed = run_all(work, args.binary)
    if not args.keep and not failed:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"cluster: logs kept in {work}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
