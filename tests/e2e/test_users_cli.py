"""`winback users add/list/disable/set-role` as a user runs them, on both stores, including the password prompt."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import termios
from datetime import UTC, datetime

from test_cli import winback

from winback.store.db import create_store_engine
from winback.web import auth

PASSWORD = "correct horse battery"


def piped(*args, stdin, home, url=None, check=True):
    """`winback ARGS` with `stdin` piped in (the shared helper has no input)."""
    env = {**os.environ, "WINBACK_HOME": str(home), "COLUMNS": "200"}
    env.pop("WINBACK_DATABASE_URL", None)
    if url:
        env["WINBACK_DATABASE_URL"] = url
    proc = subprocess.run([sys.executable, "-m", "winback.cli.main", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"winback {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def _engine(url, home):
    return create_store_engine(url or f"sqlite:///{home / 'winback.db'}")


def test_add_list_disable_and_set_role(store_url, tmp_path):
    url = store_url if store_url.startswith("postgresql") else None
    winback("init", home=tmp_path, url=url)
    out = piped("users", "add", "Boss@Example.com", "--role", "admin", "--name", "The Boss", "--password-stdin",
                stdin=PASSWORD + "\n", home=tmp_path, url=url)
    assert "boss@example.com added with the role admin" in out.stdout
    made = json.loads(piped("users", "add", "mia@example.com", "--role", "marketer", "--password-stdin", "--json",
                            stdin=PASSWORD + "\n", home=tmp_path, url=url).stdout)
    assert (made["email"], made["role"], made["name"], made["disabled"]) == ("mia@example.com", "marketer", None, False)

    listed = json.loads(winback("users", "list", "--json", home=tmp_path, url=url).stdout)
    assert [(u["email"], u["role"]) for u in listed] == [("boss@example.com", "admin"), ("mia@example.com", "marketer")]
    assert "password" not in json.dumps(listed)
    assert "boss@example.com" in winback("users", "list", home=tmp_path, url=url).stdout

    engine = _engine(url, tmp_path)
    try:
        now = datetime.now(UTC)
        assert auth.authenticate(engine, email="BOSS@example.com", password=PASSWORD, now=now) is not None
        assert "now has the role viewer" in winback("users", "set-role", "mia@example.com", "viewer",
                                                    home=tmp_path, url=url).stdout
        assert "disabled at" in winback("users", "disable", "mia@example.com", home=tmp_path, url=url).stdout
        mia = json.loads(winback("users", "list", "--json", home=tmp_path, url=url).stdout)[1]
        assert (mia["role"], mia["disabled"]) == ("viewer", True)
        assert auth.authenticate(engine, email="mia@example.com", password=PASSWORD, now=now) is None
    finally:
        engine.dispose()


def test_mistakes_are_one_line(tmp_path):
    winback("init", home=tmp_path)
    assert "no users (add the first admin" in winback("users", "list", home=tmp_path).stdout
    cases = [
        (["add", "a@example.com", "--role", "admin", "--password-stdin"], "short\n", "at least 12 characters"),
        (["add", "a@example.com", "--role", "root", "--password-stdin"], PASSWORD + "\n", "unknown role 'root'"),
        (["add", "not-an-email", "--role", "admin", "--password-stdin"], PASSWORD + "\n", "not an email address"),
        (["add", "a@example.com", "--role", "admin"], "", "pipe it in with --password-stdin"),
        (["disable", "ghost@example.com"], "", "no user 'ghost@example.com'"),
        (["set-role", "ghost@example.com", "viewer"], "", "no user"),
    ]
    for args, stdin, message in cases:
        proc = piped("users", *args, stdin=stdin, home=tmp_path, check=False)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, args
    piped("users", "add", "a@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n",
          home=tmp_path)
    again = piped("users", "add", "A@example.com", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n",
                  home=tmp_path, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr


def _on_terminal(args, typed, home):
    """Run `winback ARGS` with a terminal of its own, typing each line of `typed` when asked."""
    controller, terminal = os.openpty()
    env = {**os.environ, "WINBACK_HOME": str(home), "COLUMNS": "200"}
    env.pop("WINBACK_DATABASE_URL", None)

    def take_terminal():  # the child's own session, with this terminal as its controlling one (getpass reads it)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "winback.cli.main", *args], stdin=terminal, stdout=terminal,
                            stderr=subprocess.PIPE, env=env, start_new_session=True, preexec_fn=take_terminal)
    os.close(terminal)
    shown = b""
    for line in typed:
        while b": " not in shown.rsplit(b"\n", 1)[-1]:
            shown += os.read(controller, 1024)
        os.write(controller, line.encode() + b"\n")
        shown += b"\n"
    _, err = proc.communicate(timeout=120)
    try:
        while chunk := os.read(controller, 4096):
            shown += chunk
    except OSError:  # the child closed its end
        pass
    os.close(controller)
    return proc.returncode, shown.decode(), err.decode()


def test_the_password_is_asked_twice_without_echo(tmp_path):
    winback("init", home=tmp_path)
    code, shown, err = _on_terminal(["users", "add", "ann@example.com", "--role", "admin"],
                                    [PASSWORD, PASSWORD + "!"], tmp_path)
    assert code == 1 and "the two passwords differ" in err
    code, shown, err = _on_terminal(["users", "add", "ann@example.com", "--role", "admin"], [PASSWORD, PASSWORD],
                                    tmp_path)
    assert code == 0, err
    assert "Password (at least 12 characters):" in shown and "Repeat the password:" in shown
    assert PASSWORD not in shown and "ann@example.com added" in shown
