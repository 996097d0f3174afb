"""The inbound classifier against a pinned corpus of provider-format messages, and fuzzed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winback.messaging.bounces import MAX_BYTES, classify_inbound, outcome_for_status

CORPUS = Path(__file__).parents[2] / "data" / "inbound"
MID = "<wb.{}@shop.example.com>"

# file: (kind, [(address, outcome, status)], original Message-ID)
EXPECTED: dict[str, tuple[str, list[tuple[str | None, str, str | None]], str | None]] = {
    "postfix_user_unknown": ("dsn", [("alice@example.net", "hard", "5.1.1")], MID.format("101.first")),
    "postfix_mailbox_full_422": ("dsn", [("bob@example.net", "soft", "4.2.2")], MID.format("102.first")),
    "postfix_delayed_warning": ("dsn", [("carol@example.org", "delayed", "4.4.1")], MID.format("103.first")),
    "postfix_mailbox_full_522": ("dsn", [("dave@example.org", "soft", "5.2.2")], MID.format("104.second")),
    "exim_multiple_recipients": ("dsn", [("erin@example.net", "hard", "5.0.0"), ("frank@example.net", "soft", "4.3.0")],
                                 MID.format("105.first")),
    "sendmail_host_unknown": ("dsn", [("grace@nowhere.example.org", "hard", "5.1.2")], MID.format("106.first")),
    "exchange_o365_ndr": ("dsn", [("heidi@example.com", "hard", "5.1.10")], MID.format("107.first")),
    "exchange_o365_blocked_571": ("dsn", [("ivan@example.com", "blocked", "5.7.1")], MID.format("108.first")),
    "gmail_mailer_daemon_nouser": ("dsn", [("judy@example.net", "hard", "5.1.1")], MID.format("109.first")),
    "gmail_dmarc_5726": ("dsn", [("kim@example.org", "blocked", "5.7.26")], MID.format("110.first")),
    "yahoo_deferred_421": ("dsn", [("leo@example.com", "soft", "4.7.0")], MID.format("111.first")),
    "amazon_ses_bounce": ("dsn", [("mallory@example.net", "hard", "5.1.1")], MID.format("112.first")),
    "sendgrid_style_bounce": ("dsn", [("niaj@example.org", "hard", "5.1.1")], MID.format("113.second")),
    "qq_mailbox_full_gb2312": ("dsn", [("olivia@example.com", "soft", "5.2.2")], MID.format("114.first")),
    "netease_163_user_unknown_gbk": ("dsn", [("peggy@example.com", "hard", "5.1.1")], MID.format("115.first")),
    "dsn_relayed_success": ("dsn", [("quinn@example.com", "unknown", "2.0.0")], MID.format("116.first")),
    "qmail_plain_bounce": ("dsn", [("rupert@example.org", "hard", "5.1.1")], None),
    "provider_plain_user_unknown_no_enhanced": ("dsn", [("sybil@example.net", "hard", "5.1.1")], None),
    "netease_plain_gbk_bounce": ("dsn", [("trent@example.com", "hard", "5.1.1")], None),
    "plain_bounce_without_code": ("other", [(None, "unknown", None)], None),
    "arf_yahoo_abuse": ("arf", [("uma@example.com", "complaint", None)], MID.format("201.first")),
    "arf_aol_abuse_redacted": ("arf", [("redacted@example.net", "complaint", None)], MID.format("202.first")),
    "arf_not_spam": ("arf", [("wendy@example.org", "other_feedback", None)], MID.format("203.first")),
    "arf_fraud": ("arf", [("xavier@example.org", "other_feedback", None)], MID.format("204.first")),
    "jmrp_microsoft_complaint": ("arf", [("yvonne@example.com", "complaint", None)], MID.format("205.first")),
    "ooo_english_auto_submitted": ("auto_reply", [("zoe@example.com", "auto_reply", None)], MID.format("301.first")),
    "ooo_exchange_automatic_reply": ("auto_reply", [("aaron@example.org", "auto_reply", None)],
                                     MID.format("302.first")),
    "ooo_chinese_qq_subject": ("auto_reply", [("zhang@example.com", "auto_reply", None)], MID.format("303.first")),
    "ooo_chinese_gb2312_x_autoreply": ("auto_reply", [("li@example.net", "auto_reply", None)], None),
    "vacation_auto_generated": ("auto_reply", [("bea@example.org", "auto_reply", None)], None),
    "autorespond_precedence_auto_reply": ("auto_reply", [("help@example.net", "auto_reply", None)], None),
    "human_reply": ("other", [], None),
    "malformed_no_status": ("malformed", [], MID.format("501.first")),
    "malformed_final_recipient_no_semicolon": ("malformed", [], MID.format("502.first")),
    "malformed_bom": ("malformed", [], None),
    "malformed_non_utf8_bytes": ("malformed", [], MID.format("503.first")),
    "malformed_truncated_mime": ("malformed", [], None),
    "malformed_empty": ("malformed", [], None),
}
MALFORMED_REASONS = {
    "malformed_no_status": "recipient without Status",
    "malformed_final_recipient_no_semicolon": "Final-Recipient without an address type (no ';')",
    "malformed_bom": "byte order mark before the headers",
    "malformed_non_utf8_bytes": "Status is not a status code: 'five.one.one'",
    "malformed_truncated_mime": "recipient without Status",
    "malformed_empty": "empty message",
}
FILES = sorted(p.stem for p in CORPUS.glob("*.eml"))


def _raw(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


def test_every_corpus_file_is_pinned():
    assert len(FILES) >= 30
    assert set(FILES) == set(EXPECTED)


@pytest.mark.parametrize("name", FILES)
def test_corpus_classification(name):
    kind, recipients, message_id = EXPECTED[name]
    got = classify_inbound(_raw(name))
    assert got.kind == kind
    assert [(r.address, r.outcome, r.status) for r in got.recipients] == recipients
    assert got.message_id == message_id
    if kind == "malformed":
        assert got.reason == MALFORMED_REASONS[name]


def test_dsn_diagnostic_and_action_are_kept():
    got = classify_inbound(_raw("gmail_dmarc_5726"))
    assert got.recipients[0].action == "failed"
    assert "5.7.26" in got.recipients[0].diagnostic


def test_arf_feedback_type_is_kept():
    assert classify_inbound(_raw("arf_not_spam")).recipients[0].feedback_type == "not-spam"
    assert classify_inbound(_raw("arf_yahoo_abuse")).detail["feedback_type"] == "abuse"


@pytest.mark.parametrize(("status", "outcome"), [
    ("5.1.1", "hard"), ("5.0.0", "hard"), ("5.2.1", "hard"), ("5.2.2", "soft"), ("4.2.2", "soft"), ("4.7.0", "soft"),
    ("5.7.1", "blocked"), ("5.7.26", "blocked"), ("2.0.0", "unknown"), ("9.9.9", "unknown"), ("", "unknown"),
])
def test_outcome_for_status(status, outcome):
    assert outcome_for_status(status) == outcome


def test_huge_attachment_is_capped():
    """A DSN followed by a 6 MB attachment: parsed from the first 2 MB only, flagged as truncated."""
    good = _raw("postfix_user_unknown")
    end = good.rindex(b"--BOUNDARY_wb_1--")
    attachment = b"QUFBQUFB" * (6 * 1024 * 1024 // 8)
    huge = (good[:end] + b"--BOUNDARY_wb_1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment + b"\r\n--BOUNDARY_wb_1--\r\n")
    assert len(huge) > MAX_BYTES
    got = classify_inbound(huge)
    assert got.kind == "dsn" and got.recipients[0].outcome == "hard"
    assert got.detail["truncated"] == "yes"


def test_many_parts_are_bounded():
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(5_000))
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n"
    assert classify_inbound(raw).kind == "other"


def test_not_bytes_is_malformed():
    assert classify_inbound("text").kind == "malformed"  # type: ignore[arg-type]


# --- fuzzing -----------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=2_000, suppress_health_check=[HealthCheck.too_slow])
KINDS = {"dsn", "arf", "auto_reply", "other", "malformed"}


@FUZZ
@given(st.binary(max_size=4_000))
def test_random_bytes_never_raise(raw):
    assert classify_inbound(raw).kind in KINDS


@st.composite
def mutated(draw):
    raw = _raw(draw(st.sampled_from(FILES)))
    op = draw(st.sampled_from(["flip", "truncate", "duplicate_header", "insert"]))
    if not raw:
        return raw
    if op == "flip":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 20))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    if op == "truncate":
        return raw[:draw(st.integers(0, len(raw)))]
    if op == "duplicate_header":
        lines = raw.split(b"\r\n")
        i = draw(st.integers(0, len(lines) - 1))
        return b"\r\n".join([*lines[:i], lines[i], *lines[i:]])
    i = draw(st.integers(0, len(raw)))
    return raw[:i] + draw(st.binary(max_size=200)) + raw[i:]


@FUZZ
@given(mutated())
def test_mutated_corpus_never_raises(raw):
    got = classify_inbound(raw)
    assert got.kind in KINDS
    if got.kind == "malformed":
        assert got.reason


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@st.composite
def random_dsn(draw):
    blocks = []
    for _ in range(draw(st.integers(0, 4))):
        fields = []
        if draw(st.booleans()):
            fields.append("Final-Recipient: " + draw(st.sampled_from(["rfc822; ", "rfc822;", "", "x400; "]))
                          + draw(st.one_of(st.emails(), _text)))
        if draw(st.booleans()):
            fields.append("Action: " + draw(st.sampled_from(["failed", "delayed", "delivered", "relayed", "bogus"])))
        if draw(st.booleans()):
            fields.append("Status: " + draw(st.one_of(
                st.from_regex(r"\A[2-5]\.[0-9]{1,3}\.[0-9]{1,3}\Z"), _text)))
        if draw(st.booleans()):
            fields.append("Diagnostic-Code: smtp; " + draw(_text))
        blocks.append("\r\n".join(fields))
    body = "Reporting-MTA: dns; mx.example.net\r\n\r\n" + "\r\n\r\n".join(blocks)
    raw = ("From: MAILER-DAEMON@example.net\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n--XX\r\n"
           "Content-Type: text/plain\r\n\r\nfailed\r\n--XX\r\nContent-Type: message/delivery-status\r\n\r\n"
           f"{body}\r\n--XX--\r\n")
    return raw.encode("utf-8", errors="surrogateescape")


@FUZZ
@given(random_dsn())
def test_structured_random_dsn(raw):
    got = classify_inbound(raw)
    assert got.kind in {"dsn", "malformed"}
    for r in got.recipients:
        assert r.outcome in {"hard", "soft", "blocked", "delayed", "unknown"}
