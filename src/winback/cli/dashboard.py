"""`winback dashboard`: the admin app (dashboard under /app, REST API under /api/v1)."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.serving import run_app


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)


def dashboard(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; put a TLS proxy in front for other machines.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (login limits are counted per process).")]
    = 1,
    forwarded_allow_ips: Annotated[str, typer.Option(
        help="Proxies whose X-Forwarded-For/-Proto are believed (comma-separated; '*' for any).")] = "127.0.0.1",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
) -> None:
    """Run the dashboard and REST API until interrupted; users log in at http://HOST:PORT/app/login."""
    from winback.web.app import create_admin_app

    run_app(create_admin_app(ctx.obj.settings), factory="winback.web.app:from_environment", host=host, port=port,
            workers=workers, access_log=access_log, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips)
