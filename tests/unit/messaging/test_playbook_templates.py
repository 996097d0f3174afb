"""Every template a shipped playbook names renders in English and Chinese and passes check()."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from winback.campaigns.playbooks import playbook_text
from winback.messaging.compose import localised
from winback.messaging.templates import TemplateLibrary

PLAYBOOKS = sorted((Path(__file__).parents[3] / "src/winback/campaigns/playbooks").glob("*.yaml"))


def _sends() -> list[tuple[str, str, object]]:
    found: list[tuple[str, str, object]] = []
    for path in PLAYBOOKS:
        doc = yaml.safe_load(playbook_text(path.stem))
        for step in doc.get("steps", []):
            send = step.get("send") or {}
            for item in [send, *send.get("variants", [])]:
                if item.get("template"):
                    found.append((path.stem, item["template"], item.get("subject", send.get("subject"))))
    return found


SENDS = _sends()


def _product(sku: str, name: str, category: str, price: str) -> dict[str, object]:
    return {"sku": sku, "name": name, "category": category, "price": Decimal(price)}


def context(lang: str) -> dict[str, object]:
    zh = lang == "zh"
    return {
        "customer_id": "C-1", "name": "王芳" if zh else "Ann Lee", "first_name": "王芳" if zh else "Ann",
        "greeting_name": "王芳" if zh else "Ann", "locale": "zh-CN" if zh else "en-GB", "lang": lang,
        "currency": "CNY" if zh else "GBP",
        "last_purchase": {"product": "龙井茶" if zh else "Green tea", "category": "茶" if zh else "Tea",
                          "date": datetime(2026, 5, 1, tzinfo=UTC), "amount": Decimal("128.00"),
                          "currency": "CNY" if zh else "GBP"},
        "purchase_history": [_product("T1", "Green tea", "Tea", "12")],
        "days_since_last_purchase": 153, "member_benefits": {"tier": "gold", "points": 1200},
        "whats_new": [_product("T9", "Oolong", "Tea", "15.5")],
        "recommendations": [_product("K1", "Glass teapot", "Kitchen", "32"), _product("K2", "Cups", "Kitchen", "9")],
        "churn_reason": "price", "dormancy_type": "natural_cycle",
        "unsubscribe_url": "https://t.example/u/x", "preferences_url": "https://t.example/p/x",
        "view_in_browser_url": "https://t.example/v/x", "postal_address": "1 Harbour Road, Leith",
        "sender_name": "Teahouse", "shop_url": "https://shop.example",
        "coupon": {"code": "WB-7Q2K", "kind": "percent", "value": 15, "expires_at": datetime(2026, 10, 15, tzinfo=UTC)},
    }


@pytest.fixture(scope="module")
def lib() -> TemplateLibrary:
    return TemplateLibrary()


def test_playbooks_name_templates() -> None:
    assert len({t for _, t, _ in SENDS}) >= 20


@pytest.mark.parametrize(("playbook", "template", "subject"), SENDS, ids=[f"{p}:{t}" for p, t, _ in SENDS])
@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_renders_in_both_languages(lib: TemplateLibrary, playbook: str, template: str, subject: object,
                                   locale: str) -> None:
    lang = "zh" if locale.startswith("zh") else "en"
    text_subject = localised(subject, locale, template)  # type: ignore[arg-type]
    out = lib.render(template, locale=locale, subject=text_subject, context=context(lang))
    assert out.subject and "{" not in out.subject
    assert "https://t.example/u/x" in out.html and "https://t.example/p/x" in out.html
    assert "1 Harbour Road, Leith" in out.text and "<" not in out.text.replace("<as is>", "")
    assert ("您好" in out.html) == (lang == "zh")
    assert ("Hi Ann" in out.html) == (lang == "en")
    assert lib.check(template, subject=text_subject) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_render_without_coupon_or_history(lib: TemplateLibrary, lang: str) -> None:
    bare = context(lang) | {"coupon": None, "last_purchase": None, "whats_new": [], "recommendations": [],
                            "days_since_last_purchase": None, "member_benefits": {"tier": None, "points": None}}
    del bare["shop_url"]
    for template in sorted({t for _, t, _ in SENDS}):
        out = lib.render(template, locale="zh-CN" if lang == "zh" else "en", subject="s", context=bare)
        assert 'class="button"' not in out.html and "WB-7Q2K" not in out.html
