"""A retention marketer's day in a real browser: log in, find at-risk customers, open one, create a programme from
a playbook, see its dry run, start it, run the worker, and see the results with lift — a screenshot after each step
(tests/browser/artifacts/), at 1,366×768, and the overview on a phone."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PLAYBOOK = "four-email-winback"


def log_in(page: Page, base: str, admin: tuple[str, str]) -> None:
    page.goto(f"{base}/app/")
    expect(page).to_have_url(re.compile(r"/app/login\?next=/app/"))
    page.fill("#email", admin[0])
    page.fill("#password", admin[1])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/app/")


def shot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def test_marketer_journey(browser: Browser, dashboard: str, artifacts: Path, admin: tuple[str, str]) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{msg.text} ({msg.location.get('url')})")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    # 1. log in: the overview with stages, value at risk, the chart drawn from the embedded JSON
    log_in(page, dashboard, admin)
    expect(page.get_by_role("heading", name="Customers by lifecycle stage")).to_be_visible()
    expect(page.get_by_text("Value at risk").first).to_be_visible()
    expect(page.locator("#stage-chart[data-drawn=true]")).to_have_count(1)
    expect(page.get_by_text("No programmes running yet: start one from a playbook.")).to_be_visible()
    shot(page, artifacts, "01-overview")

    # 2. find at-risk customers
    page.get_by_role("link", name="Customers", exact=True).click()
    page.select_option("select[name=stage]", "at_risk")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"stage=at_risk"))
    rows = page.locator("#customer-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 0
    expect(page.locator("#customer-table tbody .badge").first).to_have_text("At risk")
    assert page.locator("#customer-table tbody").get_by_text("Active", exact=True).count() == 0
    shot(page, artifacts, "02-at-risk-customers")

    # 3. open the one with the most value at risk: scores, why, timeline
    customer_id = rows.first.locator("td a").first.inner_text()
    rows.first.locator("td a").first.click()
    expect(page).to_have_url(re.compile(rf"/app/customers/{customer_id}$"))
    expect(page.get_by_role("heading", name="Warning signals")).to_be_visible()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.locator(".signals li").first).to_be_visible()
    shot(page, artifacts, "03-customer")

    # 4. create a programme from a playbook and see its dry run
    page.get_by_role("link", name="Programmes", exact=True).click()
    expect(page.get_by_text("No programmes yet: start one from a playbook.")).to_be_visible()
    page.get_by_role("link", name="New programme").first.click()
    page.select_option("#playbook", PLAYBOOK)
    page.get_by_role("button", name="Dry run").click()
    dry_run = page.locator("#dry-run")
    expect(dry_run.get_by_role("heading", name=f"Dry run of {PLAYBOOK}")).to_be_visible()
    expect(dry_run.get_by_text("Extra buyers")).to_be_visible()
    intervals = dry_run.get_by_text(re.compile(r"95 % interval"))
    expect(intervals.first).to_be_visible()
    assert intervals.count() >= 2  # extra buyers and extra revenue (and the revenue per currency)
    audience = int(dry_run.locator("li", has_text="Audience").locator("strong").inner_text().replace(",", ""))
    assert audience > 0
    shot(page, artifacts, "04-dry-run")

    # 5. start it
    page.get_by_role("button", name="Start the programme").click()
    expect(page).to_have_url(f"{dashboard}/app/programmes/{PLAYBOOK}")
    expect(page.get_by_role("status")).to_contain_text(f"{PLAYBOOK} is running (version 1)")
    expect(page.locator("h1 .badge")).to_have_text("running")
    shot(page, artifacts, "05-started")

    # 6. run the worker (the demo button): messages go out on a simulated clock
    page.get_by_role("button", name="Run the worker now").click()
    expect(page.get_by_role("status")).to_contain_text("The worker ran from", timeout=60_000)
    sent = int(re.search(r"([\d,]+) messages handed over", page.get_by_role("status").inner_text())
               .group(1).replace(",", ""))
    assert sent > 0
    shot(page, artifacts, "06-worker-ran")

    # 7. the results: lift against the holdout with intervals, and the funnel per step
    lift = page.locator("#lift")
    expect(lift.get_by_text("Extra buyers (conversion rate)")).to_be_visible()
    expect(lift.get_by_text(re.compile(r"95 % interval -?[\d.]+% to [+-]?[\d.]+%")).first).to_be_visible()
    funnel = page.locator("#funnel table")
    expect(funnel.get_by_role("cell", name="reminder", exact=True)).to_be_visible()
    expect(funnel.get_by_role("cell", name="last-chance", exact=True)).to_be_visible()
    lift.scroll_into_view_if_needed()
    shot(page, artifacts, "07-results-with-lift")

    # the overview now lists the running programme with its lift
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("link", name=PLAYBOOK)).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="各生命周期阶段客户数")).to_be_visible()
    shot(page, artifacts, "08-overview-zh")
    assert not errors, errors  # no script error and no missing file (the browser's own favicon guess aside)
    context.close()


def test_overview_on_a_phone(browser: Browser, dashboard: str, artifacts: Path, admin: tuple[str, str]) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    page = context.new_page()
    log_in(page, dashboard, admin)
    nav = page.locator("#main-nav")
    expect(nav).to_be_hidden()  # folded behind the menu button
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Customers", exact=True)).to_be_visible()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("heading", name="Customers by lifecycle stage")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
    shot(page, artifacts, "09-overview-phone")
    page.goto(f"{dashboard}/app/customers")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # the table scrolls, not the page
    context.close()
