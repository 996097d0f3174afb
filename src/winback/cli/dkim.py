"""DKIM keys: generate one, print the DNS record to publish (see docs/delivery.md)."""

from __future__ import annotations

from email.utils import parseaddr
from enum import StrEnum
from typing import Annotated

import typer

from winback.cli.output import JsonOpt, console, emit_json
from winback.jobs.workspace import Workspace
from winback.messaging.dkim import dns_record, generate_key, load_key, txt_value

dkim_app = typer.Typer(help="DKIM signing keys and their DNS records (see docs/delivery.md).", no_args_is_help=True)


class Kind(StrEnum):
    rsa = "rsa"
    ed25519 = "ed25519"


SelectorOpt = Annotated[str | None, typer.Option("--selector", help="DKIM selector; default WINBACK_DKIM_SELECTOR "
                                                 "(its first entry), else 'winback'.")]


def register(app: typer.Typer) -> None:
    app.add_typer(dkim_app, name="dkim")


def _selector(ws: Workspace, selector: str | None) -> str:
    if selector:
        return selector
    configured = (ws.settings.dkim_selector or "").split(",")[0].strip()
    return configured or "winback"


def _domain(ws: Workspace) -> str:
    return parseaddr(ws.settings.mail_from)[1].rpartition("@")[2].lower()


def _show(ws: Workspace, selector: str, as_json: bool, *, created: bool) -> None:
    key = load_key(ws.home, selector)
    domain = _domain(ws)
    if as_json:
        emit_json({"selector": selector, "kind": key.kind, "domain": domain, "name": f"{selector}._domainkey.{domain}",
                   "value": txt_value(key), "record": dns_record(key, domain),
                   "key_file": str(ws.home / "dkim" / f"{selector}.key")})
        return
    if created:
        console.print(f"wrote {ws.home / 'dkim' / (selector + '.key')} ({key.kind}); publish this record:",
                      highlight=False)
    console.print(dns_record(key, domain), highlight=False, soft_wrap=True)


@dkim_app.command("generate")
def generate(ctx: typer.Context, selector: SelectorOpt = None,
             kind: Annotated[Kind, typer.Option("--kind", help="rsa (2048 bits, required by the big providers) or "
                                                "ed25519 (a second signature).")] = Kind.rsa,
             as_json: JsonOpt = False) -> None:
    """Create a signing key in WINBACK_HOME/dkim/<selector>.key and print its DNS record."""
    ws: Workspace = ctx.obj
    name = _selector(ws, selector)
    generate_key(ws.home, name, kind.value)
    _show(ws, name, as_json, created=True)


@dkim_app.command("dns")
def dns(ctx: typer.Context, selector: SelectorOpt = None, as_json: JsonOpt = False) -> None:
    """Print the TXT record of an existing key."""
    ws: Workspace = ctx.obj
    _show(ws, _selector(ws, selector), as_json, created=False)
