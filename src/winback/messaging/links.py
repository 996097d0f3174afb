"""Click and open tracking of a rendered email: links go through the tracking service, a pixel marks opens.

Every `http(s)` link of the HTML (`<a href>`) and of the text part is replaced by a click link that names the
original by `link_key` (a hash of the URL); the originals come back in `Tracked.links`, and the engine records them
before the message leaves, so the tracking service redirects only to URLs that were rendered (docs/tracking.md).
Links already under the tracking service (unsubscribe, preferences, view in browser) are left as they are:
mailbox providers and the preflight look for the unsubscribe link itself.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Tracked", "track_links"]

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""")
_TRAILING = ".,;:!?)]}>'\"。，；：！？）】"  # sentence punctuation after a URL in text is not part of it
_BODY_END = re.compile(r"</body\s*>", re.I)


@dataclass(frozen=True)
class Tracked:
    html: str
    text: str
    links: tuple[tuple[str, str], ...]  # (link_key, original URL), in order of first appearance


def track_links(html: str, text: str, *, click: Callable[[str], tuple[str, str]] | None, pixel: str | None,
                keep: tuple[str, ...]) -> Tracked:
    """`html` and `text` with links through `click(url) -> (link_key, tracking URL)` and the `pixel` before </body>.

    `click=None` leaves links alone; `pixel=None` adds none; URLs starting with one of `keep` are never replaced.
    """
    links: dict[str, str] = {}
    wrapped: dict[str, str] = {}

    def through(url: str) -> str | None:
        if click is None or not url.lower().startswith(("http://", "https://")) or url.startswith(keep):
            return None
        if url not in wrapped:
            key, tracking = click(url)
            links.setdefault(key, url)
            wrapped[url] = tracking
        return wrapped[url]

    def href(m: re.Match[str]) -> str:
        new = through(html_lib.unescape(m.group(3)).strip())
        return m.group(0) if new is None else f"{m.group(1)}{m.group(2)}{html_lib.escape(new)}{m.group(2)}"

    def bare(m: re.Match[str]) -> str:
        url = m.group(0)
        cut = len(url.rstrip(_TRAILING))
        new = through(url[:cut])
        return m.group(0) if new is None else new + url[cut:]

    out_html = _HREF.sub(href, html)
    out_text = _TEXT_URL.sub(bare, text)
    if pixel is not None:
        img = (f'<img src="{html_lib.escape(pixel)}" width="1" height="1" alt="" '
               'style="display:block;width:1px;height:1px;border:0">')
        ends = list(_BODY_END.finditer(out_html))
        out_html = (out_html[:ends[-1].start()] + img + out_html[ends[-1].start():]) if ends else out_html + img
    return Tracked(out_html, out_text, tuple(links.items()))
