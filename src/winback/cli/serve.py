"""`winback serve`: the tracking service (open pixel, clicks, unsubscribe and preference pages, real-time API)."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from winback.domain.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def _fastest(module: str, fallback: str) -> str:
    return module if importlib.util.find_spec(module) is not None else fallback


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
    import uvicorn

    from winback.tracking.app import create_app

    settings = ctx.obj.settings
    if not 0 < port < 65536:
        raise UserError(f"--port {port}: use 1-65535")
    options = {"host": host, "port": port, "loop": _fastest("uvloop", "asyncio"),
               "http": _fastest("httptools", "h11"), "access_log": access_log, "log_level": "info",
               "timeout_graceful_shutdown": 10}
    app = create_app(settings)  # checks the store and the keys here, so mistakes are one line before listening
    if workers == 1:
        uvicorn.run(app, **options)
        return
    # Several processes need an import string; each worker builds its own app (engine, recorder) from WINBACK_*.
    app.state.engine.dispose()
    uvicorn.run("winback.tracking.app:from_environment", factory=True, workers=workers, **options)
