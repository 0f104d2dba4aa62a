"""The periods of a tender's timeline, each decided here and nowhere else (R-T1 to R-T4, R-T6).

Publication checks a timeline against these functions, the services that accept questions, objections,
downloads and decryption keys ask them whether the period is open, and an amendment that moves the
bid deadline (R-T3) moves the periods that hang on it through ``follow_deadline``. Day counts follow
R-T6 (``bidding.calendar``): the first day is not counted, the N-th day is included, and a period whose
last day is not a working day runs to the next working day.

- Documents (R-T2): available from ``documents_from`` for at least 5 days, until ``documents_to``
  (at the latest the bid deadline). Organisations that obtained them keep them, changes included.
- Questions (R-T3): they close by ``clarification_deadline``, at the latest 15 days before the bid
  deadline, so that the answers can go out without moving it.
- Objections to the documents (R-T4): accepted until 10 days before the bid deadline, to the minute
  of the deadline's time of day; when that day is not a working day, until the same time on the next
  working day. A tender may set a later close (more time), never an earlier one.
- Bid deadline (R-T1): at least 20 days after the documents are first issued; an amendment that can
  affect bids moves it to 15 days after the amendment at the earliest (R-T3).
- Decryption window: bidders decrypt online for 30 minutes from the start of the opening.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from bidding.calendar import SHANGHAI, Calendar, local_date
from bidding.models import Tender

MIN_BID_DAYS = 20  # R-T1
MIN_DOCUMENT_DAYS = 5  # R-T2
CHANGE_DAYS = 15  # R-T3: a change that can affect bids comes at least 15 days before the deadline
QUESTION_DAYS = 15  # R-T3: questions close early enough for the answers to come 15 days ahead
OBJECTION_DAYS = 10  # R-T4
ANSWER_DAYS = 3  # R-T4, R-A1: objections are answered within 3 days
DECRYPT_WINDOW = timedelta(minutes=30)

# The fields that hang on the bid deadline and move with it (R-T3 with R-T4).
FOLLOWING = ("documents_to", "clarification_deadline", "objection_deadline")


def _at_time_of(day: date, moment: datetime) -> datetime:
    """``day`` at ``moment``'s Beijing time of day."""
    return datetime.combine(day, moment.astimezone(SHANGHAI).timetz())


# -- documents (R-T2) ---------------------------------------------------------------------------------


def earliest_documents_end(documents_from: datetime, calendar: Calendar) -> date:
    """The first day documents may stop being available: 5 days after they are first issued."""
    return calendar.period_end(local_date(documents_from), MIN_DOCUMENT_DAYS)


def documents_open(tender: Tender, now: datetime) -> bool:
    """Whether the documents can be obtained now by someone who has not obtained them yet."""
    return tender.time_of("documents_from") <= now < tender.time_of("documents_to")


# -- questions (R-T3) ---------------------------------------------------------------------------------


def latest_questions_close(bid_deadline: datetime) -> date:
    return local_date(bid_deadline) - timedelta(days=QUESTION_DAYS)


def questions_open(tender: Tender, now: datetime) -> bool:
    return tender.time_of("documents_from") <= now < tender.time_of("clarification_deadline")


# -- objections to the documents (R-T4) ---------------------------------------------------------------


def statutory_objection_close(bid_deadline: datetime, calendar: Calendar) -> datetime:
    """R-T4 with R-T6: 10 days before the bid deadline, at its time of day; on a day that is not a
    working day, the same time on the next working day (never after the deadline itself)."""
    day = calendar.next_working_day(local_date(bid_deadline) - timedelta(days=OBJECTION_DAYS))
    return min(_at_time_of(day, bid_deadline), bid_deadline)


def objections_close(tender: Tender, calendar: Calendar) -> datetime:
    """When objections to the documents close: the tender's own close, but never before the statute's
    (a tender published before the platform checked this gets the statutory window all the same)."""
    statutory = statutory_objection_close(tender.time_of("bid_deadline"), calendar)
    return max(tender.objection_deadline, statutory) if tender.objection_deadline else statutory


def objections_open(tender: Tender, now: datetime, calendar: Calendar) -> bool:
    return tender.time_of("documents_from") <= now < objections_close(tender, calendar)


def answer_due(raised_at: datetime, calendar: Calendar) -> datetime:
    """An objection is answered within 3 days of being raised (R-T4; publicity R-A1), counted as R-T6."""
    return calendar.closes(raised_at, ANSWER_DAYS)


# -- the bid deadline (R-T1, R-T3) --------------------------------------------------------------------


def earliest_bid_deadline(documents_from: datetime, calendar: Calendar) -> date:
    return calendar.period_end(local_date(documents_from), MIN_BID_DAYS)


def extended_deadline(tender: Tender, issued_at: datetime, calendar: Calendar) -> datetime | None:
    """R-T3: the deadline a change issued at ``issued_at`` requires, when later than the current one
    (the same time of day, on the 15th day after the change or the next working day)."""
    earliest_day = calendar.period_end(local_date(issued_at), CHANGE_DAYS)
    deadline = tender.time_of("bid_deadline")
    if local_date(deadline) >= earliest_day:
        return None
    return _at_time_of(earliest_day, deadline).astimezone(deadline.tzinfo)


def follow_deadline(tender: Tender, new_deadline: datetime, calendar: Calendar) -> dict[str, tuple]:
    """Move the bid deadline and the periods that hang on it by the same time, keeping whatever the
    tender gave beyond the statute; the objection window is at least the statutory one before the new
    deadline (R-T4 follows R-T3). Returns ``{field: (before, after)}`` for what changed."""
    shift = new_deadline - tender.time_of("bid_deadline")
    changes: dict[str, tuple] = {"bid_deadline": (tender.bid_deadline, new_deadline)}
    moved = {name: getattr(tender, name) + shift for name in FOLLOWING if getattr(tender, name)}
    if "documents_to" in moved:
        moved["documents_to"] = min(moved["documents_to"], new_deadline)
    moved["objection_deadline"] = max(
        moved.get("objection_deadline", new_deadline), statutory_objection_close(new_deadline, calendar)
    )
    tender.bid_deadline = new_deadline
    for name, value in moved.items():
        before = getattr(tender, name)
        if value != before:
            changes[name] = (before, value)
            setattr(tender, name, value)
    return changes


# -- the opening -----------------------------------------------------------------------------------


def decryption_closes(started_at: datetime) -> datetime:
    """Bidders decrypt online until 30 minutes after the opening starts."""
    return started_at + DECRYPT_WINDOW


# -- publication: every rule the timeline breaks ------------------------------------------------------

TIMELINE = ("documents_from", "documents_to", "clarification_deadline", "objection_deadline", "bid_deadline")


def problems(tender: Tender, calendar: Calendar, now: datetime) -> list[dict]:
    """Every timeline rule the tender breaks, each with its rule id and the allowed limit."""
    t = {name: getattr(tender, name) for name in TIMELINE}
    missing = [name for name, value in t.items() if value is None]
    if missing:
        return [{"field": name, "rule": None, "code": "missing"} for name in missing]
    found = []
    if t["documents_from"] < now - timedelta(minutes=5):
        found.append({"field": "documents_from", "rule": None, "code": "in_the_past"})
    earliest_docs_end = earliest_documents_end(t["documents_from"], calendar)
    if local_date(t["documents_to"]) < earliest_docs_end:
        found.append(
            {
                "field": "documents_to",
                "rule": "R-T2",
                "code": "too_early",
                "earliest": earliest_docs_end.isoformat(),
            }
        )
    earliest_deadline = earliest_bid_deadline(t["documents_from"], calendar)
    if local_date(t["bid_deadline"]) < earliest_deadline:
        found.append(
            {
                "field": "bid_deadline",
                "rule": "R-T1",
                "code": "too_early",
                "earliest": earliest_deadline.isoformat(),
            }
        )
    if t["documents_to"] > t["bid_deadline"]:
        found.append({"field": "documents_to", "rule": None, "code": "after_bid_deadline"})
    statutory = statutory_objection_close(t["bid_deadline"], calendar)
    if t["objection_deadline"] < statutory:  # R-T4: more time may be given, never less
        found.append(
            {
                "field": "objection_deadline",
                "rule": "R-T4",
                "code": "too_early",
                "earliest": statutory.astimezone(SHANGHAI).isoformat(),
            }
        )
    elif t["objection_deadline"] > t["bid_deadline"]:
        found.append({"field": "objection_deadline", "rule": "R-T4", "code": "after_bid_deadline"})
    latest_questions = latest_questions_close(t["bid_deadline"])
    if (
        local_date(t["clarification_deadline"]) > latest_questions
        or t["clarification_deadline"] < t["documents_from"]
    ):
        found.append(
            {
                "field": "clarification_deadline",
                "rule": "R-T3",
                "code": "out_of_window",
                "latest": latest_questions.isoformat(),
            }
        )
    return found


def rules() -> tuple[str, list[tuple[str, str]]]:
    """The timeline's periods in words, for the rules page (the numbers are the ones enforced here)."""
    items = [
        (
            "R-T1",
            _l(
                "The bid deadline is at least %(n)s days after the tender documents are first issued.",
                n=MIN_BID_DAYS,
            ),
        ),
        (
            "R-T2",
            _l(
                "The documents are available for at least %(n)s days. A tenderer obtains them within that "
                "period and keeps them, and every later clarification and amendment, afterwards.",
                n=MIN_DOCUMENT_DAYS,
            ),
        ),
        (
            "R-T3",
            _l(
                "A clarification or amendment that can affect bids comes at least %(n)s days before the bid "
                "deadline; otherwise the deadline moves to make it so, and the periods that hang on it "
                "(documents, questions, objections) move with it. Questions close at least %(q)s days before "
                "the deadline, so that the answers need not move it.",
                n=CHANGE_DAYS,
                q=QUESTION_DAYS,
            ),
        ),
        (
            "R-T4",
            _l(
                "Objections to the tender documents are accepted until %(n)s days before the bid "
                "deadline, at the deadline's time of day; when that day is a weekend or holiday, until the "
                "same time on the next working day. A tender may allow more time, never less. The agency "
                "answers within %(a)s days, and the tender is paused until it does.",
                n=OBJECTION_DAYS,
                a=ANSWER_DAYS,
            ),
        ),
        (
            "R-T5",
            _l(
                "The bids are opened online at the bid deadline; bidders decrypt their own bids within "
                "%(m)s minutes of the start of the opening.",
                m=int(DECRYPT_WINDOW.total_seconds() // 60),
            ),
        ),
        (
            "R-T6",
            _l(
                "Days are counted from the day after the event: the first day is not counted and the last "
                "one is included. A period whose last day is a weekend or holiday ends on the next working "
                "day, by the holiday calendar (with its working weekends). A period counted in days ends at "
                "midnight after its last day."
            ),
        ),
    ]
    return str(_l("Timeline")), [(rule, str(text)) for rule, text in items]
