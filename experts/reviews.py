"""Post-evaluation reviews (一标一评, R-R4): after each evaluation the supervisor rates each expert who sat
(punctuality, independence, competence, discipline, 1 to 5, with notes), with the facts the evaluation
recorded attached; reviews and conduct records make the expert's credit score, and repeated poor
reviews suspend the expert from draws."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import permissions
from bidding.models import Tender
from core import clock
from core.errors import Conflict, Forbidden, Invalid
from credit.services import conduct_penalty_points
from experts.models import REVIEW_ASPECTS, Expert, ExpertReview

POOR = 2.5  # a review averaging below this is poor
POOR_LIMIT = 2  # this many poor reviews ...
POOR_WINDOW = timedelta(days=365)  # ... within a year suspend the expert from draws
SCORE_YEARS = 3


def _facts(session: Session, tender: Tender, expert: Expert) -> dict | None:
    """The evaluation's facts about this expert (evaluation registers the provider: it builds on us)."""
    provider = current_app.extensions.get("sunbid.evaluation_facts")
    if provider is None or expert.user_id is None:
        return None
    return next((f for f in provider(session, tender) if f["user"] == str(expert.user_id)), None)


def record(
    session: Session,
    actor: User,
    expert: Expert,
    tender: Tender,
    ratings: dict,
    notes: str = "",
    ip: str | None = None,
) -> ExpertReview:
    if not permissions.oversees(session, actor, tender):
        raise Forbidden(_l("The tender's supervisors review its experts."), code="role_forbidden")
    facts = _facts(session, tender, expert)
    if facts is None:
        raise Conflict(_l("This expert did not sit on this tender's committee."), code="not_on_committee")
    bad = [a for a in REVIEW_ASPECTS if not isinstance(ratings.get(a), int) or not 1 <= ratings[a] <= 5]
    if bad:
        raise Invalid(_l("Rate each aspect from 1 to 5."), code="invalid_rating", details={"fields": bad})
    if session.scalar(
        select(ExpertReview.id).where(
            ExpertReview.expert_id == expert.id, ExpertReview.tender_id == tender.id
        )
    ):
        raise Conflict(_l("This expert is already reviewed for this tender."), code="already_reviewed")
    review = ExpertReview(
        expert_id=expert.id,
        tender_id=tender.id,
        reviewer_id=actor.id,
        notes=(notes or "").strip()[:4000],
        facts=facts,
        **{a: ratings[a] for a in REVIEW_ASPECTS},
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        actor,
        "experts.reviewed",
        expert,
        {"tender": str(tender.id), **{a: ratings[a] for a in REVIEW_ASPECTS}, "rule": "R-R4"},
        ip,
    )
    _suspend_if_repeatedly_poor(session, actor, expert, ip)
    return review


def average(review: ExpertReview) -> float:
    return sum(getattr(review, a) for a in REVIEW_ASPECTS) / len(REVIEW_ASPECTS)


def _suspend_if_repeatedly_poor(session: Session, actor: User, expert: Expert, ip: str | None) -> None:
    since = clock.now() - POOR_WINDOW
    poor = [
        r
        for r in session.scalars(
            select(ExpertReview).where(ExpertReview.expert_id == expert.id, ExpertReview.created_at >= since)
        )
        if average(r) < POOR
    ]
    if len(poor) >= POOR_LIMIT and expert.status == "active":
        expert.status = "suspended"  # draws skip suspended experts (R-E3) until an admin reinstates them
        session.flush()
        audit.record(
            session, actor, "experts.suspended", expert, {"reason": "poor_reviews", "reviews": len(poor)}, ip
        )


def credit_score(session: Session, expert: Expert, at: datetime | None = None) -> dict:
    """100, plus or minus 2 points per review step away from 3 (averaged per review), minus the conduct
    records' points (credit); between 0 and 100. Reviews and records of the last 3 years count."""

    at = at or clock.now()
    since = at - timedelta(days=365 * SCORE_YEARS)
    reviews = session.scalars(
        select(ExpertReview).where(
            ExpertReview.expert_id == expert.id,
            ExpertReview.created_at > since,
            ExpertReview.created_at <= at,
        )
    ).all()
    from_reviews = round(sum((average(r) - 3) * 2 for r in reviews), 1)
    penalty = conduct_penalty_points(session, "expert", expert.id, at)
    return {
        "score": max(0.0, min(100.0, 100 + from_reviews - penalty)),
        "from_reviews": from_reviews,
        "conduct_points": penalty,
        "reviews": len(reviews),
    }
