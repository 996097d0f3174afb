"""Commands over segment expressions: count the customers in one, list what a segment may use."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from winback.cli.output import JsonOpt, console, emit_json
from winback.jobs.workspace import Workspace
from winback.segments import FIELDS, FUNCTIONS, count_segment, parse_segment

segments_app = typer.Typer(help="Select customers with segment expressions (see docs/segments.md).",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(segments_app, name="segments")


@segments_app.command("count")
def count(
    ctx: typer.Context,
    expression: Annotated[str, typer.Argument(
        help="A segment, e.g. \"stage == 'at_risk' and clv > 200 and not suppressed('email')\".")],
    as_json: JsonOpt = False,
) -> None:
    """How many customers are in a segment now."""
    segment = parse_segment(expression)  # a mistake is reported before the store is opened
    ws: Workspace = ctx.obj
    now = ws.clock()
    with ws.ready_engine().connect() as conn:
        n = count_segment(conn, segment, now=now)
    if as_json:
        emit_json({"segment": segment.text, "count": n, "as_of": now})
    else:
        console.print(f"{n:,} customer{'' if n == 1 else 's'} as of {now:%Y-%m-%d %H:%M} UTC", highlight=False)


@segments_app.command("fields")
def fields(as_json: JsonOpt = False) -> None:
    """The fields and functions a segment may use."""
    listed = {
        "fields": [{"name": f.name, "type": f.type, "source": f.table, "description": f.description}
                   for f in FIELDS.values()],
        "functions": [{"name": f.name, "signature": f.signature, "returns": f.returns, "description": f.description}
                      for f in FUNCTIONS.values()],
    }
    if as_json:
        emit_json(listed)
        return
    for title, rows in (("fields", [[f["name"], f["type"], f["description"]] for f in listed["fields"]]),
                        ("functions", [[f["signature"], f["returns"], f["description"]] for f in listed["functions"]])):
        table = Table(title=title, title_justify="left")
        for column in (title.removesuffix("s"), "type", "description"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
