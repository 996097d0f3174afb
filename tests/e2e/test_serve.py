"""`winback serve` as a user runs it: a real process on a free port, answering the open pixel and a click over HTTP,
and writing every hit before it exits on SIGINT (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from test_cli import winback

from winback.store.db import create_store_engine
from winback.store.tables import engagements, message_links, tracking_rejects
from winback.tracking.hits import GIF, INVALID_LINK_BODY
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id, link_key

KEYS = "k1:" + "e" * 32
TARGET = "https://shop.example/sale"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"winback serve exited ({proc.returncode}): {proc.communicate()[1]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("winback serve did not listen within 60 s")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_answers_the_pixel_and_a_click_over_http(store_url: str, tmp_path: Path, workers: str) -> None:
    winback("init", home=tmp_path, url=store_url)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    engine = create_store_engine(store_url)
    sent = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(message_links.insert(), {"enrolment_id": 3, "step": "s1", "link_key": link_key(TARGET),
                                              "url": TARGET, "customer_id": "C-3", "programme_id": "p",
                                              "created_at": sent})
    links = LinkBuilder(TokenSigner({"k1": b"e" * 32}, "k1", environment_id(public)), public)
    env = {**os.environ, "WINBACK_HOME": str(tmp_path), "WINBACK_DATABASE_URL": store_url,
           "WINBACK_SECRET_KEYS": KEYS, "WINBACK_PUBLIC_URL": public}
    command = [sys.executable, "-m", "winback.cli.main", "serve", "--port", str(port), "--workers", workers]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_listening(port, proc)
        headers = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"}
        pixel = httpx.get(links.open_url(customer_id="C-3", enrolment_id=3, step="s1", sent_at=sent),
                          headers=headers)
        assert pixel.status_code == 200 and pixel.content == GIF
        assert pixel.headers["x-content-type-options"] == "nosniff"
        click = httpx.get(links.click_url(customer_id="C-3", enrolment_id=3, step="s1", link_key=link_key(TARGET),
                                          sent_at=sent), headers=headers)
        assert click.status_code == 302 and click.headers["location"] == TARGET
        bad = httpx.get(f"{public}/o/not-a-token.gif", headers=headers)
        assert bad.status_code == 404 and bad.text == INVALID_LINK_BODY
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with engine.connect() as conn:
        kinds = sorted(conn.scalars(sa.select(engagements.c.kind)))
        rejects = conn.execute(sa.select(tracking_rejects.c.route, tracking_rejects.c.reason)).all()
    engine.dispose()
    assert kinds == ["click", "open"]
    assert [tuple(r) for r in rejects] == [("open", "bad_token")]


def test_serve_refuses_a_store_that_is_not_initialised(tmp_path: Path) -> None:
    proc = winback("serve", "--port", str(free_port()), home=tmp_path, check=False)
    assert proc.returncode != 0
    assert "winback init" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_help_names_its_options(tmp_path: Path) -> None:
    out = winback("serve", "--help", home=tmp_path).stdout
    for option in ("--host", "--port", "--workers", "--access-log"):
        assert option in out
