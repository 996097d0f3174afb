"""The report's charts: inline SVG with the steps on it and nothing that points outside the page."""

from __future__ import annotations

import re

from matplotlib.figure import Figure

from winback.measurement.charts import plot_funnel, report_charts

REPORT = {
    "funnel": [{"step": "first", "variant": None, "sent": 100, "delivered": 95, "opens": 40, "clicks": 10,
                "conversions": 5},
               {"step": "first", "variant": "a", "sent": 50, "delivered": 48, "opens": 20, "clicks": 5,
                "conversions": 3},
               {"step": "second", "variant": None, "sent": 80, "delivered": 80, "opens": 30, "clicks": 6,
                "conversions": 2}],
    "lift": {"conversion_rate": {"estimate": 0.021, "low": -0.004, "high": 0.046}},
    "timeline": [{"date": "2026-09-01", "treated_rate": 0.0, "holdout_rate": 0.0},
                 {"date": "2026-09-02", "treated_rate": 0.05, "holdout_rate": None}],
}


def test_three_inline_svgs_without_urls():
    charts = report_charts(REPORT)
    assert set(charts) == {"funnel", "lift", "timeline"}
    for svg in charts.values():
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "http" not in svg and "<?xml" not in svg and "<metadata" not in svg
        assert not re.search(r"(href|src)=\"(?!#)", svg)  # only links within the SVG itself
    assert ">first<" in charts["funnel"] and ">second<" in charts["funnel"]
    assert "+2.10 pp" in charts["lift"]


def test_funnel_plot_has_one_bar_per_stage_and_step_for_all_variants_only():
    ax = Figure().add_subplot()
    plot_funnel(REPORT["funnel"], ax)
    assert len(ax.patches) == 5 * 2  # five stages × two steps; the variant row is not drawn
    assert [t.get_text() for t in ax.get_xticklabels()] == ["first", "second"]


def test_empty_report_still_renders():
    charts = report_charts({"funnel": [], "lift": {"conversion_rate": {"estimate": None, "low": None, "high": None}},
                            "timeline": []})
    assert all(svg.startswith("<svg") for svg in charts.values())
