"""Scoring-scheme rules: the tender's agency defines or replaces the scheme while the tender is a draft;
once published it is fixed (changing it would be an amendment) and anyone may read it."""

from __future__ import annotations

import hashlib
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import opening as openings
from bidding import services as bidding
from bidding.models import Opening, Tender
from core import clock
from core.errors import Conflict, Invalid, NotFound
from evaluation.aggregation import Scheme
from evaluation.formulas import coefficient_seed, draw_coefficient
from evaluation.models import ScoringScheme
from evaluation.scheme import SchemeProblems, parse_scheme, scheme_json


def define_scheme(
    session: Session, actor: User, tender_id: uuid.UUID, data: object, ip: str | None = None
) -> ScoringScheme:
    tender = bidding.manageable(session, actor, tender_id)  # the owning agency only (404 otherwise)
    if tender.status != "draft":
        raise Conflict(
            _l("The scoring scheme is fixed once the tender is published."), code="tender_not_draft"
        )
    try:
        scheme, subject = parse_scheme(data, tender.track)
    except SchemeProblems as exc:
        raise Invalid(exc.message, code="scheme_invalid", details={"problems": exc.problems}) from exc
    record = session.get(ScoringScheme, tender.id)
    if record is None:
        record = ScoringScheme(tender_id=tender.id, version=0)
        session.add(record)
    record.method, record.subject = scheme.method, subject
    record.price_formula, record.price_points = scheme.price.formula, scheme.price.full_points
    record.definition = scheme_json(scheme, subject)
    record.version += 1
    record.updated_by_id, record.updated_at = actor.id, clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.scheme_defined",
        tender,
        {"version": record.version, "method": scheme.method, "price_formula": scheme.price.formula},
        ip,
    )
    return record


def readable_scheme(
    session: Session, actor: User | None, tender_id: uuid.UUID
) -> tuple[Tender, ScoringScheme]:
    """A published tender's scheme for anyone; a draft's only for its agency and tenderee."""
    tender = bidding.visible(session, actor, tender_id)
    record = session.get(ScoringScheme, tender.id)
    if record is None:
        raise NotFound(_l("This tender has no scoring scheme yet."), code="scheme_not_found")
    return tender, record


def coefficient_draw(session: Session, tender: Tender, record: ScoringScheme) -> dict | None:
    """The works benchmark's downward coefficient, drawn once the opening's decryption window has closed
    or the opening itself is closed (the prices are final then); None before, or when the scheme has no
    average-price benchmark."""

    if record.price_formula != "average_benchmark":
        return None
    opening = session.get(Opening, tender.id)
    if opening is None or opening.status == "failed" or opening.decrypt_until is None:
        return None
    if clock.now() < opening.decrypt_until and opening.status != "closed":  # prices final either way
        return None
    prices = {row["bid"]: row["price_fen"] for row in openings.record(session, tender)["bids"]}
    seed = coefficient_seed(str(tender.id), prices)
    choices = parse_scheme(record.definition, tender.track)[0].price.coefficients
    return {"value": str(draw_coefficient(seed, choices)), "seed_sha256": hashlib.sha256(seed).hexdigest()}


def load_scheme(session: Session, tender: Tender) -> Scheme | None:
    """The tender's scheme as plain data for the formulas (parsed again: one path from JSON to Scheme)."""
    record = session.get(ScoringScheme, tender.id)
    return None if record is None else parse_scheme(record.definition, tender.track)[0]
