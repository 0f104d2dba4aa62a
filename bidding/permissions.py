"""Who may act on a tender, and see what of its bids and deposits, by person, role and phase (one
place decides it).

Rights on a tender are per person: the agency staff assigned to it run it, the supervisors assigned to
it oversee it (``TenderAssignment``); a colleague in the same organisation who is not assigned has no
more rights than the public. The creator of a draft is assigned to it; publication assigns the
supervising custodian; assigned people may assign colleagues of their own organisation.

Before the bid deadline nobody but the owner learns anything about a bid or a deposit, not even how many
there are (R-B4; a deposit would tell who intends to bid). After it, the tender's assigned agency staff
and supervisors see all of them; the opening record is also shown to every bidder (R-B7).
"""

from __future__ import annotations

import uuid
from enum import Enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from audit import seals
from bidding.bidders import has_submitted_bid
from bidding.lifecycle import deadline_passed
from bidding.models import Tender, TenderAssignment
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.roles import Role


def bid_scope(tender_id: uuid.UUID) -> str:
    """The audit seal over everything that tells who bid on ``tender`` (R-B4): bids, parts, deposits,
    withdrawals, downloads and questions. Revealed at the bid deadline (``reveal_with_deadline``)."""
    return seals.tender_scope(tender_id)


def reveal_with_deadline(session: Session, tender: Tender) -> None:
    """Keep the seal on the tender's bidders until its (possibly amended) bid deadline."""
    seals.set_reveal(session, bid_scope(tender.id), tender.bid_deadline)


def committee_scope(tender_id: uuid.UUID) -> str:
    """The audit seal over everything that names the tender's committee (R-E4); the experts package
    reveals it when the draws are disclosed."""
    return seals.committee_scope(tender_id)


def committee_disclosed(session: Session, tender: Tender) -> bool:
    return seals.is_revealed(session, committee_scope(tender.id))


class Scope(Enum):
    OWN = "own"  # the actor's own organisation only
    ALL = "all"  # every one (after the deadline)
    SEALED = "sealed"  # nothing yet, not even a count


# -- assignments: rights per person --------------------------------------------------------------------

AGENCY, SUPERVISOR = "agency", "supervisor"
ASSIGNABLE = {AGENCY: Role.AGENCY, SUPERVISOR: Role.SUPERVISOR}


def assignment(session: Session, actor: User | None, tender: Tender) -> TenderAssignment | None:
    if actor is None or getattr(actor, "id", None) is None:
        return None
    return session.get(TenderAssignment, (tender.id, actor.id))


def runs(session: Session, actor: User | None, tender: Tender) -> bool:
    """``actor`` is agency staff assigned to run ``tender``."""
    row = assignment(session, actor, tender)
    return (
        row is not None
        and row.kind == AGENCY
        and actor is not None
        and actor.role == Role.AGENCY
        and actor.organization_id == tender.agency_id
        and actor.active
    )


def oversees(session: Session, actor: User | None, tender: Tender) -> bool:
    """``actor`` is a supervisor assigned to oversee ``tender``."""
    row = assignment(session, actor, tender)
    return row is not None and row.kind == SUPERVISOR and actor is not None and actor.role == Role.SUPERVISOR


def is_tenderee(actor: User | None, tender: Tender) -> bool:
    """``actor`` works for the tender's tenderee (招标人), who owns it."""
    return actor is not None and actor.role == Role.TENDEREE and actor.organization_id == tender.tenderee_id


def require_runs(session: Session, actor: User, tender: Tender) -> None:
    """Refuse unless ``actor`` runs the tender: 403 for the agency's other staff, 404 for the rest (a
    draft is not public, and nobody needs to learn which agency runs what)."""
    if runs(session, actor, tender):
        return
    if actor.role == Role.AGENCY and actor.organization_id == tender.agency_id and tender.status != "draft":
        raise Forbidden(_l("Only the agency staff assigned to this tender act on it."), code="not_assigned")
    raise NotFound(_l("No such tender."), code="tender_not_found")


def require_oversees(session: Session, actor: User, tender: Tender) -> None:
    if not oversees(session, actor, tender):
        raise Forbidden(_l("Only the supervisors assigned to this tender oversee it."), code="not_assigned")


def team(session: Session, tender: Tender) -> list[tuple[TenderAssignment, User]]:
    return list(
        session.execute(
            select(TenderAssignment, User)
            .join(User, User.id == TenderAssignment.user_id)
            .where(TenderAssignment.tender_id == tender.id)
            .order_by(TenderAssignment.kind, User.display_name)
        ).all()
    )


def assign(
    session: Session,
    actor: User | None,
    tender: Tender,
    user: User,
    kind: str,
    ip: str | None = None,
) -> TenderAssignment:
    """Assign ``user`` to ``tender``. ``actor`` None is the platform itself (the creator of a draft, the
    supervising custodian at publication); otherwise the actor must already be assigned with the same
    kind and belong to the same organisation as ``user`` (or be an administrator)."""
    role = ASSIGNABLE.get(kind)
    if role is None or user.role != role or not user.active:
        raise Invalid(
            _l("Only active agency staff or supervisors can be assigned."),
            code="invalid_assignee",
            details={"field": "user"},
        )
    if kind == AGENCY and user.organization_id != tender.agency_id:
        raise Invalid(
            _l("Only staff of the tender's agency can run it."),
            code="invalid_assignee",
            details={"field": "user"},
        )
    if actor is not None and actor.role != Role.ADMIN:
        row = assignment(session, actor, tender)
        if row is None or row.kind != kind or actor.organization_id != user.organization_id:
            raise Forbidden(
                _l("Only people assigned to this tender assign colleagues of their own organisation."),
                code="not_assigned",
            )
    existing = session.get(TenderAssignment, (tender.id, user.id))
    if existing is not None:
        return existing
    row = TenderAssignment(
        tender_id=tender.id, user_id=user.id, kind=kind, assigned_by_id=actor.id if actor else None
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "bidding.person_assigned", tender, {"user": str(user.id), "kind": kind}, ip)
    return row


def unassign(session: Session, actor: User, tender: Tender, user: User, ip: str | None = None) -> None:
    """Take ``user`` off the tender; a tender keeps at least one person of each kind it has."""
    row = session.get(TenderAssignment, (tender.id, user.id))
    if row is None:
        raise NotFound(_l("This person is not assigned to the tender."), code="assignment_not_found")
    if actor.role != Role.ADMIN:
        mine = assignment(session, actor, tender)
        if mine is None or mine.kind != row.kind or actor.organization_id != user.organization_id:
            raise Forbidden(
                _l("Only people assigned to this tender assign colleagues of their own organisation."),
                code="not_assigned",
            )
    others = [a for a, _u in team(session, tender) if a.kind == row.kind and a.user_id != user.id]
    if not others:
        raise Conflict(
            _l("Assign someone else first: the tender cannot be left without anyone to run it."),
            code="last_assignee",
        )
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "bidding.person_unassigned", tender, {"user": str(user.id), "kind": row.kind}, ip
    )


def assigned_tenders(actor: User):
    """A query of the tender ids ``actor`` is assigned to (for dashboards and lists)."""
    return select(TenderAssignment.tender_id).where(TenderAssignment.user_id == actor.id)


# -- what each may see ----------------------------------------------------------------------------------


def sealed_scope(session: Session, actor: User, tender: Tender) -> Scope:
    """What ``actor`` may list of the tender's bids or deposits now: a tenderer its own; the assigned
    agency staff and supervisors, nothing before the deadline and everything after it."""
    if actor.role == Role.TENDERER:
        return Scope.OWN
    if actor.role == Role.AGENCY:
        require_runs(session, actor, tender)
    elif actor.role == Role.SUPERVISOR:
        require_oversees(session, actor, tender)
    else:
        raise NotFound(_l("No such tender."), code="tender_not_found")
    if not deadline_passed(tender):
        return Scope.SEALED
    return Scope.ALL


def may_see_opening_record(session: Session, actor: User | None, tender: Tender) -> bool:
    """Bidders, the tender's assigned agency staff and supervisors (R-B7)."""
    if actor is None:
        return False
    if runs(session, actor, tender) or oversees(session, actor, tender):
        return True
    return actor.role == Role.TENDERER and has_submitted_bid(session, tender.id, actor.organization_id)


def may_see_downloads(session: Session, actor: User | None, tender: Tender) -> bool:
    """R-T2: before the deadline only the agency (its assigned staff) and the tenderee learn who (or how
    many) downloaded; the assigned supervisors may look afterwards (collusion inquiries)."""
    if actor is None:
        return False
    if runs(session, actor, tender):
        return True
    if is_tenderee(actor, tender):
        return True
    return oversees(session, actor, tender) and deadline_passed(tender)
