"""Classifying inbound mail: delivery status notifications, feedback reports, auto-replies, everything else.

`classify_inbound` is pure and never raises: what it cannot understand comes back as kind `malformed` with a reason.
Formats: DSN (RFC 3464, multipart/report; report-type=delivery-status), ARF (RFC 5965, report-type=feedback-report),
Microsoft JMRP-style complaints, auto-replies (RFC 3834 `Auto-Submitted` and the common vendor headers and
subjects), and — best effort, conservative — bounces from mailers that send only plain text.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from typing import Literal

Kind = Literal["dsn", "arf", "auto_reply", "other", "malformed"]
Outcome = Literal["hard", "soft", "blocked", "delayed", "complaint", "other_feedback", "auto_reply", "unknown"]

MAX_BYTES = 2 * 1024 * 1024  # only the first 2 MB are parsed: the report parts come first
MAX_PARTS = 64
MAX_TEXT = 64 * 1024  # characters of a text part searched for a plain-text bounce

_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_TEXT_STATUS = re.compile(r"\b([245])\d\d[ -]#?([245]\.\d{1,3}\.\d{1,3})\b")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_USER_UNKNOWN = re.compile(
    r"\b550\b.{0,80}(user unknown|no such user|does not exist|unknown user|mailbox unavailable|用户不存在|"
    r"收件人不存在|地址不存在)", re.IGNORECASE)
_MAILER = re.compile(r"mailer-daemon|postmaster|mail delivery (sub)?system", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed)|failure notice|mail delivery failed|"
    r"returned mail|delivery failed|退信|投递失败|未送达|无法送达", re.IGNORECASE)
_OOO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|vacation|on leave|"
    r"away from (the )?office|自动回复|自動回覆|休假|外出|不在办公室|不在辦公室", re.IGNORECASE)


@dataclass(frozen=True)
class Recipient:
    """One recipient's outcome in an inbound report."""

    address: str | None
    outcome: Outcome
    status: str | None = None  # the enhanced status code, e.g. 5.1.1
    action: str | None = None
    diagnostic: str | None = None
    feedback_type: str | None = None


@dataclass(frozen=True)
class Inbound:
    """What an inbound message is, per recipient, and which of our messages it is about."""

    kind: Kind
    recipients: tuple[Recipient, ...] = ()
    message_id: str | None = None  # the original message's Message-ID, when found
    reason: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def outcome_for_status(status: str) -> Outcome:
    """Hard for 5.x.x (but 5.2.2 mailbox full is soft, 5.7.x policy is blocked), soft for 4.x.x."""
    m = _STATUS.match(status)
    if m is None:
        return "unknown"
    klass, subject, _detail = m.groups()
    if klass == "5":
        if subject == "7":
            return "blocked"
        return "soft" if status == "5.2.2" else "hard"
    if klass == "4":
        return "soft"
    return "unknown"


def classify_inbound(raw: bytes) -> Inbound:
    """Classify one raw inbound message; never raises."""
    try:
        return _classify(raw)
    except Exception as exc:  # the parser must survive anything a mailbox holds
        return Inbound(kind="malformed", reason=f"cannot parse: {type(exc).__name__}")


def _classify(raw: bytes) -> Inbound:
    if not isinstance(raw, bytes | bytearray):
        return Inbound(kind="malformed", reason="not bytes")
    truncated = len(raw) > MAX_BYTES
    data = bytes(raw[:MAX_BYTES])
    if data.startswith(b"\xef\xbb\xbf"):
        return Inbound(kind="malformed", reason="byte order mark before the headers")
    if not data.strip():
        return Inbound(kind="malformed", reason="empty message")
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    if not msg.keys():
        return Inbound(kind="malformed", reason="no headers")
    parts = _parts(msg)
    detail = {"truncated": "yes"} if truncated else {}
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            return _dsn(part, parts, msg, detail)
        if ctype == "message/feedback-report":
            return _arf(part, parts, msg, detail)
    jmrp = _jmrp(parts)
    if jmrp is not None:
        return jmrp
    if _is_auto_reply(msg):
        return Inbound(kind="auto_reply", recipients=(Recipient(address=_first_address(msg.get("From")),
                                                                outcome="auto_reply"),),
                       message_id=_original_id_from_reply(msg), reason=None, detail=detail)
    return _plain_bounce(msg, parts, detail)


def _parts(msg: Message) -> list[Message]:
    out: list[Message] = []
    stack = [msg]
    while stack and len(out) < MAX_PARTS:
        part = stack.pop(0)
        out.append(part)
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack[:0] = [p for p in payload if isinstance(p, Message)]
    return out


def _text(value: object) -> str:
    """A header value as text (RFC 2047 decoded where possible), never raising."""
    if value is None:
        return ""
    text = str(value)
    try:
        chunks = email.header.decode_header(text)
        out = []
        for chunk, charset in chunks:
            if isinstance(chunk, bytes):
                out.append(chunk.decode(_charset(charset), errors="replace"))
            else:
                out.append(chunk)
        text = "".join(out)
    except Exception:  # keep the undecoded text
        pass
    return text.encode("utf-8", errors="replace").decode("utf-8").strip()


def _charset(name: str | None) -> str:
    name = (name or "utf-8").lower()
    if name in {"gb2312", "gbk", "gb_2312-80", "x-gbk", "euc-cn"}:
        return "gb18030"  # the superset: real mailers label GBK text as GB2312
    try:
        "".encode(name)
    except LookupError:
        return "latin-1"
    return name


def _field_blocks(part: Message) -> list[list[tuple[str, str]]]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    blocks: list[list[tuple[str, str]]] = []
    if isinstance(payload, list):
        for sub in payload[:MAX_PARTS]:
            if isinstance(sub, Message):
                blocks.append([(k.lower(), _text(v)) for k, v in sub.items()])
        return blocks
    text = part.get_payload(decode=True) or b""
    body = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    for chunk in re.split(r"\r?\n\s*\r?\n", body)[:MAX_PARTS]:
        parsed = HeaderParser(policy=email.policy.compat32).parsestr(chunk.strip() + "\n")
        items = [(k.lower(), _text(v)) for k, v in parsed.items()]
        if items:
            blocks.append(items)
    return blocks


def _dsn(report: Message, parts: list[Message], msg: Message, detail: dict[str, str]) -> Inbound:
    blocks = _field_blocks(report)
    recipients: list[Recipient] = []
    for block in blocks:
        fields = dict(block)
        if "final-recipient" not in fields and "original-recipient" not in fields:
            continue  # the per-message block (Reporting-MTA, Arrival-Date …)
        final = fields.get("final-recipient") or fields.get("original-recipient", "")
        if ";" not in final:
            return Inbound(kind="malformed", reason="Final-Recipient without an address type (no ';')",
                           message_id=_original_id(parts), detail=detail)
        address = _first_address(final.split(";", 1)[1]) or final.split(";", 1)[1].strip() or None
        status = fields.get("status", "").split()[0] if fields.get("status", "").strip() else ""
        if not _STATUS.match(status):
            reason = "recipient without Status" if not status else f"Status is not a status code: {status[:40]!r}"
            return Inbound(kind="malformed", reason=reason, message_id=_original_id(parts), detail=detail)
        action = fields.get("action", "").strip().lower() or None
        outcome = outcome_for_status(status)
        if action in {"delivered", "relayed", "expanded"}:
            outcome = "unknown"
        elif action == "delayed":
            outcome = "delayed"  # a warning: the mailer is still trying
        diagnostic = fields.get("diagnostic-code") or None
        recipients.append(Recipient(address=address, outcome=outcome, status=status, action=action,
                                    diagnostic=diagnostic[:500] if diagnostic else None))
    if not recipients:
        return Inbound(kind="malformed", reason="delivery report without a recipient", message_id=_original_id(parts),
                       detail=detail)
    return Inbound(kind="dsn", recipients=tuple(recipients), message_id=_original_id(parts), detail=detail)


def _arf(report: Message, parts: list[Message], msg: Message, detail: dict[str, str]) -> Inbound:
    fields: dict[str, str] = {}
    for block in _field_blocks(report):
        for k, v in block:
            fields.setdefault(k, v)
    feedback_type = fields.get("feedback-type", "").strip().lower()
    if not feedback_type:
        return Inbound(kind="malformed", reason="feedback report without Feedback-Type", detail=detail)
    address = _first_address(fields.get("original-rcpt-to"))
    if address is None:  # FBLs that redact the recipient: the attached message's To is a placeholder at best
        original = _original_headers(parts)
        address = _first_address(original.get("To")) if original is not None else None
        detail = {**detail, "address_from": "original To"}
    outcome: Outcome = "complaint" if feedback_type == "abuse" else "other_feedback"
    return Inbound(kind="arf", recipients=(Recipient(address=address, outcome=outcome, feedback_type=feedback_type),),
                   message_id=_original_id(parts), detail={**detail, "feedback_type": feedback_type,
                                                           "user_agent": fields.get("user-agent", "")[:200]})


def _jmrp(parts: list[Message]) -> Inbound | None:
    """Microsoft JMRP: the complained-about message attached, its recipient in X-HmXmrOriginalRecipient."""
    original = _original_headers(parts)
    if original is None or original.get("X-HmXmrOriginalRecipient") is None:
        return None
    address = _first_address(original.get("X-HmXmrOriginalRecipient"))
    return Inbound(kind="arf", recipients=(Recipient(address=address, outcome="complaint", feedback_type="abuse"),),
                   message_id=_clean_id(original.get("Message-ID")), detail={"feedback_type": "abuse",
                                                                             "user_agent": "jmrp"})


def _is_auto_reply(msg: Message) -> bool:
    auto = _text(msg.get("Auto-Submitted")).lower()
    if auto and not auto.startswith("no"):
        return True
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    if msg.get("X-Auto-Response-Suppress") is not None and _OOO_SUBJECT.search(_text(msg.get("Subject"))):
        return True
    if _text(msg.get("Precedence")).lower() in {"auto_reply", "auto-reply"}:
        return True
    return bool(_OOO_SUBJECT.search(_text(msg.get("Subject"))))


def _plain_bounce(msg: Message, parts: list[Message], detail: dict[str, str]) -> Inbound:
    """Best effort for mailers that send no DSN part: a status code next to an address, or nothing."""
    sender, subject = _text(msg.get("From")), _text(msg.get("Subject"))
    if not (_MAILER.search(sender) or _BOUNCE_SUBJECT.search(subject)):
        return Inbound(kind="other", recipients=(), message_id=_original_id(parts), reason="not a report",
                       detail=detail)
    own = {a.lower() for a in _ADDRESS.findall(sender)}
    for part in parts:
        if part.get_content_maintype() != "text" or part.get_content_type() == "text/rfc822-headers":
            continue
        lines = _decoded_text(part).splitlines()
        for i, line in enumerate(lines):
            status = None
            m = _TEXT_STATUS.search(line)
            if m is not None:
                status = m.group(2)
            elif _USER_UNKNOWN.search(line):
                status = "5.1.1"
            if status is None:
                continue
            window = [line, *reversed(lines[max(0, i - 3):i])]
            address = next((a for w in window for a in _ADDRESS.findall(w) if a.lower() not in own), None)
            if address is None:
                continue
            outcome = outcome_for_status(status)
            return Inbound(kind="dsn", recipients=(Recipient(address=address, outcome=outcome, status=status,
                                                             action="failed", diagnostic=line.strip()[:500]),),
                           message_id=_original_id(parts), detail={**detail, "format": "plain-text"})
    return Inbound(kind="other", recipients=(Recipient(address=None, outcome="unknown"),),
                   message_id=_original_id(parts), reason="bounce-like message without a status and an address",
                   detail={**detail, "format": "plain-text"})


def _decoded_text(part: Message) -> str:
    body = part.get_payload(decode=True)
    if not isinstance(body, bytes):
        return ""
    body = body[: MAX_TEXT * 4]
    charset = _charset(part.get_content_charset())
    try:
        text = body.decode(charset)
    except UnicodeDecodeError:
        text = body.decode("gb18030", errors="replace")
    return text[:MAX_TEXT]


def _original_headers(parts: list[Message]) -> Message | None:
    for part in parts:
        ctype = part.get_content_type()
        if ctype in {"message/rfc822", "message/global"}:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif ctype in {"text/rfc822-headers", "text/global-headers"}:
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                return HeaderParser(policy=email.policy.compat32).parsestr(
                    body[:MAX_TEXT].decode("utf-8", errors="replace"))
    return None


def _original_id(parts: list[Message]) -> str | None:
    original = _original_headers(parts)
    return _clean_id(original.get("Message-ID")) if original is not None else None


def _original_id_from_reply(msg: Message) -> str | None:
    return _clean_id(msg.get("In-Reply-To")) or _clean_id((_text(msg.get("References")).split() or [None])[-1])


def _clean_id(value: object) -> str | None:
    m = re.search(r"<[^<>\s]{1,250}>", _text(value)) if value is not None else None
    return m.group(0) if m else None


def _first_address(value: object) -> str | None:
    m = _ADDRESS.search(_text(value)) if value is not None else None
    return m.group(0) if m else None
