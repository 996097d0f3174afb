"""`winback programs plan SOURCE`: the dry run — who would enter, who not and why, what is sent when, the
expected effect with its interval and the cost, before anything is sent."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from winback.cli.output import console, emit_json

_LABELS = {"unknown_customer": "unknown customer", "invalid_address": "no usable address",
           "suppressed": "suppressed", "no_consent": "no consent", "already_enrolled": "already enrolled",
           "capped": "capped (frequency caps)", "holdout": "holdout (measured, sent nothing)"}


def register(programs_app: typer.Typer) -> None:
    """Add `plan` to the `programs` group."""
    programs_app.command("plan")(plan)


def plan(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A programme file (YAML), or the name of a shipped playbook.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Dry run: audience, exclusions by reason, sends per day, expected effect with an interval, costs.
    Writes nothing."""
    from winback.jobs.plan import plan as plan_job

    result = plan_job(ctx.obj, source)
    if as_json:
        emit_json(result)
        return
    show(result)


def show(result: dict[str, Any]) -> None:
    """The plan as tables for people."""
    console.print(f"[bold]{result['programme']}[/] — dry run at {result['now'][:16].replace('T', ' ')} UTC "
                  "(nothing is sent or stored)", highlight=False)
    _audience(result)
    _exclusions(result)
    _sends(result)
    _expected(result)
    _costs(result)
    console.print("[bold]assumptions[/]")
    for note in result["assumptions"]:
        console.print(f"  • {note}", highlight=False)


def _table(title: str, *columns: str, numbers: int = 1) -> Table:
    """A table whose last `numbers` columns are right-aligned."""
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i >= len(columns) - numbers else "left")
    return table


def _audience(r: dict[str, Any]) -> None:
    table = _table("audience", "", "customers")
    trigger = r.get("trigger")
    if r["basis"] == "trigger_last_30_days":
        label = f"trigger {trigger['event']}: customers with such an event in the last 30 days"
        table.add_row(label, f"{trigger['customers_last_30_days']:,}")
        if r.get("audience_text"):
            table.add_row(f"  of them in the audience ({r['audience_text']})", f"{trigger['in_audience']:,}")
        table.add_row("entries per 30 days (estimate)", f"{r['audience']:,}")
    else:
        table.add_row(f"audience: {r['audience_text']}", f"{r['audience']:,}")
    table.add_row("eligible (after exclusions)", f"{r['eligible']:,}")
    table.add_row("holdout (sent nothing, measured)", f"{r['holdout']:,}")
    table.add_row("[bold]treated[/]", f"[bold]{r['treated']:,}[/]")
    console.print(table)


def _exclusions(r: dict[str, Any]) -> None:
    table = _table("not sent to, and why", "reason", "customers", "share of audience", numbers=2)
    total = r["audience"] or 1
    for reason, n in r["exclusions"].items():
        if reason == "unknown_customer" and not n:
            continue
        table.add_row(_LABELS.get(reason, reason), f"{n:,}", f"{n / total:.1%}")
    console.print(table)


def _sends(r: dict[str, Any]) -> None:
    rows = r["sends_per_day"]
    if not rows:
        console.print("sends per day: nothing would be sent")
        return
    table = _table("sends per day (UTC)", "date", "step", "channel", "count")
    for row in rows:
        table.add_row(row["date"], row["step"], row["channel"], f"{row['count']:,}")
    table.add_row("[bold]total[/]", "", ", ".join(f"{ch} {n:,}" for ch, n in sorted(r["sends_total"].items())),
                  f"[bold]{sum(r['sends_total'].values()):,}[/]")
    console.print(table)
    console.print("  along the path taken when nothing happens: exits and engagement make the real numbers lower",
                  highlight=False)
    if r["skipped_sends"]:
        skipped = _table("sends the engine would skip", "step", "channel", "reason", "count")
        for row in r["skipped_sends"]:
            skipped.add_row(row["step"], row["channel"], row["reason"], f"{row['count']:,}")
        console.print(skipped)


def _expected(r: dict[str, Any]) -> None:
    e = r["expected"]
    table = _table(f"expected effect within the goal window ({e['goal_window_days']:g} days), among the treated",
                   "", "expected", "95 % interval", numbers=2)
    table.add_row("conversions without the programme (baseline)", f"{e['baseline_conversions']:,.1f}", "")
    table.add_row(f"extra conversions (lift {e['relative_lift']:g}, range {e['lift_low']:g}–{e['lift_high']:g})",
                  f"{e['incremental_conversions']:,.1f}",
                  f"{e['incremental_conversions_low']:,.1f} – {e['incremental_conversions_high']:,.1f}")
    table.add_row("extra revenue", f"{e['incremental_revenue']:,.2f}",
                  f"{e['incremental_revenue_low']:,.2f} – {e['incremental_revenue_high']:,.2f}")
    if len(e["by_currency"]) > 1:
        for cur, part in e["by_currency"].items():
            table.add_row(f"  of which {cur} ({part['treated']:,} treated)", f"{part['incremental_revenue']:,.2f}",
                          f"{part['incremental_revenue_low']:,.2f} – {part['incremental_revenue_high']:,.2f}")
    console.print(table)
    console.print(f"  method: {e['method']}", highlight=False)


def _costs(r: dict[str, Any]) -> None:
    c = r["costs"]
    table = _table("costs", "", "amount")
    for step in c["incentive_by_step"]:
        what = {"percent": f"{step['value']:g} % off", "amount": f"{step['value']:g} off",
                "free_shipping": f"free shipping ({step['value']:g} per order)"}[step["kind"]]
        table.add_row(f"incentive at {step['step']}: {what}; {step['recipients']:,} receive it, "
                      f"{step['expected_redemptions']:,.1f} redemptions expected", f"{step['cost']:,.2f}")
    for channel, cost in c["sending_by_channel"].items():
        n = r["sends_total"].get(channel, 0)
        what = f"{n:,} account-manager tasks" if channel == "task" else f"{n:,} {channel} messages"
        table.add_row(f"sending: {what}", f"{cost:,.2f}")
    table.add_row("[bold]total[/]", f"[bold]{c['total']:,.2f}[/]")
    if len(c["incentive_by_currency"]) > 1:
        table.add_row("  incentives by currency: " + ", ".join(
            f"{cur} {v:,.2f}" for cur, v in c["incentive_by_currency"].items()), "")
    table.add_row(f"extra gross margin (extra revenue × margin {c['margin']:g})",
                  f"{c['incremental_gross_margin']:,.2f}")
    table.add_row("[bold]net (extra gross margin − total cost)[/]", f"[bold]{c['net']:,.2f}[/]")
    console.print(table)
