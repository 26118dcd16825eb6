"""A real SMTP server on loopback for the email tests (tests/api/common/smtp.rs starts it).

Every accepted message becomes DIR/messages/<sequence>.json. While DIR/outage exists every MAIL
is answered 421 and the connection closed (a transient failure); while DIR/reject exists every
RCPT is answered 550 (a permanent one); DIR/refused.count counts both. Prints `READY <port>` once
listening, and serves until SIGTERM, SIGINT or the end of its standard input, so that it dies with
the test process that started it. It binds 127.0.0.1 only and never resolves a name.

    python smtp_sink.py --port 0 --dir /tmp/sink [--auth user:pass]
        [--tls-cert cert.pem --tls-key key.pem (--starttls | --implicit-tls)]
        [--dkim-key public.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import sys
import threading
import warnings
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

OUTAGE_REPLY = "421 4.3.0 Service not available, try again later"
REJECT_REPLY = "550 5.1.1 No such user"


def write_atomically(path: Path, text: str) -> None:
    """Tests poll these files: a reader must never see one half written."""
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def decode_raw(raw: bytes) -> str:
    # Strict UTF-8 or else Latin-1, which decodes any bytes: lone surrogates (surrogateescape)
    # would not survive the JSON file.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def body_part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    # Lines end as in a text file, not as on the wire, so that tests can compare whole texts.
    return None if part is None else part.get_content().replace("\r\n", "\n")


class Sink:
    """What the sessions share: the directory, the message sequence and the refusal count."""

    def __init__(self, directory: Path, dkim_record: bytes | None) -> None:
        self.directory = directory
        self.messages = directory / "messages"
        self.messages.mkdir(parents=True, exist_ok=True)
        self.dkim_record = dkim_record
        self.sequence = 0
        self.refused = 0
        write_atomically(directory / "refused.count", "0")

    def in_outage(self) -> bool:
        return (self.directory / "outage").exists()

    def count_refusal(self) -> None:
        self.refused += 1
        write_atomically(self.directory / "refused.count", str(self.refused))

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if (self.directory / "reject").exists():
            self.count_refusal()
            return REJECT_REPLY
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        transport = server.transport
        record: dict[str, Any] = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "raw": decode_raw(raw),
            # policy.default unfolds the values and decodes their RFC 2047 encoded-words.
            "headers": [[name, str(value)] for name, value in message.items()],
            "text": body_part(message, "plain"),
            "html": body_part(message, "html"),
            "dkim": None if self.dkim_record is None else self.verify_dkim(raw),
            "tls": transport is not None and transport.get_extra_info("ssl_object") is not None,
            "auth": session.auth_data if session.authenticated else None,
        }
        self.sequence += 1
        path = self.messages / f"{self.sequence:06}.json"
        write_atomically(path, json.dumps(record, ensure_ascii=False, indent=1))
        return "250 OK"

    def verify_dkim(self, raw: bytes) -> bool:
        record = self.dkim_record
        # The key is answered for whatever name the signature names: no DNS is ever asked.
        return bool(dkim.verify(raw, dnsfunc=lambda name, timeout=5: record))


class SinkSMTP(SMTP):
    """aiosmtpd's server, with outages: a hook can answer MAIL but cannot close the connection."""

    def __init__(self, sink: Sink, **options: Any) -> None:
        super().__init__(sink, **options)
        self.sink = sink

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self.sink.in_outage():
            self.sink.count_refusal()
            await self.push(OUTAGE_REPLY)
            assert self.transport is not None
            self.transport.close()
            return
        await super().smtp_MAIL(arg)


def authenticator_for(user: str, password: str) -> Callable[..., AuthResult]:
    expected = LoginPassword(user.encode(), password.encode())

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if auth_data == expected:
            return AuthResult(success=True, auth_data=user)
        # Not handled: aiosmtpd answers 535.
        return AuthResult(success=False, handled=False)

    return authenticate


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="An SMTP sink on 127.0.0.1 for tests.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", type=Path, required=True, help="where messages are written")
    parser.add_argument("--auth", metavar="USER:PASS", help="require AUTH before MAIL")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--starttls", action="store_true", help="offer and require STARTTLS")
    mode.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte")
    parser.add_argument("--dkim-key", type=Path, metavar="PUBLIC_TXT_FILE")
    args = parser.parse_args()
    if (args.starttls or args.implicit_tls) != bool(args.tls_cert and args.tls_key):
        parser.error("--starttls or --implicit-tls go with --tls-cert and --tls-key")
    if args.auth is not None and ":" not in args.auth:
        parser.error("--auth takes USER:PASS")
    return args


def stop_at_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # The test process holds the other end of our standard input: when it exits, even killed,
    # the pipe closes and the sink follows instead of outliving it. Unbuffered: a thread blocked
    # holding sys.stdin's buffer lock would abort the interpreter's exit.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    loop.call_soon_threadsafe(stop.set)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    dkim_record = None
    if args.dkim_key:
        dkim_record = args.dkim_key.read_text(encoding="utf-8").strip().encode()
    sink = Sink(args.dir, dkim_record)
    tls: ssl.SSLContext | None = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    auth = args.auth.split(":", 1) if args.auth else None

    def session() -> SMTP:
        return SinkSMTP(
            sink,
            # A fixed name: aiosmtpd would otherwise look up socket.getfqdn().
            hostname="localhost",
            enable_SMTPUTF8=True,
            tls_context=tls if args.starttls else None,
            require_starttls=args.starttls,
            auth_required=auth is not None,
            # aiosmtpd counts only STARTTLS as TLS: with implicit TLS or none, AUTH must be
            # allowed as it is.
            auth_require_tls=args.starttls,
            authenticator=authenticator_for(*auth) if auth else None,
            loop=loop,
        )

    server = await loop.create_server(
        session, host="127.0.0.1", port=args.port, ssl=tls if args.implicit_tls else None
    )
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    threading.Thread(target=stop_at_stdin_eof, args=(loop, stop), daemon=True).start()
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.close()


def main() -> None:
    args = parse_args()
    # Tests authenticate without TLS on purpose (over loopback): aiosmtpd's warning about that,
    # and its per-login deprecation notice, would only bury real errors in the log.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
