"""`winback bounces process`: read bounces, complaints and auto-replies from a maildir or an IMAP mailbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from winback.cli.output import JsonOpt, emit_json, key_values
from winback.domain.errors import UserError
from winback.jobs.workspace import Workspace

bounces_app = typer.Typer(help="Process inbound bounces and complaints (see docs/bounces-and-hygiene.md).",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bounces_app, name="bounces")


@bounces_app.command("process")
def process(
    ctx: typer.Context,
    maildir: Annotated[Path | None, typer.Option("--maildir", help="A maildir: messages in new/ move to cur/.")] = None,
    imap: Annotated[str | None, typer.Option(
        "--imap", help="imaps://user:password@host/INBOX: unseen messages are processed and marked seen.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Suppress hard bounces and complaints, count soft bounces, alert on blocks, quarantine the rest."""
    if (maildir is None) == (imap is None):
        raise UserError("give exactly one of --maildir PATH or --imap URL")
    ws: Workspace = ctx.obj
    now, engine, limit = ws.clock(), ws.ready_engine(), ws.settings.soft_bounce_limit
    if maildir is not None:
        from winback.messaging.inbound import process_maildir

        counts = process_maildir(engine, maildir, now=now, soft_limit=limit)
        source = f"maildir:{maildir}"
    else:
        from winback.messaging.inbound import process_imap

        counts = process_imap(engine, imap or "", now=now, soft_limit=limit)
        source = "imap"
    result = {"source": source, "as_of": now, "total": sum(counts.values()),
              **{k: counts.get(k, 0) for k in ("processed", "ignored", "quarantined", "duplicate", "error")}}
    if as_json:
        emit_json(result)
    else:
        key_values("bounces", result)
