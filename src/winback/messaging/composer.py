"""`TemplateComposer`: the engine's drafts → personalised, signed, preflighted email (docs/delivery.md).

Per batch: one personalisation query for all customers, then per message the links (signed tokens), the template
render, the MIME bytes, the DKIM signature(s) and the preflight. A message that cannot be built or fails the
preflight comes back as a `ValueError` (the engine records it `failed` with the reason); the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Protocol
from urllib.parse import quote

from winback.domain.errors import ConfigError, UserError
from winback.messaging.compose import Draft, PlainComposer, localised, message_id
from winback.messaging.dkim import DkimSigner
from winback.messaging.links import track_links
from winback.messaging.mime import MessageParts, build_message
from winback.messaging.preflight import preflight
from winback.messaging.transports.base import Outbound
from winback.tracking.tokens import LinkBuilder, link_key

__all__ = ["ComposeError", "PreflightError", "TemplateComposer"]

ContextSource = Callable[[Sequence[str], datetime], dict[str, dict[str, Any]]]


class ComposeError(ValueError):
    """One message could not be built (template failure, header that cannot be written …)."""


class PreflightError(ComposeError):
    """A marketing message missing something the rules require; `problems` lists what."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("preflight: " + "; ".join(problems))
        self.problems = problems


class RendersTemplates(Protocol):
    def render(self, name: str, *, locale: str | None, subject: str, context: dict[str, Any]) -> Any: ...


def _feedback_part(value: str) -> str:
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "-" for ch in value)[:40] or "-"


class TemplateComposer:
    """Composes email drafts through a template library; other channels go to `PlainComposer`."""

    def __init__(self, library: RendersTemplates, links: LinkBuilder, *, sender: str, contexts: ContextSource,
                 postal_address: str | None, list_id: str | None = None, dkim: DkimSigner | None = None,
                 marketing: bool = True, sender_id: str = "winback",
                 coupons: Callable[[Sequence[Draft]], dict[tuple[int, str], dict[str, Any]]] | None = None,
                 shop_url: str | None = None, product_url: str | None = None, track_opens: bool = True,
                 track_clicks: bool = True) -> None:
        name, addr = parseaddr(sender)
        if "@" not in addr:
            raise ConfigError(f"sender {sender!r} is not an email address (WINBACK_MAIL_FROM)")
        self.library = library
        self.links = links
        self.contexts = contexts
        self.sender_name = name or None
        self.sender_addr = addr
        self.domain = addr.rsplit("@", 1)[1].lower()
        self.postal_address = postal_address
        self.list_id = list_id or f"winback.{self.domain}"
        self.dkim = dkim
        self.marketing = marketing
        self.sender_id = _feedback_part(sender_id)
        self._plain = PlainComposer(sender)
        self.coupons = coupons  # issues the coupons of a batch's incentive drafts, keyed by (enrolment_id, step)
        self.shop_url = shop_url
        self.product_url = product_url  # with {sku}
        self.track_opens = track_opens
        self.track_clicks = track_clicks

    @classmethod
    def from_settings(cls, settings: Any, *, library: RendersTemplates, contexts: ContextSource,
                      coupons: Callable[[Sequence[Draft]], dict[tuple[int, str], dict[str, Any]]] | None = None,
                      ) -> TemplateComposer:
        """Wiring for the fronts: links, DKIM (when a key exists in home/dkim) and the sender from settings."""
        domain = parseaddr(settings.mail_from)[1].rpartition("@")[2]
        dkim = DkimSigner.from_home(settings.home, settings.dkim_selector, domain) if settings.dkim_selector else None
        return cls(library, LinkBuilder.from_settings(settings), sender=settings.mail_from, contexts=contexts,
                   postal_address=settings.postal_address, list_id=settings.list_id, dkim=dkim, coupons=coupons,
                   shop_url=settings.shop_url, product_url=settings.product_url, track_opens=settings.track_opens,
                   track_clicks=settings.track_clicks)

    def compose(self, draft: Draft) -> Outbound:
        result = self.compose_batch([draft])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def compose_batch(self, drafts: Sequence[Draft]) -> list[Outbound | Exception]:
        """One result per draft, in order: the message, or the `ValueError` that says why it cannot be sent."""
        emails = [d for d in drafts if d.channel == "email"]
        contexts: dict[str, dict[str, Any]] = {}
        if emails:
            ids = list(dict.fromkeys(d.recipient.customer_id for d in emails))
            contexts = self.contexts(ids, emails[0].sent_at)
        offers = [d for d in emails if getattr(d, "incentive", None) is not None]
        coupons = self.coupons(offers) if offers and self.coupons is not None else {}
        out: list[Outbound | Exception] = []
        for draft in drafts:
            try:
                if draft.channel != "email":
                    out.append(self._plain.compose(draft))
                else:
                    out.append(self._email(draft, contexts.get(draft.recipient.customer_id),
                                           coupons.get((draft.enrolment_id, draft.step))))
            except ValueError as exc:
                out.append(exc)
            except UserError as exc:  # a template that is missing or breaks a cap: this message fails, not the run
                out.append(ComposeError(str(exc)))
        return out

    def _email(self, draft: Draft, base: dict[str, Any] | None, coupon: dict[str, Any] | None = None) -> Outbound:
        if base is None:
            raise ComposeError(f"no personalisation context for customer {draft.recipient.customer_id!r}")
        cid, eid, step = draft.recipient.customer_id, draft.enrolment_id, draft.step
        unsub_token = self.links.unsubscribe_token(cid, eid, step)
        unsubscribe_url = f"{self.links.base}/u/{unsub_token}"
        context = {**base, "unsubscribe_url": unsubscribe_url, "preferences_url": self.links.preferences_url(cid),
                   "view_in_browser_url": self.links.view_url(customer_id=cid, enrolment_id=eid, step=step),
                   "postal_address": self.postal_address or "", "sender_name": self.sender_name or self.domain}
        if self.shop_url:
            context["shop_url"] = self.shop_url
        if self.product_url:
            for name in ("whats_new", "recommendations", "purchase_history"):
                context[name] = [self._product_link(item) for item in base.get(name) or []]
        if coupon is not None:
            context["coupon"] = coupon
        context.setdefault("coupon", None)
        locale = draft.recipient.locale or base.get("locale")
        subject = localised(draft.subject, locale, draft.template)
        rendered = self.library.render(draft.template, locale=locale, subject=subject, context=context)
        sent_at = draft.sent_at

        def click(url: str) -> tuple[str, str]:
            k = link_key(url)
            return k, self.links.click_url(customer_id=cid, enrolment_id=eid, step=step, link_key=k, sent_at=sent_at)

        tracked = track_links(
            rendered.html, rendered.text, click=click if self.track_clicks else None,
            pixel=self.links.open_url(customer_id=cid, enrolment_id=eid, step=step, sent_at=sent_at)
            if self.track_opens else None, keep=(self.links.base + "/",))
        mid = message_id(enrolment_id=draft.enrolment_id, step=draft.step, domain=self.domain)
        feedback = ":".join(_feedback_part(p) for p in (draft.programme_id, draft.step, draft.variant or "a"))
        parts = MessageParts(
            from_name=self.sender_name, from_addr=self.sender_addr, to_name=draft.recipient.name, to_addr=draft.to,
            subject=rendered.subject, date=draft.sent_at, message_id=mid, text=tracked.text, html=tracked.html,
            unsubscribe_url=unsubscribe_url,
            # The token is longer than the 64 octets SMTP allows a local part (RFC 5321 §4.5.3.1.1): it rides in
            # the subject of the mailto instead of unsubscribe+TOKEN@.
            unsubscribe_mailto=f"mailto:unsubscribe@{self.domain}?subject=unsubscribe-{unsub_token}",
            list_id=self.list_id, feedback_id=f"{feedback}:{self.sender_id}",
            extra=[("X-Winback-Programme", draft.programme_id), ("X-Winback-Step", draft.step)]
            + ([("X-Winback-Variant", draft.variant)] if draft.variant else []))
        raw = build_message(parts)
        if self.dkim is not None:
            raw = self.dkim.sign(raw, timestamp=int(draft.sent_at.timestamp()))
        problems = preflight(raw, marketing=self.marketing, signing_domain=self.dkim.domain if self.dkim else None,
                             postal_address=self.postal_address)
        if problems:
            raise PreflightError(problems)
        return Outbound(enrolment_id=draft.enrolment_id, step=draft.step, programme_id=draft.programme_id,
                        customer_id=cid, channel="email", to=draft.to, message_id=mid, payload=raw,
                        variant=draft.variant, links=tracked.links)

    def _product_link(self, item: dict[str, Any]) -> dict[str, Any]:
        assert self.product_url is not None
        return {**item, "url": self.product_url.replace("{sku}", quote(str(item.get("sku", "")), safe=""))}
