"""专家抽取: request, commit, contribute, run, disclose, prove (R-E1, R-E2, R-E3, R-E4, R-E6).

A draw is requested by the tender's agency once the bidders are known (the bid deadline has passed)
and witnessed by a supervisor. Its lifecycle:

``committed``  the platform has logged a commitment to its secret, the pool root and the exclusions root;
               it waits for the agency's and the supervisor's random contributions;
``drawn``      both contributions are in; the order and the selection are computed and sealed (R-E4);
``disclosed``  the result is determined: names and the proof are open to the parties and the public.

``disclose`` is the step the evaluation issue calls when the tender's result is determined.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from audit import seals
from bidding import permissions
from bidding.lifecycle import deadline_passed
from bidding.models import Bid, CustodianShare, Tender
from core import clock
from core.db import get_row, new_id
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from core.roles import Role
from crypto import selection
from crypto.canonical import canonical_json
from experts import calls
from experts import pool as expert_pool
from experts.eligibility import Criteria, shortfall, snapshot
from experts.models import Draw, Expert, Specialty

SECRET_PURPOSE = "draw_secret"  # noqa: S105 (a key-derivation label, not a secret)
RESULT_PURPOSE = "draw_result"
BIG_PROCUREMENT_FEN = 10_000_000 * 100  # R-E1: procurement budgets of 10 million yuan or more
MAX_BACKUPS = 10
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- R-E1 committee size ----------------------------------------------------------------------------


def committee_problems(tender: Tender, experts: int, representatives: int) -> list[dict]:
    """R-E1: at least 5 (procurement of 10 million yuan or more: 7), odd, at least two thirds experts,
    at most one tenderee representative."""
    members = experts + representatives
    minimum = 7 if tender.track == "procurement" and tender.estimated_price_fen >= BIG_PROCUREMENT_FEN else 5
    problems: list[dict[str, object]] = []
    if representatives not in (0, 1):
        problems.append({"code": "one_tenderee_representative", "rule": "R-E1"})
    if members < minimum:
        problems.append({"code": "committee_too_small", "rule": "R-E1", "minimum": minimum})
    if members % 2 == 0:
        problems.append({"code": "committee_not_odd", "rule": "R-E1"})
    if experts * 3 < members * 2:
        problems.append({"code": "too_few_experts", "rule": "R-E1"})
    return problems


# -- input ------------------------------------------------------------------------------------------


def parse_criteria(session: Session, data: dict[str, Any]) -> tuple[Criteria, int]:
    """(criteria, tenderee representatives) from the API/page body; 422 naming what is wrong."""
    raw = data.get("specialties")
    if not isinstance(raw, dict) or not raw:
        raise Invalid(_l("Give the number of experts per specialty."), code="invalid_criteria")
    counts = {}
    for code, count in raw.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise Invalid(
                _l("Each specialty needs a positive number of experts."),
                code="invalid_criteria",
                details={"specialty": code},
            )
        counts[str(code)] = count
    known = set(session.scalars(select(Specialty.code).where(Specialty.code.in_(counts), Specialty.active)))
    unknown = sorted(set(counts) - known)
    if unknown:
        raise Invalid(_l("Unknown specialty."), code="unknown_specialty", details={"specialties": unknown})
    backups = data.get("backups", 0)
    representatives = data.get("tenderee_representatives", 0)
    regions = data.get("regions") or []
    if not isinstance(backups, int) or isinstance(backups, bool) or not 0 <= backups <= MAX_BACKUPS:
        raise Invalid(_l("Backups must be between 0 and 10."), code="invalid_backups")
    if not isinstance(representatives, int) or isinstance(representatives, bool):
        raise Invalid(_l("tenderee_representatives is 0 or 1."), code="invalid_criteria")
    if not isinstance(regions, list) or not all(isinstance(r, str) and r.strip() for r in regions):
        raise Invalid(_l("regions is a list of region names."), code="invalid_criteria")
    criteria = Criteria(counts, backups, tuple(sorted({r.strip() for r in regions})))
    return criteria, representatives


def supervisor_for(session: Session, tender: Tender, ref: str | None) -> User:
    """The witnessing supervisor: the one named (who must oversee the tender), else the tender's
    supervisor custodian."""
    if ref:
        query = select(User).where(User.role == Role.SUPERVISOR)
        try:
            user = session.scalar(query.where(User.id == uuid.UUID(str(ref))))
        except ValueError:
            user = session.scalar(query.where(User.username == str(ref)))
    else:
        user = session.scalar(
            select(User)
            .join(CustodianShare, CustodianShare.custodian_id == User.id)
            .where(CustodianShare.tender_id == tender.id, CustodianShare.role == "supervisor")
        )
    if user is None or not user.active or not permissions.oversees(session, user, tender):
        raise Invalid(
            _l("Name a supervisor assigned to this tender to witness the draw."), code="supervisor_required"
        )
    return user


# -- request ----------------------------------------------------------------------------------------


def request_draw(
    session: Session,
    actor: User,
    tender: Tender,
    criteria: Criteria,
    *,
    representatives: int,
    supervisor: User,
    evaluation_at: datetime,
    evaluation_place: str,
    vacancies: dict[str, int] | None = None,
    ip: str | None = None,
) -> Draw:
    """Check the request, snapshot the eligible pool, commit to a fresh secret and log it all.

    ``vacancies`` are the seats a seated committee lost (R-E5: a member withdrew), by specialty, as the
    evaluation package counts them: a replacement draw for any number of them, up to that many, is
    a draw like any other (same avoidance rules, every expert already called left out, verifiable).
    Every attempt is logged (R-E2): a refused one through the error's after-rollback hook.
    """
    now = clock.now()
    attempt = {
        "tender": str(tender.id),
        "specialties": criteria.specialties,
        "regions": list(criteria.regions),
        "backups": criteria.backups,
        "tenderee_representatives": representatives,
    }

    def refused(err: DomainError) -> DomainError:
        record = {**attempt, "refused": err.code, "details": _loggable(err.details)}
        return err.keep(lambda s: audit.record(s, actor, "experts.draw_refused", tender, record, ip))

    if tender.status != "published" or not deadline_passed(tender, now):
        raise refused(
            Conflict(
                _l("Experts are drawn once the bidders are known, after the bid deadline."),
                code="draw_too_early" if tender.status == "published" else "tender_not_open",
            )
        )
    if evaluation_at <= now:
        raise refused(Invalid(_l("The evaluation must be in the future."), code="invalid_evaluation_time"))
    earlier = draws_for(session, tender)
    supplementary = _supplementary(earlier[-1] if earlier else None, criteria) or _replacement(
        vacancies, criteria, representatives
    )
    # A supplementary draw (补抽) fills seats of a committee already checked against R-E1.
    problems = (
        []
        if supplementary
        else committee_problems(tender, sum(criteria.specialties.values()), representatives)
    )
    if problems:
        raise refused(
            Invalid(
                _l("The committee breaks the size rules (R-E1)."),
                code="invalid_committee",
                details={"problems": problems},
            )
        )
    if (
        session.scalar(select(Bid.id).where(Bid.tender_id == tender.id, Bid.status == "submitted").limit(1))
        is None
    ):
        raise refused(Conflict(_l("The tender has no bids: there is nothing to evaluate."), code="no_bids"))
    if session.scalar(select(Draw.id).where(Draw.tender_id == tender.id, Draw.status == "committed")):
        raise refused(
            Conflict(_l("A draw for this tender is waiting for its contributions."), code="draw_pending")
        )

    draw_id = new_id()
    snap = snapshot(
        session,
        draw_id=draw_id,
        tender=tender,
        supervisor=supervisor,
        criteria=criteria,
        evaluation_at=evaluation_at,
        already_called=frozenset(_called_for(session, earlier)),
    )
    short = shortfall(snap, criteria)
    if short:
        raise refused(
            Invalid(
                _l("The pool cannot meet the criteria; nobody was drawn."),
                code="pool_shortfall",
                details={"shortfall": short, "eligible": snap.counts},
            )
        )
    secret = secrets.token_bytes(selection.SECRET_BYTES)
    draw = Draw(
        id=draw_id,
        tender_id=tender.id,
        requested_by_id=actor.id,
        supervisor_id=supervisor.id,
        criteria={
            "specialties": criteria.specialties,
            "regions": list(criteria.regions),
            "backups": criteria.backups,
        },
        tenderee_representatives=representatives,
        evaluation_at=evaluation_at,
        evaluation_place=evaluation_place.strip()[:200],
        eligible_counts=snap.counts,
        secret_sealed=expert_pool.cipher().seal(SECRET_PURPOSE, secret),
        commitment=selection.commitment(secret),
        pool_root=selection.pool_root(snap.pool),
        exclusions_root=selection.exclusions_root(snap.exclusions),
        pool=snap.pool,
        exclusions=snap.exclusions,
        commitment_audit_index=0,
    )
    session.add(draw)
    session.flush()
    logged = audit.record(
        session,
        actor,
        "experts.draw_committed",
        draw,
        {
            **attempt,
            "supervisor": str(supervisor.id),
            "evaluation_at": evaluation_at.isoformat(),
            "commitment": draw.commitment,
            "pool_root": draw.pool_root,
            "exclusions_root": draw.exclusions_root,
            "eligible": snap.counts,
            "excluded_experts": snap.excluded_experts,
            "excluded_organizations": snap.excluded_organizations,
        },
        ip,
    )
    draw.commitment_audit_index = logged.index
    session.flush()
    return draw


def _supplementary(last: Draw | None, criteria: Criteria) -> bool:
    """The tender's last draw ran dry, and this one asks for no more than its missing seats."""
    if last is None or not last.shortfall or last.formed_at is not None:
        return False
    return all(count <= last.shortfall.get(code, 0) for code, count in criteria.specialties.items())


def _replacement(vacancies: dict[str, int] | None, criteria: Criteria, representatives: int) -> bool:
    """R-E5: the draw fills seats the committee lost, no more than it lost in each specialty."""
    if not vacancies or representatives:
        return False
    return all(count <= vacancies.get(code, 0) for code, count in criteria.specialties.items())


def _called_for(session: Session, earlier: list[Draw]) -> set[str]:
    ids: set[str] = set()
    for draw in earlier:
        ids.update(calls.called_expert(c).hex for c in calls.calls_for(session, draw))
    return ids


def _loggable(details: dict) -> dict:
    return {k: v for k, v in details.items() if k in ("shortfall", "eligible", "problems")}


# -- contributions and the run ----------------------------------------------------------------------


def contribution_role(session: Session, actor: User, draw: Draw, tender: Tender) -> str | None:
    if permissions.runs(session, actor, tender):
        return "agency"
    if actor.role == Role.SUPERVISOR and actor.id == draw.supervisor_id:
        return "supervisor"
    return None


def contribute(session: Session, actor: User, draw: Draw, value: str, ip: str | None = None) -> Draw:
    """Take the agency's or the witnessing supervisor's random value; the second one runs the draw."""
    tender = get_row(session, Tender, draw.tender_id)
    side = contribution_role(session, actor, draw, tender)
    if side is None:
        raise Forbidden(
            _l("Only the tender's agency and the witnessing supervisor contribute."),
            code="draw_contribution_forbidden",
        )
    value = (value or "").strip().lower()
    if not _HEX64.match(value):
        raise Invalid(
            _l("A contribution is 64 hexadecimal characters (32 bytes)."), code="invalid_contribution"
        )
    if draw.status != "committed":
        raise Conflict(_l("This draw has already run."), code="draw_already_run")
    field = f"{side}_contribution"
    if getattr(draw, field) is not None:
        raise Conflict(_l("You have already contributed to this draw."), code="already_contributed")
    setattr(draw, field, value)
    audit.record(session, actor, "experts.draw_contributed", draw, {"side": side, "value": value}, ip)
    if draw.agency_contribution and draw.supervisor_contribution:
        _run(session, actor, draw, ip)
    session.flush()
    return draw


def _run(session: Session, actor: User, draw: Draw, ip: str | None) -> None:
    agency, supervisor = draw.agency_contribution, draw.supervisor_contribution
    if agency is None or supervisor is None:  # contribute() runs the draw after the second value only
        raise Conflict(
            _l("The draw runs once the agency and the supervisor have contributed."), code="draw_waiting"
        )
    result = selection.run(
        draw_id=str(draw.id),
        secret=expert_pool.cipher().open(SECRET_PURPOSE, draw.secret_sealed),
        agency=bytes.fromhex(agency),
        supervisor=bytes.fromhex(supervisor),
        pool=draw.pool,
        exclusions=draw.exclusions,
        wanted=_wanted(draw),
    )
    sealed = {"seed": result["seed"], "orders": result["orders"], "selected": result["selected"]}
    body = canonical_json(sealed)
    draw.result_sealed = expert_pool.cipher().seal(RESULT_PURPOSE, body)
    draw.status, draw.drawn_at = "drawn", clock.now()
    # The digest binds the sealed result now; the secret that lets anyone recompute it is logged at
    # disclosure.
    audit.record(
        session,
        actor,
        "experts.draw_run",
        draw,
        {
            "result_sha256": selection.sha256_hex(body),
            "drawn": {code: len(ids) for code, ids in result["selected"].items()},
        },
        ip,
    )

    calls.start(session, draw, actor, ip)


def _wanted(draw: Draw) -> dict[str, int]:
    return Criteria(draw.criteria["specialties"], draw.criteria["backups"]).wanted


def result(draw: Draw) -> dict[str, Any]:
    """The sealed result (seed, orders, selection); only for code that has decided the reader may see it."""
    if draw.result_sealed is None:
        raise Conflict(_l("The draw has not run yet."), code="draw_not_run")
    return json.loads(expert_pool.cipher().open(RESULT_PURPOSE, draw.result_sealed))


# -- confidentiality (R-E4) -------------------------------------------------------------------------


def get_draw(session: Session, draw_id: uuid.UUID) -> Draw:
    draw = session.get(Draw, draw_id)
    if draw is None:
        raise NotFound(_l("No such draw."), code="draw_not_found")
    return draw


def is_party(session: Session, actor: User | None, tender: Tender) -> bool:
    """The tender's agency staff and supervisors, its tenderee and its bidders."""
    if actor is None:
        return False
    if permissions.oversees(session, actor, tender) or permissions.runs(session, actor, tender):
        return True
    if permissions.is_tenderee(actor, tender):
        return True
    return actor.role == Role.TENDERER and (
        session.scalar(
            select(Bid.id)
            .where(Bid.tender_id == tender.id, Bid.organization_id == actor.organization_id)
            .limit(1)
        )
        is not None
    )


def visible_draw(session: Session, actor: User, draw_id: uuid.UUID) -> tuple[Draw, Tender]:
    """The draw's status is for the tender's agency and supervisors; others get 404 (R-E4)."""
    draw = get_draw(session, draw_id)
    tender = get_row(session, Tender, draw.tender_id)
    allowed = permissions.oversees(session, actor, tender) or permissions.runs(session, actor, tender)
    if not allowed and not (draw.disclosed_at and is_party(session, actor, tender)):
        raise NotFound(_l("No such draw."), code="draw_not_found")
    return draw, tender


def members(session: Session, actor: User, draw_id: uuid.UUID, ip: str | None = None) -> list[dict]:
    """The drawn experts by name (R-E4): supervisors always, every access logged; the parties once the
    result is determined. Anyone else's attempt is refused (403 for the agency, 404 for the rest) and
    logged."""
    draw = get_draw(session, draw_id)
    tender = get_row(session, Tender, draw.tender_id)
    supervisor = permissions.oversees(session, actor, tender)
    if not supervisor and not (draw.disclosed_at and is_party(session, actor, tender)):
        agency = permissions.runs(session, actor, tender)
        error = (
            Forbidden(
                _l("The committee stays confidential until the result is determined."),
                code="draw_confidential",
            )
            if agency
            else NotFound(_l("No such draw."), code="draw_not_found")
        )
        data = {"refused": error.code, "role": str(actor.role)}
        raise error.keep(lambda s: audit.record(s, actor, "experts.draw_names_refused", draw, data, ip))
    if draw.status == "committed":
        return []
    chosen = result(draw)["selected"]
    ids = [uuid.UUID(e) for code in sorted(chosen) for e in chosen[code]]
    experts = {e.id: e for e in session.scalars(select(Expert).where(Expert.id.in_(ids)))}
    rows = []
    for code in sorted(chosen):
        seats = draw.criteria["specialties"][code]
        for position, expert_id in enumerate(chosen[code], start=1):
            expert = experts[uuid.UUID(expert_id)]
            rows.append(
                {
                    "expert_id": str(expert.id),
                    "name": expert.name,
                    "specialty": code,
                    "position": position,
                    "backup": position > seats,
                }
            )
    if not draw.disclosed_at:
        audit.record(session, actor, "experts.draw_names_viewed", draw, {"count": len(rows)}, ip)
    return rows


def disclose(session: Session, actor: User | None, draw: Draw, ip: str | None = None) -> Draw:
    """The result is determined: open names and the proof. Called by the evaluation issue; reveals the
    secret in the log so that the log alone lets anyone re-run the draw."""
    if draw.status != "drawn":
        raise Conflict(_l("Only a draw that has run can be disclosed."), code="draw_not_run")
    draw.status, draw.disclosed_at = "disclosed", clock.now()
    seals.set_reveal(session, permissions.committee_scope(draw.tender_id), draw.disclosed_at)
    secret = expert_pool.cipher().open(SECRET_PURPOSE, draw.secret_sealed)
    audit.record(session, actor, "experts.draw_disclosed", draw, {"secret": secret.hex()}, ip)
    session.flush()
    return draw


def proof(session: Session, actor: User | None, draw_id: uuid.UUID, ip: str | None = None) -> dict[str, Any]:
    """Everything needed to re-run the draw (crypto.selection.verify, ``bidtool verify-draw``):
    anyone once disclosed; supervisors as soon as it has run."""
    draw = get_draw(session, draw_id)
    tender = get_row(session, Tender, draw.tender_id)
    supervisor = permissions.oversees(session, actor, tender)
    if draw.disclosed_at is None and not (supervisor and draw.status == "drawn"):
        raise NotFound(
            _l("The proof is published once the result is determined."), code="proof_not_available"
        )
    if draw.disclosed_at is None:  # the selected experts' ids name the committee (R-E4): logged
        audit.record(session, actor, "experts.draw_proof_viewed", draw, {}, ip)
    outcome = result(draw)
    return {
        "version": selection.VERSION,
        "draw_id": str(draw.id),
        "tender_id": str(draw.tender_id),
        "commitment": draw.commitment,
        "commitment_audit_index": draw.commitment_audit_index,
        "pool_root": draw.pool_root,
        "exclusions_root": draw.exclusions_root,
        "secret": expert_pool.cipher().open(SECRET_PURPOSE, draw.secret_sealed).hex(),
        "agency_contribution": draw.agency_contribution,
        "supervisor_contribution": draw.supervisor_contribution,
        "pool": draw.pool,
        "exclusions": draw.exclusions,
        "wanted": _wanted(draw),
        "seed": outcome["seed"],
        "orders": outcome["orders"],
        "selected": outcome["selected"],
    }


def status_json(session: Session, draw: Draw, tender: Tender) -> dict[str, Any]:
    """What the agency and supervisors see of a draw: how many, never who (R-E4)."""

    drawn = None
    if draw.result_sealed is not None:
        drawn = {code: len(ids) for code, ids in result(draw)["selected"].items()}
    return {
        "id": str(draw.id),
        "tender_id": str(tender.id),
        "status": draw.status,
        "criteria": draw.criteria,
        "tenderee_representatives": draw.tenderee_representatives,
        "evaluation_at": draw.evaluation_at.isoformat(),
        "evaluation_place": draw.evaluation_place,
        "eligible": draw.eligible_counts,
        "commitment": draw.commitment,
        "commitment_audit_index": draw.commitment_audit_index,
        "pool_root": draw.pool_root,
        "exclusions_root": draw.exclusions_root,
        "contributions": {
            "agency": draw.agency_contribution is not None,
            "supervisor": draw.supervisor_contribution is not None,
        },
        "drawn": drawn,
        "accepted": calls.accepted(session, draw),
        "committee_formed_at": draw.formed_at.isoformat() if draw.formed_at else None,
        "shortfall": draw.shortfall,  # the drawn list ran dry: a supplementary draw is needed
        "drawn_at": draw.drawn_at.isoformat() if draw.drawn_at else None,
        "disclosed_at": draw.disclosed_at.isoformat() if draw.disclosed_at else None,
    }


def draws_for(session: Session, tender: Tender) -> list[Draw]:
    return list(session.scalars(select(Draw).where(Draw.tender_id == tender.id).order_by(Draw.created_at)))
