"""The demo's measured-against-the-truth step: simulated customers answer a programme through the real tracking
service, and the programme's report is compared with the effect the simulation put in.

1. `place_orders`: before the worker runs, every enrolled customer's simulated purchase (if any) is written with
   its future date; the worker's simulated clock reaches it, so purchases end sequences as they would in life.
2. `serve_and_engage`: after the run, the tracking service is started on a loopback port (behind which the demo
   plays a reverse proxy, passing each reader's address in X-Forwarded-For) and every delivered message in the
   maildir is "read": its open pixel fetched, a link clicked, a privacy proxy's prefetch seconds after delivery —
   each request made when the service's clock says the simulated moment has come.
3. The report is then an ordinary `winback report`.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from winback.datasets.response import Enrolled, ResponseModel, plan_engagement, simulate_orders
from winback.jobs.workspace import Workspace
from winback.store import tables as t
from winback.store.db import write_transaction

__all__ = ["place_orders", "serve_and_engage", "use_coupons"]

_MID = re.compile(r"<wb\.(\d+)\.")


def place_orders(ws: Workspace, programme_id: str, *, model: ResponseModel, seed: int) -> dict[str, int]:
    """Write the simulated purchases of the programme's enrolled customers (treated and held out)."""
    engine = ws.ready_engine()
    e = t.enrolments.c
    with engine.connect() as conn:
        enrolled = [Enrolled(r.enrolment_id, r.customer_id, r.holdout, r.entered_at) for r in conn.execute(
            sa.select(e.enrolment_id, e.customer_id, e.holdout, e.entered_at).where(e.programme_id == programme_id)
            .order_by(e.enrolment_id))]
    orders = simulate_orders(enrolled, model=model, currency=ws.settings.currency, seed=seed)
    rows = [{**o, "row_hash": hashlib.sha256(repr(sorted(o.items())).encode()).hexdigest()[:32],
             "updated_at": o["ordered_at"]} for o in orders]
    if rows:
        with write_transaction(engine) as conn:
            conn.execute(t.orders.insert(), rows)
    holdout = sum(1 for x in enrolled if x.holdout)
    return {"enrolled": len(enrolled), "holdout": holdout, "orders": len(rows)}


def use_coupons(ws: Workspace, programme_id: str, *, model: ResponseModel, seed: int, now: datetime) -> int:
    """Simulated buyers who were sent a coupon before buying use it (with `model.coupon_use`); the codes are then
    redeemed as the worker's pass would redeem them. Returns the number redeemed."""
    from winback.messaging.coupons import redeem_orders

    rng = random.Random(seed)
    o, c, e = t.orders.c, t.coupons.c, t.enrolments.c
    engine = ws.ready_engine()
    with write_transaction(engine) as conn:
        rows = conn.execute(
            sa.select(o.order_id, o.ordered_at, c.code)
            .select_from(t.orders.join(t.enrolments, e.customer_id == o.customer_id)
                         .join(t.coupons, c.enrolment_id == e.enrolment_id))
            .where(e.programme_id == programme_id,
                   o.order_id == sa.literal("sim-") + sa.cast(e.enrolment_id, sa.String),
                   c.issued_at <= o.ordered_at, sa.or_(c.expires_at.is_(None), c.expires_at >= o.ordered_at))
            .order_by(o.order_id, c.issued_at)).all()
        chosen: dict[str, str] = {}
        for order_id, _at, code in rows:
            chosen.setdefault(order_id, code)  # the first coupon they were sent
        used = [{"b_id": oid, "b_code": code} for oid, code in sorted(chosen.items())
                if rng.random() < model.coupon_use]
        if used:
            conn.execute(sa.update(t.orders).where(o.order_id == sa.bindparam("b_id"))
                         .values(coupon_code=sa.bindparam("b_code")), used)
        return int(redeem_orders(conn, now=now))


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(ws: Workspace, clock: _Clock) -> Iterator[str]:
    """The tracking service on a loopback port in a thread; stopped gracefully (its recorder flushes) on exit."""
    import uvicorn

    from winback.tracking.app import create_app

    app = create_app(ws.settings, engine=ws.ready_engine(), clock=clock)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                           proxy_headers=True, forwarded_allow_ips="127.0.0.1", lifespan="on"))
    thread = threading.Thread(target=server.run, name="demo-tracking", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the tracking service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _messages(outbox: Path) -> Iterator[tuple[datetime, str, str]]:
    """(Date, recipient address, HTML body) of each message in the maildir."""
    parser = BytesParser(policy=policy.default)
    for path in sorted((outbox / "new").iterdir()) if (outbox / "new").is_dir() else []:
        msg = parser.parsebytes(path.read_bytes())
        body = msg.get_body(("html",))
        if body is None or msg["Date"] is None:
            continue
        yield msg["Date"].datetime, str(msg["To"].addresses[0].addr_spec), body.get_content()


def serve_and_engage(ws: Workspace, outbox: Path, *, model: ResponseModel, seed: int) -> dict[str, Any]:
    """Read every message in `outbox` as the simulated recipients would, through the tracking service."""
    base = ws.settings.public_url.rstrip("/")
    pixel = re.compile(rf'<img src="{re.escape(base)}(/o/[^"]+)"')
    link = re.compile(rf'href="{re.escape(base)}(/c/[^"]+)"')
    planned = []
    for sent_at, recipient, html in _messages(outbox):
        opened = pixel.search(html)
        clicks = link.findall(html)
        for event in plan_engagement(recipient, sent_at, links=len(clicks), model=model, seed=seed):
            path = opened.group(1) if event.kind == "open" and opened else clicks[0] if clicks else None
            if path is not None:
                planned.append((event.at, path, event))
    planned.sort(key=lambda p: p[0])
    clock = _Clock(planned[0][0] if planned else datetime.now().astimezone())
    counts: dict[str, int] = {}
    with _serving(ws, clock) as url, httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        for at, path, event in planned:
            clock.now = at
            r = client.get(path, headers={"User-Agent": event.agent, "X-Forwarded-For": event.ip})
            key = f"{event.kind}_{r.status_code}"
            counts[key] = counts.get(key, 0) + 1
    return {"requests": len(planned), "by_status": counts}
