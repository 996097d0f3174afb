"""The written text parts of the shipped messages: one per language beside every HTML template, the same content
and branches as the HTML, the footer's links and address, no HTML, tidy lines."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_playbook_templates import context as template_context

from winback.messaging.templates import SHIPPED_DIR, Rendered, TemplateLibrary, html_to_text

MESSAGES = sorted({str(p.relative_to(SHIPPED_DIR)).removesuffix(".html").removesuffix(".zh")
                   for p in SHIPPED_DIR.rglob("*.html")
                   if p.relative_to(SHIPPED_DIR).parts[0] not in ("layouts", "partials")})
COUPONS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "percent": {"code": "WB-7Q2K", "kind": "percent", "value": 15, "expires_at": datetime(2026, 10, 15, tzinfo=UTC)},
    "amount": {"code": "WB-AM5T", "kind": "amount", "value": 10, "expires_at": None},
    "free_shipping": {"code": "WB-FR3E", "kind": "free_shipping", "value": 0,
                      "expires_at": datetime(2026, 10, 20, tzinfo=UTC)},
}
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
URL = re.compile(r"https?://\S+")


@pytest.fixture(scope="module")
def lib() -> TemplateLibrary:
    return TemplateLibrary()


def _context(lang: str, *, coupon: str = "none", bare: bool = False) -> dict[str, Any]:
    ctx = dict(template_context(lang)) | {"coupon": COUPONS[coupon]}
    if bare:  # no history, no offer, no shop: every optional paragraph and the button left out
        ctx |= {"last_purchase": None, "whats_new": [], "recommendations": [], "days_since_last_purchase": None,
                "member_benefits": {"tier": None, "points": None}}
        del ctx["shop_url"]
    return ctx


def _render(lib: TemplateLibrary, name: str, lang: str, ctx: dict[str, Any]) -> Rendered:
    return lib.render(name, locale="zh-CN" if lang == "zh" else "en-GB", subject="s", context=ctx)


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _words(text: str, lang: str) -> Counter[str]:
    """What a reader sees, whatever the layout: words (characters in Chinese), links and markup left out."""
    text = URL.sub(" ", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text))
    if lang == "zh":
        return Counter(c for c in text if unicodedata.category(c)[0] in "LN")
    return Counter(re.findall(r"[A-Za-z0-9']+", text))


def _assert_tidy(text: str) -> None:
    lines = text.split("\n")
    assert not [line for line in lines if line != line.rstrip()], "trailing whitespace"
    assert "\n\n\n" not in text and text.strip() and text == text.lstrip("\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert not [line for line in lines if _width(line) > 78 and not URL.search(line)], "lines past 78 columns"


def test_messages_are_found() -> None:
    assert len(MESSAGES) >= 29 and "winback/reminder" in MESSAGES and "b2b/personal-check-in" in MESSAGES


@pytest.mark.parametrize("name", MESSAGES)
def test_every_message_has_both_text_parts_and_checks_clean(lib: TemplateLibrary, name: str) -> None:
    assert (SHIPPED_DIR / f"{name}.txt").is_file() and (SHIPPED_DIR / f"{name}.zh.txt").is_file()
    assert lib.check(name) == []


@pytest.mark.parametrize("coupon", list(COUPONS))
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", MESSAGES)
def test_text_part(lib: TemplateLibrary, name: str, lang: str, coupon: str) -> None:
    ctx = _context(lang, coupon=coupon)
    out = _render(lib, name, lang, ctx)
    text = out.text
    footer = ("退订：", "邮件偏好设置：", "在浏览器中查看：") if lang == "zh" else \
        ("Unsubscribe: ", "Email preferences: ", "View in your browser: ")
    for label, key in zip(footer, ("unsubscribe_url", "preferences_url", "view_in_browser_url"), strict=True):
        assert f"{label}{ctx[key]}\n" in text  # the written footer, not one derived from the HTML
    assert ctx["postal_address"] in text
    assert re.search(r"<[a-zA-Z/]", text) is None
    _assert_tidy(text)
    code = COUPONS[coupon]["code"] if COUPONS[coupon] else None  # type: ignore[index]
    if code is None:
        assert "WB-" not in text
    else:
        assert (code in text) == (code in out.html)
    assert (ctx["shop_url"] in text) == ('class="button"' in out.html)
    assert bool(CJK.search(text)) == (lang == "zh")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", MESSAGES)
def test_every_branch_says_what_the_html_says(lib: TemplateLibrary, name: str, lang: str) -> None:
    for ctx in (_context(lang, coupon="percent"), _context(lang, coupon="amount", bare=True),
                _context(lang, coupon="free_shipping"), _context(lang, bare=True)):
        out = _render(lib, name, lang, ctx)
        assert _words(out.text, lang) == _words(html_to_text(out.html), lang)
        _assert_tidy(out.text)
        assert "shop_url" in ctx or "https://shop.example" not in out.text


@pytest.mark.parametrize(("lang", "offer"), [("en", "15% off with the code: WB-7Q2K\nValid until 15 October 2026\n"),
                                             ("zh", "立减 15%，结账时输入优惠码：WB-7Q2K\n有效期至 2026年10月15日\n")])
def test_coupon_and_products_read_as_lines(lib: TemplateLibrary, lang: str, offer: str) -> None:
    ctx = _context(lang, coupon="percent")
    ctx["recommendations"] = [ctx["recommendations"][0] | {"url": "https://shop.example/p/K1"},
                              ctx["recommendations"][1] | {"url": None}]
    text = _render(lib, "winback/incentive", lang, ctx).text
    price, cups = ("¥32.00", "¥9.00") if lang == "zh" else ("£32.00", "£9.00")
    assert f"\n- Glass teapot: {price}\n  https://shop.example/p/K1\n- Cups: {cups}\n\n" in text
    assert f"\n\n{offer}\n" in text


def test_your_html_is_not_paired_with_a_shipped_text_part(tmp_path: Path) -> None:
    (tmp_path / "winback").mkdir()
    (tmp_path / "winback" / "reminder.html").write_text("<p>My own words {{ greeting_name }}</p>"
                                                        '<p><a href="{{ unsubscribe_url }}">Stop</a></p>')
    out = TemplateLibrary(tmp_path).render("winback/reminder", locale="en", subject="s", context=_context("en"))
    assert out.text == "My own words Ann\n\n[Stop](https://t.example/u/x)\n"  # derived from your HTML
    zh = TemplateLibrary(tmp_path).render("winback/reminder", locale="zh-CN", subject="s", context=_context("zh"))
    assert "退订：https://t.example/u/x\n" in zh.text  # the shipped Chinese HTML keeps its shipped text part


def test_your_text_part_of_a_shipped_message_wins(tmp_path: Path) -> None:
    (tmp_path / "winback").mkdir()
    (tmp_path / "winback" / "reminder.txt").write_text("Plain {{ greeting_name }} {{ unsubscribe_url }}\n")
    out = TemplateLibrary(tmp_path).render("winback/reminder", locale="en", subject="s", context=_context("en"))
    assert out.text == "Plain Ann https://t.example/u/x" and "We miss you" in out.html
