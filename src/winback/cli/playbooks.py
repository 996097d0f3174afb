"""`winback playbooks …`: the ready programme files winback ships, to run as they are or to copy and adapt."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from winback.campaigns.playbooks import playbook_summaries, playbook_text
from winback.cli.output import JsonOpt, console, emit_json

playbooks_app = typer.Typer(help="Ready win-back programmes: list them, show one to copy and adapt.",
                            no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(playbooks_app, name="playbooks")


@playbooks_app.command("list")
def list_playbooks(as_json: JsonOpt = False) -> None:
    """The shipped playbooks: who enters, how many steps, what each is for."""
    summaries = playbook_summaries()
    if as_json:
        emit_json(summaries)
        return
    table = Table(title="playbooks", title_justify="left")
    for column in ("name", "title", "enters by", "steps", "what it does"):
        table.add_column(column, justify="right" if column == "steps" else "left")
    for s in summaries:
        table.add_row(s["name"], s["title"], f"trigger {s['trigger']}" if s["trigger"] else "audience",
                      str(s["steps"]), s["description"] or "")
    console.print(table)
    console.print("copy one to adapt it: winback playbooks show NAME > mine.yaml; "
                  "run one as it is: winback programs start NAME", highlight=False)


@playbooks_app.command("show")
def show(name: Annotated[str, typer.Argument(help="The playbook's name (see `winback playbooks list`).")]) -> None:
    """Print the playbook's YAML exactly as shipped (redirect it to a file to adapt it)."""
    text = playbook_text(name)
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        sys.stdout.write(text)
    else:  # bytes, so the copy is exact whatever the terminal's encoding and newline convention
        sys.stdout.flush()
        out.write(text.encode("utf-8"))
        out.flush()
