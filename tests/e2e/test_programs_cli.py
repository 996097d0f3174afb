"""`winback programs …` and `winback worker` as a user runs them: JSON contracts and one-line errors."""

from __future__ import annotations

import json
import textwrap

from test_cli import winback

PROGRAMME = textwrap.dedent("""\
    programme: cli-test
    audience: "customer_id in ['A1', 'A2', 'A3']"
    holdout: 0
    steps:
      - id: hello
        send: {template: winback/reminder, subject: {en: Hello, zh: 你好}}
      - wait: 1d
      - id: again
        send: {template: winback/whats-new, subject: Again}
""")


def _store(tmp_path, store_url=None):
    winback("init", home=tmp_path, url=store_url)
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,locale\nA1,a1@example.com,en\nA2,a2@example.com,zh-CN\nA3,a3@example.com,en\n")
    winback("ingest", "customers", str(path), home=tmp_path, url=store_url)
    programme = tmp_path / "p.yaml"
    programme.write_text(PROGRAMME)
    return programme


def test_validate_reports_the_line_and_the_fix_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(PROGRAMME.replace("  - wait: 1d", "  - wiat: 1d"))
    proc = winback("programs", "validate", str(bad), home=tmp_path, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"{bad}:7:" in lines[0]
    assert "wiat" in lines[0] and "'wait'" in lines[0]
    good = tmp_path / "good.yaml"
    good.write_text(PROGRAMME)
    out = json.loads(winback("programs", "validate", str(good), "--json", home=tmp_path).stdout)
    assert out["valid"] is True and out["steps"] == ["hello", "wait-2", "again"]


def test_start_worker_status_and_lifecycle(store_url, tmp_path):
    programme = _store(tmp_path, store_url)
    maildir = tmp_path / "outbox"
    started = json.loads(winback("programs", "start", str(programme), "--json", home=tmp_path,
                                 url=store_url).stdout)
    assert {k: started[k] for k in ("programme", "version", "enrolled", "holdout")} == \
        {"programme": "cli-test", "version": 1, "enrolled": 3, "holdout": 0}
    report = json.loads(winback("worker", "--simulate", "--json", home=tmp_path, url=store_url,
                                env={"WINBACK_TRANSPORT": f"maildir:{maildir}",
                                     "WINBACK_POSTAL_ADDRESS": "Example Shop, 1 Example Street"}).stdout)
    assert report["steps"]["handed_over"] == 6 and report["steps"]["outcomes"] == {"sent": 6}
    assert report["steps"]["finished"] == {"completed": 3} and report["steps"]["possible_duplicates"] == 0
    assert len(list((maildir / "new").iterdir())) == 6
    status = json.loads(winback("programs", "status", "cli-test", "--json", home=tmp_path, url=store_url).stdout)
    prog = status["programmes"][0]
    assert prog["enrolments"] == {"completed": 3} and prog["steps"]["hello"]["states"] == {"sent": 3}
    assert prog["pending_steps"] == 0
    paused = json.loads(winback("programs", "pause", "cli-test", "--json", home=tmp_path, url=store_url).stdout)
    assert (paused["previous"], paused["state"]) == ("running", "paused")
    resumed = json.loads(winback("programs", "resume", "cli-test", "--json", home=tmp_path, url=store_url).stdout)
    assert resumed["state"] == "running"
    stopped = json.loads(winback("programs", "stop", "cli-test", "--json", home=tmp_path, url=store_url).stdout)
    assert stopped["state"] == "stopped"
    again = winback("programs", "resume", "cli-test", home=tmp_path, url=store_url, check=False)
    assert again.returncode == 1 and again.stderr.startswith("error: programme 'cli-test' is stopped")


def test_unknown_programme_and_bad_transport_are_one_line_errors(tmp_path):
    _store(tmp_path)
    proc = winback("programs", "pause", "nope", home=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: no programme 'nope'")
    proc = winback("worker", "--until-idle", home=tmp_path, check=False, env={"WINBACK_TRANSPORT": "carrier-pigeon"})
    assert proc.returncode == 1 and "WINBACK_TRANSPORT='carrier-pigeon'" in proc.stderr
