"""`winback messages …`: preview a programme step's message for one customer, and check a programme's templates."""

from __future__ import annotations

import sys
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from typing import Annotated, Any

import typer

from winback.campaigns.definition import Programme, Send
from winback.cli.output import JsonOpt, console, emit_json
from winback.domain.errors import NotFoundError, UserError
from winback.jobs.programmes import load_programme
from winback.jobs.workspace import Workspace
from winback.messaging.compose import localised
from winback.messaging.context import build_contexts
from winback.messaging.templates import Rendered, TemplateLibrary

Source = Annotated[str, typer.Argument(help="A programme file (YAML), or the name of a shipped playbook.")]

messages_app = typer.Typer(help="Preview and check message templates (see docs/messages.md).", no_args_is_help=True)


class Format(StrEnum):
    html = "html"
    text = "text"
    eml = "eml"


def register(app: typer.Typer) -> None:
    app.add_typer(messages_app, name="messages")


def sends(programme: Programme) -> list[tuple[str, str, str | dict[str, str] | None]]:
    """(step id, template, subject) of every send step and variant of a programme."""
    found = []
    for step_id, step in zip(programme.step_ids, programme.steps, strict=True):
        if step.send is None:
            continue
        if step.send.template:
            found.append((step_id, step.send.template, step.send.subject))
        for v in step.send.variants:
            found.append((step_id, v.template or step.send.template or "",
                          v.subject if v.subject is not None else step.send.subject))
    return found


def _send(programme: Programme, step_id: str, variant: str | None) -> tuple[Send, str, str | dict[str, str] | None]:
    if step_id not in programme.step_ids:
        raise UserError(f"programme {programme.programme} has no step {step_id!r}; its steps: "
                        f"{', '.join(programme.step_ids)}")
    send = programme.step(step_id).send
    if send is None:
        raise UserError(f"step {step_id!r} of {programme.programme} sends nothing; send steps: "
                        f"{', '.join(s for s, _, _ in sends(programme)) or 'none'}")
    if variant is None and not send.template and send.variants:
        variant = send.variants[0].name
    if variant is not None:
        chosen = next((v for v in send.variants if v.name == variant), None)
        if chosen is None:
            raise UserError(f"step {step_id!r} has no variant {variant!r}; variants: "
                            f"{', '.join(v.name for v in send.variants) or 'none'}")
        return send, chosen.template or send.template or "", (
            chosen.subject if chosen.subject is not None else send.subject)
    return send, send.template or "", send.subject


def preview_values(ws: Workspace, send: Send, *, now: datetime) -> dict[str, Any]:
    """What the composer adds, with placeholder links (a preview is never sent, so its links are not signed)."""
    s = ws.settings
    base = s.public_url.rstrip("/")
    coupon = None
    if send.incentive is not None:
        coupon = {"code": "PREVIEW-CODE", "kind": send.incentive.kind, "value": send.incentive.value,
                  "expires_at": now + send.incentive.expires}
    return {"unsubscribe_url": f"{base}/u/preview", "preferences_url": f"{base}/p/preview",
            "view_in_browser_url": f"{base}/v/preview",
            "postal_address": s.postal_address or "(postal address not set: WINBACK_POSTAL_ADDRESS)",
            "sender_name": parseaddr(s.mail_from)[0] or "winback", "coupon": coupon}


def preview_eml(rendered: Rendered, *, sender: str, to: str, now: datetime) -> bytes:
    """A minimal multipart/alternative message for a preview (not the production MIME builder)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now)
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return bytes(msg)


@messages_app.command("preview")
def preview(
    ctx: typer.Context,
    programme: Annotated[str, typer.Option("--programme", help="A programme file or a shipped playbook name.")],
    step: Annotated[str, typer.Option("--step", help="The id of a send step.")],
    customer: Annotated[str, typer.Option("--customer", help="A customer id from the store.")],
    variant: Annotated[str | None, typer.Option("--variant", help="A variant name (default: the step's own "
                                                "template, else its first variant).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="html, text or eml.")] = Format.html,
) -> None:
    """Render a step's message for one customer from the store, as it would be sent (links are placeholders)."""
    ws: Workspace = ctx.obj
    p = load_programme(programme, templates_dir=ws.settings.templates_dir).programme
    send, template, subject = _send(p, step, variant)
    now = ws.clock()
    with ws.ready_engine().connect() as conn:
        contexts = build_contexts(conn, [customer], now=now, currency_default=ws.settings.currency)
    if customer not in contexts:
        raise NotFoundError(f"no customer {customer!r} in the store")
    values = contexts[customer] | preview_values(ws, send, now=now)
    locale = values["locale"]
    library = TemplateLibrary(ws.settings.templates_dir)
    rendered = library.render(template, locale=locale, subject=localised(subject, locale, template), context=values)
    if fmt is Format.html:
        sys.stdout.write(rendered.html)
    elif fmt is Format.text:
        sys.stdout.write(f"Subject: {rendered.subject}\n\n{rendered.text}")
    else:
        sys.stdout.buffer.write(preview_eml(rendered, sender=ws.settings.mail_from,
                                            to=f"{customer}@preview.invalid", now=now))
        sys.stdout.flush()


@messages_app.command("check")
def check(ctx: typer.Context, source: Source, as_json: JsonOpt = False) -> None:
    """Check every template and subject a programme uses: missing files, syntax, unknown variables."""
    ws: Workspace = ctx.obj
    p = load_programme(source, check_templates=False).programme  # this command reports the problems itself
    library = TemplateLibrary(ws.settings.templates_dir)
    results = []
    for step_id, template, subject in sends(p):
        subjects = list(subject.values()) if isinstance(subject, dict) else [subject]
        problems: list[str] = []
        for text in subjects:
            problems += [q for q in library.check(template, subject=text) if q not in problems]
        results.append({"step": step_id, "template": template, "problems": problems})
    bad = sum(len(r["problems"]) for r in results)
    if as_json:
        emit_json({"programme": p.programme, "templates": results, "problems": bad})
    else:
        for r in results:
            mark = "[green]ok[/]" if not r["problems"] else "[red]problems[/]"
            console.print(f"{r['step']}: {r['template']} — {mark}", highlight=False)
            for q in r["problems"]:
                console.print(f"  {q}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(1)
