"""The customer-facing pages of the tracking service: unsubscribe (RFC 8058 one-click), the preference centre, the
one-question exit survey and view-in-browser, in Chinese and English (docs/tracking.md).

The token in the URL is the capability: no login, no cookie. GET and HEAD never write (mail scanners fetch every
link); the one-click POST needs nothing but the token. Every bad token gets the same 404 and a `tracking_rejects` row.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from winback.store import tables as t
from winback.store.db import write_transaction
from winback.tracking import preferences as store
from winback.tracking.hits import invalid_link_response
from winback.tracking.texts import lang_for, texts
from winback.tracking.tokens import BadToken, environment_id

__all__ = ["FORM_TTL", "router"]

router = APIRouter(include_in_schema=False)

TEMPLATES = Path(__file__).parent / "templates"
FORM_TTL = timedelta(hours=1)  # how long a preference form may be submitted after it was shown
RECOMMENDER_TTL = 3600.0  # seconds a fitted co-purchase model serves view-in-browser renders
# A rendered message may show images from its own https sources; the service's middleware adds the stricter
# page policy, nosniff and Referrer-Policy to every response.
VIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; base-uri 'none'; " \
           "frame-ancestors 'none'"
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
T = TypeVar("T")


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def _page(page: str, *, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
    words = texts(lang)
    values.setdefault("title", words.get(f"{page}_title", ""))
    html = _environment().get_template(f"{page}.html").render(t=words, **values)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _state(request: Request) -> Any:
    return request.app.state


async def _db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking store work off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def _reject(request: Request, route: str, reason: str) -> Response:
    """The service's one answer to every refused link; the reason goes to `tracking_rejects` only."""
    return invalid_link_response(request, route=route, reason=reason)


# --- tokens -------------------------------------------------------------------------------------------------------

def _payload(request: Request, token: str, purpose: str) -> dict[str, Any] | None:
    """The token's payload when it verifies for `purpose` and has the fields the route needs; else None."""
    try:
        payload = _state(request).signer.verify(token, purpose)
    except BadToken:
        return None
    cid, eid, step = payload.get("c"), payload.get("e"), payload.get("s")
    if not isinstance(cid, str) or not cid:
        return None
    needs_step = purpose in ("unsubscribe", "view")
    if (needs_step or eid is not None) and (not isinstance(eid, int) or isinstance(eid, bool)):
        return None
    if needs_step and (not isinstance(step, str) or not step):
        return None
    return {"c": cid, "e": eid, "s": step if needs_step else None}


def _verified(request: Request, token: str, purpose: str, route: str) -> dict[str, Any] | Response:
    payload = _payload(request, token, purpose)
    return payload if payload is not None else _reject(request, route, "bad_token")


# --- the customer -------------------------------------------------------------------------------------------------

def _customer(state: Any, customer_id: str) -> dict[str, Any]:
    """Name, email, locale and saved preferences ({} for an unknown customer)."""
    c = t.customers.c
    with state.engine.connect() as conn:
        row = conn.execute(sa.select(c.name, c.email, c.locale).where(c.customer_id == customer_id)).first()
        if row is None:
            return {}
        return {**row._asdict(), "prefs": store.load_preferences(conn, customer_id)}


def _lang(request: Request, customer: dict[str, Any]) -> str:
    """?lang= first, then the language they chose, then their locale."""
    prefs = customer.get("prefs")
    return lang_for(request.query_params.get("lang"), prefs.language if prefs else None, customer.get("locale"))


def _masked(email: str | None) -> str | None:
    """j•••@example.com: enough for them to recognise the address, little for anyone who finds the link."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def _unsubscribed_page(state: Any, payload: dict[str, Any], lang: str) -> HTMLResponse:
    return _page("unsubscribe", lang=lang, done=True, title=texts(lang)["unsubscribed_title"],
                 preferences_url=state.links.preferences_url(customer_id=payload["c"]),
                 survey_url=state.links.survey_url(customer_id=payload["c"], enrolment_id=payload["e"]))


# --- unsubscribe --------------------------------------------------------------------------------------------------

@router.api_route("/u/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str) -> Response:
    """The confirmation page; changes nothing."""
    payload = _verified(request, token, "unsubscribe", "unsubscribe")
    if isinstance(payload, Response):
        return payload
    state = _state(request)
    customer = await _db(_customer, state, payload["c"])
    return _page("unsubscribe", lang=_lang(request, customer), done=False, address=_masked(customer.get("email")),
                 preferences_url=state.links.preferences_url(customer_id=payload["c"]))


def _unsubscribe(state: Any, payload: dict[str, Any], channels: tuple[str, ...]) -> bool:
    """One transaction; a concurrent first unsubscribe of the same address (SQLite has no row lock to queue
    on) makes the suppression insert collide once, and the retry finds it done."""
    for attempt in range(2):
        try:
            with write_transaction(state.engine) as conn:
                return store.unsubscribe(conn, customer_id=payload["c"], enrolment_id=payload["e"],
                                         step=payload["s"], now=state.clock(), channels=channels)
        except sa.exc.IntegrityError:
            if attempt:
                raise
    return False


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_post(request: Request, token: str) -> Response:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`) or the confirmation form: unsubscribe, idempotently."""
    payload = _verified(request, token, "unsubscribe", "unsubscribe")
    if isinstance(payload, Response):
        return payload
    state = _state(request)
    await _db(_unsubscribe, state, payload, ("email",))
    customer = await _db(_customer, state, payload["c"])
    return _unsubscribed_page(state, payload, _lang(request, customer))


# --- preference centre --------------------------------------------------------------------------------------------

def _form_mac(secret: bytes, *, environment: bytes, token: str, expires: int) -> str:
    key = hmac.new(secret, b"winback preference form", hashlib.sha256).digest()  # not the link key itself
    message = b"\0".join((environment, token.encode(), str(expires).encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _form_key(state: Any, token: str) -> str:
    """The hidden field that proves a POST came from a form we showed for this very link, lately:
    `expires.kid.HMAC(link key of kid, environment, token, expires)`."""
    signer = state.signer
    expires = int((state.clock() + FORM_TTL).timestamp())
    mac = _form_mac(signer.keys[signer.current], environment=signer.environment, token=token, expires=expires)
    return f"{expires}.{signer.current}.{mac}"


def _origin_ok(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin.lower() == environment_id(_state(request).settings.public_url)


def _form_ok(request: Request, token: str, key: str) -> bool:
    """A form key for this token, not expired, under any current link key; and, when the browser says where the
    form came from (Origin), our own public URL."""
    state = _state(request)
    signer = state.signer
    expires, _, rest = key.partition(".")
    kid, _, mac = rest.rpartition(".")
    secret = signer.keys.get(kid)
    if secret is None or not expires.isdigit() or not _origin_ok(request):
        return False
    expected = _form_mac(secret, environment=signer.environment, token=token, expires=int(expires))
    return hmac.compare_digest(expected, mac) and state.clock().timestamp() <= int(expires)


def _topics(state: Any) -> tuple[str, ...]:
    configured = getattr(state.settings, "preference_topics", None)
    if isinstance(configured, str):
        configured = [x.strip() for x in configured.split(",") if x.strip()]
    return tuple(configured) if configured else store.DEFAULT_TOPICS


def _preferences_page(request: Request, token: str, customer: dict[str, Any], *, status: int = 200,
                      saved: bool = False, errors: tuple[str, ...] = ()) -> HTMLResponse:
    state = _state(request)
    prefs: store.Preferences = customer.get("prefs") or store.Preferences()
    topics = _topics(state)
    now = state.clock()
    paused = prefs.paused_until if prefs.paused_until is not None and prefs.paused_until > now else None
    frequency = "keep" if paused else prefs.frequency or "any"
    lang = _lang(request, customer)
    return _page("preferences", lang=lang, status=status, saved=saved, errors=errors, name=customer.get("name"),
                 form_key=_form_key(state, token), topics=topics,
                 chosen_topics=prefs.topics if prefs.topics is not None else topics,
                 frequencies=store.FREQUENCIES, frequency=frequency,
                 paused_until=paused.date().isoformat() if paused else None,
                 channels=store.CHANNELS,
                 chosen_channels=prefs.channels if prefs.channels is not None else store.CHANNELS,
                 language=prefs.language or lang)


@router.api_route("/p/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def preferences_page(request: Request, token: str) -> Response:
    """The preference form; changes nothing."""
    payload = _verified(request, token, "preferences", "preferences")
    if isinstance(payload, Response):
        return payload
    customer = await _db(_customer, _state(request), payload["c"])
    return _preferences_page(request, token, customer)


def _save(state: Any, customer_id: str, form: dict[str, list[str]], topics: tuple[str, ...]) -> tuple[str, ...]:
    """Validate and save in one transaction; the error keys when nothing was saved."""
    with write_transaction(state.engine) as conn:
        now = state.clock()
        result = store.parse_form(form, topics=topics, current=store.load_preferences(conn, customer_id), now=now)
        if result.prefs is not None:
            store.save_preferences(conn, customer_id, result.prefs, now=now)
        return result.errors


@router.post("/p/{token}", response_class=HTMLResponse)
async def preferences_post(request: Request, token: str) -> Response:
    """Save the form, or unsubscribe from everything; refused without a valid form key."""
    payload = _verified(request, token, "preferences", "preferences")
    if isinstance(payload, Response):
        return payload
    state = _state(request)
    raw = await request.form()
    form = {key: [v for v in raw.getlist(key) if isinstance(v, str)] for key in raw}
    customer = await _db(_customer, state, payload["c"])
    if not customer:
        return _reject(request, "preferences", "unknown_customer")
    if not _form_ok(request, token, (form.get("form_key") or [""])[0]):
        return _preferences_page(request, token, customer, status=403, errors=("error_expired",))
    if (form.get("action") or [""])[0] == "unsubscribe_all":
        await _db(_unsubscribe, state, payload, store.CHANNELS)
        return _unsubscribed_page(state, payload, _lang(request, customer))
    errors = await _db(_save, state, payload["c"], form, _topics(state))
    customer = await _db(_customer, state, payload["c"])
    return _preferences_page(request, token, customer, status=400 if errors else 200, saved=not errors,
                             errors=errors)


# --- exit survey --------------------------------------------------------------------------------------------------

def _survey_page(request: Request, customer: dict[str, Any], *, status: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("chosen", None)
    values.setdefault("text", "")
    values.setdefault("error", None)
    lang = _lang(request, customer)
    title = texts(lang)["survey_thanks_title" if values.get("done") else "survey_question"]
    return _page("survey", lang=lang, status=status, choices=store.SURVEY_CHOICES, title=title, **values)


@router.api_route("/s/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def survey_page(request: Request, token: str) -> Response:
    """The one question; changes nothing."""
    payload = _verified(request, token, "survey", "survey")
    if isinstance(payload, Response):
        return payload
    customer = await _db(_customer, _state(request), payload["c"])
    return _survey_page(request, customer, done=False)


def _record_survey(state: Any, payload: dict[str, Any], choice: str, text: str) -> bool:
    with write_transaction(state.engine) as conn:
        return store.record_survey(conn, customer_id=payload["c"], enrolment_id=payload["e"], choice=choice,
                                   text=text, now=state.clock())


@router.post("/s/{token}", response_class=HTMLResponse)
async def survey_post(request: Request, token: str) -> Response:
    """Store the answer as `feedback` (one row per customer and enrolment, however often it is sent)."""
    payload = _verified(request, token, "survey", "survey")
    if isinstance(payload, Response):
        return payload
    state = _state(request)
    form = await request.form()
    choice, text = form.get("reason"), form.get("text")
    text = text if isinstance(text, str) else ""
    customer = await _db(_customer, state, payload["c"])
    if not _origin_ok(request):
        return _survey_page(request, customer, status=403, done=False, error="error_expired", text=text)
    if not isinstance(choice, str) or choice not in store.SURVEY_CHOICES:
        return _survey_page(request, customer, status=400, done=False, error="survey_choose", text=text)
    await _db(_record_survey, state, payload, choice, text)
    return _survey_page(request, customer, done=True)


# --- view in browser ----------------------------------------------------------------------------------------------

@functools.cache
def _library(templates_dir: Path | None) -> Any:
    from winback.messaging.templates import TemplateLibrary

    return TemplateLibrary(templates_dir)


_fitted: dict[int, tuple[float, Any]] = {}


def _recommender(engine: sa.Engine, conn: sa.Connection) -> Any:
    """The co-purchase model, refitted at most once an hour: fitting reads every order item."""
    from winback.messaging.context import fit_recommender

    at, model = _fitted.get(id(engine), (0.0, None))
    if model is None or time.monotonic() - at > RECOMMENDER_TTL:
        model = fit_recommender(conn)
        _fitted[id(engine)] = (time.monotonic(), model)
    return model


def _sent(conn: sa.Connection, customer_id: str, enrolment_id: int, step: str) -> tuple[Any, Any, Any] | None:
    """(programme definition, variant, locale) of an email that was handed over to this customer; else None."""
    e, g, v, c = t.enrolments.c, t.ledger.c, t.programme_versions.c, t.customers.c
    row = conn.execute(
        sa.select(v.definition, g.variant, c.locale)
        .join_from(t.enrolments, t.ledger, g.enrolment_id == e.enrolment_id)
        .join(t.programme_versions, sa.and_(v.programme_id == e.programme_id, v.version == e.version))
        .join(t.customers, c.customer_id == e.customer_id)
        .where(e.enrolment_id == enrolment_id, e.customer_id == customer_id, g.step == step, g.kind == "send",
               g.channel == "email", g.state.in_(("sent", "sending", "unknown")))).first()
    return (row.definition, row.variant, row.locale) if row is not None else None


def _view_context(state: Any, conn: sa.Connection, payload: dict[str, Any], *, now: datetime,
                  view_url: str) -> dict[str, Any] | None:
    from winback.messaging.context import build_contexts

    cid, eid, step = payload["c"], payload["e"], payload["s"]
    settings = state.settings
    base = build_contexts(conn, [cid], now=now, currency_default=settings.currency,
                          recommender=_recommender(state.engine, conn)).get(cid)
    if base is None:
        return None
    k = t.coupons.c
    coupon = conn.execute(sa.select(k.code, k.kind, k.value, k.expires_at)
                          .where(k.enrolment_id == eid, k.step == step)).first()
    name, addr = parseaddr(settings.mail_from)
    links = state.links
    return {**base, "unsubscribe_url": links.unsubscribe_url(customer_id=cid, enrolment_id=eid, step=step),
            "preferences_url": links.preferences_url(customer_id=cid), "view_in_browser_url": view_url,
            "postal_address": settings.postal_address or "", "sender_name": name or addr.rpartition("@")[2],
            "coupon": coupon._asdict() if coupon is not None else None}


def _render_view(state: Any, payload: dict[str, Any], view_url: str) -> str | None:
    """The message as it would be rendered now: the enrolment's programme version, the step's template (and the
    variant it was sent with), today's personalisation. None when it cannot be shown."""
    from winback.campaigns.files import programme_from_definition
    from winback.domain.errors import WinbackError
    from winback.messaging.compose import localised

    now = state.clock()
    with state.engine.connect() as conn:
        sent = _sent(conn, payload["c"], payload["e"], payload["s"])
        if sent is None:
            return None
        definition, variant, locale = sent
        try:
            send = programme_from_definition(definition).step(payload["s"]).send
        except (ValueError, KeyError):
            return None
        if send is None:
            return None
        chosen = next((x for x in send.variants if x.name == variant), None)
        template = (chosen.template if chosen is not None and chosen.template else send.template) or ""
        subject = chosen.subject if chosen is not None and chosen.subject is not None else send.subject
        context = _view_context(state, conn, payload, now=now, view_url=view_url)
    if context is None:
        return None
    try:
        rendered = _library(state.settings.templates_dir).render(
            template, locale=locale, subject=localised(subject, locale, template), context=context)
    except (WinbackError, ValueError):
        return None
    return str(rendered.html)


@router.api_route("/v/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def view_page(request: Request, token: str) -> Response:
    """The message in the browser, or a page saying it is no longer available."""
    payload = _verified(request, token, "view", "view")
    if isinstance(payload, Response):
        return payload
    state = _state(request)
    html = await _db(_render_view, state, payload, f"{state.links.base}/v/{token}")
    if html is not None:
        return HTMLResponse(html, headers={**_HEADERS, "Content-Security-Policy": VIEW_CSP})
    customer = await _db(_customer, state, payload["c"])
    lang = _lang(request, customer)
    words = texts(lang)
    return _page("message", lang=lang, status=404, title=words["view_gone_title"], body=words["view_gone"])
