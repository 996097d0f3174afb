"""Shipped playbooks run end to end as a user runs them: real processes, both stores, a generated world.

init → datasets generate --load → score, then for each of two playbooks in turn: programs start PLAYBOOK →
worker --simulate (into a maildir of its own), and then:
the run ended; every ledger row is terminal; the maildir holds exactly the messages the ledger says were sent,
once each; the holdout got nothing; the holdout's share is what the programme says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.utils import getaddresses
from pathlib import Path

import sqlalchemy as sa
from scipy.stats import binom

from winback.campaigns.assign import in_holdout
from winback.messaging.transports.maildir import read_maildir
from winback.store import tables as t
from winback.store.db import create_store_engine

TERMINAL = {"sent", "failed", "skipped", "done"}


def winback(*args: str, home: Path, url: str | None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "WINBACK_HOME": str(home), "COLUMNS": "200", **(env or {})}
    for name in ("WINBACK_DATABASE_URL", "WINBACK_TRANSPORT", "WINBACK_FREQUENCY_CAPS"):
        if name not in (env or {}):
            full.pop(name, None)
    if url:
        full["WINBACK_DATABASE_URL"] = url
    proc = subprocess.run([sys.executable, "-m", "winback.cli.main", *args], env=full, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"winback {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def as_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout)


def test_two_playbooks_run_to_the_end_with_a_consistent_ledger_and_outbox(store_url, tmp_path):
    home = tmp_path / "home"
    url = store_url if store_url.startswith("postgresql") else None  # SQLite: the default store under home
    winback("init", home=home, url=url)
    winback("datasets", "generate", "--customers", "1500", "--seed", "11", "--load", "--json", home=home, url=url)
    winback("score", "--json", home=home, url=url)
    engine = create_store_engine(url or f"sqlite:///{home / 'winback.db'}")
    try:
        for playbook in ("four-email-winback", "dormant-reactivation"):  # one after the other, each to its outbox
            run_and_check(playbook, home=home, url=url, outbox=tmp_path / f"outbox-{playbook}", engine=engine)
    finally:
        engine.dispose()


def run_and_check(playbook: str, *, home: Path, url: str | None, outbox: Path, engine: sa.Engine) -> None:
    started = as_json(winback("programs", "start", playbook, "--json", home=home, url=url))
    assert started["programme"] == playbook and started["version"] == 1 and started["new_version"]
    assert started["enrolled"] > 100

    worker = as_json(winback("worker", "--simulate", "--json", home=home, url=url,
                             env={"WINBACK_TRANSPORT": f"maildir:{outbox}",
                                  "WINBACK_POSTAL_ADDRESS": "Example Shop, 1 Example Street, Springfield"}))
    steps = worker["steps"]
    assert steps["possible_duplicates"] == 0 and steps["stale"] == 0 and not steps["paused"]
    assert set(steps["outcomes"]) == {"sent"}  # the maildir accepts everything

    # The run ended: nothing active, nothing pending.
    status = as_json(winback("programs", "status", playbook, "--json", home=home, url=url))
    (prog,) = status["programmes"]
    assert prog["state"] == "running" and prog["version"] == 1
    assert "active" not in prog["enrolments"] and prog["pending_steps"] == 0
    assert not any(info.get("pending") for info in prog["steps"].values())

    g, e = t.ledger.c, t.enrolments.c
    with engine.connect() as conn:
        ledger = conn.execute(sa.select(g.customer_id, g.kind, g.state, g.reason, g.message_id, g.step)
                              .where(g.programme_id == playbook)).all()
        enrolments = conn.execute(sa.select(e.customer_id, e.holdout, e.state, e.outcome)
                                  .where(e.programme_id == playbook)).all()
        emails = dict(conn.execute(sa.select(t.customers.c.customer_id, t.customers.c.email)).all())
        nurture = set(conn.scalars(sa.select(t.list_members.c.customer_id)
                                   .where(t.list_members.c.list_name == "long-term-nurture")))
        unfinished = conn.scalar(sa.select(sa.func.count()).select_from(t.ledger)
                                 .where(g.state.in_(("sending", "soft_failed", "unknown"))))

    # Every ledger row is terminal; every skip says why.
    assert ledger, "the run recorded its steps"
    assert {row.state for row in ledger} <= TERMINAL and unfinished == 0
    assert all(row.reason for row in ledger if row.state == "skipped")

    # The outbox holds exactly the sent messages, each once.
    messages = [message_from_bytes(raw) for raw in read_maildir(outbox)]
    outbox_ids = [m["Message-ID"] for m in messages]
    sent = [row for row in ledger if row.kind == "send" and row.state == "sent"]
    sent_ids = [row.message_id for row in sent]
    assert None not in sent_ids and len(set(sent_ids)) == len(sent_ids)
    assert len(outbox_ids) == len(set(outbox_ids)) == len(sent_ids) == steps["handed_over"]
    assert set(outbox_ids) == set(sent_ids)
    assert not [row for row in ledger if row.kind == "send" and row.state == "failed"]

    # The holdout got nothing: no ledger rows, no message addressed to them.
    held = {row.customer_id for row in enrolments if row.holdout}
    treated = {row.customer_id for row in enrolments if not row.holdout}
    assert held and not held & treated
    assert all(row.state == "holdout" for row in enrolments if row.holdout)
    assert not {row.customer_id for row in ledger} & held
    addressed = {addr.lower() for m in messages for _, addr in getaddresses(m.get_all("To", []))}
    assert not addressed & {emails[c].lower() for c in held if emails.get(c)}
    assert addressed <= {emails[c].lower() for c in treated if emails.get(c)}

    # The holdout share is the programme's 10 %, within binomial bounds (one in a million either side).
    n = len(enrolments)
    assert (started["enrolled"], started["holdout"]) == (len(treated), len(held))
    low, high = binom.ppf(1e-6, n, 0.10), binom.ppf(1 - 1e-6, n, 0.10)
    assert low <= len(held) <= high, (len(held), n, low, high)

    if playbook == "dormant-reactivation":
        # No engagement in a simulated run: after three messages, everyone left is moved to long-term nurture.
        sunset = {row.customer_id for row in enrolments if row.outcome == "sunset"}
        assert sunset and sunset == nurture
        moves = {row.customer_id for row in ledger if row.kind == "move" and row.step == "sunset"}
        assert moves == sunset and all(row.state == "done" for row in ledger if row.kind == "move")
        assert not [row for row in ledger if row.step == "exclusive-offer"]  # only for human openers of the first
    else:
        assert {row.step for row in sent} == {"reminder", "whats-new", "incentive", "last-chance"}


def test_triggered_playbooks_fire_on_fresh_events(store_url, tmp_path):
    """cart-abandonment (an imported `cart_abandon` event) and subscription-cancel-save (a cancellation) enrol the
    customers whose event just happened and write to them three times each; their holdout gets nothing."""
    home, outbox = tmp_path / "home", tmp_path / "outbox"
    url = store_url if store_url.startswith("postgresql") else None
    ago = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    carts, cancels = [f"T{i:02d}" for i in range(1, 21)], [f"T{i:02d}" for i in range(21, 41)]
    files = {
        "customers": ["customer_id,email,name,time_zone"] + [f"{c},{c.lower()}@example.com,{c},UTC"
                                                              for c in carts + cancels],
        "events": ["event_id,customer_id,occurred_at,type"] + [f"E{c},{c},{ago},cart_abandon" for c in carts],
        "subscriptions": ["subscription_id,customer_id,plan,status,started_at,cancelled_at"]
        + [f"S{c},{c},basic-monthly,cancelled,2025-01-01T00:00:00Z,{ago}" for c in cancels],
    }
    winback("init", home=home, url=url)
    for entity, lines in files.items():
        path = tmp_path / f"{entity}.csv"
        path.write_text("\n".join(lines) + "\n")
        loaded = as_json(winback("ingest", entity, str(path), "--json", home=home, url=url))
        assert loaded["inserted"] == len(lines) - 1 and loaded["quarantined"] == 0

    for playbook in ("cart-abandonment", "subscription-cancel-save"):
        started = as_json(winback("programs", "start", playbook, "--json", home=home, url=url))
        assert started["state"] == "running" and "enrolled" not in started  # triggers enrol as events arrive
    worker = as_json(winback("worker", "--simulate", "--json", home=home, url=url,
                             env={"WINBACK_TRANSPORT": f"maildir:{outbox}",
                                  "WINBACK_POSTAL_ADDRESS": "Example Shop, 1 Example Street, Springfield"}))
    assert worker["steps"]["possible_duplicates"] == 0

    received: dict[str, list[str]] = {}
    for raw in read_maildir(outbox):
        message = message_from_bytes(raw)
        received.setdefault(message["To"].split("<")[-1].strip(">").split("@")[0].upper(), []).append(
            message["X-Winback-Step"])
    expected = {"cart-abandonment": (carts, ["reminder", "still-thinking", "free-shipping"]),
                "subscription-cancel-save": (cancels, ["pause", "downgrade", "save-offer"])}
    for playbook, (customers, steps) in expected.items():
        held = {c for c in customers if in_holdout(playbook, c, 0.10)}
        assert worker["enrolled"][playbook] == len(customers) - len(held)
        assert worker["holdout"][playbook] == len(held)
        for customer in customers:
            assert received.get(customer, []) == ([] if customer in held else steps), customer
