"""The agency's steps on one tender, as a checklist that links each step's page (issue 17: "the agency's
steps as pages"). Each package contributes the steps its records decide (documents and publication
here, the draw in experts, the scheme, committee and award in evaluation) through ``register``; the
tender page shows them in order, done or to do, for the staff who run the tender.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import Session

from accounts.models import User
from bidding.models import Tender


@dataclass(frozen=True)
class Step:
    order: int
    key: str  # a label in the "step" kind (core.labels)
    done: bool
    url: str | None  # where to do it (None: not yet possible)


Contributor = Callable[[Session, User, Tender], list[Step]]


def register(app, contributor: Contributor) -> None:
    app.extensions.setdefault("sunbid.tender_steps", []).append(contributor)


def steps_for(session: Session, actor: User, tender: Tender) -> list[Step]:
    found: list[Step] = []
    for contributor in current_app.extensions.get("sunbid.tender_steps", []):
        found += contributor(session, actor, tender)
    return sorted(found, key=lambda s: s.order)


def bidding_steps(session: Session, actor: User, tender: Tender) -> list[Step]:
    """Documents, custodians and publication (draft); the opening and its record (after the deadline)."""
    from flask import url_for

    from bidding import documents, lifecycle
    from bidding.models import Opening

    notice = url_for("bidding.notice", tender_id=tender.id)
    published = tender.status != lifecycle.TenderStatus.DRAFT
    opening = session.get(Opening, tender.id)
    return [
        Step(
            10,
            "edit_draft",
            published,
            url_for("bidding.edit_tender", tender_id=tender.id) if not published else None,
        ),
        Step(
            20,
            "documents",
            bool(documents.documents(session, tender, issued_only=False)),
            notice + "#documents",
        ),
        Step(40, "custodians", published, None if published else notice + "#publish"),
        Step(50, "publish", published, None if published else notice + "#publish"),
        Step(
            60,
            "opening",
            opening is not None and opening.status == lifecycle.OpeningStatus.CLOSED,
            notice + "#opening-record" if lifecycle.deadline_passed(tender) else None,
        ),
    ]
