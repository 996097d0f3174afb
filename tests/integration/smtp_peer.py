"""A scripted SMTP server for tests and benchmarks, run in its own process: `python smtp_peer.py --dir DIR …`.

It listens on 127.0.0.1 on a free port and prints `port N` once ready. The recipient's local part chooses the
answer: `r421@d` → 421 4.3.0 (domain busy), `r450@` → 450 4.2.0, `r451@` → 451 4.3.0, `r550@` → 550 5.1.1,
`r552@` → 552 5.2.2, `r554@` → 554 5.7.1, `r553@` → 553 5.3.4, `drop@` → the connection is closed after the body
with no reply, `slow…@` → 250 after 0.1 s, anything else → 250. Accepted messages are written to `--dir` (one file
each) unless `--count-only`. `--tls CERT KEY` offers (and requires) STARTTLS, `--implicit-tls CERT KEY` wraps the
socket in TLS, `--auth USER:PASS` requires AUTH. When its stdin closes it prints the most transactions it had in
DATA at once (`most {"domain": n, "*": n}`) and `accepted N`, and exits. `start_peer()` runs it from a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

REPLIES = {
    "r421": "421 4.3.0 domain busy, try later",
    "r450": "450 4.2.0 mailbox busy",
    "r451": "451 4.3.0 local error",
    "r550": "550 5.1.1 no such user",
    "r552": "552 5.2.2 mailbox full",
    "r554": "554 5.7.1 blocked by policy",
    "r553": "553 5.3.4 message too big for system",
}


class ScriptedHandler:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.accepted = 0
        self.active: dict[str, int] = {}
        self.most: dict[str, int] = {}  # the most transactions in DATA at once, per recipient domain and "*"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.partition("@")[0].lower()
        if local in REPLIES:
            return REPLIES[local]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(rcpt.lower().startswith("drop@") for rcpt in envelope.rcpt_tos):
            server.transport.abort()  # the body arrived; the reply never will
            return "250 never sent"
        domain = envelope.rcpt_tos[0].rpartition("@")[2].lower() if envelope.rcpt_tos else ""
        for key in (domain, "*"):
            self.active[key] = self.active.get(key, 0) + 1
            self.most[key] = max(self.most.get(key, 0), self.active[key])
        try:
            if any(rcpt.lower().startswith("slow") for rcpt in envelope.rcpt_tos):
                await asyncio.sleep(0.1)
        finally:
            for key in (domain, "*"):
                self.active[key] -= 1
        self.accepted += 1
        if self.directory is not None:
            name = f"{uuid.uuid4().hex}.eml"
            (self.directory / f".{name}").write_bytes(envelope.original_content or b"")
            os.replace(self.directory / f".{name}", self.directory / name)
        return "250 2.0.0 queued"


def _context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _serve(args: argparse.Namespace) -> None:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    handler = ScriptedHandler(None if args.count_only else Path(args.dir))
    user, _, password = (args.auth or "").partition(":")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    starttls = _context(*args.tls) if args.tls else None
    options = {"data_size_limit": 50_000_000, "enable_SMTPUTF8": True, "timeout": 60}
    if args.auth:
        options |= {"authenticator": authenticator, "auth_required": True, "auth_require_tls": bool(args.tls)}
    if starttls:
        options |= {"tls_context": starttls, "require_starttls": True}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="peer.test", **options), host="127.0.0.1", port=0,
        ssl=_context(*args.implicit_tls) if args.implicit_tls else None)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin or dies
    print(f"most {json.dumps(handler.most)}", flush=True)
    print(f"accepted {handler.accepted}", flush=True)


@dataclass
class Peer:
    process: subprocess.Popen
    port: int
    directory: Path

    def messages(self) -> list[bytes]:
        return [path.read_bytes() for path in sorted(self.directory.glob("*.eml"))]

    def stop(self) -> str:
        try:  # closing our end of its stdin is the signal to stop
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out or ""


def start_peer(directory: Path, *extra: str) -> Peer:
    """Start the peer process; `extra` are command-line options (`--tls CERT KEY`, `--auth U:P`, `--count-only`)."""
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, __file__, "--dir", str(directory), *extra], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("port "):
        process.kill()
        raise RuntimeError(f"SMTP peer did not start: {line!r}")
    return Peer(process=process, port=int(line.split()[1]), directory=directory)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--count-only", action="store_true")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth")
    parser.add_argument("--uvloop", action="store_true", help="serve on uvloop (the benchmarks' receiving server)")
    parsed = parser.parse_args()
    if parsed.uvloop:
        import uvloop

        uvloop.run(_serve(parsed))
    else:
        asyncio.run(_serve(parsed))
