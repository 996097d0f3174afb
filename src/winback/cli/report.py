"""`winback report PROGRAMME`: what a programme earned — funnel, lift against the holdout with intervals, ROI,
experiments, attribution, who did not respond — as tables, JSON, a self-contained HTML page or CSV files; and
`winback report guard`: the complaint-rate guard, run by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from winback.cli.output import JsonOpt, console, emit_json
from winback.domain.errors import UserError


class _ProgrammeFirst(TyperGroup):
    """`winback report NAME …` runs `report show NAME …`; `winback report guard` runs the guard."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


report_app = typer.Typer(cls=_ProgrammeFirst, no_args_is_help=True,
                         help="What a programme earned: `winback report PROGRAMME` (same as `report show "
                              "PROGRAMME`); `winback report guard` checks the complaint rate.")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of {value!r} is not an ISO date or time, e.g. 2026-10-01 or 2026-10-01T12:00") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@report_app.command("show")
def show(
    ctx: typer.Context,
    programme: Annotated[str, typer.Argument(help="The programme id.")],
    as_json: JsonOpt = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report to FILE.",
                                              metavar="FILE")] = None,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help="Write funnel.csv, lift.csv, failure.csv … into DIR.",
                                                 metavar="DIR")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Measure as of this time (ISO; default now, UTC).")]
    = None,
    include_machine: Annotated[bool, typer.Option("--include-machine", help="Count machine opens and clicks "
                                                  "(privacy proxies, scanners) as engagement.")] = False,
) -> None:
    """A programme's report: funnel per step and variant, lift vs the holdout, ROI, experiments, attribution and
    failure analysis."""
    from winback.jobs import report as jobs

    data = jobs.report(ctx.obj, programme, as_of=_as_of(as_of), include_machine=include_machine)
    if html is not None:
        jobs.write_html(data, html)
    if csv_dir is not None:
        jobs.write_csv(data, csv_dir)
    if as_json:
        emit_json(data)
        return
    render(data)
    for what, where in (("HTML", html), ("CSV", csv_dir)):
        if where is not None:
            console.print(f"{what} written to {where}", highlight=False)


@report_app.command("guard")
def guard(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check the complaint rate of the sending domain (last 30 days): alert at 0.08 %, pause every running
    programme at 0.2 % (from 1,000 delivered)."""

    from winback.jobs.guard import guard

    result = guard(ctx.obj)
    if as_json:
        emit_json(result)
        return
    for d in result["domains"]:
        style = {"none": "green", "alert": "yellow", "pause": "bold red"}[d["action"]]
        console.print(f"[{style}]{d['domain']}: {d['action']}[/] — {d['reason']}", highlight=False)
        if d["paused"]:
            console.print(f"  paused: {', '.join(d['paused'])}", highlight=False)


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _num(value: float | None, fmt: str = ",.2f") -> str:
    return "—" if value is None else format(value, fmt)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    return table


def render(r: dict[str, Any]) -> None:
    """The report as tables for people."""
    console.print(f"[bold]{r['programme']}[/] ({r['state']}, version {r['version']}) — as of "
                  f"{r['as_of'][:16].replace('T', ' ')} UTC, conversion window {r['conversion_window_days']:g} days",
                  highlight=False)
    if r["srm"]["alarm"]:
        console.print("[bold white on red] SAMPLE RATIO MISMATCH [/] the observed split differs from the configured "
                      "one (p < 0.001): check the assignment before trusting these numbers", highlight=False)
    tot = r["totals"]
    groups = _table("groups", "", "enrolments", "conversions", "win-back rate", "revenue")
    for g in ("treated", "holdout"):
        groups.add_row(g, f"{r['groups'][g]:,}", f"{tot[f'{g}_conversions']:,}", _pct(tot[f"{g}_win_back_rate"]),
                       _num(tot[f"{g}_revenue"]))
    console.print(groups)
    lift = r["lift"]
    table = _table("lift: treated − holdout (no attribution)", "", "estimate", "95 % interval", "p-value")
    for key, label, fmt in (("conversion_rate", "conversion rate (points)", "+.2%"),
                            ("revenue_per_customer", "revenue per customer", "+,.2f")):
        e = lift[key]
        table.add_row(f"{label} ({e['method']})", _num(e["estimate"], fmt),
                      f"{_num(e['low'], fmt)} … {_num(e['high'], fmt)}", _num(e["p_value"], ".4f"))
    for key, label, fmt in (("incremental_conversions", "incremental conversions", ",.1f"),
                            ("incremental_revenue", "incremental revenue", ",.2f")):
        e = lift[key]
        table.add_row(label, _num(e["estimate"], fmt), f"{_num(e['low'], fmt)} … {_num(e['high'], fmt)}", "")
    console.print(table)
    roi = r["roi"]
    console.print(f"ROI {_num(roi['roi'])} (interval {_num(roi['roi_low'])} … {_num(roi['roi_high'])}): "
                  f"gross margin {_num(roi['incremental_gross_margin'])} − incentives {_num(roi['incentive_cost'])} "
                  f"− sending {_num(roi['sending_cost'])} = net {_num(roi['net'])}", highlight=False)
    _funnel(r)
    _experiments(r)
    _attribution(r)
    _failure(r)
    for note in r["notes"]:
        console.print(f"  • {note}", highlight=False)


def _funnel(r: dict[str, Any]) -> None:
    table = _table("funnel", "step", "variant", "sent", "delivered", "bounced", "opened", "clicked", "unsub.",
                   "compl.", "converted", "revenue", "win-back")
    for f in r["funnel"]:
        table.add_row(f["step"], escape(f["variant"] or "all"), f"{f['sent']:,}", f"{f['delivered']:,}",
                      f"{f['bounced']:,}", f"{f['opens']:,}", f"{f['clicks']:,}", f"{f['unsubscribes']:,}",
                      f"{f['complaints']:,}", f"{f['conversions']:,}", _num(f["revenue"]), _pct(f["win_back_rate"]))
    console.print(table)


def _experiments(r: dict[str, Any]) -> None:
    for x in r["experiments"]:
        alarm = " — SAMPLE RATIO MISMATCH" if x["srm"] and x["srm"]["alarm"] else ""
        title = f"experiment at {x['step']}: winner {escape(x['winner'] or 'none yet')}{alarm}"
        table = _table(title, "variant", "sent", "converted", "rate", "95 % interval")
        for v in x["variants"]:
            c = v["conversion_rate"]
            table.add_row(escape(v["variant"]), f"{v['sent']:,}", f"{v['conversions']:,}", _pct(c["estimate"]),
                          f"{_pct(c['low'])} … {_pct(c['high'])}")
        console.print(table)


def _attribution(r: dict[str, Any]) -> None:
    a = r["attribution"]
    table = _table(f"attribution (beside the lift, not incremental): {a['orders']:,} orders, {_num(a['revenue'])}",
                   "step", "variant", "orders", "by coupon", "by click", "revenue")
    for row in a["by_step"]:
        table.add_row(row["step"] or "", escape(row["variant"] or ""), f"{row['orders']:,}",
                      f"{row['coupon_orders']:,}", f"{row['click_orders']:,}", _num(row["revenue"]))
    console.print(table)


def _failure(r: dict[str, Any]) -> None:
    f = r["failure_analysis"]
    table = _table(f"who did not respond ({f['non_responders']:,} of {f['treated']:,} treated), worst first",
                   "dimension", "value", "non-responders", "share", "conversion rate", "vs average")
    for b in f["worst"]:
        table.add_row(b["dimension"], escape(b["value"]), f"{b['size']:,}", _pct(b["share"], 1),
                      _pct(b["conversion_rate"]), _pct(b["vs_average"]))
    console.print(table)
    for c in f["cost_benefit"]:
        console.print(f"  {c['line']}", highlight=False)
