"""The evaluation room (评标室): the committee is seated from the draw, each member checks in with a
fresh second-factor code (even when already signed in) from wherever they are, with the network address
logged; agency staff never enter (R-E6); a member who declares a conflict with a bidder is replaced and
their scores are void (R-E5); the members elect a chair; technical parts reach the experts under random
codes with the identity-leak findings (暗标); the chair records the qualification review.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

import audit
from accounts import services as accounts
from accounts.models import Organization, User
from bidding import permissions
from bidding.models import Bid, Opening, Tender
from bidding.opening import _opened_root
from core import clock
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notifications import notify
from core.roles import Role
from crypto.bidpack import MANIFEST_NAME, SIGNATURE_NAME
from evaluation import identity_leaks
from evaluation.models import BlindCode, ChairVote, EvaluationRoom, RoomMember, ScoreSheet
from experts import calls
from experts.models import Call, Draw, Expert


def check_composition(tender: Tender, members: list[tuple[User, str]]) -> None:
    """R-E1 (``experts.draws.committee_problems`` decides the sizes), and nobody twice."""
    from experts.draws import committee_problems

    experts = sum(1 for _user, kind in members if kind == "expert")
    problems = committee_problems(tender, experts, len(members) - experts)
    if len({user.id for user, _kind in members}) != len(members):
        problems.append({"rule": "R-E1", "code": "duplicate_member"})
    if problems:
        raise Invalid(
            _l("The committee breaks the rules: see details."),
            code="committee_invalid",
            details={"problems": problems},
        )


def seat(
    session: Session, tender: Tender, members: list[tuple[User, str]], actor: User | None = None
) -> EvaluationRoom:
    """Seat the committee formed by the draw (experts package) once the opening is closed."""
    opening = session.get(Opening, tender.id)
    if opening is None or opening.status != "closed":
        raise Conflict(_l("The committee sits after the opening is closed."), code="opening_not_closed")
    if session.get(EvaluationRoom, tender.id) is not None:
        raise Conflict(_l("The committee is already seated."), code="room_exists")
    check_composition(tender, members)
    for user, kind in members:
        if user.role == Role.AGENCY or user.organization_id == tender.agency_id:  # R-E6
            raise Invalid(
                _l("Agency staff may not evaluate."), code="agency_not_allowed", details={"rule": "R-E6"}
            )
        if kind == "tenderee_rep" and (
            user.role != Role.TENDEREE or user.organization_id != tender.tenderee_id
        ):
            raise Invalid(_l("The representative must be the tenderee's."), code="invalid_representative")
        if kind == "expert" and user.role != Role.EXPERT:
            raise Invalid(_l("Only experts sit as experts."), code="invalid_member")
    room = EvaluationRoom(tender_id=tender.id)
    session.add(room)
    session.flush()
    for user, kind in members:
        session.add(RoomMember(tender_id=tender.id, user_id=user.id, kind=kind))
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.committee_seated",
        tender,
        {"members": len(members), "experts": sum(1 for _u, k in members if k == "expert")},
    )
    return room


def committee_from_draws(session: Session, tender: Tender) -> tuple[list[User], int]:
    """The experts who accepted their calls across the tender's draws (a supplementary draw fills what
    the first left short), and how many tenderee representatives the first draw allowed."""

    draws = list(session.scalars(select(Draw).where(Draw.tender_id == tender.id).order_by(Draw.created_at)))
    if not draws or not any(d.status in ("drawn", "disclosed") for d in draws):
        raise Conflict(_l("No experts have been drawn for this tender."), code="committee_not_formed")
    wanted = sum(draws[0].criteria["specialties"].values())
    accepted = session.scalars(
        select(Call).where(Call.draw_id.in_([d.id for d in draws]), Call.status == "accepted")
    )
    experts = [get_row(session, Expert, calls.called_expert(call)) for call in accepted]
    if len(experts) < wanted:
        raise Conflict(
            _l(
                "The committee is not formed yet: %(accepted)s of %(wanted)s experts accepted.",
                accepted=len(experts),
                wanted=wanted,
            ),
            code="committee_not_formed",
            details={"accepted": len(experts), "wanted": wanted},
        )
    found = [session.get(User, e.user_id) if e.user_id else None for e in experts]
    users = [u for u in found if u is not None]
    if len(users) < len(found):
        raise Conflict(
            _l("An accepted expert has no platform account to sign in with."), code="expert_without_account"
        )
    return users, draws[0].tenderee_representatives


def open_room(
    session: Session, actor: User, tender: Tender, representative: User | None = None, ip: str | None = None
) -> EvaluationRoom:
    """The agency seats the committee the draw formed (nobody names an expert, R-E2), with the
    tenderee's representative when the draw allowed one."""
    if not permissions.runs(session, actor, tender):
        raise Forbidden(_l("The tender's agency opens the evaluation."), code="role_forbidden")
    experts, representatives = committee_from_draws(session, tender)
    members = [(u, "expert") for u in experts]
    if representative is not None:
        if representatives != 1:
            raise Invalid(_l("The draw allowed no tenderee representative."), code="no_representative_seat")
        members.append((representative, "tenderee_rep"))
    return seat(session, tender, members, actor)


def room_for(session: Session, tender_id: uuid.UUID) -> tuple[Tender, EvaluationRoom]:
    tender = session.get(Tender, tender_id)
    room = session.get(EvaluationRoom, tender_id) if tender else None
    if tender is None or room is None:
        raise NotFound(_l("No evaluation for this tender."), code="evaluation_not_found")
    return tender, room


def member(session: Session, actor: User, tender: Tender, *, sitting: bool = True) -> RoomMember:
    """The acting user's seat; agency staff are refused outright (R-E6), others not seated get 403."""
    if actor.role == Role.AGENCY or actor.organization_id == tender.agency_id:
        raise Forbidden(
            _l("Agency staff may not enter the evaluation room."),
            code="agency_not_allowed",
            details={"rule": "R-E6"},
        )
    seat_ = session.scalar(
        select(RoomMember).where(RoomMember.tender_id == tender.id, RoomMember.user_id == actor.id)
    )
    if seat_ is None:
        raise Forbidden(_l("You are not on this committee."), code="not_on_committee")
    if seat_.replaced_at is not None:
        raise Forbidden(_l("You have left this committee."), code="member_replaced")
    if sitting and seat_.checked_in_at is None:
        raise Forbidden(_l("Check in with a fresh code first."), code="check_in_required")
    return seat_


def check_in(session: Session, actor: User, tender: Tender, code: str, ip: str | None = None) -> RoomMember:
    """A fresh TOTP code on entry, even when signed in: whoever holds the session must hold the phone."""
    seat_ = member(session, actor, tender, sitting=False)
    accounts.check_totp(session, actor, str(code or ""), ip, purpose="evaluation_check_in")
    seat_.checked_in_at, seat_.check_in_ip = clock.now(), ip
    room = get_row(session, EvaluationRoom, tender.id)
    if room.status == "seated":
        room.status = "in_session"
        assign_blind_codes(session, tender)
    session.flush()
    # Remote evaluation: each check-in is logged with the address it came from.
    audit.record(
        session,
        actor,
        "evaluation.checked_in",
        tender,
        {"member": str(seat_.id), "kind": seat_.kind},
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    return seat_


def sitting_members(session: Session, tender: Tender) -> list[RoomMember]:
    return list(
        session.scalars(
            select(RoomMember).where(RoomMember.tender_id == tender.id, RoomMember.replaced_at.is_(None))
        )
    )


def declare_conflict(
    session: Session,
    actor: User,
    tender: Tender,
    bid_ids: list[uuid.UUID],
    reason: str,
    ip: str | None = None,
) -> RoomMember:
    """回避: a member with a conflict leaves; a replacement is drawn and their scores are void (R-E5)."""
    seat_ = member(session, actor, tender, sitting=False)
    text = (reason or "").strip()
    if not 2 <= len(text) <= 500:
        raise Invalid(_l("Say what the conflict is."), code="invalid_reason", details={"field": "reason"})
    known = {b.id for b in opened_bids(session, tender)}
    if not bid_ids or any(b not in known for b in bid_ids):
        raise Invalid(_l("Name the bids you have a conflict with."), code="invalid_bids")
    seat_.replaced_at, seat_.replacement_reason = clock.now(), text
    room = get_row(session, EvaluationRoom, tender.id)
    if room.chair_id == actor.id:
        room.chair_id = None
    session.execute(delete(ChairVote).where(ChairVote.tender_id == tender.id))
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.conflict_declared",
        tender,
        {"member": str(seat_.id), "bids": sorted(str(b) for b in bid_ids), "rule": "R-E5"},
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    for agent in session.scalars(
        select(User).where(User.organization_id == tender.agency_id, User.role == Role.AGENCY)
    ):
        notify(
            session,
            agent,
            str(_l("%(code)s: a committee member withdrew; request a replacement draw", code=tender.code)),
            "",
            f"/tenders/{tender.id}",
        )
    return seat_


def vote_chair(
    session: Session, actor: User, tender: Tender, candidate_id: uuid.UUID, ip: str | None = None
) -> uuid.UUID | None:
    """Members elect the chair by a majority of the sitting members; returns the chair once elected."""
    member(session, actor, tender)
    room = get_row(session, EvaluationRoom, tender.id)
    if room.chair_id is not None:
        raise Conflict(_l("The chair is already elected."), code="chair_elected")
    sitting = {m.user_id: m for m in sitting_members(session, tender)}
    candidate = sitting.get(candidate_id)
    if candidate is None or candidate.checked_in_at is None:
        raise Invalid(_l("Vote for a member who has checked in."), code="invalid_candidate")
    vote = session.get(ChairVote, (tender.id, actor.id))
    if vote is None:
        session.add(ChairVote(tender_id=tender.id, voter_id=actor.id, candidate_id=candidate_id))
    else:
        vote.candidate_id = candidate_id
    session.flush()
    tally = Counter(session.scalars(select(ChairVote.candidate_id).where(ChairVote.tender_id == tender.id)))
    leader, votes = tally.most_common(1)[0]
    audit.record(
        session,
        actor,
        "evaluation.chair_vote",
        tender,
        {"candidate": str(candidate_id)},
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    if votes * 2 > len(sitting):
        room.chair_id = leader
        session.flush()
        audit.record(
            session,
            actor,
            "evaluation.chair_elected",
            tender,
            {"chair": str(leader), "votes": votes},
            ip,
            sealed=permissions.committee_scope(tender.id),
        )
    return room.chair_id


def opened_bids(session: Session, tender: Tender) -> list[Bid]:
    return list(
        session.scalars(
            select(Bid)
            .where(Bid.tender_id == tender.id, Bid.status == "submitted", Bid.outcome == "opened")
            .order_by(Bid.submitted_at)
        )
    )


PARTS = ("qualification", "technical", "commercial")
BLIND_PART = "technical"  # 暗标: reaches the experts under a code


def _part_folder(tender: Tender, bid: Bid, part: str) -> Path:
    return _opened_root() / str(tender.id) / str(bid.id) / part


def _technical_folder(tender: Tender, bid: Bid) -> Path:
    return _part_folder(tender, bid, BLIND_PART)


def _technical_files(folder: Path) -> list[Path]:
    """The bidder's own documents in an opened part: not the bid-pack's manifest and inner signature,
    which name the signer by design (its certificate) and stay with the opening record."""

    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and p.relative_to(folder).as_posix() not in (MANIFEST_NAME, SIGNATURE_NAME)
    )


_part_files = _technical_files


def parts_view(session: Session, actor: User, tender: Tender) -> dict[str, list[dict]]:
    """Every part the committee judges, for a sitting member: qualification and commercial parts by
    bidder, with the bidder's file names; technical parts under their codes only (blind_view)."""
    member(session, actor, tender)
    out: dict[str, list[dict]] = {}
    bids = opened_bids(session, tender)
    names = {
        o.id: o.name
        for o in session.scalars(
            select(Organization).where(Organization.id.in_([b.organization_id for b in bids]))
        )
    }
    for part in PARTS:
        if part == BLIND_PART:
            continue
        rows = []
        for bid in bids:
            folder = _part_folder(tender, bid, part)
            files = _part_files(folder)
            rows.append(
                {
                    "key": str(bid.id),
                    "tenderer": names.get(bid.organization_id, ""),
                    "files": [
                        {
                            "n": n,
                            "name": p.relative_to(folder).as_posix(),
                            "suffix": p.suffix.lower(),
                            "size": p.stat().st_size,
                        }
                        for n, p in enumerate(files, start=1)
                    ],
                }
            )
        out[part] = rows
    return out


def part_file(session: Session, actor: User, tender: Tender, part: str, key: str, n: int) -> tuple[Path, str]:
    """One file of a part for a sitting member, and the name to show: a technical part's by its code
    and number only (a file name can name the bidder), the others by their own name."""
    if part == BLIND_PART:
        path = blind_file(session, actor, tender, key, n)
        return path, f"{key}-{n}{path.suffix.lower()}"
    if part not in PARTS:
        raise NotFound(_l("No such file."), code="file_not_found")
    member(session, actor, tender)
    try:
        bid_id = uuid.UUID(key)
    except ValueError as exc:
        raise NotFound(_l("No such file."), code="file_not_found") from exc
    bid = next((b for b in opened_bids(session, tender) if b.id == bid_id), None)
    if bid is None:
        raise NotFound(_l("No such file."), code="file_not_found")
    folder = _part_folder(tender, bid, part)
    files = _part_files(folder)
    if not 1 <= n <= len(files):
        raise NotFound(_l("No such file."), code="file_not_found")
    return files[n - 1], files[n - 1].relative_to(folder).as_posix()


def assign_blind_codes(session: Session, tender: Tender) -> list[BlindCode]:
    """Random codes for the technical parts (a shuffled sequence, so codes say nothing of order), and
    the identity-leak findings for each."""
    bids = opened_bids(session, tender)
    numbers = list(range(1, len(bids) + 1))
    secrets.SystemRandom().shuffle(numbers)
    rows = []
    for bid, number in zip(bids, numbers, strict=True):
        org = get_row(session, Organization, bid.organization_id)
        folder = _technical_folder(tender, bid)
        bidder = identity_leaks.Bidder(org.name, org.credit_code)
        findings = [f.as_dict() for f in identity_leaks.scan_files(folder, _technical_files(folder), bidder)]
        rows.append(BlindCode(tender_id=tender.id, bid_id=bid.id, code=f"T{number:02d}", findings=findings))
    session.add_all(rows)
    session.flush()
    return rows


def blind_view(session: Session, actor: User, tender: Tender) -> list[dict]:
    """What an expert sees of the technical parts: codes, file numbers and sizes, findings; no bidder,
    no file names (a file name can itself name the bidder)."""
    member(session, actor, tender)
    out = []
    rows = session.scalars(
        select(BlindCode).where(BlindCode.tender_id == tender.id).order_by(BlindCode.code)
    ).all()
    bids = {b.id: b for b in session.scalars(select(Bid).where(Bid.id.in_([r.bid_id for r in rows])))}
    for row in rows:
        folder = _technical_folder(tender, bids[row.bid_id])
        files = _technical_files(folder)
        names = {p.relative_to(folder).as_posix(): n for n, p in enumerate(files, start=1)}
        out.append(
            {
                "code": row.code,
                "files": [
                    {"n": n, "suffix": p.suffix.lower(), "size": p.stat().st_size}
                    for n, p in enumerate(files, start=1)
                ],
                "findings": [
                    {
                        "file": names.get(f["file"]),
                        "kind": f["kind"],
                        "field": f["field"] if f["kind"] == "metadata" else None,
                    }
                    for f in row.findings
                ],
            }
        )
    return out


def blind_file(session: Session, actor: User, tender: Tender, code: str, n: int) -> Path:
    member(session, actor, tender)
    row = session.scalar(select(BlindCode).where(BlindCode.tender_id == tender.id, BlindCode.code == code))
    if row is None:
        raise NotFound(_l("No such code."), code="blind_code_not_found")
    files = _technical_files(_technical_folder(tender, get_row(session, Bid, row.bid_id)))
    if not 1 <= n <= len(files):
        raise NotFound(_l("No such file."), code="file_not_found")
    return files[n - 1]


def overview(session: Session, actor: User, tender: Tender) -> dict:
    """The sitting for members and supervisors: who sits (names: R-E4 ends once the committee sits
    for its members; supervisors always), check-ins, the chair, who has submitted a sheet."""
    room = get_row(session, EvaluationRoom, tender.id)
    if not permissions.oversees(session, actor, tender):
        member(session, actor, tender, sitting=False)
    members = session.scalars(select(RoomMember).where(RoomMember.tender_id == tender.id)).all()
    submitted = set(
        session.scalars(
            select(ScoreSheet.member_id).where(
                ScoreSheet.tender_id == tender.id, ScoreSheet.submitted_at.is_not(None)
            )
        )
    )
    return {
        "tender": str(tender.id),
        "status": room.status,
        "chair": str(room.chair_id) if room.chair_id else None,
        "members": [
            {
                "user": str(m.user_id),
                "seat": str(m.id),
                "name": get_row(session, User, m.user_id).display_name,
                "kind": m.kind,
                "checked_in": m.checked_in_at is not None,
                "replaced": m.replaced_at is not None,
                "submitted": m.id in submitted,
                **({"check_in_ip": m.check_in_ip} if permissions.oversees(session, actor, tender) else {}),
            }
            for m in members
        ],
    }
