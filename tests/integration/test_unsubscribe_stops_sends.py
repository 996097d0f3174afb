"""A one-click unsubscribe stops every programme's sends to the customer at the worker's next batch — sends already
due included — while everyone else still gets theirs (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import textwrap
import warnings
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t
from winback.tracking.pages import router
from winback.tracking.recorder import Recorder
from winback.tracking.tokens import LinkBuilder

with warnings.catch_warnings():  # Starlette now asks for the `httpx2` fork; plain httpx works the same here
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PUBLIC = "https://t.example.com"
CUSTOMERS = [f"c{i}" for i in range(1, 7)]

# `first` goes out now; `second` waits a day. Programme B is started later, so its first send is already due (queued)
# when the customer unsubscribes.
PROGRAMME = """
    programme: {name}
    audience: "customer_id in {ids}"
    holdout: 0
    steps:
      - id: first
        send: {{template: winback/reminder, subject: Hello from {name}}}
      - wait: 1d
      - id: second
        send: {{template: winback/whats-new, subject: Again from {name}}}
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def shop(engine, store_url, tmp_path):
    clock = Clock(START)
    settings = Settings(home=tmp_path, database_url=store_url, public_url=PUBLIC, secret_keys="k1:" + "s" * 32,
                        postal_address="Example Shop, 1 Example Street, 10115 Berlin")
    ws = Workspace(settings, clock=clock)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": cid, "email": f"{cid}@example.com", "email_key": f"{cid}@example.com", "name": cid,
             "locale": "en", "time_zone": "UTC", "row_hash": "x", "updated_at": START} for cid in CUSTOMERS])
    links = LinkBuilder.from_settings(settings)
    app = FastAPI()
    app.state.engine, app.state.signer, app.state.links = engine, links.signer, links
    app.state.settings, app.state.clock, app.state.recorder = settings, clock, Recorder(engine)
    app.include_router(router)
    client = TestClient(app, base_url=PUBLIC)
    yield ws, clock, client, tmp_path
    client.close()
    ws.close()


def start(ws, tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(PROGRAMME.format(name=name, ids=CUSTOMERS)))
    return jobs.start(ws, str(path))


def unsubscribe_path(payload: bytes) -> str:
    """The https target of the message's List-Unsubscribe header, as a mailbox provider reads it."""
    header = " ".join(message_from_bytes(payload)["List-Unsubscribe"].split())
    url = re.search(r"<(https://[^>]+)>", header).group(1)
    assert url.startswith(PUBLIC + "/u/")
    return url[len(PUBLIC):]


def test_one_click_unsubscribe_stops_every_programme_including_queued_sends(shop, engine):
    ws, clock, client, tmp_path = shop
    assert start(ws, tmp_path, "alpha")["enrolled"] == len(CUSTOMERS)
    first = MemoryTransport()
    jobs.run(ws, until_idle=True, simulate=False, transport=first, seed=1)  # alpha's first sends; second in 1 day
    assert len(first.outbox) == len(CUSTOMERS)
    assert start(ws, tmp_path, "beta")["enrolled"] == len(CUSTOMERS)  # beta's first send is due now, not yet sent

    message = next(m for m in first.outbox if m.customer_id == "c3")
    clock.now += timedelta(seconds=5)
    r = client.post(unsubscribe_path(message.payload), content=b"List-Unsubscribe=One-Click",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200

    # The worker's next batch, seconds later: beta's queued first sends go to everyone else, none to c3.
    clock.now += timedelta(seconds=30)
    soon = MemoryTransport()
    jobs.run(ws, until_idle=True, simulate=False, transport=soon, seed=1)
    assert sorted(m.customer_id for m in soon.outbox) == sorted(c for c in CUSTOMERS if c != "c3")
    # And the rest of both programmes, to the end.
    later = MemoryTransport()
    jobs.run(ws, until_idle=True, simulate=True, transport=later, seed=1)
    assert [m for m in later.outbox if m.customer_id == "c3"] == []
    others = sorted((m.programme_id, m.step, m.customer_id) for m in later.outbox)
    assert others == sorted((p, "second", c) for p in ("alpha", "beta") for c in CUSTOMERS if c != "c3")

    e, g = t.enrolments.c, t.ledger.c
    with engine.connect() as conn:
        ended = dict(conn.execute(sa.select(e.programme_id, e.outcome).where(e.customer_id == "c3")).all())
        sent_to_c3 = conn.execute(sa.select(g.programme_id, g.step).where(
            g.customer_id == "c3", g.kind == "send", g.state == "sent")).all()
    assert ended == {"alpha": "unsubscribed", "beta": "unsubscribed"}  # the engine's unsubscribe exit
    assert sent_to_c3 == [("alpha", "first")]
