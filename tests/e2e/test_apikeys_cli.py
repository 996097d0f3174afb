"""`winback apikeys create/list/revoke` as a user runs them, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from test_cli import winback

from winback.api.keys import parse_key, verify_key
from winback.store.db import create_store_engine


def test_create_list_and_revoke(store_url, tmp_path):
    url = store_url if store_url.startswith("postgresql") else None
    winback("init", home=tmp_path, url=url)
    made = json.loads(winback("apikeys", "create", "shop backend", "--scope", "orders:write", "--scope",
                              "events:write", "--json", home=tmp_path, url=url).stdout)
    assert made["scopes"] == ["events:write", "orders:write"] and made["name"] == "shop backend"
    assert "cannot be shown again" in made["warning"]
    key_id, secret = parse_key(made["key"])
    assert key_id == made["key_id"]

    human = winback("apikeys", "create", "billing", home=tmp_path, url=url)
    [full] = [line for line in human.stdout.split() if line.startswith("wbk_")]
    assert "cannot be shown again" in human.stderr and "scopes all" in human.stdout

    listed = json.loads(winback("apikeys", "list", "--json", home=tmp_path, url=url).stdout)
    assert [(k["name"], k["scopes"], k["revoked"]) for k in listed] == [
        ("shop backend", ["events:write", "orders:write"], False), ("billing", None, False)]
    assert secret not in json.dumps(listed) and "secret_hash" not in listed[0]

    engine = create_store_engine(url or f"sqlite:///{tmp_path / 'winback.db'}")
    try:
        now = datetime.now(UTC)
        assert verify_key(engine, made["key"], now=now) is not None
        out = winback("apikeys", "revoke", key_id, home=tmp_path, url=url).stdout
        assert f"key {key_id} (shop backend) revoked" in out
        assert verify_key(engine, made["key"], now=now) is None
        assert verify_key(engine, full, now=now) is not None
    finally:
        engine.dispose()
    listed = json.loads(winback("apikeys", "list", "--json", home=tmp_path, url=url).stdout)
    assert [k["revoked"] for k in listed] == [True, False]
    table = winback("apikeys", "list", home=tmp_path, url=url).stdout
    assert key_id in table and "shop backend" in table and secret not in table


def test_mistakes_are_one_line_and_non_zero(tmp_path):
    winback("init", home=tmp_path)
    for args, message in ((["apikeys", "revoke", "0123456789abcdef"], "no API key"),
                          (["apikeys", "create", "x", "--scope", "orders:read"], "unknown scope"),
                          (["apikeys", "create", " "], "needs a name")):
        proc = winback(*args, home=tmp_path, check=False)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr
    assert "no API keys" in winback("apikeys", "list", home=tmp_path).stdout
    assert "revoke" in winback("apikeys", "--help", home=tmp_path).stdout
