"""`winback serve`: the tracking service (open pixel, clicks, unsubscribe and preference pages, real-time API)."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.serving import run_app


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; put a TLS proxy in front for the public URL.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (about one per core).")] = 1,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request (off: it costs throughput "
                                                                  "and writes visitors' addresses).")] = False,
) -> None:
    """Run the tracking service until interrupted (Ctrl-C or SIGTERM stop it gracefully, writing every hit)."""
    from winback.tracking.app import create_app

    run_app(create_app(ctx.obj.settings), factory="winback.tracking.app:from_environment", host=host, port=port,
            workers=workers, access_log=access_log)
