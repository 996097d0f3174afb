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
DEMO_SHOP = "https://shop.example/"
RESPONSE_SEED = 11


def run_playbook(ws: Workspace, *, name: str, now: datetime, say: Callable[[str], None]) -> dict[str, Any]:
    """Plan a shipped playbook, start it, and run it to its end on a simulated clock into the maildir sink."""
    from winback.datasets.response import ResponseModel
    from winback.jobs import programmes
    from winback.jobs.demo_response import place_orders, serve_and_engage, use_coupons
    from winback.jobs.plan import plan
    from winback.jobs.report import report as programme_report

    settings = ws.settings
    if not settings.postal_address:  # marketing mail needs one (preflight); the demo's is made up, and says so
        settings = settings.model_copy(update={"postal_address": DEMO_ADDRESS})
        say(f"   (WINBACK_POSTAL_ADDRESS is not set: the demo's messages carry {DEMO_ADDRESS!r})")
    if not settings.shop_url:  # links to track; a made-up shop as well
        settings = settings.model_copy(update={"shop_url": DEMO_SHOP, "product_url": DEMO_SHOP + "p/{sku}"})
    model = ResponseModel()
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
        placed = place_orders(at_world_end, started["programme"], model=model, seed=RESPONSE_SEED)
        report = programmes.run(at_world_end, until_idle=True, simulate=True, seed=0)
        status = programmes.status(at_world_end, started["programme"])["programmes"][0]
        placed["coupons_redeemed"] = use_coupons(at_world_end, started["programme"], model=model, seed=RESPONSE_SEED,
                                                 now=report.finished)
        outbox = _maildir(settings.transport_spec)
        served = serve_and_engage(at_world_end, outbox, model=model, seed=RESPONSE_SEED) if outbox else None
        measured = programme_report(at_world_end, started["programme"], as_of=report.finished)
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
    truth = {"incremental_conversion_rate": model.uplift,
             "incremental_revenue_per_customer": round(model.true_incremental_revenue_per_customer, 2),
             "base_rate": model.base_rate}
    say(f"[bold]8. simulated customers answered[/] (true effect: +{model.uplift:.1%} buy, "
        f"+{truth['incremental_revenue_per_customer']:.2f} revenue per customer; base rate {model.base_rate:.0%}): "
        f"{placed['orders']:,} purchases among {placed['enrolled']:,} enrolled, {placed['coupons_redeemed']:,} "
        "with a coupon they were sent"
        + (f"; {served['requests']:,} opens, clicks and proxy prefetches served by the tracking service"
           if served else ""))
    _say_measured(say, measured, truth, started["programme"])
    return {"plan": forecast, "start": started, "status": status,
            "worker": {"handed_over": s.handed_over, "outcomes": dict(s.outcomes), "skipped": dict(s.skipped)},
            "response": {"truth": truth, "orders": placed, "served": served},
            "measured": {"lift": measured["lift"], "totals": measured["totals"], "roi": measured["roi"]}}


def _say_measured(say: Callable[[str], None], measured: dict[str, Any], truth: dict[str, Any], name: str) -> None:
    lift, totals = measured["lift"], measured["totals"]
    rate, revenue = lift["conversion_rate"], lift["revenue_per_customer"]

    def inside(e: dict[str, Any], true: float) -> str:
        return "inside" if e["low"] <= true <= e["high"] else "OUTSIDE"

    say(f"[bold]9. measured against the holdout[/] (winback report {name}): treated "
        f"{totals['treated']:,}, holdout {totals['holdout']:,}")
    say(f"   extra buyers: {rate['estimate']:+.1%} (95 % interval {rate['low']:+.1%} to {rate['high']:+.1%}, "
        f"p {rate['p_value']:.3g}) — truth {truth['incremental_conversion_rate']:+.1%}, "
        f"{inside(rate, truth['incremental_conversion_rate'])} the interval")
    say(f"   extra revenue per customer: {revenue['estimate']:+.2f} ({revenue['low']:+.2f} to {revenue['high']:+.2f})"
        f" — truth {truth['incremental_revenue_per_customer']:+.2f}, "
        f"{inside(revenue, truth['incremental_revenue_per_customer'])} the interval")
    say(f"   human opens {totals.get('opens', 0):,}, clicks {totals.get('clicks', 0):,} (privacy-proxy prefetches "
        f"are not counted); ROI {_roi(measured['roi'])}")


def _roi(roi: dict[str, Any]) -> str:
    value = roi.get("roi")
    return "n/a" if value is None else f"{value:.2f}"


def _maildir(spec: str) -> Path | None:
    return Path(spec.split(":", 1)[1]) if spec.startswith("maildir:") else None


def _world_end(world: dict[str, Any]) -> datetime:
    meta = json.loads((Path(world["directory"]) / "truth" / "world.json").read_text())
    return datetime.fromisoformat(meta["observed_until"].replace("Z", "+00:00")).astimezone(UTC)


def _example_customer(world: dict[str, Any]) -> str:
    path = Path(world["directory"]) / "customers.csv"
    with path.open(encoding="utf-8") as fh:
        next(fh)
        return fh.readline().split(",", 1)[0]
