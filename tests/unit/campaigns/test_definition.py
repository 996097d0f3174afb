"""Programme files: the schema (definition.py) and reading YAML with errors that name the line (files.py)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from winback.campaigns.definition import Programme
from winback.campaigns.files import ProgrammeError, dump_programme, parse_programme, programme_from_definition

BASE = """\
programme: demo
audience: "stage in ['at_risk', 'dormant']"
steps:
  - id: first
    send: {template: winback/reminder, subject: {en: We miss you, zh: 我们想念您}}
"""


def parse(text: str) -> Programme:
    return parse_programme(text, origin="demo.yaml").programme


def error(text: str) -> str:
    with pytest.raises(ProgrammeError) as info:
        parse_programme(text, origin="demo.yaml")
    message = str(info.value)
    assert "\n" not in message  # one line for the CLI
    return message


def with_steps(*lines: str) -> str:
    return BASE + "".join(line + "\n" for line in lines)


# -- what a valid file gives -------------------------------------------------------------------------------------


def test_minimal_programme_gets_the_documented_defaults():
    p = parse(BASE)
    assert p.holdout == 0.10
    assert p.exits == ["purchase", "unsubscribe", "complaint", "hard_bounce"]
    assert p.consent == "soft_opt_in"
    assert (p.goal.event, p.goal.within) == ("purchase", timedelta(days=30))
    assert (p.entry.reentry, p.entry.refresh) == ("never", timedelta(days=1))
    assert (p.retries.max_attempts, p.retries.backoff) == (5, timedelta(minutes=5))
    assert p.error_budget == 100 and p.caps.global_ is True and p.caps.programme is None
    assert p.quiet_hours is None and p.send_time is None and p.trigger is None


def test_step_ids_are_named_by_kind_and_position_when_not_given():
    p = parse(with_steps("  - wait: 3d", "  - branch:", "      - otherwise: next", "  - id: offer",
                         "    send: {template: t/offer}", "  - move: {list: nurture}", "  - end:"))
    assert p.step_ids == ["first", "wait-2", "branch-3", "offer", "move-5", "end-6"]
    assert [s.kind for s in p.steps] == ["send", "wait", "branch", "send", "move", "end"]
    assert p.next_id("wait-2") == "branch-3" and p.next_id("end-6") is None
    assert p.step("offer").send.template == "t/offer"


@pytest.mark.parametrize(("written", "expected"), [
    ("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("5d", timedelta(days=5)),
    ("2w", timedelta(weeks=2)), ("3", timedelta(days=3)), ("1.5d", timedelta(hours=36)), ("90s", timedelta(seconds=90)),
])
def test_durations_as_people_write_them(written, expected):
    assert parse(with_steps(f"  - wait: {written}")).steps[1].wait == expected


def test_durations_are_dumped_in_their_shortest_exact_spelling():
    p = parse(with_steps("  - wait: 120h", "  - wait: {until: [click, purchase], timeout: 1440m}", "  - wait: 14d",
                         "  - wait: 36h"))
    steps = dump_programme(p)["steps"]
    assert [s["wait"] for s in steps[1:]] == ["5d", {"until": ["click", "purchase"], "timeout": "1d"}, "2w", "36h"]
    assert dump_programme(p)["goal"] == {"event": "purchase", "within": "30d"}


def test_the_normalised_definition_reads_back_to_the_same_programme():
    text = with_steps("  - wait: {until: reply, timeout: 6d}", "  - branch:",
                      "      - when: {opened: first, replied: false, churn_reason: price}", "        goto: end",
                      "      - otherwise: next") + (
        "trigger: {event: stage_changed, from: active, to: [at_risk, dormant], delay: 2h}\n"
        "caps: {programme: {max: 2, per: 7d}, global: false}\n"
        "quiet_hours: {start: 21:00, end: '08:00', time_zone: Asia/Shanghai}\n")
    p = parse(text)
    assert programme_from_definition(dump_programme(p)) == p
    dumped = dump_programme(p)
    assert dumped["trigger"]["from"] == ["active"] and dumped["caps"]["global"] is False


def test_unquoted_clock_times_are_read_as_clock_times():
    p = parse(BASE + "quiet_hours: {start: 21:30, end: 8:00}\n")
    assert (p.quiet_hours.start, p.quiet_hours.end) == (time(21, 30), time(8, 0))


def test_single_values_are_accepted_where_lists_are_meant():
    p = parse(with_steps("  - wait: {until: open, timeout: 2d}", "  - branch:",
                         "      - when: {dormancy_type: natural_cycle}", "        goto: end")
              + "trigger: {event: stage_changed, to: dormant}\n")
    assert p.steps[1].wait.until == ["open"]
    assert p.steps[2].branch[0].when.dormancy_type == ["natural_cycle"]
    assert p.trigger.to == ["dormant"]


def test_a_bare_end_and_an_end_with_an_outcome():
    p = parse(with_steps("  - end:", "  - end: sunset"))
    assert [s.end.outcome for s in p.steps[1:]] == ["completed", "sunset"]


# -- the digest: meaning, not spelling ---------------------------------------------------------------------------


def test_digest_is_the_same_for_the_same_meaning_written_differently():
    block = """\
# a comment
audience: "stage in ['at_risk', 'dormant']"
programme: demo
holdout: 0.1
steps:
  - id: first
    send:
      subject:
        zh: 我们想念您
        en: We miss you
      template: winback/reminder
  - wait: 120h
"""
    assert parse_programme(block).digest == parse_programme(with_steps("  - wait: 5d")).digest


@pytest.mark.parametrize("change", [
    ("holdout: 0.2\n", ""), ("", "  - wait: 6d\n"), ("exits: [purchase]\n", ""), ("consent: explicit\n", ""),
])
def test_digest_changes_when_the_meaning_changes(change):
    top, step = change
    base = parse_programme(with_steps("  - wait: 5d")).digest
    assert parse_programme(top + with_steps("  - wait: 5d") + step).digest != base


# -- errors: one line, the right line, what to write -------------------------------------------------------------


def test_unknown_top_level_key_suggests_the_right_one_on_its_line():
    message = error(BASE + "holdot: 0.2\n")
    assert message.startswith("demo.yaml:6: holdot: unknown key 'holdot'; did you mean 'holdout'?")
    assert "allowed here:" in message


def test_unknown_nested_key_names_its_line_and_its_siblings():
    text = BASE + "  - id: second\n    send:\n      template: x\n      subjet: hi\n"
    message = error(text)
    assert message.startswith("demo.yaml:9: steps.1.send.subjet: unknown key 'subjet'; did you mean 'subject'?")
    assert "channel, template, subject, variants, auto_winner, incentive, marketing" in message


@pytest.mark.parametrize(("lines", "line", "suggestion"), [
    (["  - sned: {template: x}"], 6, "'send'"),
    (["  - task: {title: call, assigne: bob}"], 6, "'assignee'"),
    (["  - wait: {until: open, timeout: 1d, timout: 2d}"], 6, "'timeout'"),
    (["  - branch:", "      - when: {opend: first}", "        goto: end"], 7, "'opened'"),
])
def test_unknown_keys_in_steps(lines, line, suggestion):
    message = error(with_steps(*lines))
    assert message.startswith(f"demo.yaml:{line}: ") and f"did you mean {suggestion}?" in message


def test_unknown_key_in_a_programme_cap_is_suggested_too():
    message = error(BASE + "caps:\n  programme: {max: 2, pr: 7d}\n")
    assert "demo.yaml:7:" in message and "did you mean 'per'?" in message


@pytest.mark.parametrize(("text", "missing"), [
    ("audience: x == 1\nsteps:\n  - send: {template: t}\n", "'programme'"),
    ("programme: p\naudience: \"stage == 'dormant'\"\n", "'steps'"),
    (with_steps("  - task: {assignee: bob}"), "'title'"),
    (with_steps("  - wait: {until: open}"), "'timeout'"),
])
def test_missing_keys_are_named(text, missing):
    assert f"missing {missing}" in error(text)


def test_a_programme_needs_an_audience_or_a_trigger():
    assert "needs an audience (a segment) or a trigger" in error("programme: p\nsteps:\n  - send: {template: t}\n")


@pytest.mark.parametrize(("written", "expected"), [
    ("5 days", "not a duration: '5 days'; write a number and a unit: 30m, 12h, 5d or 2w"),
    ("-2", "a duration cannot be negative"),
    ("true", "not true/false"),
])
def test_bad_durations_say_what_to_write(written, expected):
    message = error(with_steps(f"  - wait: {written}"))
    assert message.startswith("demo.yaml:6: steps.1.wait: ") and expected in message
    assert "more problem" not in message  # the wait's two forms are one problem, not two


def test_a_bad_timeout_in_a_wait_until_is_blamed_on_the_timeout():
    message = error(with_steps("  - wait:", "      until: click", "      timeout: soon"))
    assert message.startswith("demo.yaml:8: steps.1.wait.timeout: not a duration: 'soon'")


def test_a_bad_reentry_gap_gets_the_duration_message():
    assert "entry.reentry: not a duration: 'sometimes'" in error(BASE + "entry: {reentry: sometimes}\n")


def test_goto_backwards_is_refused_at_the_goto():
    message = error(with_steps("  - wait: 1d", "  - branch:", "      - when: {opened: first}", "        goto: first"))
    assert message.startswith("demo.yaml:9: steps.2.branch.0.goto: step 'branch-3' goes back to 'first'")
    assert "steps may only go forward" in message


def test_goto_to_an_unknown_step_lists_the_ids():
    message = error(with_steps("  - branch:", "      - when: {clicked: first}", "        goto: next",
                               "      - otherwise: nowhere"))
    assert message.startswith("demo.yaml:9: steps.1.branch.1.otherwise: step 'branch-2' goes to 'nowhere', which is "
                              "no step id; ids: first, branch-2 (or next, end)")


def test_goto_to_itself_is_backwards():
    assert "goes back to 'check'" in error(with_steps("  - id: check", "    branch:", "      - otherwise: check"))


@pytest.mark.parametrize(("ref_step", "expected"), [
    ("  - id: pause\n    wait: 1d", "asks whether opened 'pause', which sends nothing"),
    ("  - id: pause\n    task: {title: call}", "asks whether opened 'pause', which sends nothing"),
])
def test_engagement_conditions_must_refer_to_an_earlier_send(ref_step, expected):
    text = with_steps(ref_step, "  - branch:", "      - when: {opened: pause}", "        goto: end")
    message = error(text)
    assert expected in message and message.startswith("demo.yaml:9: steps.2.branch.0.when.opened:")


def test_engagement_condition_on_a_later_step_is_refused():
    text = with_steps("  - branch:", "      - when: {replied: later}", "        goto: end", "  - id: later",
                      "    send: {template: t}")
    assert "asks whether replied 'later', which is not an earlier step" in error(text)


def test_otherwise_must_be_the_last_arm():
    assert "'otherwise' must be the last arm" in error(with_steps("  - branch:", "      - otherwise: next",
                                                                  "      - when: {opened: first}",
                                                                  "        goto: end"))


def test_duplicate_step_ids_point_at_the_second():
    assert error(with_steps("  - id: first", "    wait: 1d")).startswith(
        "demo.yaml:6: steps.1.id: two steps have the id 'first'")


@pytest.mark.parametrize("name", ["next", "end", "any"])
def test_step_ids_that_a_branch_reads_as_keywords_are_refused(name):
    assert f"a step cannot be called {name!r}" in error(with_steps(f"  - id: {name}", "    wait: 1d"))


def test_a_step_has_exactly_one_kind():
    assert "exactly one of send, wait, branch, task, move, end (given: send, wait)" in error(
        with_steps("  - send: {template: x}", "    wait: 1d"))
    assert "(given: none)" in error(with_steps("  - id: nothing"))


@pytest.mark.parametrize("trigger", ["{event: stage_changed, to: dormnt}", "{event: stage_changed, to: dormant, "
                                                                           "from: [activ]}"])
def test_bad_stage_names_list_the_stages(trigger):
    message = error(f"programme: p\ntrigger: {trigger}\nsteps:\n  - send: {{template: t}}\n")
    assert message.startswith("demo.yaml:2: trigger: unknown stage")
    assert "stages: new, active, at_risk, dormant, churned, reactivated" in message


def test_unknown_churn_reasons_and_dormancy_types_are_refused():
    reason = error(with_steps("  - branch:", "      - when: {churn_reason: pricey}", "        goto: end"))
    assert reason.startswith("demo.yaml:7: steps.1.branch.0.when.churn_reason: unknown churn_reason 'pricey'")
    assert "price, missing_feature, service" in reason
    dormancy = error(with_steps("  - branch:", "      - when: {dormancy_type: [natural_cycle, sleepy]}",
                                "        goto: end"))
    assert "unknown dormancy_type 'sleepy'" in dormancy and "content_fatigue" in dormancy


def test_bad_time_zone():
    message = error(BASE + "quiet_hours:\n  start: '21:00'\n  end: '08:00'\n  time_zone: Mars/Olympus\n")
    assert message.startswith("demo.yaml:9: quiet_hours.time_zone: unknown time zone 'Mars/Olympus'")
    assert "IANA name" in message


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("25:00", "'08:00'", "a clock time from 00:00 to 23:59"),
    ("21:00:00", "'08:00'", "write it in quotes"),
    ("'08:00'", "'08:00'", "a start and an end that differ"),
])
def test_quiet_hours_that_cannot_be_meant(start, end, expected):
    assert expected in error(BASE + f"quiet_hours: {{start: {start}, end: {end}}}\n")


def test_audience_with_an_unknown_segment_field_names_the_line():
    text = "programme: p\n\naudience: \"stag == 'dormant'\"\nsteps:\n  - send: {template: t}\n"
    message = error(text)
    assert message.startswith("demo.yaml:3: audience: segment")
    assert "unknown field 'stag'" in message and "'stage'" in message


def test_branch_segment_is_checked_too():
    message = error(with_steps("  - branch:", "      - when: {segment: \"clvv > 100\"}", "        goto: end"))
    assert message.startswith("demo.yaml:7: steps.1.branch.0.when.segment: segment")
    assert "unknown field 'clvv'" in message


@pytest.mark.parametrize(("text", "line"), [
    ("programme: p\naudience: [\nsteps:\n", 4),
    ("programme: p\n  audience: x\n", 2),
    ("programme: p\nsteps:\n  - send: {template: t\n", 4),
])
def test_yaml_syntax_errors_name_the_line(text, line):
    message = error(text)
    assert message.startswith(f"demo.yaml:{line}: not valid YAML (")


def test_a_file_that_is_not_a_mapping():
    assert "a programme file is a mapping that starts with 'programme: NAME'" in error("- a\n- b\n")


@pytest.mark.parametrize(("extra", "expected"), [
    ("holdout: 1.5\n", "holdout: Input should be less than 1"),
    ("exits: [purchase, bought]\n", "exits.1: Input should be 'purchase'"),
    ("caps: {programme: {max: 0, per: 7d}}\n", "caps.programme.max: Input should be greater than 0"),
])
def test_values_out_of_range(extra, expected):
    assert expected in error(BASE + extra)


@pytest.mark.parametrize(("send", "expected"), [
    ("{subject: hi}", "a send needs a template"),
    ("{template: t, incentive: {kind: percent, value: 150}}", "a percent incentive needs a value between 0 and 100"),
    ("{template: t, variants: [{name: a}, {name: a}]}", "variant names must differ"),
    ("{variants: [{name: a, template: t}, {name: b}]}", "variant 'b' has no template"),
    ("{template: t, channel: fax}", "Input should be 'email', 'sms' or 'webhook'"),
])
def test_send_checks(send, expected):
    assert expected in error(with_steps(f"  - send: {send}"))


def test_bad_programme_id():
    assert "programme 'Dormant Reactivation' must be lower-case" in error(
        "programme: Dormant Reactivation\naudience: x == 1\nsteps:\n  - send: {template: t}\n")


def test_trigger_needs_what_its_event_needs():
    assert "a silent trigger needs 'days'" in error("programme: p\ntrigger: {event: silent}\nsteps:\n"
                                                    "  - send: {template: t}\n")
    assert "an event trigger needs the event 'type'" in error("programme: p\ntrigger: {event: event}\nsteps:\n"
                                                              "  - send: {template: t}\n")


def test_empty_condition_and_move():
    assert "an empty condition" in error(with_steps("  - branch:", "      - when: {}", "        goto: end"))
    assert "a move needs a list" in error(with_steps("  - move: {}"))


@pytest.mark.parametrize("text", [
    "programme: x\nsteps: " + "[" * 2_000 + "]" * 2_000,  # deeper than the parser's recursion
    "programme: x\nsteps: " + "[" * 60 + "]" * 60,  # deeper than a programme can be
    "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)),  # a billion values through aliases
])
def test_hostile_yaml_is_one_clear_error(text: str) -> None:
    with pytest.raises(ProgrammeError, match=r"^p\.yaml: (nested more than 50 levels|more than 100,000 values)"):
        parse_programme(text, origin="p.yaml")


def test_auto_winner_needs_variants_to_choose_from() -> None:
    one = with_steps("  - id: s", "    send: {template: winback/reminder, variants: [{name: a}],",
                     "           auto_winner: {metric: click}}")
    assert "auto_winner needs at least two variants" in error(one)
    two = with_steps("  - id: s", "    send: {template: winback/reminder, variants: [{name: a}, {name: b}],",
                     "           auto_winner: {metric: click, min_per_arm: 50}}")
    rule = parse(two).steps[-1].send.auto_winner
    assert (rule.metric, rule.alpha, rule.min_per_arm) == ("click", 0.05, 50)
