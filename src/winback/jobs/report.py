"""Programme reports for the fronts: read one programme's rows with a few set-based queries, build the report
(`winback.measurement.report`), write it as HTML or CSV; and the complaint-rate guard's store side."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.campaigns.files import programme_from_definition
from winback.domain.errors import NotFoundError
from winback.jobs.plan import read_only
from winback.jobs.workspace import Workspace
from winback.measurement import report as measures
from winback.measurement.attribution import CLICK_WINDOW, Click
from winback.measurement.funnel import Engagement, Enrolment, LedgerRow, Order
from winback.messaging.coupons import neutralise
from winback.store import tables as t

# --- the report -----------------------------------------------------------------------------------------------------


def report(ws: Workspace, programme_id: str, *, as_of: datetime | None = None, include_machine: bool = False,
           revenue_method: str = "welch") -> dict[str, Any]:
    """The report of one programme at `as_of` (default now); reads only."""
    as_of = as_of or ws.clock()
    with read_only(ws.ready_engine()) as conn:
        return build_report(conn, programme_id, as_of=as_of, include_machine=include_machine,
                            revenue_method=revenue_method)


def build_report(conn: sa.Connection, programme_id: str, *, as_of: datetime, include_machine: bool = False,
                 revenue_method: str = "welch") -> dict[str, Any]:
    """Read the programme's rows and build its report."""
    p, v = t.programmes.c, t.programme_versions.c
    row = conn.execute(sa.select(p.state, p.version, v.definition).select_from(
        t.programmes.join(t.programme_versions, (v.programme_id == p.programme_id) & (v.version == p.version)))
        .where(p.programme_id == programme_id)).first()
    if row is None:
        raise NotFoundError(f"no programme {programme_id!r}; `winback programs status` lists them")
    programme = programme_from_definition(row.definition)
    data = read_inputs(conn, programme_id, as_of=as_of)
    out = measures.build(programme, data, as_of=as_of, include_machine=include_machine, revenue_method=revenue_method)
    versions = sorted({int(x) for x in conn.scalars(sa.select(t.enrolments.c.version).distinct().where(
        t.enrolments.c.programme_id == programme_id))})
    out.update({"state": row.state, "version": row.version, "enrolment_versions": versions})
    if len(versions) > 1:
        out["notes"].append(f"enrolments ran under versions {versions}; costs, window, holdout share and variants "
                            f"are those of the current version {row.version}")
    return out


def read_inputs(conn: sa.Connection, programme_id: str, *, as_of: datetime) -> measures.Inputs:
    """Every row the report needs, one query per table (the enrolled customers as a subquery, never a list)."""
    e, g, w, o, c, pr = (t.enrolments.c, t.ledger.c, t.engagements.c, t.orders.c, t.coupons.c, t.profiles.c)
    enrolled = sa.select(e.customer_id).where(e.programme_id == programme_id, e.entered_at <= as_of)
    enrolments = [Enrolment(int(r[0]), r[1], bool(r[2]), r[3]) for r in conn.execute(
        sa.select(e.enrolment_id, e.customer_id, e.holdout, e.entered_at).where(
            e.programme_id == programme_id, e.entered_at <= as_of).order_by(e.enrolment_id))]
    since = min((x.entered_at for x in enrolments), default=as_of)
    ledger = [LedgerRow(int(r[0]), *r[1:]) for r in conn.execute(
        sa.select(g.enrolment_id, g.step, g.kind, g.channel, g.variant, g.state, g.reason, g.created_at).where(
            g.programme_id == programme_id, g.created_at <= as_of))]
    engagements = [Engagement(int(r[0]), r[1], r[2], r[3], bool(r[4])) for r in conn.execute(
        sa.select(w.enrolment_id, w.step, w.kind, w.at, w.machine)
        .select_from(t.engagements.join(t.enrolments, e.enrolment_id == w.enrolment_id))
        .where(e.programme_id == programme_id, w.at <= as_of))]
    orders: list[Order] = []
    currencies: set[str] = set()
    for r in conn.execute(sa.select(o.order_id, o.customer_id, o.ordered_at, o.amount, o.status, o.coupon_code,
                                    o.currency).where(o.customer_id.in_(enrolled), o.ordered_at > since,
                                                      o.ordered_at <= as_of)):
        orders.append(Order(r[0], r[1], r[2], float(r[3]), r[4], r[5]))
        currencies.add(r[6])
    coupons = [measures.CouponRow(r[0], None if r[1] is None else int(r[1]), r[2], r[3], float(r[4]), r[5],
                                  float(r[6])) for r in conn.execute(
        sa.select(c.code, c.enrolment_id, c.step, c.kind, c.value, c.order_id, o.amount)
        .select_from(t.coupons.join(t.orders, o.order_id == c.order_id))
        .where(c.programme_id == programme_id, c.state == "redeemed", o.ordered_at <= as_of))]
    clicked = t.engagements.join(t.enrolments, e.enrolment_id == w.enrolment_id).outerjoin(
        t.ledger, (g.enrolment_id == w.enrolment_id) & (g.step == w.step))
    clicks = [Click(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in conn.execute(
        sa.select(w.customer_id, w.at, e.programme_id, w.step, g.variant, w.machine).select_from(clicked).where(
            w.kind == "click", w.customer_id.in_(enrolled), w.at >= since - CLICK_WINDOW, w.at <= as_of))]
    profiles = {r[0]: measures.Profile(*r) for r in conn.execute(
        sa.select(pr.customer_id, pr.dormancy_type, pr.churn_reason, pr.stage, pr.rfm_segment).where(
            pr.customer_id.in_(enrolled)))}
    return measures.Inputs(enrolments, ledger, engagements, orders, coupons, clicks, profiles, sorted(currencies))


# --- HTML and CSV ---------------------------------------------------------------------------------------------------


def render_html(data: dict[str, Any]) -> str:
    """A self-contained page (inline CSS and SVG charts, no external URL, a restrictive Content-Security-Policy)."""
    import jinja2

    from winback.measurement.charts import report_charts

    text = resources.files("winback.measurement").joinpath("templates/report.html").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(pct=_pct, money=_money, num=_fmt)
    return env.from_string(text).render(r=data, charts=report_charts(data))


def write_html(data: dict[str, Any], path: Path | str) -> Path:
    path = Path(path)
    path.write_text(render_html(data), encoding="utf-8")
    return path


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


FUNNEL_COLUMNS = ("step", "variant", "channel", "recipients", "sent", "unknown", "failed", "skipped", "bounced",
                  "delivered", "opens", "clicks", "machine_opens", "machine_clicks", "replies", "unsubscribes",
                  "complaints", "conversions", "revenue", "open_rate", "click_rate", "win_back_rate")


def write_csv(data: dict[str, Any], directory: Path | str) -> list[Path]:
    """funnel.csv, lift.csv, experiments.csv, attribution.csv, failure.csv, cost_benefit.csv and timeline.csv;
    text cells a spreadsheet would run as a formula get a leading quote."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    lift = data["lift"]
    tables: dict[str, tuple[Sequence[str], Iterable[Sequence[Any]]]] = {
        "funnel": (FUNNEL_COLUMNS, ([r.get(k) for k in FUNNEL_COLUMNS] for r in data["funnel"])),
        "lift": (("measure", "estimate", "low", "high", "p_value", "method"), (
            [k, lift[k]["estimate"], lift[k]["low"], lift[k]["high"], lift[k].get("p_value"), lift[k].get("method")]
            for k in ("conversion_rate", "revenue_per_customer", "incremental_conversions", "incremental_revenue"))),
        "experiments": (("step", "variant", "sent", "conversions", "rate", "low", "high", "winner", "srm_p_value"), (
            [x["step"], v["variant"], v["sent"], v["conversions"], v["conversion_rate"]["estimate"],
             v["conversion_rate"]["low"], v["conversion_rate"]["high"], x["winner"],
             (x["srm"] or {}).get("p_value")] for x in data["experiments"] for v in x["variants"])),
        "attribution": (("step", "variant", "orders", "coupon_orders", "click_orders", "revenue"), (
            [a["step"], a["variant"], a["orders"], a["coupon_orders"], a["click_orders"], a["revenue"]]
            for a in data["attribution"]["by_step"])),
        "failure": (("dimension", "value", "size", "share", "treated", "conversion_rate", "vs_average"), (
            [dim, b["value"], b["size"], b["share"], b["treated"], b["conversion_rate"], b["vs_average"]]
            for dim, table in data["failure_analysis"]["dimensions"].items() for b in table)),
        "cost_benefit": (("step", "cost", "attributed_revenue", "attributed_margin_less_cost"), (
            [c["step"], c["cost"], c["attributed_revenue"], c["attributed_margin_less_cost"]]
            for c in data["failure_analysis"]["cost_benefit"])),
        "timeline": (("date", "treated_enrolled", "treated_conversions", "treated_rate", "holdout_enrolled",
                      "holdout_conversions", "holdout_rate"), (
            [r["date"], r["treated_enrolled"], r["treated_conversions"], r["treated_rate"], r["holdout_enrolled"],
             r["holdout_conversions"], r["holdout_rate"]] for r in data["timeline"])),
    }
    written = []
    for name, (columns, rows) in tables.items():
        path = folder / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(v) for v in row])
        written.append(path)
    return written


def _cell(value: Any) -> Any:
    """Numbers as they are (a negative number is not a formula); every text cell neutralised."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return neutralise(value)
    return value
