"""Account-manager tasks against real stores: created by a programme's `task` steps, listed with the customer's
value, risk, reason and history, assigned, done and cancelled — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from winback.cli import tasks as tasks_cli
from winback.domain.errors import NotFoundError, UserError
from winback.jobs import programmes
from winback.jobs import tasks as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ADDRESS = "Example Shop, 1 Example Street, 10115 Berlin"
PROGRAMME = """
    programme: am
    audience: "customer_id in ['c1', 'c2', 'c3']"
    holdout: 0
    steps:
      - send: {template: winback/whats-new, subject: We miss you}
      - task: {title: Call about the renewal, assignee: am-team, due: 2d, note: Offer the loyalty rate}
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _profile(cid: str, *, value_at_risk: float, p_churn: float, stage: str, reason: str | None) -> dict:
    return {"customer_id": cid, "run_id": "r1", "as_of": START, "stage": stage, "clv": value_at_risk * 2,
            "value_at_risk": value_at_risk, "value_tier": "high" if value_at_risk > 100 else "low",
            "p_churn": p_churn, "churn_reason": reason, "dormancy_type": "lapsed",
            "signals": [{"text": "orders slowing"}],
            "explanation": {"stage": "silent", "signals": ["silent 90 days", "orders slowing", "a", "b"]}}


@pytest.fixture
def ws(engine, store_url, tmp_path):
    clock = Clock(START)
    workspace = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS), clock=clock)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
             "phone": f"+4930000{i}", "name": f"Customer {i}", "locale": "en", "time_zone": "UTC", "row_hash": "x",
             "updated_at": START} for i in range(1, 4)])
        conn.execute(t.profiles.insert(), [
            _profile("c1", value_at_risk=50.0, p_churn=0.4, stage="at_risk", reason="price"),
            _profile("c2", value_at_risk=400.0, p_churn=0.8, stage="dormant", reason="service")])  # c3: no profile
        conn.execute(t.orders.insert(), [
            {"order_id": f"o{i}", "customer_id": "c2", "ordered_at": START - timedelta(days=100 - i), "amount": 10 * i,
             "currency": "EUR", "status": "completed", "row_hash": "x", "updated_at": START} for i in range(5)])
        conn.execute(t.feedback.insert(), [
            {"feedback_id": "f1", "customer_id": "c2", "kind": "ticket", "rating": 2, "text": "late delivery",
             "status": "open", "opened_at": START - timedelta(days=3), "resolved_at": None, "row_hash": "x",
             "updated_at": START},
            {"feedback_id": "f2", "customer_id": "c2", "kind": "ticket", "rating": None, "text": "old",
             "status": "closed",
             "opened_at": START - timedelta(days=30), "resolved_at": START - timedelta(days=29), "row_hash": "x",
             "updated_at": START}])
    path = tmp_path / "am.yaml"
    path.write_text(textwrap.dedent(PROGRAMME))
    programmes.start(workspace, str(path))
    programmes.run(workspace, until_idle=True, simulate=True, transport=MemoryTransport(), seed=1)
    yield workspace
    workspace.close()


def _ids(ws: Workspace) -> dict[str, int]:
    return {v["customer_id"]: v["task_id"] for v in jobs.list_tasks(ws, state="all")}


def test_tasks_come_from_the_programme_ordered_by_value_at_risk_then_due(ws) -> None:
    views = jobs.list_tasks(ws)
    assert [v["customer_id"] for v in views] == ["c2", "c1", "c3"]  # no profile last
    assert {v["title"] for v in views} == {"Call about the renewal"} and {v["state"] for v in views} == {"open"}
    assert all(v["assignee"] == "am-team" and v["note"] == "Offer the loyalty rate" for v in views)


def test_a_task_carries_value_risk_reason_contact_and_history(ws) -> None:
    c2 = jobs.list_tasks(ws)[0]
    assert c2["value"] == {"clv": 800.0, "value_at_risk": 400.0, "value_tier": "high"}
    assert c2["risk"] == {"p_churn": 0.8, "stage": "dormant"}
    assert c2["reason"] == {"churn_reason": "service", "dormancy_type": "lapsed",
                            "signals": ["silent 90 days", "orders slowing", "a"]}
    assert c2["contact"]["email"] == "c2@example.com" and c2["contact"]["phone"] == "+49300002"
    assert [o["order_id"] for o in c2["recent"]["orders"]] == ["o4", "o3", "o2"]
    assert [m["state"] for m in c2["recent"]["messages"]] == ["sent"]
    assert [f["feedback_id"] for f in c2["recent"]["open_feedback"]] == ["f1"]
    c3 = jobs.show_task(ws, _ids(ws)["c3"])
    assert c3["value"]["value_at_risk"] is None and c3["recent"]["orders"] == []


def test_assign_done_cancel_and_filters(ws) -> None:
    ids = _ids(ws)
    jobs.assign(ws, ids["c1"], "ana")
    ws.clock.now = START + timedelta(days=3)
    jobs.complete(ws, ids["c2"], note="called, renewed")
    jobs.cancel(ws, ids["c3"])
    assert [v["customer_id"] for v in jobs.list_tasks(ws, assignee="ana")] == ["c1"]
    assert [v["customer_id"] for v in jobs.list_tasks(ws, overdue=True)] == ["c1"]
    assert [v["customer_id"] for v in jobs.list_tasks(ws, state="done")] == ["c2"]
    assert [v["customer_id"] for v in jobs.list_tasks(ws, state="cancelled")] == ["c3"]
    assert len(jobs.list_tasks(ws, state="all")) == 3
    done = jobs.show_task(ws, ids["c2"])
    assert done["history"] == [{"at": (START + timedelta(days=3)).isoformat(), "by": "cli", "action": "done",
                                "note": "called, renewed"}]
    assert jobs.show_task(ws, ids["c1"])["history"][0]["action"] == "assign"
    with ws.engine.connect() as conn:  # the programme's note stays beside the history
        detail = conn.scalar(sa.select(t.tasks.c.detail).where(t.tasks.c.task_id == ids["c2"]))
    assert detail["note"] == "Offer the loyalty rate"
    with pytest.raises(UserError, match="only open tasks"):
        jobs.cancel(ws, ids["c2"])


def test_unknown_task_and_state_are_one_line_errors(ws) -> None:
    with pytest.raises(NotFoundError, match="no task 999") as err:
        jobs.show_task(ws, 999)
    assert "\n" not in str(err.value)
    with pytest.raises(NotFoundError):
        jobs.complete(ws, 999)
    with pytest.raises(UserError, match="unknown task state"):
        jobs.list_tasks(ws, state="closed")


def test_cli(ws) -> None:
    app = typer.Typer()
    tasks_cli.register(app)

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = ws

    runner = CliRunner(env={"COLUMNS": "250"})
    ids = _ids(ws)
    listed = runner.invoke(app, ["tasks", "list"])
    assert listed.exit_code == 0, listed.output
    assert "Customer 2" in listed.output and "Call about the renewal" in listed.output
    as_json = json.loads(runner.invoke(app, ["tasks", "list", "--json"]).output)
    assert [v["customer_id"] for v in as_json] == ["c2", "c1", "c3"]
    assert runner.invoke(app, ["tasks", "assign", str(ids["c1"]), "ana"]).exit_code == 0
    assert runner.invoke(app, ["tasks", "done", str(ids["c2"]), "--note", "renewed"]).exit_code == 0
    assert runner.invoke(app, ["tasks", "cancel", str(ids["c3"])]).exit_code == 0
    shown = runner.invoke(app, ["tasks", "show", str(ids["c2"])])
    assert shown.exit_code == 0, shown.output
    assert "late delivery" in shown.output and "cli: done renewed" in shown.output
    assert json.loads(runner.invoke(app, ["tasks", "show", str(ids["c1"]), "--json"]).output)["assignee"] == "ana"
    missing = runner.invoke(app, ["tasks", "show", "999"])
    assert missing.exit_code != 0 and isinstance(missing.exception, NotFoundError)
