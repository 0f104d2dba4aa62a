"""Who may see what of a tender's bids and deposits, by role and phase (one place decides it).

Before the bid deadline nobody but the owner learns anything about a bid or a deposit, not even how many
there are (R-B4; a deposit would tell who intends to bid). After it, the tender's agency and supervisors
see all of them; the opening record is also shown to every bidder (R-B7).
"""

from __future__ import annotations

from enum import Enum

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from accounts.models import User
from bidding.bidders import has_submitted_bid
from bidding.models import Tender
from core import clock
from core.errors import NotFound
from core.roles import Role


class Scope(Enum):
    OWN = "own"  # the actor's own organisation only
    ALL = "all"  # every one (after the deadline)
    SEALED = "sealed"  # nothing yet, not even a count


def sealed_scope(actor: User, tender: Tender) -> Scope:
    """What ``actor`` may list of the tender's bids or deposits now; 404 for another agency."""
    if actor.role == Role.TENDERER:
        return Scope.OWN
    if actor.role == Role.AGENCY and actor.organization_id != tender.agency_id:
        raise NotFound(_l("No such tender."), code="tender_not_found")
    if clock.now() < tender.bid_deadline:
        return Scope.SEALED
    return Scope.ALL


def may_see_opening_record(session: Session, actor: User | None, tender: Tender) -> bool:
    """Bidders, the tender's agency and supervisors (R-B7)."""
    if actor is None:
        return False
    if actor.role == Role.SUPERVISOR or (
        actor.role == Role.AGENCY and actor.organization_id == tender.agency_id
    ):
        return True
    return actor.role == Role.TENDERER and has_submitted_bid(session, tender.id, actor.organization_id)


def may_see_downloads(actor: User | None, tender: Tender) -> bool:
    """R-T2: before the deadline only the agency and the tenderee learn who (or how many) downloaded;
    supervisors may look afterwards (collusion inquiries)."""
    if actor is None:
        return False
    org = getattr(actor, "organization_id", None)
    if org is not None and org in (tender.agency_id, tender.tenderee_id) and actor.role != Role.TENDERER:
        return True
    return (
        actor.role == Role.SUPERVISOR
        and tender.bid_deadline is not None
        and clock.now() >= tender.bid_deadline
    )
