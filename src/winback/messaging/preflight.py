"""Checks a built message before it is sent; a marketing message with any problem is blocked (RELIABILITY.md 16).

Organisational-domain alignment uses the last two labels of each domain (`mail.shop.example` → `shop.example`),
plus the last three when the second-to-last is a common second-level label (`shop.com.cn`, `shop.co.uk`). No public
suffix list ships with the dependencies; the rule errs on the side of blocking (a strict DMARC alignment check).
"""

from __future__ import annotations

import binascii
import html as html_lib
import re
from email.utils import parseaddr

__all__ = ["organisational_domain", "preflight"]

_MID = re.compile(r"<[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>")
_SECOND_LEVEL = {"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil"}
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"[\s,]+")
_FIELD = re.compile(r"\n(?![ \t])")
_FOLD = re.compile(r"\n[ \t]")


def organisational_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _dkim_tags(value: str) -> dict[str, str]:
    tags = {}
    for part in value.split(";"):
        name, sep, v = part.partition("=")
        if sep:
            tags[name.strip()] = re.sub(r"\s+", "", v)
    return tags


def _headers(head: bytes) -> dict[str, list[str]]:
    """Header fields by lower-cased name, unfolded, in order (a lean parse: this runs for every message)."""
    out: dict[str, list[str]] = {}
    text = head.decode("ascii", "replace").replace("\r\n", "\n")
    for field in _FIELD.split(text):
        name, sep, value = field.partition(":")
        if sep:
            out.setdefault(name.strip().lower(), []).append((_FOLD.sub(" ", value) if "\n" in value else value).strip())
    return out


def _decode(body: bytes, headers: dict[str, list[str]]) -> str:
    cte = (headers.get("content-transfer-encoding") or ["7bit"])[0].lower()
    try:
        if cte == "base64":
            body = binascii.a2b_base64(body)
        elif cte == "quoted-printable":
            body = binascii.a2b_qp(body)
    except binascii.Error:
        return ""
    charset = re.search(r'charset="?([^";\s]+)', (headers.get("content-type") or [""])[0], re.I)
    try:
        return body.decode(charset.group(1) if charset else "ascii", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def _bodies(headers: dict[str, list[str]], body: bytes, depth: int = 0) -> tuple[str, str]:
    """The text/plain and text/html content, through nested multiparts."""
    ctype = (headers.get("content-type") or ["text/plain"])[0]
    kind = ctype.split(";")[0].strip().lower()
    if kind.startswith("multipart/") and depth < 5:
        found = re.search(r'boundary="?([^";]+)"?', ctype, re.I)
        if not found:
            return "", ""
        text = html = ""
        delimiter = b"--" + found.group(1).encode()
        for chunk in body.split(delimiter)[1:]:
            if chunk.startswith(b"--"):
                break
            head, _, part = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
            t, h = _bodies(_headers(head), part, depth + 1)
            text, html = text + t, html + h
        return text, html
    if kind == "text/plain":
        return _decode(body, headers), ""
    if kind == "text/html":
        return "", _decode(body, headers)
    return "", ""


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def preflight(raw: bytes, *, marketing: bool, signing_domain: str | None,
              postal_address: str | None = None) -> list[str]:
    """The problems of one message (empty: may be sent). Marketing mail also needs `postal_address` in its bodies."""
    problems: list[str] = []
    head, _, body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").partition(b"\r\n\r\n")
    headers = _headers(head)
    first = {name: values[0] for name, values in headers.items()}
    mid = first.get("message-id", "")
    if not _MID.fullmatch(mid):
        problems.append(f"no valid Message-ID ({mid[:60]!r})")
    from_addr = parseaddr(first.get("from", ""))[1] if len(headers.get("from", [])) == 1 else ""
    from_domain = from_addr.rpartition("@")[2].lower()
    if not from_domain:
        problems.append("no single From address")
    if signing_domain:
        signatures = [_dkim_tags(v) for v in headers.get("dkim-signature", [])]
        mine = [t for t in signatures if t.get("d", "").lower() == signing_domain.lower()]
        if not mine:
            problems.append(f"not DKIM-signed by {signing_domain}")
        if from_domain and organisational_domain(from_domain) != organisational_domain(signing_domain):
            problems.append(f"From domain {from_domain} is not aligned with the signing domain {signing_domain}")
        for tags in mine:
            signed = {h.strip().lower() for h in tags.get("h", "").split(":")}
            missing = [h for h in ("from", "list-unsubscribe", "list-unsubscribe-post") if h not in signed]
            if marketing and missing:
                problems.append(f"DKIM signature (s={tags.get('s')}) does not cover {', '.join(missing)}")
    if not marketing:
        return problems
    unsub = first.get("list-unsubscribe", "")
    https = re.findall(r"<(https://[^>\s]+)>", unsub)
    if not https:
        problems.append("no HTTPS List-Unsubscribe")
    if first.get("list-unsubscribe-post") != "List-Unsubscribe=One-Click":
        problems.append("no List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    text, html = _bodies(headers, body)
    origin = re.match(r"https://[^/]+", https[0]).group(0) if https else None  # type: ignore[union-attr]
    links = [f"{origin}/u/", f"{origin}/p/"] if origin else []
    if not html:
        problems.append("no HTML body")
    elif not any(re.search(r"href\s*=\s*[\"']?" + re.escape(link), html) for link in links):
        problems.append("no visible unsubscribe link in the HTML body")
    if not text:
        problems.append("no text body")
    elif not any(link in text for link in links):
        problems.append("no unsubscribe link in the text body")
    if not postal_address or not postal_address.strip():
        problems.append("the sender's postal address is not set (WINBACK_POSTAL_ADDRESS)")
    else:
        # The address as written is found verbatim in nearly every message; the normalised search (spacing, commas,
        # case, markup) runs only when it is not.
        written = postal_address.strip()
        wanted = _norm(postal_address)
        if written not in text and wanted not in _norm(text):
            problems.append("the sender's postal address is not in the text body")
        if html and html_lib.escape(written, quote=False) not in html \
                and wanted not in _norm(html_lib.unescape(_TAGS.sub(" ", html))):
            problems.append("the sender's postal address is not in the HTML body")
    return problems
