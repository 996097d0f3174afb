"""`winback hygiene check` and `winback bounces process`, in-process on both stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from winback.cli import bounces, hygiene
from winback.jobs.workspace import Workspace
from winback.settings import Settings
from winback.store import tables as t

CORPUS = Path(__file__).parents[1] / "data" / "inbound"
EMAILS = {"C1": "ann@gmial.com", "C2": "info@example.com", "C3": "x@mailinator.com", "C4": "not an address",
          "C5": "bob@example.org"}


def _app(store_url: str, home: Path, now, *, dns: str = "offline") -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = Workspace(settings=Settings(home=home, database_url=store_url, dns=dns), clock=lambda: now)
        ctx.call_on_close(ctx.obj.close)

    hygiene.register(app)
    bounces.register(app)
    return app


@pytest.fixture
def seeded(engine, now):
    with engine.begin() as conn:
        for cid, email in EMAILS.items():
            conn.execute(t.customers.insert().values(customer_id=cid, email=email, email_key=email.lower(),
                                                     row_hash="h", updated_at=now))
        conn.execute(t.suppressions.insert().values(channel="email", address_key="bob@example.org",
                                                    address="bob@example.org", basis="unsubscribe", at=now,
                                                    row_hash="h", updated_at=now))
    return engine


def _run(app, *args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_hygiene_check_json(seeded, store_url, tmp_path, now):
    app = _app(store_url, tmp_path, now)
    report = json.loads(_run(app, "hygiene", "check", "--json").stdout)
    assert set(report) == {"as_of", "dns", "checked", "clean", "flags", "suppressed", "flagged", "suppressed_now"}
    assert report["dns"].startswith("offline") and report["checked"] == 5 and report["clean"] == 1
    assert report["flags"] == {"invalid": 1, "role": 1, "disposable": 1, "typo": 1, "no_mx": 0, "dns_timeout": 0,
                               "dns_error": 0}
    assert report["suppressed"] == {"total": 1, "by_basis": {"unsubscribe": 1}}
    typo = next(r for r in report["flagged"] if r["customer_id"] == "C1")
    assert typo["suggestion"] == "ann@gmail.com" and typo["mx"] == "skipped"
    assert report["suppressed_now"] == 0


def test_dns_flag_is_ignored_offline(seeded, store_url, tmp_path, now):
    report = json.loads(_run(_app(store_url, tmp_path, now), "hygiene", "check", "--dns", "--json").stdout)
    assert "--dns ignored" in report["dns"]


def test_suppress_invalid(seeded, store_url, tmp_path, now):
    app = _app(store_url, tmp_path, now)
    assert json.loads(_run(app, "hygiene", "check", "--suppress-invalid", "--json").stdout)["suppressed_now"] == 1
    assert json.loads(_run(app, "hygiene", "check", "--suppress-invalid", "--json").stdout)["suppressed_now"] == 0
    with seeded.connect() as conn:
        rows = {(r.address, r.basis) for r in conn.execute(sa.select(t.suppressions))}
    assert rows == {("bob@example.org", "unsubscribe"), ("not an address", "invalid")}


def test_hygiene_check_table(seeded, store_url, tmp_path, now):
    out = _run(_app(store_url, tmp_path, now), "hygiene", "check", "--no-dns").stdout
    assert "ann@gmail.com" in out and "mailinator" in out


def test_bounces_process_maildir(engine, store_url, tmp_path, now):
    root = tmp_path / "bounces"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for name in ("postfix_user_unknown", "ooo_english_auto_submitted", "malformed_empty"):
        shutil.copy(CORPUS / f"{name}.eml", root / "new" / name)
    app = _app(store_url, tmp_path, now)
    first = json.loads(_run(app, "bounces", "process", "--maildir", str(root), "--json").stdout)
    assert (first["total"], first["processed"], first["ignored"], first["quarantined"]) == (3, 1, 1, 1)
    again = json.loads(_run(app, "bounces", "process", "--maildir", str(root), "--json").stdout)
    assert again["total"] == 0


def test_bounces_process_needs_exactly_one_source(engine, store_url, tmp_path, now):
    from winback.domain.errors import UserError

    app = _app(store_url, tmp_path, now)
    for args in ([], ["--maildir", str(tmp_path), "--imap", "imaps://u:p@mail.example.com/INBOX"]):
        result = CliRunner().invoke(app, ["bounces", "process", *args])
        assert isinstance(result.exception, UserError) and "exactly one" in str(result.exception)
    result = CliRunner().invoke(app, ["bounces", "process", "--maildir", str(tmp_path / "missing")])
    assert isinstance(result.exception, UserError) and "not a maildir" in str(result.exception)
    result = CliRunner().invoke(app, ["bounces", "process", "--imap", "http://mail.example.com/"])
    assert isinstance(result.exception, UserError) and "not an IMAP URL" in str(result.exception)


def test_bounces_process_imap_unreachable_is_one_line(engine, store_url, tmp_path, now):
    """No IMAP server in the test environment: a refused connection is a user error, not a traceback."""
    import socket

    from winback.domain.errors import UserError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: the connection is refused
        result = CliRunner().invoke(_app(store_url, tmp_path, now),
                                    ["bounces", "process", "--imap", f"imap://u:p@127.0.0.1:{port}/INBOX"])
    assert isinstance(result.exception, UserError) and "cannot connect" in str(result.exception)


class _FakeImap:
    """A scripted IMAP4rev1 peer (LOGIN, SELECT, UID SEARCH/FETCH/STORE, LOGOUT) — not a real server."""

    def __init__(self, messages: dict[int, bytes]):
        import socketserver
        import threading

        self.messages, self.seen = messages, set()
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"* OK fake IMAP4rev1 ready\r\n")
                for line in self.rfile:
                    tag, command, *rest = line.decode().rstrip("\r\n").split(" ")
                    reply = fake.answer(command.upper(), rest)
                    self.wfile.write(reply + f"{tag} OK done\r\n".encode())
                    if command.upper() == "LOGOUT":
                        return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def answer(self, command: str, rest: list[str]) -> bytes:
        if command == "CAPABILITY":
            return b"* CAPABILITY IMAP4rev1\r\n"
        if command == "SELECT":
            return f"* {len(self.messages)} EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n".encode()
        if command == "LOGOUT":
            return b"* BYE\r\n"
        if command == "UID" and rest[0].upper() == "SEARCH":
            return ("* SEARCH " + " ".join(str(u) for u in self.messages if u not in self.seen) + "\r\n").encode()
        if command == "UID" and rest[0].upper() == "FETCH":
            uid = int(rest[1])
            body = self.messages[uid]
            return f"* 1 FETCH (UID {uid} BODY[] {{{len(body)}}}\r\n".encode() + body + b")\r\n"
        if command == "UID" and rest[0].upper() == "STORE":
            self.seen.add(int(rest[1]))
        return b""

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_bounces_process_imap_against_a_scripted_peer(engine, store_url, tmp_path, now):
    fake = _FakeImap({7: (CORPUS / "postfix_user_unknown.eml").read_bytes(),
                      9: (CORPUS / "ooo_english_auto_submitted.eml").read_bytes()})
    try:
        app = _app(store_url, tmp_path, now)
        url = f"imap://u:p@127.0.0.1:{fake.port}/INBOX"
        first = json.loads(_run(app, "bounces", "process", "--imap", url, "--json").stdout)
        assert (first["processed"], first["ignored"], first["error"]) == (1, 1, 0)
        assert fake.seen == {7, 9}
        assert json.loads(_run(app, "bounces", "process", "--imap", url, "--json").stdout)["total"] == 0
    finally:
        fake.close()
    with engine.connect() as conn:
        keys = {(r.source, r.source_key) for r in conn.execute(sa.select(t.inbound_messages))}
    assert keys == {("imap://127.0.0.1/INBOX", "42:7"), ("imap://127.0.0.1/INBOX", "42:9")}
