"""The shipped playbooks: each parses and validates; `winback playbooks list | show` through the CLI app."""

from __future__ import annotations

import json

import pytest
import typer
import yaml
from typer.testing import CliRunner

from winback.campaigns.files import parse_programme
from winback.campaigns.playbooks import playbook_names, playbook_summaries, playbook_text
from winback.cli import playbooks as playbooks_cli
from winback.domain.errors import NotFoundError
from winback.jobs.programmes import load_programme, validate
from winback.jobs.workspace import Workspace
from winback.settings import Settings

SEEDS = ["b2b-account-recovery", "cart-abandonment", "dormant-reactivation", "four-email-winback",
         "pre-promotion-coupon", "subscription-cancel-save", "three-month-dormant", "welcome-back",
         "winback-by-reason"]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A fresh app with only the playbooks commands."""

    playbooks_cli.register(app)
    return app


def test_the_seeds_playbooks_are_all_shipped():
    assert playbook_names() == SEEDS


@pytest.mark.parametrize("name", SEEDS)
def test_each_playbook_parses_validates_and_is_named_after_its_file(name):
    text = playbook_text(name)
    pf = parse_programme(text, origin=f"playbook {name}")
    p = pf.programme
    assert p.programme == name and p.name and p.description
    assert text.startswith("# ") and "Adapt" in text  # the header says what it is for and what to change
    result = validate(Workspace(Settings()), name)  # what `winback programs validate NAME` runs
    assert result["valid"] and result["origin"] == f"playbook {name}" and result["digest"] == pf.digest
    assert load_programme(name).source == text


@pytest.mark.parametrize("name", SEEDS)
def test_every_message_has_a_template_and_an_english_and_chinese_subject(name):
    p = parse_programme(playbook_text(name)).programme
    sends = [s.send for s in p.steps if s.send is not None]
    assert sends, "every playbook writes to the customer at least once"
    for send in sends:
        assert send.template and "/" in send.template
        assert isinstance(send.subject, dict) and set(send.subject) == {"en", "zh"}
        assert all(text.strip() for text in send.subject.values())


def test_four_email_winback_is_the_seeds_sequence():
    p = parse_programme(playbook_text("four-email-winback")).programme
    sends = [s for s in p.steps if s.send is not None]
    assert [s.id for s in sends] == ["reminder", "whats-new", "incentive", "last-chance"]
    assert [s.send.incentive.value if s.send.incentive else None for s in sends] == [None, None, 10, None]
    assert sends[2].send.incentive.kind == "percent"
    assert "purchase" in p.exits and p.goal.within.days == 30
    assert all(p.steps[i + 1].wait is not None for i, s in enumerate(p.steps[:-1]) if s.send is not None)


def test_dormant_reactivation_offers_only_to_human_openers_and_sunsets_the_silent():
    p = parse_programme(playbook_text("dormant-reactivation")).programme
    first = p.step("check-first").branch
    offer_arm = next(arm for arm in first if arm.target == "exclusive-offer")
    assert offer_arm.when.opened == "still-interested" and offer_arm.when.replied is False
    assert p.step("still-interested").send.incentive is None  # no promotion in the first message
    assert p.step("sunset").move.list == "long-term-nurture" and p.step("sunset").move.tag == "sunset"
    last = p.step("check-interaction").branch
    assert {arm.target for arm in last[:-1]} == {"still-with-us"} and last[-1].otherwise == "sunset"


def test_winback_by_reason_routes_every_reason_and_dormancy_type():
    p = parse_programme(playbook_text("winback-by-reason")).programme
    route = p.step("route").branch
    reasons = {r for arm in route if arm.when for r in arm.when.churn_reason or []}
    kinds = {k for arm in route if arm.when for k in arm.when.dormancy_type or []}
    assert {"price", "service", "product_quality", "missing_feature"} <= reasons
    assert kinds == {"bad_experience", "content_fatigue", "channel_shift", "natural_cycle"}
    assert p.step("apology").send.incentive is None  # service: apology and remedy, no promotion
    assert p.step("coupon").send.incentive is not None
    assert p.step("other-channels").send.channel == "sms"


@pytest.mark.parametrize(("name", "event"), [("subscription-cancel-save", "subscription_cancelled"),
                                             ("cart-abandonment", "cart_abandoned"), ("welcome-back", "reactivated")])
def test_triggered_playbooks(name, event):
    assert parse_programme(playbook_text(name)).programme.trigger.event == event


def test_b2b_recovery_gives_account_managers_tasks_with_due_times():
    p = parse_programme(playbook_text("b2b-account-recovery")).programme
    tasks = [s.task for s in p.steps if s.task is not None]
    assert len(tasks) >= 2 and all(t.due.total_seconds() > 0 and t.title for t in tasks)
    assert tasks[0].assignee == "account_manager"


def test_summaries_describe_each_playbook():
    summaries = playbook_summaries()
    assert [s["name"] for s in summaries] == SEEDS
    by_name = {s["name"]: s for s in summaries}
    assert by_name["four-email-winback"] == {
        "name": "four-email-winback", "title": "Four-email win-back",
        "description": by_name["four-email-winback"]["description"],
        "audience": "stage in ['at_risk', 'dormant'] and not suppressed('email')", "trigger": None, "steps": 8}
    assert by_name["cart-abandonment"]["trigger"] == "cart_abandoned"
    assert all(s["audience"] or s["trigger"] for s in summaries)


def test_unknown_playbook_names_the_playbooks():
    with pytest.raises(NotFoundError) as info:
        playbook_text("four-emails")
    assert "no playbook 'four-emails'" in str(info.value) and "four-email-winback" in str(info.value)


@pytest.mark.parametrize("name", ["../definition", "four-email-winback.yaml", "__init__", ""])
def test_names_cannot_reach_other_files(name):
    with pytest.raises(NotFoundError):
        playbook_text(name)


def test_cli_list_json(app):
    result = CliRunner().invoke(app, ["playbooks", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == playbook_summaries()


def test_cli_list_table(app):
    result = CliRunner().invoke(app, ["playbooks", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in SEEDS:
        assert name in result.output
    assert "trigger subscription_cancelled" in result.output


@pytest.mark.parametrize("name", SEEDS)
def test_cli_show_prints_the_file_exactly(app, name):
    result = CliRunner().invoke(app, ["playbooks", "show", name])
    assert result.exit_code == 0
    assert result.stdout_bytes == playbook_text(name).encode("utf-8")
    assert yaml.safe_load(result.stdout)["programme"] == name


def test_cli_show_unknown_name_raises_the_user_error(app):
    result = CliRunner().invoke(app, ["playbooks", "show", "nope"])
    assert result.exit_code != 0 and isinstance(result.exception, NotFoundError)
    assert "playbooks: b2b-account-recovery" in str(result.exception)
