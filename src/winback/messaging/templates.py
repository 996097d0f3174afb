"""Email templates: Jinja2 in an immutable sandbox with an explicit allow-list, locale variants, caps.

A template NAME (`winback/reminder`) is `NAME.html` with optional `NAME.txt`; `NAME.zh.html` / `NAME.en.html` are
chosen by the customer's language. Your directory (WINBACK_TEMPLATES_DIR) is searched before the shipped one.
Nothing reachable from a template touches settings, the environment, the file system or Python internals: the
filters and globals are listed here and everything else is removed (listmonk CVE-2025-49136 leaked secrets through
template functions).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
import jinja2
import jinja2.meta
import jinja2.nodes
from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from jinja2.sandbox import ImmutableSandboxedEnvironment

from winback.domain.errors import UserError
from winback.messaging.context import CONTEXT_VARIABLES

SHIPPED_DIR = Path(__file__).parent / "templates"
MAX_BYTES = 512 * 1024
MAX_SECONDS = 2.0

# Jinja's own filters that a template may use; everything else Jinja ships is removed.
BUILTIN_FILTERS = (
    "abs", "capitalize", "default", "d", "e", "escape", "first", "last", "float", "int", "join", "length", "count",
    "list", "lower", "upper", "title", "trim", "truncate", "replace", "round", "sort", "unique", "batch", "slice",
    "striptags", "wordcount", "center", "dictsort", "map", "select", "reject", "selectattr", "rejectattr", "sum",
    "min", "max", "urlencode", "string",
)
# Globals: `lipsum`, `cycler` and `joiner` go; `range` is the sandbox's bounded range.
GLOBALS = ("range", "dict", "namespace")
FILTERS = (*BUILTIN_FILTERS, "format_date", "format_number", "format_currency", "format_percent")


class TemplateError(UserError):
    """A template that is missing, does not parse, uses what it may not, or breaks a cap."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("winback_template_deadline", default=float("inf"))


def lang_of(locale: str | None) -> str:
    """`zh-CN`/`zh-TW`/`zh` → `zh`; anything else → `en`."""
    return "zh" if (locale or "").replace("_", "-").lower().split("-")[0] == "zh" else "en"


@lru_cache(maxsize=64)
def _babel_locale(locale: str | None) -> Locale:
    try:
        return Locale.parse((locale or "en").replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError):
        return Locale.parse(lang_of(locale))


def _as_date(value: Any) -> date | datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


@jinja2.pass_context
def format_date(ctx: jinja2.runtime.Context, value: Any, format: str = "medium") -> str:
    """A date in the customer's locale (`short`, `medium`, `long`, `full` or a pattern)."""
    if value is None:
        return ""
    return babel_dates.format_date(_as_date(value), format=format, locale=_babel_locale(ctx.get("locale")))


@jinja2.pass_context
def format_number(ctx: jinja2.runtime.Context, value: Any) -> str:
    """A number with the locale's grouping and decimal marks."""
    return babel_numbers.format_decimal(value, locale=_babel_locale(ctx.get("locale")))


@jinja2.pass_context
def format_currency(ctx: jinja2.runtime.Context, value: Any, currency: str | None = None) -> str:
    """An amount in `currency` (default: the context's `currency`) for the customer's locale."""
    code = currency or ctx.get("currency") or "USD"
    return _currency(Decimal(str(value)), code, ctx.get("locale"))


@lru_cache(maxsize=16_384)
def _currency(value: Decimal, code: str, locale: str | None) -> str:
    # Prices repeat across a batch (a catalogue's products, the same coupon value) and Babel's formatting costs
    # ~0.1 ms a call: the same (amount, currency, locale) is formatted once.
    return babel_numbers.format_currency(value, code, locale=_babel_locale(locale))


@jinja2.pass_context
def format_percent(ctx: jinja2.runtime.Context, value: Any) -> str:
    """A fraction (0.15) as a percentage for the customer's locale."""
    return babel_numbers.format_percent(value, locale=_babel_locale(ctx.get("locale")))


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with a time check on every call and a bound on `*` / `**`, so no template runs or grows
    without limit between two output chunks."""

    intercepted_binops = frozenset({"*", "**"})

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # positional: `dict(self=1)` works
        _check_deadline()
        return super().call(context, obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_deadline()
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise TemplateError("template: exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_BYTES:
                    raise TemplateError(f"template: output past {MAX_BYTES} bytes")
        return super().call_binop(context, operator, left, right)


def _check_deadline() -> None:
    if time.monotonic() > _deadline.get():
        raise TemplateError("template: render took too long (time cap)")


_TEXT_CONFIG = ParserConfig(display_links=True)


def html_to_text(html: str) -> str:
    """The text part of an HTML message: inscriptis' layout, trailing spaces and runs of blank lines removed."""
    lines = [line.rstrip() for line in get_text(html, _TEXT_CONFIG).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".htm"))


def build_environment(search_path: list[Path]) -> jinja2.Environment:
    """The sandboxed environment over `search_path` (first wins) with only the allowed filters and globals."""
    env = _Sandbox(loader=jinja2.FileSystemLoader([str(p) for p in search_path]), autoescape=_autoescape,
                   undefined=jinja2.StrictUndefined, auto_reload=False, cache_size=1000)
    custom = {"format_date": format_date, "format_number": format_number, "format_currency": format_currency,
              "format_percent": format_percent}
    env.filters = {name: env.filters[name] for name in BUILTIN_FILTERS} | custom
    env.globals = {name: env.globals[name] for name in GLOBALS}
    return env


class TemplateLibrary:
    """Templates by name, rendered for a customer's locale with caps on size and time."""

    def __init__(self, user_dir: Path | None = None, *, max_bytes: int = MAX_BYTES,
                 max_seconds: float = MAX_SECONDS) -> None:
        self.search_path = [p for p in (user_dir, SHIPPED_DIR) if p is not None]
        self.env = build_environment(self.search_path)
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        # @media rules cannot be inlined: they stay in a <style> element
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
        self._resolved: dict[tuple[str, str], tuple[jinja2.Template, jinja2.Template | None]] = {}
        self._subjects: dict[str, jinja2.Template] = {}

    def render(self, name: str, *, locale: str | None, subject: str, context: dict[str, Any]) -> Rendered:
        """The subject, the HTML (CSS inlined) and the text part for one customer."""
        lang = lang_of(locale)
        html_t, text_t = self._templates(name, lang)
        values = {**context, "locale": locale, "lang": lang}
        token = _deadline.set(time.monotonic() + self.max_seconds)
        try:
            subject_out = self._run(self._subject(subject), values, what="subject")
            raw = self._run(html_t, values, what=name)
            text = self._run(text_t, values, what=name) if text_t is not None else html_to_text(raw)
            html = self._inliner.inline(raw)
        finally:
            _deadline.reset(token)
        return Rendered(subject=" ".join(subject_out.split()), html=html, text=text)

    def _run(self, template: jinja2.Template, values: dict[str, Any], *, what: str) -> str:
        parts: list[str] = []
        size = 0
        try:
            for i, chunk in enumerate(template.generate(values)):
                parts.append(chunk)
                size += len(chunk)  # characters: a cheap lower bound of the bytes, checked exactly at the end
                if size > self.max_bytes:
                    raise TemplateError(f"template {what}: output past {self.max_bytes} bytes (size cap)")
                if not i % 32:  # every call checks it too (_Sandbox.call)
                    _check_deadline()
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"template {what}: {exc} (see docs/messages.md for the variables)") from exc
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"template {what}: not allowed: {exc}") from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template {what}: includes {exc.name!r}, which does not exist") from exc
        except (jinja2.TemplateError, ValueError, TypeError, ArithmeticError, LookupError) as exc:
            # e.g. format_number of text, a missing key, range past its bound: the template's fault, reported
            raise TemplateError(f"template {what}: {type(exc).__name__}: {exc}") from exc
        out = "".join(parts)
        if len(out.encode()) > self.max_bytes:
            raise TemplateError(f"template {what}: output past {self.max_bytes} bytes (size cap)")
        return out

    def _subject(self, subject: str) -> jinja2.Template:
        compiled = self._subjects.get(subject)
        if compiled is None:
            try:
                compiled = self._subjects[subject] = self.env.from_string(subject)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"subject {subject!r}: {exc.message} (line {exc.lineno})") from exc
        return compiled

    def _templates(self, name: str, lang: str) -> tuple[jinja2.Template, jinja2.Template | None]:
        key = (name, lang)
        found = self._resolved.get(key)
        if found is None:
            html = self._first(name, [f"{name}.{lang}.html", f"{name}.html"])
            if html is None:
                raise TemplateError(f"template {name!r}: no {name}.html in {', '.join(map(str, self.search_path))}")
            text = self._first(name, [f"{name}.{lang}.txt", f"{name}.txt"])
            if text is not None and self._origin(text) > self._origin(html):
                text = None  # a shipped text part must not stand in for your own HTML: derive it instead
            found = self._resolved[key] = (html, text)
        return found

    def _origin(self, template: jinja2.Template) -> int:
        """The position in the search path of the directory `template` was loaded from."""
        return next((i for i, root in enumerate(self.search_path) if (root / str(template.name)).is_file()),
                    len(self.search_path))

    def _first(self, name: str, candidates: list[str]) -> jinja2.Template | None:
        for candidate in candidates:
            try:
                return self.env.get_template(candidate)
            except jinja2.TemplateNotFound:
                continue
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"template {candidate}: {exc.message} (line {exc.lineno})") from exc
        return None

    def check(self, name: str, *, subject: str | None = None) -> list[str]:
        """Problems with a template (and its subject): missing, syntax errors, variables that do not exist."""
        problems: list[str] = []
        files = [f for f in self._files(name) if self._exists(f)]
        if f"{name}.html" not in files:
            problems.append(f"template {name!r}: no {name}.html in {', '.join(map(str, self.search_path))}")
        known = set(CONTEXT_VARIABLES) | set(GLOBALS)
        for file in files:
            problems += self._check_file(file, known, seen=set())
        if subject is not None:
            try:
                ast = self.env.parse(subject)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"subject {subject!r}: {exc.message} (line {exc.lineno})")
            else:
                problems += [f"subject: unknown variable {v!r}"
                             for v in sorted(jinja2.meta.find_undeclared_variables(ast) - known)]
        return problems

    @staticmethod
    def _files(name: str) -> list[str]:
        return [f"{name}{lang}.{ext}" for ext in ("html", "txt") for lang in ("", ".en", ".zh")]

    def _exists(self, file: str) -> bool:
        try:
            self.env.loader.get_source(self.env, file)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return False
        return True

    def _check_file(self, file: str, known: set[str], *, seen: set[str]) -> list[str]:
        if file in seen:
            return []
        seen.add(file)
        try:
            source, _, _ = self.env.loader.get_source(self.env, file)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return [f"template {file}: not found"]
        try:
            ast = self.env.parse(source, name=file)
        except jinja2.TemplateSyntaxError as exc:
            return [f"template {file}: {exc.message} (line {exc.lineno})"]
        imported = {n.target for n in ast.find_all(jinja2.nodes.Import)}
        imported |= {name if isinstance(name, str) else name[1]
                     for n in ast.find_all(jinja2.nodes.FromImport) for name in n.names}
        unknown = jinja2.meta.find_undeclared_variables(ast) - known - imported
        problems = [f"template {file}: unknown variable {v!r}" for v in sorted(unknown)]
        for ref in jinja2.meta.find_referenced_templates(ast):
            if ref is None:
                problems.append(f"template {file}: includes a template named at render time; it cannot be checked")
            else:
                problems += self._check_file(ref, known, seen=seen)
        return problems
