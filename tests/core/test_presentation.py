"""The presentation layer (issue 13): one label registry, one time formatter, one money module."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import CheckConstraint

from core import labels
from core.db import Base
from core.errors import Invalid
from core.money import AmountError, format_money, parse_yuan, yuan_input
from core.present import error_text, problem_text, when


def _enumerated_columns() -> dict[str, list[str]]:
    """Every ``column IN (...)`` CheckConstraint of the schema: the values a page may have to show."""
    found = {}
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                match = re.fullmatch(
                    r"(?:\w+ IS NULL OR )?(\w+) IN \((.*)\)", str(constraint.sqltext).strip()
                )
                if match and re.findall(r"'([^']*)'", match.group(2)):
                    found[f"{table.name}.{match.group(1)}"] = re.findall(r"'([^']*)'", match.group(2))
    return found


def test_every_enumerated_column_value_has_a_label_in_both_languages(app):
    columns = _enumerated_columns()
    assert "deposits.status" in columns and "report_signatures.decision" in columns
    with app.test_request_context():
        for kind, values in columns.items():
            for value in values:
                assert labels.has(kind, value), f"no label for {kind}:{value}"
                with force_locale("zh_CN"):
                    chinese = labels.label(kind, value)
                with force_locale("en"):
                    english = labels.label(kind, value)
                # Translated: the Chinese words are not the English ones, and neither is the raw value
                # when the value is a code (snake_case).
                assert chinese != english, f"{kind}:{value} is not translated"
                assert re.search(r"[\u4e00-\u9fff]", chinese), f"{kind}:{value} has no Chinese words"
                assert "_" not in english


def _recorded_actions() -> set[str]:
    """Every action string the source passes to audit.record (or to the sign-in refusal that records)."""
    root = Path(__file__).resolve().parents[2]
    actions = {"bidding.amendment_issued", "bidding.clarification_issued"}  # f"bidding.{kind}_issued"
    for package in ("accounts", "audit", "bidding", "credit", "evaluation", "experts"):
        for source in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name not in ("record", "_refuse"):
                    continue
                for arg in node.args:
                    for leaf in ast.walk(arg):
                        if (
                            isinstance(leaf, ast.Constant)
                            and isinstance(leaf.value, str)
                            and re.fullmatch(r"[a-z]+\.[a-z_]+", leaf.value)
                        ):
                            actions.add(leaf.value)
    return actions | {"accounts.sign_in_failed", "accounts.totp_failed"}


def test_every_audit_action_recorded_by_the_code_has_words(app):
    """The supervisor's trail reads in words (R-R1): every action the code records has a label."""
    actions = _recorded_actions()
    assert "bidding.bid_submitted" in actions and len(actions) > 80
    missing = sorted(a for a in actions if not labels.has("audit.action", a))
    assert not missing
    with app.test_request_context(), force_locale("zh_CN"):
        assert labels.label("audit.action", "bidding.bid_submitted") == "递交了投标文件"
        untranslated = [
            a for a in actions if not re.search(r"[\u4e00-\u9fff]", labels.label("audit.action", a))
        ]
        assert not untranslated


def test_a_missing_label_is_an_error_not_a_raw_value(app):
    with app.test_request_context():
        with pytest.raises(labels.MissingLabel):
            labels.label("deposits.status", "no_such_status")
        assert labels.label("deposits.status", None) == "—"


def test_registering_a_value_twice_with_other_words_is_refused():
    labels.register("test.kind", {"a": "A"})
    with pytest.raises(ValueError):
        labels.register("test.kind", {"a": "other"})


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("zh_CN", "2027年2月4日 01:00"), ("en", "4 Feb 2027, 01:00")],
)
def test_a_time_near_midnight_utc_shows_the_beijing_date(app, locale, expected):
    """The award page's contract deadline: 17:00 UTC on 3 February is 01:00 on 4 February in Beijing."""
    with app.test_request_context(), force_locale(locale):
        assert when(datetime(2027, 2, 3, 17, 0, tzinfo=UTC)) == expected
        assert when("2027-02-03T17:00:00+00:00") == expected  # as JSON payloads carry it
        assert when(datetime(2027, 2, 3, 17, 0)) == expected  # naive means UTC (SQLite)


def test_time_styles_and_dates(app):
    with app.test_request_context():
        with force_locale("zh_CN"):
            moment = datetime(2026, 12, 31, 16, 30, 5, tzinfo=UTC)  # 2027-01-01 00:30:05 in Beijing
            assert when(moment, "seconds") == "2027年1月1日 00:30:05"
            assert when(moment, "date") == "2027年1月1日"
            assert when(moment, "short") == "1月1日 00:30"
            assert when(date(2027, 3, 1)) == "2027年3月1日"  # a calendar day is not shifted
            assert when("2027-03-01") == "2027年3月1日"
            assert when(None) == ""
        with force_locale("en"):
            assert when(date(2027, 3, 1)) == "1 Mar 2027"


def test_money_is_parsed_and_shown_without_floats(app):
    assert parse_yuan("1,234,567.89") == 123456789
    assert parse_yuan(" ¥0.1 ") == 10
    assert parse_yuan("") is None
    for bad in ("1.234", "-1", "abc", "NaN", "Infinity"):
        with pytest.raises(AmountError):
            parse_yuan(bad)
    assert yuan_input(4865000000) == "48650000.00"
    assert yuan_input(5) == "0.05"
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert format_money(4865000000) == "¥48,650,000.00"
        with force_locale("en"):
            assert format_money(4865000000) == "CN¥48,650,000.00"
        assert format_money(None) == "—"


def test_errors_read_as_sentences_naming_the_field(app):
    with app.test_request_context(), force_locale("zh_CN"):
        problem = {
            "field": "lots[2].deposit",
            "rule": "R-D1",
            "code": "deposit_over_cap",
            "max_fen": 1_000_000,
        }
        text = problem_text(problem)
        assert (
            text
            == "标段 第 2 项 · 投标保证金：投标保证金超过估算价的百分之二（R-D1）。；最多 ¥10,000.00；R-D1"
        )
        assert "deposit_over_cap" not in text
        timeline = problem_text(
            {"field": "bid_deadline", "rule": "R-T1", "code": "too_early", "earliest": "2027-03-01"}
        )
        assert (
            timeline.startswith("投标截止时间：")
            and "2027年3月1日" in timeline
            and "too_early" not in timeline
        )
        coded = Invalid(code="conflict")  # no message: the code's sentence, never the code
        assert error_text(coded) == "当前状态下不能进行此操作。"
