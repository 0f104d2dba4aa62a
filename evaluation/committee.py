"""The committee's composition over the evaluation (R-E1, R-E4, R-E5): seating it from the draws with the
tenderee's representative chosen from a list, the seats a withdrawal leaves empty, the replacement draw
for them and seating the replacement, and the rule that no report is drafted, signed or closed while
fewer members sit than R-E1 requires.

The size rule itself is ``experts.draws.committee_problems`` (one place decides it); here it is applied
to the members who actually sit.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import permissions
from bidding.models import Tender
from core import clock
from core.errors import Conflict, Forbidden, Invalid
from core.roles import Role
from evaluation import room
from evaluation.models import EvaluationRoom, MemberKind, RoomMember
from experts import calls, draws
from experts.eligibility import Criteria
from experts.models import Call, Draw, Expert


def problems(session: Session, tender: Tender) -> list[dict]:
    """What R-E1 finds wrong with the members sitting now (a withdrawn member no longer sits)."""
    sitting = room.sitting_members(session, tender)
    experts = sum(1 for m in sitting if m.kind == MemberKind.EXPERT)
    return draws.committee_problems(tender, experts, len(sitting) - experts)


def require_quorum(session: Session, tender: Tender) -> None:
    """R-E1 (with R-E5): the report waits while the committee is short of members."""
    found = problems(session, tender)
    if found:
        sitting = len(room.sitting_members(session, tender))
        raise Conflict(
            _l(
                "Only %(n)s members sit: the committee must be complete again (R-E1) before the report "
                "is drafted, signed or closed. A replacement is drawn for the member who withdrew.",
                n=sitting,
            ),
            code="committee_incomplete",
            details={"rule": "R-E1", "sitting": sitting, "problems": found},
        )


def representatives(session: Session, tender: Tender) -> list[User]:
    """The tenderee's active staff the agency may seat as its one representative (R-E1)."""
    return list(
        session.scalars(
            select(User)
            .where(User.organization_id == tender.tenderee_id, User.role == Role.TENDEREE, User.active)
            .order_by(User.display_name)
        )
    )


def representative_by_name(session: Session, tender: Tender, username: str | None) -> User | None:
    """The representative named by user name (or nothing); only the tenderee's own staff qualify."""
    if not username:
        return None
    user = next((u for u in representatives(session, tender) if u.username == username.strip()), None)
    if user is None:
        raise Invalid(
            _l("The representative must be one of the tenderee's staff."),
            code="invalid_representative",
            details={"field": "representative"},
        )
    return user


def _specialty_of(session: Session, tender: Tender, user_id) -> str | None:
    """The specialty whose seat the expert with account ``user_id`` took: from the call they accepted
    (sealed; matched by the expert's tag)."""
    expert = session.scalar(select(Expert).where(Expert.user_id == user_id))
    if expert is None:
        return None
    return session.scalar(
        select(Call.specialty_code)
        .join(Draw, Draw.id == Call.draw_id)
        .where(Draw.tender_id == tender.id, Call.expert_tag == calls.expert_tag(expert.id))
        .where(Call.status == "accepted")
        .limit(1)
    )


def accepted_unseated(session: Session, tender: Tender) -> list[Expert]:
    """Experts who accepted a call for this tender and have no seat yet (a replacement to seat)."""
    seated = set(session.scalars(select(RoomMember.user_id).where(RoomMember.tender_id == tender.id)))
    found = []
    for draw in draws.draws_for(session, tender):
        for call in calls.calls_for(session, draw):
            if call.status == "accepted":
                expert = session.get(Expert, calls.called_expert(call))
                if expert is not None and expert.user_id not in seated:
                    found.append(expert)
    return found


def vacancies(session: Session, tender: Tender) -> dict[str, int]:
    """Seats of withdrawn experts that nobody fills or is being called to fill, by specialty (R-E5).

    A seat is filled by a replacement seated later (``seated_at`` set), held by an expert who accepted
    and waits to be seated, or by a replacement draw still calling (one whose list ran dry holds
    nothing: its seat is empty again and another replacement draw may be requested)."""
    left: Counter = Counter()
    for m in session.scalars(select(RoomMember).where(RoomMember.tender_id == tender.id)):
        if m.kind != MemberKind.EXPERT:
            continue
        if m.replaced_at is not None:
            left[_specialty_of(session, tender, m.user_id)] += 1
        elif m.seated_at is not None:
            left[_specialty_of(session, tender, m.user_id)] -= 1
    for expert in accepted_unseated(session, tender):
        left[_specialty_of(session, tender, expert.user_id)] -= 1
    for draw in draws.draws_for(session, tender):
        if draw.status == "committed":
            held = dict(draw.criteria["specialties"])
        elif draw.formed_at is None and not draw.shortfall:
            held = {c: n - calls.accepted(session, draw, c) for c, n in draw.criteria["specialties"].items()}
        else:
            continue
        for code, n in held.items():
            left[code] -= n
    return {code: n for code, n in left.items() if code is not None and n > 0}


def request_replacement(
    session: Session,
    actor: User,
    tender: Tender,
    seats: dict[str, int],
    *,
    supervisor: User,
    evaluation_at: datetime,
    evaluation_place: str,
    ip: str | None = None,
) -> Draw:
    """R-E5: a draw for any number (at least one) of the seats a withdrawal left empty, witnessed and
    verifiable like the first; nobody already called for this tender is drawn again."""
    if not permissions.runs(session, actor, tender):
        raise Forbidden(_l("The tender's agency requests the draw."), code="role_forbidden")
    open_seats = vacancies(session, tender)
    wanted = {code: n for code, n in seats.items() if n}
    if not open_seats:
        raise Conflict(_l("No seat is empty: nobody has withdrawn."), code="no_vacancy")
    if not wanted or any(n > open_seats.get(code, 0) for code, n in wanted.items()):
        raise Invalid(
            _l("Draw for the empty seats only: %(seats)s.", seats=_seats_text(open_seats)),
            code="replacement_exceeds_vacancies",
            details={"vacancies": open_seats, "field": "count"},
        )
    return draws.request_draw(
        session,
        actor,
        tender,
        Criteria(wanted, backups=min(2, draws.MAX_BACKUPS)),
        representatives=0,
        supervisor=supervisor,
        evaluation_at=evaluation_at,
        evaluation_place=evaluation_place,
        vacancies=open_seats,
        ip=ip,
    )


def _seats_text(seats: dict[str, int]) -> str:
    return ", ".join(f"{code} × {n}" for code, n in sorted(seats.items()))


def seat_replacements(
    session: Session, actor: User, tender: Tender, ip: str | None = None
) -> list[RoomMember]:
    """Seat the experts who accepted the replacement draw's calls; they check in and score like the
    others (the withdrawn member's scores stay void, R-E5)."""
    if not permissions.runs(session, actor, tender):
        raise Forbidden(_l("The tender's agency seats the committee."), code="role_forbidden")
    evaluation = session.get(EvaluationRoom, tender.id)
    if evaluation is None or evaluation.status == "closed":
        raise Conflict(_l("There is no sitting committee to complete."), code="room_not_open")
    newcomers = accepted_unseated(session, tender)
    if not newcomers:
        raise Conflict(
            _l("No replacement has accepted a call yet."), code="no_replacement", details={"rule": "R-E5"}
        )
    found = [session.get(User, e.user_id) if e.user_id else None for e in newcomers]
    users = [u for u in found if u is not None]
    if len(users) != len(found):
        raise Conflict(
            _l("An accepted expert has no platform account to sign in with."), code="expert_without_account"
        )
    now = clock.now()
    rows = [
        RoomMember(tender_id=tender.id, user_id=u.id, kind=MemberKind.EXPERT, seated_at=now) for u in users
    ]
    session.add_all(rows)  # the blind codes are already assigned: the newcomer checks in to the same room
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.replacement_seated",
        tender,
        {"members": [str(r.id) for r in rows], "rule": "R-E5"},
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    return rows


def seat_committee(
    session: Session, actor: User, tender: Tender, representative: str | None, ip: str | None = None
) -> EvaluationRoom:
    """The agency seats the committee the draw formed, with the representative chosen by user name."""
    return room.open_room(session, actor, tender, representative_by_name(session, tender, representative), ip)
