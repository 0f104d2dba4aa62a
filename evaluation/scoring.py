"""Score sheets in the room and their aggregation.

Each sitting member fills one sheet: pass/fail with reasons on the qualification criteria, points on the
scored ones, for every opened bid; technical items under blind review are addressed by blind code only.
A sheet may be saved as a draft; once submitted it is locked (409). Nobody sees anyone else's scores
until every sitting member has submitted (R-V1); then the sheets are aggregated by the statutory
formulas (evaluation.aggregation). A member replaced during the evaluation has their sheet void (R-E5).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import permissions
from bidding.models import BidPart, PartOpening, Tender
from core import clock
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid
from evaluation import aggregation, formulas, room, services
from evaluation.models import (
    BlindCode,
    EvaluationReport,
    EvaluationRoom,
    ScoreReview,
    ScoreSheet,
    ScoringScheme,
)


def scheme_of(session: Session, tender: Tender) -> aggregation.Scheme:
    scheme = services.load_scheme(session, tender)
    if scheme is None:
        raise Conflict(_l("This tender has no scoring scheme."), code="scheme_missing")
    return scheme


def blind_addresses(session: Session, tender: Tender) -> tuple[dict[str, uuid.UUID], dict[uuid.UUID, str]]:
    """Blind code -> bid and bid -> code."""
    rows = session.scalars(select(BlindCode).where(BlindCode.tender_id == tender.id)).all()
    return {r.code: r.bid_id for r in rows}, {r.bid_id: r.code for r in rows}


def _hundredths(value: Any) -> int | None:
    """Points as written ("12.5", 12.5, 12) in hundredths; None for anything else (422 upstream)."""
    if isinstance(value, bool):
        return None
    try:
        return formulas.points(value)
    except (ValueError, ArithmeticError):  # more than two decimals, not a number, infinite
        return None


def is_blind(criterion: aggregation.Criterion) -> bool:
    return criterion.part == "technical" and criterion.blind


def _parse(
    session: Session, tender: Tender, scheme: aggregation.Scheme, data: dict
) -> tuple[dict, dict, dict]:
    """The sheet's content by bid id, or 422 naming every bad entry (nothing is kept)."""
    by_code, _codes = blind_addresses(session, tender)
    bids = {b.id for b in room.opened_bids(session, tender)}
    problems: list[dict] = []
    passes: dict[str, dict[str, bool]] = {}
    reasons: dict[str, dict[str, str]] = {}
    points: dict[str, dict[str, int]] = {}

    def bid_for(key: str, blind: bool) -> uuid.UUID | None:
        if blind:
            return by_code.get(key)  # blind items only by code: a bid id here would unmask it
        try:
            bid = uuid.UUID(key)
        except ValueError:
            return None
        return bid if bid in bids else None

    qualification = data.get("qualification") or {}
    scores = data.get("scores") or {}
    if not isinstance(qualification, dict) or not isinstance(scores, dict):
        raise Invalid(_l("qualification and scores are objects."), code="invalid_sheet")
    for key, items in qualification.items():
        bid = bid_for(key, False)
        if bid is None or not isinstance(items, dict):
            problems.append({"bid": key, "code": "unknown_bid"})
            continue
        for name, verdict in items.items():
            criterion = _criterion(scheme, name)
            if criterion is None or criterion.kind != "pass_fail":
                problems.append({"bid": key, "criterion": name, "code": "unknown_criterion"})
                continue
            ok = verdict.get("pass") if isinstance(verdict, dict) else None
            reason = str(verdict.get("reason") or "").strip() if isinstance(verdict, dict) else ""
            if not isinstance(ok, bool):
                problems.append({"bid": key, "criterion": name, "code": "pass_is_boolean"})
            elif not ok and not reason:
                problems.append({"bid": key, "criterion": name, "code": "reason_required"})
            else:
                passes.setdefault(str(bid), {})[name] = ok
                if not ok:
                    reasons.setdefault(str(bid), {})[name] = reason[:1000]
    for key, items in scores.items():
        if not isinstance(items, dict):
            problems.append({"bid": key, "code": "unknown_bid"})
            continue
        for name, value in items.items():
            criterion = _criterion(scheme, name)
            if criterion is None or not criterion.scored:
                problems.append({"bid": key, "criterion": name, "code": "unknown_criterion"})
                continue
            bid = bid_for(key, is_blind(criterion))
            if bid is None:
                problems.append(
                    {
                        "bid": key,
                        "criterion": name,
                        "code": "use_blind_code" if is_blind(criterion) else "unknown_bid",
                    }
                )
                continue
            amount = _hundredths(value)
            if amount is None or not criterion.min_points <= amount <= criterion.max_points:
                problems.append(
                    {
                        "bid": key,
                        "criterion": name,
                        "code": "score_out_of_range",
                        "min": str(Decimal(criterion.min_points) / 100),
                        "max": str(Decimal(criterion.max_points) / 100),
                    }
                )
                continue
            points.setdefault(str(bid), {})[name] = amount
    if problems:
        raise Invalid(
            _l("Some scores are refused: see details."), code="sheet_invalid", details={"problems": problems}
        )
    return passes, reasons, points


def _criterion(scheme: aggregation.Scheme, key: str) -> aggregation.Criterion | None:
    try:
        return scheme.criterion(key)
    except KeyError:
        return None


def _missing(session: Session, tender: Tender, scheme: aggregation.Scheme, sheet: ScoreSheet) -> list[dict]:
    _by_code, codes = blind_addresses(session, tender)
    missing: list[dict[str, str]] = []
    for bid in room.opened_bids(session, tender):
        for criterion in scheme.criteria:
            key = codes[bid.id] if is_blind(criterion) else str(bid.id)
            if criterion.kind == "pass_fail" and criterion.key not in sheet.passes.get(str(bid.id), {}):
                missing.append({"bid": str(bid.id), "criterion": criterion.key})
            elif criterion.scored and criterion.key not in sheet.points.get(str(bid.id), {}):
                missing.append({"bid": key, "criterion": criterion.key})
    return missing


def save(
    session: Session, actor: User, tender: Tender, data: dict, *, submit: bool, ip: str | None = None
) -> ScoreSheet:
    """Save (and with ``submit`` lock) the acting member's sheet."""
    seat = room.member(session, actor, tender)
    scheme = scheme_of(session, tender)
    sheet = session.get(ScoreSheet, (tender.id, seat.id))
    if sheet is not None and sheet.submitted_at is not None:
        raise Conflict(_l("Your sheet is submitted and locked."), code="sheet_submitted")
    passes, reasons, points = _parse(session, tender, scheme, data if isinstance(data, dict) else {})
    if sheet is None:
        sheet = ScoreSheet(tender_id=tender.id, member_id=seat.id, passes={}, reasons={}, points={})
        session.add(sheet)
    # JSON columns change only by assignment: build new dicts.
    sheet.passes = _merge(sheet.passes, passes)
    sheet.points = _merge(sheet.points, points)
    sheet.reasons = _merge(sheet.reasons, reasons)
    for bid, items in passes.items():  # a criterion passed again drops its old failure reason
        for name, ok in items.items():
            if ok:
                sheet.reasons.get(bid, {}).pop(name, None)
    if submit:
        missing = _missing(session, tender, scheme, sheet)
        if missing:
            raise Invalid(
                _l("The sheet is incomplete: see details."),
                code="sheet_incomplete",
                details={"missing": missing},
            )
        sheet.submitted_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.sheet_submitted" if submit else "evaluation.sheet_saved",
        tender,
        {"member": str(seat.id), "entries": sum(len(v) for v in sheet.points.values())},
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    return sheet


def _merge(old: dict, new: dict) -> dict:
    merged = {bid: dict(items) for bid, items in (old or {}).items()}
    for bid, items in new.items():
        merged.setdefault(bid, {}).update(items)
    return merged


def my_sheet(session: Session, actor: User, tender: Tender) -> dict:
    """The member's own sheet as they wrote it: blind items under their codes."""
    seat = room.member(session, actor, tender)
    scheme = scheme_of(session, tender)
    sheet = session.get(ScoreSheet, (tender.id, seat.id))
    _by_code, codes = blind_addresses(session, tender)
    scores: dict[str, dict[str, str]] = {}
    if sheet is not None:
        for bid, items in sheet.points.items():
            for name, value in items.items():
                criterion = _criterion(scheme, name)
                key = codes[uuid.UUID(bid)] if criterion is not None and is_blind(criterion) else bid
                scores.setdefault(key, {})[name] = str(Decimal(value) / 100)
    return {
        "submitted_at": sheet.submitted_at.isoformat() if sheet and sheet.submitted_at else None,
        "qualification": {
            bid: {
                name: {"pass": ok, "reason": ((sheet.reasons if sheet else {}).get(bid) or {}).get(name)}
                for name, ok in items.items()
            }
            for bid, items in (sheet.passes if sheet else {}).items()
        },
        "scores": scores,
    }


@dataclass(frozen=True)
class SheetReasons:
    """What the results need of a submitted sheet beyond its numbers: the failure reasons."""

    reasons: dict


_CACHE_SIZE = 32


def aggregate_room(session: Session, tender: Tender) -> tuple[aggregation.Aggregation, dict, int]:
    """The aggregation of the sitting members' submitted sheets (R-V1: only when all have submitted;
    R-E5: a replaced member's sheet is void); also each sheet's failure reasons by member and how many
    sheets are void.

    Submitted sheets never change, the opening's prices neither; what can still change the result is a
    review or a seat. So the result is kept per (tender, sitting members and their submission times,
    reviews): the room page, shown again and again to every member, aggregates once (R-V1 is checked
    each time all the same, from the cheap columns)."""
    sitting = room.sitting_members(session, tender)
    submitted = dict(
        session.execute(
            select(ScoreSheet.member_id, ScoreSheet.submitted_at).where(
                ScoreSheet.tender_id == tender.id, ScoreSheet.submitted_at.is_not(None)
            )
        ).all()
    )
    waiting = [m for m in sitting if m.id not in submitted]
    if waiting:
        raise Conflict(
            _l("Scores are shown once every member has submitted."),
            code="scores_pending",
            details={"submitted": len(sitting) - len(waiting), "members": len(sitting)},
        )
    reviews = session.execute(
        select(func.count(), func.max(ScoreReview.seq)).where(ScoreReview.tender_id == tender.id)
    ).one()
    key = (
        tender.id,
        tuple(sorted((m.id, submitted[m.id]) for m in sitting)),
        len(submitted),
        tuple(reviews),
    )
    cache = current_app.extensions.setdefault("sunbid.aggregations", OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    found = _aggregate(session, tender, sitting)
    cache[key] = found
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return found


def _aggregate(session: Session, tender: Tender, sitting: list) -> tuple[aggregation.Aggregation, dict, int]:
    scheme = scheme_of(session, tender)
    sheets = {
        s.member_id: s
        for s in session.scalars(
            select(ScoreSheet).where(ScoreSheet.tender_id == tender.id, ScoreSheet.submitted_at.is_not(None))
        )
    }
    opened = room.opened_bids(session, tender)
    ids = [b.id for b in opened]
    prices = dict(  # the commercial part's price as opened, for every bid in one query
        session.execute(
            select(BidPart.bid_id, PartOpening.price_fen)
            .join(PartOpening, PartOpening.part_id == BidPart.id)
            .where(BidPart.bid_id.in_(ids), BidPart.part == "commercial")
        ).all()
    )
    names = dict(
        session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_([b.organization_id for b in opened])
            )
        ).all()
    )
    bids = [
        aggregation.BidEntry(
            str(bid.id), names[bid.organization_id], prices.get(bid.id) or 0, prices.get(bid.id) is not None
        )
        for bid in opened
    ]
    plain = [
        aggregation.Sheet(expert=str(m.id), passes=sheets[m.id].passes, points=sheets[m.id].points)
        for m in sitting
    ]
    coefficient = None
    drawn = services.coefficient_draw(session, tender, get_row(session, ScoringScheme, tender.id))
    if drawn is not None:
        coefficient = Decimal(drawn["value"])
    void = sum(1 for member_id in sheets if member_id not in {m.id for m in sitting})
    result = aggregation.aggregate(scheme, bids, plain, coefficient=coefficient)
    for review in session.scalars(
        select(ScoreReview).where(ScoreReview.tender_id == tender.id).order_by(ScoreReview.seq)
    ):  # R-V4: the recorded reviews, replayed in order on top of the untouched sheets
        result, _diff = aggregation.apply_review(result, _review(review))
    return result, {member: SheetReasons(dict(s.reasons)) for member, s in sheets.items()}, void


def _review(row: ScoreReview) -> aggregation.Review:
    return aggregation.Review(
        row.reason, str(row.member_id), str(row.bid_id), row.criterion, row.points, row.note
    )


def record_review(
    session: Session,
    actor: User,
    tender: Tender,
    *,
    reason: str,
    member_id: uuid.UUID,
    bid_key: str,
    criterion: str | None,
    points: Any,
    note: str,
    ip: str | None = None,
) -> ScoreReview:
    """The chair records a review (复核) the committee agreed, before the report (R-V4)."""

    room.member(session, actor, tender)
    if get_row(session, EvaluationRoom, tender.id).chair_id != actor.id:
        raise Forbidden(_l("The chair records reviews."), code="chair_only")
    if session.get(EvaluationReport, tender.id) is not None:
        raise Conflict(_l("The report is drafted: scores no longer change."), code="report_exists")
    by_code, _codes = blind_addresses(session, tender)
    bid_id = by_code.get(bid_key)
    if bid_id is None:
        try:
            bid_id = uuid.UUID(bid_key)
        except ValueError as exc:
            raise Invalid(_l("No such bid."), code="unknown_bid") from exc
    amount = None if points is None else _hundredths(points)
    if points is not None and amount is None:
        raise Invalid(_l("Points have at most two decimals."), code="invalid_points")
    current, _sheets, _void = aggregate_room(session, tender)
    row = ScoreReview(
        tender_id=tender.id,
        seq=1
        + (session.scalar(select(func.max(ScoreReview.seq)).where(ScoreReview.tender_id == tender.id)) or 0),
        reason=reason,
        member_id=member_id,
        bid_id=bid_id,
        criterion=criterion,
        points=amount,
        note=(note or "").strip()[:2000],
        recorded_by_id=actor.id,
        diff={},
    )
    try:
        _after, diff = aggregation.apply_review(current, _review(row))
    except aggregation.ReviewRefused as exc:
        raise Invalid(
            _l("This review is refused: %(why)s", why=str(exc)), code=exc.code, details={"rule": "R-V4"}
        ) from exc
    row.diff = diff
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.score_reviewed",
        tender,
        diff,
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    return row


def results(session: Session, actor: User, tender: Tender) -> dict:
    """The aggregation for the committee and supervisors, once every member has submitted."""
    if not permissions.oversees(session, actor, tender):
        room.member(session, actor, tender)
    result, sheets, void = aggregate_room(session, tender)
    _by_code, codes = blind_addresses(session, tender)
    body = results_json(result, sheets, void, codes)
    body["reviews"] = [mask(r, codes, blind_keys(result.scheme)) for r in reviews(session, tender)]
    return body


def reviews(session: Session, tender: Tender) -> list[dict]:
    """The recorded reviews' diffs, in order (they go into the report, R-V4)."""
    return [
        {**row.diff, "recorded_at": row.recorded_at.isoformat()}
        for row in session.scalars(
            select(ScoreReview).where(ScoreReview.tender_id == tender.id).order_by(ScoreReview.seq)
        )
    ]


def blind_keys(scheme: aggregation.Scheme) -> set[str]:
    return {c.key for c in scheme.criteria if is_blind(c)}


def mask(item: dict, codes: dict[uuid.UUID, str], blind: set[str]) -> dict:
    """A flag or review about a blind item names the bid by its code, never by its id, and a review's
    diff then leaves out the per-bid totals that would tie the code to a bidder."""
    if item.get("criterion") not in blind or not item.get("bid"):
        return item
    masked = {**item, "bid": codes.get(uuid.UUID(item["bid"]), "?")}
    for key in ("totals", "ranking", "candidates"):
        masked.pop(key, None)
    return masked


def results_json(
    result: aggregation.Aggregation, sheets: dict, void: int, codes: dict[uuid.UUID, str] | None = None
) -> dict:
    scheme, coefficient = result.scheme, result.coefficient
    return {
        "method": scheme.method,
        "coefficient": str(coefficient) if coefficient is not None else None,
        "benchmark_fen": result.benchmark_fen,
        "blocked": result.blocked,
        "candidates": list(result.candidates),
        "results": [
            {
                "bid": r.key,
                "tenderer": r.name,
                "price_fen": r.price_fen,
                "qualified": r.qualified,
                "failed": list(r.failed),
                "reasons": sorted(
                    {
                        reason
                        for s in sheets.values()
                        for name, reason in (s.reasons.get(r.key) or {}).items()
                        if name in r.failed
                    }
                ),
                "technical": _points(r.technical),
                "commercial": _points(r.commercial),
                "price_score": _points(r.price_score),
                "total": _points(r.total),
                "rank": r.rank,
                "tied": r.tied,
            }
            for r in result.results
        ],
        # Flags name members by seat, so a member can find their own outliers; never a blind code.
        "flags": [
            mask(aggregation.flag_json(f), codes or {}, blind_keys(result.scheme)) for f in result.flags
        ],
        "void_sheets": void,
    }


def _points(hundredths: int) -> str:
    return str(Decimal(hundredths) / 100)
