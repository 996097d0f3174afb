"""The preference rules the engine applies to marketing sends, and the preference form's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from winback.scoring.reasons import LABELS
from winback.tracking.preferences import (
    DEFAULT_TOPICS,
    SURVEY_CHOICES,
    Preferences,
    allows_send,
    parse_form,
    survey_id,
)
from winback.tracking.texts import TEXTS, lang_for

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def check(prefs, *, channel="email", topic="offers", last=None):
    return allows_send(prefs, channel=channel, topic=topic, now=NOW, last_sent_at=last)


def test_no_preferences_and_empty_preferences_allow_everything():
    assert check(None) is None
    assert check(Preferences(), last=NOW - timedelta(minutes=1)) is None


def test_a_pause_blocks_until_it_ends():
    assert check(Preferences(paused_until=NOW + timedelta(seconds=1))) == "paused"
    assert check(Preferences(paused_until=NOW)) is None
    assert check(Preferences(paused_until=NOW - timedelta(days=1))) is None


def test_channels_and_topics_they_turned_off():
    assert check(Preferences(channels=("sms",))) == "channel_off"
    assert check(Preferences(channels=("sms",)), channel="sms") is None
    assert check(Preferences(topics=("news",))) == "topic_off"
    assert check(Preferences(topics=("news",)), topic="news") is None
    assert check(Preferences(topics=("news",)), topic=None) is None  # a message without a topic is not checked


@pytest.mark.parametrize(("frequency", "gap", "expected"), [
    ("weekly", timedelta(days=6, hours=23), "frequency"),
    ("weekly", timedelta(days=7), None),
    ("monthly", timedelta(days=29), "frequency"),
    ("monthly", timedelta(days=30), None),
    (None, timedelta(minutes=5), None),
])
def test_frequency_counts_from_the_last_marketing_message(frequency, gap, expected):
    assert check(Preferences(frequency=frequency), last=NOW - gap) == expected
    assert check(Preferences(frequency=frequency), last=None) is None


def test_the_first_reason_that_applies_is_given():
    prefs = Preferences(paused_until=NOW + timedelta(days=1), channels=("sms",), frequency="weekly")
    assert check(prefs, last=NOW) == "paused"


def form(**fields):
    return {k: v if isinstance(v, list) else [v] for k, v in fields.items()}


def test_a_form_with_everything_ticked_stores_all():
    result = parse_form(form(topics=list(DEFAULT_TOPICS), channels=["email", "sms"], frequency="any", language="zh"),
                        topics=DEFAULT_TOPICS, current=None, now=NOW)
    assert result.errors == ()
    assert result.prefs == Preferences(topics=None, channels=None, frequency=None, paused_until=None, language="zh")


def test_a_form_with_choices_and_a_pause():
    result = parse_form(form(topics=["news"], channels=["email"], frequency="pause_30", language=""),
                        topics=DEFAULT_TOPICS, current=None, now=NOW)
    assert result.prefs == Preferences(topics=("news",), channels=("email",), frequency=None,
                                       paused_until=NOW + timedelta(days=30), language=None)
    weekly = parse_form(form(topics=["news"], channels=["sms"], frequency="weekly", language="en"),
                        topics=DEFAULT_TOPICS, current=None, now=NOW)
    assert weekly.prefs is not None and weekly.prefs.frequency == "weekly" and weekly.prefs.paused_until is None


def test_keep_is_only_valid_while_a_pause_runs():
    running = Preferences(paused_until=NOW + timedelta(days=3))
    kept = parse_form(form(topics=["news"], channels=["email"], frequency="keep"), topics=DEFAULT_TOPICS,
                      current=running, now=NOW)
    assert kept.prefs is not None and kept.prefs.paused_until == NOW + timedelta(days=3)
    over = Preferences(paused_until=NOW - timedelta(days=3))
    assert parse_form(form(topics=["news"], channels=["email"], frequency="keep"), topics=DEFAULT_TOPICS,
                      current=over, now=NOW).errors == ("error_bad_value",)


@pytest.mark.parametrize(("fields", "errors"), [
    (dict(channels=["email"], frequency="any"), ("error_no_topic",)),
    (dict(topics=["news"], frequency="any"), ("error_no_channel",)),
    (dict(topics=["news", "gossip"], channels=["email"], frequency="any"), ("error_bad_value",)),
    (dict(topics=["news"], channels=["fax"], frequency="any"), ("error_bad_value",)),
    (dict(topics=["news"], channels=["email"], frequency="daily"), ("error_bad_value",)),
    (dict(topics=["news"], channels=["email"], frequency="any", language="fr"), ("error_bad_value",)),
    (dict(frequency="any"), ("error_no_topic", "error_no_channel")),
])
def test_invalid_forms_give_errors_and_no_preferences(fields, errors):
    result = parse_form(form(**fields), topics=DEFAULT_TOPICS, current=None, now=NOW)
    assert result.prefs is None and result.errors == errors


def test_survey_choices_are_churn_reason_labels_and_ids_are_stable():
    assert set(SURVEY_CHOICES) == set(LABELS)
    assert survey_id("c1", 7) == survey_id("c1", 7) != survey_id("c1", None) != survey_id("c2", None)
    assert len(survey_id("x" * 200, 2**40)) <= 200


def test_every_text_exists_in_both_languages_and_locales_map_to_them():
    assert TEXTS["zh"].keys() == TEXTS["en"].keys()
    assert [lang_for(x) for x in ("zh-CN", "zh_TW", "ZH", "en-GB", "fr", None, "")] == \
        ["zh", "zh", "zh", "en", "en", "en", "en"]
    assert lang_for(None, "zh-CN") == "zh" and lang_for("en", "zh") == "en"
