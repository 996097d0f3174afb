"""Running an app of winback's under uvicorn, for `winback serve` and `winback dashboard`."""

from __future__ import annotations

import importlib.util
from typing import Any

from winback.domain.errors import UserError


def _fastest(module: str, fallback: str) -> str:
    return module if importlib.util.find_spec(module) is not None else fallback


def run_app(app: Any, *, factory: str, host: str, port: int, workers: int, access_log: bool,
            **options: Any) -> None:
    """Serve `app` (already built: its store and keys checked, so mistakes are one line before listening) until
    interrupted; with several workers each process builds its own app from WINBACK_* through `factory`
    ("module:function")."""
    import uvicorn

    if not 0 < port < 65536:
        raise UserError(f"--port {port}: use 1-65535")
    settings = {"host": host, "port": port, "loop": _fastest("uvloop", "asyncio"), "http": _fastest("httptools", "h11"),
                "access_log": access_log, "log_level": "info", "timeout_graceful_shutdown": 10, **options}
    if workers == 1:
        uvicorn.run(app, **settings)
        return
    app.state.engine.dispose()  # the workers open their own connections
    uvicorn.run(factory, factory=True, workers=workers, **settings)
