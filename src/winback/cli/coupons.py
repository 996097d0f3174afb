"""Coupon codes: fill a programme's pool, count codes by state, export them for a shop, redeem by orders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from winback.cli.output import JsonOpt, console, emit_json
from winback.jobs.workspace import Workspace
from winback.messaging import coupons as cp
from winback.store.db import write_transaction

coupons_app = typer.Typer(help="Coupon codes for incentive steps (see docs/messages.md, Coupons).",
                          no_args_is_help=True)

ProgrammeOpt = Annotated[str | None, typer.Option("--programme", help="Only this programme's codes.")]
StateOpt = Annotated[str | None, typer.Option("--state", help="Only codes in this state: " + ", ".join(cp.STATES))]


def register(app: typer.Typer) -> None:
    app.add_typer(coupons_app, name="coupons")


@coupons_app.command("generate")
def generate(
    ctx: typer.Context,
    programme: Annotated[str, typer.Option("--programme", help="The programme whose pool gets the codes.")],
    count: Annotated[int, typer.Option("--count", help="How many codes.")],
    kind: Annotated[str, typer.Option("--kind", help="percent | amount | free_shipping")],
    value: Annotated[float, typer.Option("--value", help="Percent off, amount off, or 0 for free shipping.")] = 0.0,
    prefix: Annotated[str, typer.Option("--prefix", help="Codes start with this (letters and digits).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Add available codes to a programme's pool (issued to customers as incentive steps send)."""
    ws: Workspace = ctx.obj
    now = ws.clock()
    with write_transaction(ws.ready_engine()) as conn:
        codes = cp.generate_pool(conn, programme_id=programme, count=count, kind=kind, value=value, now=now,
                                 prefix=prefix)
    if as_json:
        emit_json({"programme": programme, "generated": len(codes), "kind": kind, "value": value,
                   "sample": codes[:3]})
    else:
        console.print(f"{len(codes):,} {kind} code{'' if len(codes) == 1 else 's'} added to {programme}'s pool",
                      highlight=False)


@coupons_app.command("list")
def list_(ctx: typer.Context, programme: ProgrammeOpt = None, state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Codes by programme and state."""
    ws: Workspace = ctx.obj
    with ws.ready_engine().connect() as conn:
        rows = cp.counts(conn, programme_id=programme, state=state)
    if as_json:
        emit_json({"counts": rows})
        return
    table = Table(title="coupons", title_justify="left")
    for column in ("programme", "state", "count"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["programme"], row["state"], f"{row['count']:,}")
    console.print(table)


@coupons_app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The CSV file to write.")],
    programme: ProgrammeOpt = None,
    state: StateOpt = None,
) -> None:
    """Write codes as CSV for a shop platform: code, kind, value, expires_at, customer_id, state."""
    ws: Workspace = ctx.obj
    with ws.ready_engine().connect() as conn:
        n = cp.export_csv(conn, file, programme_id=programme, state=state)
    console.print(f"{n:,} code{'' if n == 1 else 's'} written to {file}", highlight=False)


@coupons_app.command("redeem")
def redeem(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Mark codes redeemed by the orders that carry them (the scheduler does this for recent orders)."""
    ws: Workspace = ctx.obj
    now = ws.clock()
    with write_transaction(ws.ready_engine()) as conn:
        report = cp.redeem_orders(conn, now=now)
        expired = cp.expire(conn, now)
    result = {**report.as_dict(), "expired": expired}
    if as_json:
        emit_json(result)
    else:
        console.print(f"{report.redeemed:,} redeemed; {report.other_customer:,} used by another customer, "
                      f"{report.after_expiry:,} after expiry, {report.before_issue:,} dated before the code was sent, "
                      f"{report.unknown:,} unknown codes; "
                      f"{expired:,} expired now", highlight=False)
