"""`winback dashboard`: the admin app (dashboard under /app, REST API under /api/v1)."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from winback.domain.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)


def _fastest(module: str, fallback: str) -> str:
    return module if importlib.util.find_spec(module) is not None else fallback


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
    import uvicorn

    from winback.web.app import create_admin_app

    if not 0 < port < 65536:
        raise UserError(f"--port {port}: use 1-65535")
    options = {"host": host, "port": port, "loop": _fastest("uvloop", "asyncio"),
               "http": _fastest("httptools", "h11"), "access_log": access_log, "log_level": "info",
               "proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips, "timeout_graceful_shutdown": 10}
    app = create_admin_app(ctx.obj.settings)  # checks the store here, so a mistake is one line before listening
    if workers == 1:
        uvicorn.run(app, **options)
        return
    app.state.engine.dispose()  # each worker builds its own app (and engine) from WINBACK_*
    uvicorn.run("winback.web.app:from_environment", factory=True, workers=workers, **options)
