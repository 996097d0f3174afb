"""The report's charts as inline SVG text (matplotlib, no pyplot and no global state): the funnel per step, the
lift with its interval, and conversions over time, treated vs holdout. The SVG carries no links or metadata URLs,
so the HTML report stays self-contained."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

_STAGES = (("sent", "sent"), ("delivered", "delivered"), ("opens", "opened"), ("clicks", "clicked"),
           ("conversions", "converted"))
_COLOURS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974")
_RC = {"svg.fonttype": "none", "svg.hashsalt": "winback", "font.size": 9, "axes.spines.top": False,
       "axes.spines.right": False}


def to_svg(fig: Figure) -> str:
    """The figure as an `<svg>` element for inlining in HTML: no XML prolog, DOCTYPE, metadata or namespace
    declarations (they carry URLs; the HTML parser puts inline SVG in its namespace by itself)."""
    buf = io.StringIO()
    with mpl.rc_context(_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(width, height))
        ax = fig.add_subplot()
    return fig, ax


def plot_funnel(funnel: Sequence[Mapping[str, Any]], ax: Axes) -> Axes:
    """Grouped bars per step: sent, delivered, opened, clicked, converted (the all-variants rows)."""
    rows = [r for r in funnel if r.get("variant") is None]
    width = 0.8 / len(_STAGES)
    for i, (key, label) in enumerate(_STAGES):
        xs = [j + (i - (len(_STAGES) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [r.get(key, 0) for r in rows], width=width, label=label, color=_COLOURS[i])
    ax.set_xticks(range(len(rows)), [str(r["step"]) for r in rows])
    ax.set_ylabel("enrolments")
    ax.set_title("funnel per step")
    if rows:
        ax.legend(frameon=False, ncols=len(_STAGES), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    return ax


def plot_lift(lift: Mapping[str, Any], ax: Axes) -> Axes:
    """Treated − holdout conversion rate (percentage points) with its interval as an error bar."""
    est = lift["conversion_rate"]
    if est["estimate"] is not None:
        point = est["estimate"] * 100
        low = point - (est["low"] * 100 if est["low"] is not None else point)
        high = (est["high"] * 100 if est["high"] is not None else point) - point
        ax.errorbar([point], [0], xerr=[[low], [high]], fmt="o", color=_COLOURS[0], capsize=6)
        ax.annotate(f"{point:+.2f} pp", (point, 0), textcoords="offset points", xytext=(0, 10), ha="center")
    ax.axvline(0, color="#888888", linewidth=1, linestyle="--")
    ax.set_yticks([])
    ax.set_xlabel("incremental conversion rate, percentage points (95 % interval)")
    ax.set_title("lift: treated − holdout")
    return ax


def plot_timeline(timeline: Sequence[Mapping[str, Any]], ax: Axes) -> Axes:
    """Cumulative conversion rate among those enrolled so far, treated vs holdout."""
    days = [date.fromisoformat(r["date"]) for r in timeline]
    for i, group in enumerate(("treated", "holdout")):
        rates = [(r[f"{group}_rate"] or 0.0) * 100 for r in timeline]
        ax.plot(days, rates, label=group, color=_COLOURS[i * 2], linewidth=1.5)
    ax.set_ylabel("converted, % of enrolled")
    ax.set_title("conversions over time")
    ax.tick_params(axis="x", labelrotation=30)
    if timeline:
        ax.legend(frameon=False)
    return ax


def report_charts(report: Mapping[str, Any]) -> dict[str, str]:
    """The three charts of a report as SVG text, keyed funnel, lift, timeline."""
    out = {}
    for name, plot, size in (("funnel", plot_funnel, (8, 3.6)), ("lift", plot_lift, (8, 1.8)),
                             ("timeline", plot_timeline, (8, 3.2))):
        fig, ax = _figure(*size)
        with mpl.rc_context(_RC):
            plot(report[name], ax)  # type: ignore[operator]
        out[name] = to_svg(fig)
    return out
