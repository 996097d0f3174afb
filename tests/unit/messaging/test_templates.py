"""The template sandbox: escapes blocked, data never re-parsed, caps, locales, Babel, CSS, text, check()."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from winback.messaging.templates import Rendered, TemplateError, TemplateLibrary, lang_of

LINKS = {"unsubscribe_url": "https://t.example/u/abc", "preferences_url": "https://t.example/p/abc",
         "view_in_browser_url": "https://t.example/v/abc", "postal_address": "1 Harbour Road, Leith EH6 6QQ",
         "sender_name": "Teahouse"}


def base_context(**extra: object) -> dict[str, object]:
    return {"greeting_name": "Ann", "lang": "en", "currency": "EUR", "coupon": None, **LINKS, **extra}


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    root = tmp_path / "templates"

    def put(name: str, text: str) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    put("t/plain.html", "<p>{{ body }}</p>")
    put("t/styled.html", '{% extends "layouts/base.html" %}{% block content %}<h1>Hello {{ greeting_name }}</h1>'
        '<p>Welcome back.</p>{% endblock %}')
    put("t/lang.html", "<p>plain</p>")
    put("t/lang.zh.html", "<p>中文</p>")
    put("t/lang.en.html", "<p>english</p>")
    put("t/onlyplain.html", "<p>fallback</p>")
    put("t/withtext.html", "<p>html {{ greeting_name }}</p>")
    put("t/withtext.txt", "text {{ greeting_name }} <as is>")
    put("t/money.html", "{{ amount | format_currency }}|{{ n | format_number }}|{{ f | format_percent }}|"
        "{{ when | format_date('long') }}")
    put("t/unknown.html", '{% include "partials/extra.html" %}{{ greeting_name }} {{ secret_key }}')
    put("partials/extra.html", "{{ settings }}")
    put("t/broken.html", "<p>\n<p>\n{{ x + }}\n")
    put("t/huge.html", "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}")
    put("t/slow.html", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    put("t/include.html", "{% include path %}")
    put("t/passwd.html", "{% include '/etc/passwd' %}")
    put("t/traverse.html", "{% include '../../../../../../etc/passwd' %}")
    return root


@pytest.fixture
def lib(user_dir: Path) -> TemplateLibrary:
    return TemplateLibrary(user_dir)


def render(lib: TemplateLibrary, name: str, *, locale: str = "en", subject: str = "s", **ctx: object) -> Rendered:
    return lib.render(name, locale=locale, subject=subject, context=base_context(**ctx))


@pytest.mark.parametrize("expression", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ joiner }}",
    "{{ settings.secret_keys }}",
    "{{ config }}",
    "{{ self.__init__.__globals__ }}",
    "{{ body.__class__ }}",
    "{{ range.__self__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{% set x = [] %}{{ x.append(1) }}",
    "{{ body | attr('__class__') }}",
    "{{ body.__init__.__globals__['os'].environ }}",
    "{{ format_date.__globals__ }}",
    "{{ ('a' | format_number).__class__ }}",
    "{{ range.__globals__ }}",
    "{{ namespace.__module__ }}",
])
def test_sandbox_escapes_are_blocked(lib: TemplateLibrary, expression: str) -> None:
    with pytest.raises(TemplateError):
        lib.render("t/plain", locale="en", subject=expression, context=base_context(body="x"))


def test_keyword_arguments_named_like_parameters(lib: TemplateLibrary) -> None:
    out = lib.render("t/plain", locale="en", subject="{{ dict(self=1, context=2, obj=3) | dictsort }}",
                     context=base_context(body="x"))
    assert out.subject == "[('context', 2), ('obj', 3), ('self', 1)]"


def test_environment_offers_only_the_allow_list(lib: TemplateLibrary) -> None:
    assert set(lib.env.globals) == {"range", "dict", "namespace"}
    assert "pprint" not in lib.env.filters and "format_currency" in lib.env.filters


@pytest.mark.parametrize("name", ["t/passwd", "t/traverse"])
def test_includes_cannot_leave_the_template_directories(lib: TemplateLibrary, name: str) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        render(lib, name)


@pytest.mark.parametrize("name", ["../templates/t/plain", "/etc/passwd", "t/../../templates/t/plain"])
def test_template_names_cannot_leave_the_template_directories(lib: TemplateLibrary, name: str) -> None:
    with pytest.raises(TemplateError, match="no "):
        render(lib, name, body="b")
    assert lib.check(name)[0].startswith(f"template {name!r}: no ")


def test_include_of_a_path_from_data_is_refused(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateError):
        render(lib, "t/include", path="../../../../etc/passwd")


def test_customer_data_renders_literally_and_escaped(lib: TemplateLibrary) -> None:
    out = render(lib, "t/plain", subject="{{ greeting_name }}", body="{{ 7*7 }} {% if 1 %}x{% endif %} <b>",
                 greeting_name="{{ 7*7 }}")
    assert "<p>{{ 7*7 }} {% if 1 %}x{% endif %} &lt;b&gt;</p>" in out.html
    assert out.subject == "{{ 7*7 }}"
    assert "49" not in out.html


def test_subject_is_plain_text_not_html_escaped(lib: TemplateLibrary) -> None:
    assert render(lib, "t/plain", subject="Tea & {{ body }}\n", body="cakes <3").subject == "Tea & cakes <3"


def test_strict_undefined(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateError, match="'body' is undefined"):
        render(lib, "t/plain")


@pytest.mark.parametrize("subject", ["{{ 'a' | format_number }}", "{{ {}['x'] }}", "{{ range(10**9) | list }}",
                                     "{{ 1 / 0 }}", "{{ 2 ** 1000 }}"])
def test_runtime_errors_are_template_errors(lib: TemplateLibrary, subject: str) -> None:
    with pytest.raises(TemplateError):
        render(lib, "t/plain", subject=subject, body="b")


def test_output_cap(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateError, match="size cap"):
        render(lib, "t/huge")


def test_repetition_cap(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateError, match="bytes"):
        render(lib, "t/plain", subject="{{ 'x' * 100000000 }}", body="b")


def test_time_cap(user_dir: Path) -> None:
    quick = TemplateLibrary(user_dir, max_seconds=0.05)
    with pytest.raises(TemplateError, match="time cap"):
        render(quick, "t/slow")


@pytest.mark.parametrize(("locale", "expected"), [
    ("zh-CN", "中文"), ("zh-TW", "中文"), ("zh_Hans", "中文"),
    ("en-GB", "english"), ("fr-FR", "english"), (None, "english"),
])
def test_locale_variant(lib: TemplateLibrary, locale: str | None, expected: str) -> None:
    assert expected in render(lib, "t/lang", locale=locale).html  # type: ignore[arg-type]


def test_falls_back_to_the_plain_name(lib: TemplateLibrary) -> None:
    assert "fallback" in render(lib, "t/onlyplain", locale="zh-CN").html
    assert lang_of("zh-TW") == "zh" and lang_of("de") == "en"


def test_babel_formatting_follows_the_locale(lib: TemplateLibrary) -> None:
    values = {"amount": Decimal("1234.5"), "n": 1234567, "f": 0.15, "when": datetime(2026, 10, 1, tzinfo=UTC)}
    en = render(lib, "t/money", locale="en-US", **values).html
    zh = render(lib, "t/money", locale="zh-CN", currency="CNY", **values).html
    assert "<body>€1,234.50|1,234,567|15%|October 1, 2026</body>" in en
    assert "<body>¥1,234.50|1,234,567|15%|2026年10月1日</body>" in zh
    de = render(lib, "t/money", locale="de-DE", **values).html
    assert "<body>1.234,50&nbsp;€|1.234.567|15&nbsp;%|1. Oktober 2026</body>" in de


def test_css_is_inlined_and_text_derived(lib: TemplateLibrary) -> None:
    out = render(lib, "t/styled")
    [style] = re.findall(r"<style>(.*?)</style>", out.html, re.S)
    assert style.startswith("@media") and style.count("{") == 3  # only the responsive rules stay in <style>
    assert 'style="' in out.html and "<h1 style=" in out.html
    assert "Hello Ann" in out.text and "<" not in out.text
    assert "[Unsubscribe](https://t.example/u/abc)" in out.text
    assert "1 Harbour Road, Leith EH6 6QQ" in out.text


def test_text_template_wins_and_is_not_escaped(lib: TemplateLibrary) -> None:
    out = render(lib, "t/withtext", greeting_name="A&B")
    assert out.text == "text A&B <as is>"
    assert "html A&amp;B" in out.html


def test_user_directory_overrides_shipped(tmp_path: Path) -> None:
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "footer.html").write_text("MY FOOTER {{ postal_address }}")
    (tmp_path / "t.html").write_text('{% extends "layouts/base.html" %}{% block content %}x{% endblock %}')
    out = TemplateLibrary(tmp_path).render("t", locale="en", subject="s", context=base_context())
    assert "MY FOOTER 1 Harbour Road" in out.html


def test_missing_template(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateError, match=r"no t/nope\.html"):
        render(lib, "t/nope")
    assert lib.check("t/nope") and "no t/nope.html" in lib.check("t/nope")[0]


def test_check_finds_unknown_variables_through_includes(lib: TemplateLibrary) -> None:
    problems = lib.check("t/unknown", subject="Hi {{ greeting_name }} {{ nonsense }}")
    assert problems == ["template t/unknown.html: unknown variable 'secret_key'",
                        "template partials/extra.html: unknown variable 'settings'",
                        "subject: unknown variable 'nonsense'"]


def test_check_reports_syntax_errors_with_line(lib: TemplateLibrary) -> None:
    [problem] = lib.check("t/broken")
    assert problem.startswith("template t/broken.html:") and "(line 3)" in problem
    assert lib.check("t/plain", subject="{% if %}")[1].startswith("subject")


def test_check_of_a_clean_template(lib: TemplateLibrary) -> None:
    assert lib.check("t/styled", subject="Hello {{ first_name }}") == []
