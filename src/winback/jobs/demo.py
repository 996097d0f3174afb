"""`winback demo`: the main job on the embedded store, as far as the system goes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from winback.jobs import data as jobs
from winback.jobs.evaluate import evaluate_world
from winback.jobs.scoring import score
from winback.jobs.workspace import Workspace


def run_demo(
    ws: Workspace, *, customers: int, seed: int, progress: Callable[[str, int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Initialise the store, load CDNOW and a generated world, score it, and check the scores against the truth."""
    out = say or (lambda _msg: None)
    init = jobs.init_store(ws)
    out(f"[bold]1. store[/] {init['database']} (schema {init['schema_version']})")
    cdnow = jobs.load_cdnow(ws, progress=progress)
    out("[bold]2. CDNOW[/] (real purchases, 1997–98): "
        + ", ".join(f"{e} {s.rows:,} rows ({s.inserted:,} new)" for e, s in cdnow.items()))
    world = jobs.generate(ws, customers=customers, seed=seed)
    loaded = jobs.load_directory(ws, Path(world["directory"]), progress=progress)
    out(f"[bold]3. generated world[/] ({customers:,} customers, seed {seed}) in {world['directory']}:")
    for entity, s in loaded.items():
        out(f"   {entity:<14} {s.rows:>8,} rows  {s.inserted:>8,} new  {s.updated:>6,} updated  "
            f"{s.quarantined:>4,} quarantined")
    status = jobs.store_status(ws)
    out("[bold]4. store now holds[/]: " + ", ".join(f"{k} {v:,}" for k, v in status["counts"].items() if v))
    as_of = _world_end(world)
    scores = score(ws, as_of=as_of)
    out(f"[bold]5. scored[/] {scores['customers']:,} customers as of {as_of:%Y-%m-%d} (the world's last day): "
        + ", ".join(f"{k} {v:,}" for k, v in scores["stages"].items()))
    evaluation = evaluate_world(ws, Path(world["directory"]))
    out(f"   against the world's ground truth: dormancy types {evaluation['dormancy_type_accuracy']:.1%} right"
        + (f", churn reasons {evaluation['reason_accuracy']:.1%}" if evaluation.get("reason_accuracy") else ""))
    out(f"   look at one customer: winback customers show {_example_customer(world)}")
    programme = run_playbook(ws, name=DEMO_PLAYBOOK, now=as_of, say=out)
    return {
        "programme": programme,
        "scores": scores,
        "evaluation": evaluation,
        "store": init,
        "cdnow": {e: s.as_dict() for e, s in cdnow.items()},
        "world": {**world, "loaded": {e: s.as_dict() for e, s in loaded.items()}},
        "status": status,
    }


DEMO_PLAYBOOK = "four-email-winback"
DEMO_ADDRESS = "winback demo shop, 1 Example Street, Springfield (a made-up address)"


def run_playbook(ws: Workspace, *, name: str, now: datetime, say: Callable[[str], None]) -> dict[str, Any]:
    """Plan a shipped playbook, start it, and run it to its end on a simulated clock into the maildir sink."""
    from winback.jobs import programmes
    from winback.jobs.plan import plan

    settings = ws.settings
    if not settings.postal_address:  # marketing mail needs one (preflight); the demo's is made up, and says so
        settings = settings.model_copy(update={"postal_address": DEMO_ADDRESS})
        say(f"   (WINBACK_POSTAL_ADDRESS is not set: the demo's messages carry {DEMO_ADDRESS!r})")
    at_world_end = Workspace(settings=settings, clock=lambda: now)
    try:
        forecast = plan(at_world_end, name)
        exp = forecast["expected"]
        say(f"[bold]6. dry run[/] of the playbook {name}: audience {forecast['audience']:,}, eligible "
            f"{forecast['eligible']:,} (held out {forecast['holdout']:,}); not eligible: "
            + (", ".join(f"{k} {v:,}" for k, v in forecast["exclusions"].items() if v and k != "holdout") or "none"))
        say(f"   expected extra conversions {exp['incremental_conversions']:.0f} "
            f"({exp['incremental_conversions_low']:.0f}–{exp['incremental_conversions_high']:.0f}), extra revenue "
            f"{exp['incremental_revenue']:,.0f} ({exp['incremental_revenue_low']:,.0f}–"
            f"{exp['incremental_revenue_high']:,.0f}); incentive cost {forecast['costs']['incentive']:,.0f}")
        started = programmes.start(at_world_end, name)
        report = programmes.run(at_world_end, until_idle=True, simulate=True, seed=0)
        status = programmes.status(at_world_end, started["programme"])["programmes"][0]
    finally:
        at_world_end.close()
    s = report.steps
    say(f"[bold]7. ran it[/] on a simulated clock ({report.started:%Y-%m-%d} → {report.finished:%Y-%m-%d}) in "
        f"{report.seconds:.1f} s: {s.handed_over:,} messages into {ws.settings.transport_spec}; "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(s.outcomes.items())))
    if s.skipped:
        say("   skipped, with reasons: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.skipped.items())))
    say("   enrolments: " + ", ".join(f"{k} {v:,}" for k, v in sorted(status["enrolments"].items())))
    say(f"   see every step: winback programs status {started['programme']}")
    return {"plan": forecast, "start": started, "status": status,
            "worker": {"handed_over": s.handed_over, "outcomes": dict(s.outcomes), "skipped": dict(s.skipped)}}


def _world_end(world: dict[str, Any]) -> datetime:
    meta = json.loads((Path(world["directory"]) / "truth" / "world.json").read_text())
    return datetime.fromisoformat(meta["observed_until"].replace("Z", "+00:00")).astimezone(UTC)


def _example_customer(world: dict[str, Any]) -> str:
    path = Path(world["directory"]) / "customers.csv"
    with path.open(encoding="utf-8") as fh:
        next(fh)
        return fh.readline().split(",", 1)[0]
