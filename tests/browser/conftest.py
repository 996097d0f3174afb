"""The real-browser harness: Debian's Chromium driven by Playwright against `winback dashboard` run as a process.

The store is a small generated world (600 customers) scored three times, so the overview has history to draw; an
admin is added with `winback users add --password-stdin`. Screenshots go to tests/browser/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
CUSTOMERS = 600
SEED = 7
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "a long demo password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
START_TIMEOUT = 60.0  # seconds for the dashboard to answer


def _apt_install(package: str) -> subprocess.CompletedProcess[str]:
    command = ["apt-get", "install", "-y", package]
    if os.geteuid() != 0 and shutil.which("sudo"):
        command = ["sudo", "-n", *command]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _chromium() -> str:
    """Debian's Chromium; installed with apt-get when missing (Playwright cannot download browsers here)."""
    found = shutil.which("chromium")
    if found:
        return found
    result = _apt_install("chromium")
    found = shutil.which("chromium")
    if not found:
        pytest.fail(f"no chromium, and `{' '.join(result.args)}` did not install it: {result.stderr.strip()[-500:]}")
    return found


def _chinese_font() -> None:
    """A small CJK font, so the Chinese screenshots show characters rather than boxes; the assertions read the DOM
    and do not need it, so a failed install is not an error."""
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False) \
        if shutil.which("fc-list") else None
    if listed is not None and listed.stdout.strip():
        return
    _apt_install("fonts-wqy-microhei")


@pytest.fixture(scope="session")
def admin() -> tuple[str, str]:
    """The email and password of the dashboard's admin."""
    return ADMIN_EMAIL, ADMIN_PASSWORD


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    _chinese_font()
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def store_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """WINBACK_* settings of a prepared store: a generated world, loaded and scored 60, 30 and 0 days before its end."""
    home = tmp_path_factory.mktemp("dashboard")
    env = {**os.environ, "WINBACK_HOME": str(home), "WINBACK_DATABASE_URL": f"sqlite:///{home}/store.db",
           "WINBACK_TRANSPORT": f"maildir:{home}/outbox", "WINBACK_DNS": "offline",
           "WINBACK_POSTAL_ADDRESS": "winback demo shop, 1 Example Street, Springfield (made up)",
           "WINBACK_SHOP_URL": "https://shop.example/", "WINBACK_PRODUCT_URL": "https://shop.example/p/{sku}"}
    _prepare(env)
    _cli(env, "users", "add", ADMIN_EMAIL, "--role", "admin", "--name", "Demo Admin", "--password-stdin",
         stdin=ADMIN_PASSWORD + "\n")
    return env


def _prepare(env: dict[str, str]) -> None:
    from winback.jobs import data
    from winback.jobs.scoring import score
    from winback.jobs.workspace import Workspace
    from winback.settings import Settings

    settings = Settings(home=Path(env["WINBACK_HOME"]), database_url=env["WINBACK_DATABASE_URL"])
    ws = Workspace(settings=settings)
    try:
        data.init_store(ws)
        world = data.generate(ws, customers=CUSTOMERS, seed=SEED)
        data.load_directory(ws, Path(world["directory"]))
        meta = json.loads((Path(world["directory"]) / "truth" / "world.json").read_text())
        end = datetime.fromisoformat(meta["observed_until"].replace("Z", "+00:00")).astimezone(UTC)
        for days in (60, 30, 0):
            score(ws, as_of=end - timedelta(days=days))
    finally:
        ws.close()


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "winback.cli.main", *args], env=env, input=stdin,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"winback {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def dashboard(store_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`winback dashboard` on a free port, as its own process; its base URL."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("dashboard-log") / "dashboard.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "winback.cli.main", "dashboard", "--port", str(port)],
                               env=store_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log.name)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"winback dashboard exited with {process.returncode}: {Path(log).read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/app/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"winback dashboard did not answer within {START_TIMEOUT:.0f} s: {Path(log).read_text()[-2000:]}")


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
