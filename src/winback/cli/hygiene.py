"""`winback hygiene check`: syntax, MX, role, disposable and typo flags over the customers' email addresses."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.output import JsonOpt, console, emit_json, key_values, rows_table
from winback.jobs.workspace import Workspace
from winback.messaging.hygiene import hygiene_report
from winback.messaging.inbound import suppress

hygiene_app = typer.Typer(help="Check the customers' email addresses (see docs/bounces-and-hygiene.md).",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(hygiene_app, name="hygiene")


@hygiene_app.command("check")
def check(
    ctx: typer.Context,
    dns: Annotated[bool | None, typer.Option(
        "--dns/--no-dns", help="Look up MX records (default: on unless WINBACK_DNS=offline).")] = None,
    suppress_invalid: Annotated[bool, typer.Option(
        "--suppress-invalid", help="Suppress addresses whose syntax is invalid (basis 'invalid').")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Flag invalid, role, disposable, mistyped and MX-less addresses; count those already suppressed."""
    ws: Workspace = ctx.obj
    now = ws.clock()
    offline = ws.settings.dns == "offline"
    use_dns = (dns if dns is not None else True) and not offline
    with ws.ready_engine().begin() as conn:
        report = hygiene_report(conn, dns=use_dns, now=now)
        if offline and dns:
            report["dns"] = "offline (WINBACK_DNS=offline; --dns ignored, MX lookups skipped)"
        added = 0
        if suppress_invalid:
            for row in report["flagged"]:
                if "invalid" in row["flags"]:
                    added += suppress(conn, address=row["address"], basis="invalid", source="hygiene check", now=now)
        report["suppressed_now"] = added
    if as_json:
        emit_json(report)
        return
    key_values("hygiene", {k: v for k, v in report.items() if k != "flagged"})
    if report["flagged"]:
        rows_table("flagged addresses", ["customer", "address", "flags", "suggestion / reason"],
                   [[r["customer_id"], r["address"], ", ".join(r["flags"]), r["suggestion"] or r["reason"] or ""]
                    for r in report["flagged"][:200]])
        if len(report["flagged"]) > 200:
            console.print(f"… and {len(report['flagged']) - 200:,} more (use --json for all)", highlight=False)
