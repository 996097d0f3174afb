"""`winback apikeys`: keys for servers that call the real-time API (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from winback.api import keys
from winback.cli.output import JsonOpt, console, emit_json, err_console

apikeys_app = typer.Typer(help="Keys for the real-time API: the secret is shown once, only its hash is kept.",
                          no_args_is_help=True)

WARNING = "Store this key now: it cannot be shown again (only its SHA-256 is kept)."


def register(app: typer.Typer) -> None:
    app.add_typer(apikeys_app, name="apikeys")


def _when(value: object) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


@apikeys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the key (shop backend, billing …).")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="Allow only this scope; repeat for several. Default: every real-time scope "
        f"({', '.join(s for s in keys.SCOPES if not s.startswith('role:'))}). The admin app's REST API needs a "
        "role: role:viewer, role:account_manager, role:marketer or role:admin (docs/users.md).",
    )] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a key and print it once."""
    ws = ctx.obj
    full = keys.create_key(ws.ready_engine(), name=name, scopes=scope or None, now=ws.clock())
    key_id, _ = keys.parse_key(full) or ("", "")
    stored = keys.check_scopes(scope or None)
    if as_json:
        emit_json({"key": full, "key_id": key_id, "name": name.strip(), "scopes": stored, "warning": WARNING})
        return
    console.print(f"key_id {key_id}  name {name.strip()}  scopes {', '.join(stored) if stored else 'all'}",
                  highlight=False)
    console.print(full, highlight=False, soft_wrap=True)
    err_console.print(WARNING, style="bold yellow", highlight=False)


@apikeys_app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every key (never its secret): id, name, scopes, created, last used, revoked."""
    found = keys.list_keys(ctx.obj.ready_engine())
    if as_json:
        emit_json([k.as_dict() for k in found])
        return
    if not found:
        console.print("no API keys (make one with `winback apikeys create NAME`)", highlight=False)
        return
    table = Table(title="API keys", title_justify="left")
    table.add_column("key_id", no_wrap=True, min_width=16)  # whole, since `revoke` needs it
    for name in ("name", "scopes", "created", "last used", "revoked"):
        table.add_column(name)
    for k in found:
        table.add_row(k.key_id, k.name, ", ".join(k.scopes) if k.scopes else "all", _when(k.created_at),
                      _when(k.last_used_at), _when(k.revoked_at))
    console.print(table)


@apikeys_app.command("revoke")
def revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id (from `apikeys list`).")],
           as_json: JsonOpt = False) -> None:
    """Revoke a key; API processes refuse it within 30 seconds (their cache of verified keys)."""
    ws = ctx.obj
    key = keys.revoke_key(ws.ready_engine(), key_id, now=ws.clock())
    if as_json:
        emit_json(key.as_dict())
        return
    console.print(f"key {key.key_id} ({key.name}) revoked at {_when(key.revoked_at)}", highlight=False)
