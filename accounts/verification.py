"""Identity before a signing certificate: the centre verifies a company before it may bid.

Registration stays free and immediate (企业入库零门槛): anyone may register a company and browse and
download. To bid, the company must be verified: it submits its business licence (营业执照) scan and
its legal representative's name; the centre checks them against the national enterprise credit
register and decides. Until then the platform issues it no signing certificate and takes no deposit or
bid from it.

A credit code belongs to one verified company. Registering a code that someone else already holds is
allowed (a stranger who registers a real company's code first wins nothing): the second claim is
decided by the centre on the licences, and when it goes to the claimant, the former holder is
unverified and its signing certificates are revoked, with the reason logged and both told.
"""

from __future__ import annotations

import uuid
from typing import IO

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

import audit
from accounts import pki
from accounts.models import Certificate, CompanyVerification, Organization, User
from core import clock, filenames
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notifications import notify
from core.roles import Role
from core.storage import FileStore

LICENCE_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
MAX_LICENCE_SIZE = 20 * 1024 * 1024


def require_verified(organization: Organization | None) -> None:
    """Refuse a bidding step (signing certificate, deposit, bid) for an unverified company."""
    if organization is None or organization.verified_at is None:
        raise Forbidden(
            _l(
                "Your company is not verified yet. Submit its business licence under "
                "Account → Company verification; the centre checks it before you can bid."
            ),
            code="organization_unverified",
        )


def latest(session: Session, organization: Organization) -> CompanyVerification | None:
    return session.scalar(
        select(CompanyVerification)
        .where(CompanyVerification.organization_id == organization.id)
        .order_by(CompanyVerification.submitted_at.desc())
        .limit(1)
    )


def submit(
    session: Session,
    actor: User,
    *,
    legal_representative: str,
    stream: IO[bytes],
    filename: str,
    content_type: str,
    store: FileStore,
    ip: str | None = None,
) -> CompanyVerification:
    """A tenderer asks the centre to verify its company, with the licence scan (PDF, JPEG or PNG)."""
    org = actor.organization
    if actor.role != Role.TENDERER or org is None:
        raise Forbidden(_l("Tenderers ask for their company to be verified."), code="role_forbidden")
    if org.verified_at is not None:
        raise Conflict(_l("Your company is already verified."), code="already_verified")
    pending = latest(session, org)
    if pending is not None and pending.status == "pending":
        raise Conflict(
            _l("Your company's licence is with the centre already; you will be told its decision."),
            code="verification_pending",
        )
    name = (legal_representative or "").strip()
    if not 2 <= len(name) <= 50:
        raise Invalid(
            _l("Give the legal representative's name as on the licence."),
            code="invalid_legal_representative",
            details={"field": "legal_representative"},
        )
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in LICENCE_TYPES:
        raise Invalid(
            _l("The licence must be a PDF, JPEG or PNG file."),
            code="invalid_licence_type",
            details={"field": "licence"},
        )
    stored = store.put_stream(stream, max_size=MAX_LICENCE_SIZE)
    if stored.size == 0:
        raise Invalid(_l("The licence file is empty."), code="empty_licence", details={"field": "licence"})
    row = CompanyVerification(
        organization_id=org.id,
        credit_code=org.credit_code,
        legal_representative=name,
        document_sha256=stored.sha256,
        document_name=filenames.clean(filename) or "licence",
        document_type=kind,
        submitted_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "accounts.verification_requested",
        org,
        {"request": str(row.id), "credit_code": org.credit_code, "licence_sha256": stored.sha256},
        ip,
    )
    return row


def claims(session: Session, credit_code: str) -> list[Organization]:
    """Every organisation registered under ``credit_code``, the verified one first."""
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.credit_code == credit_code)
            .order_by(Organization.verified_at.is_(None), Organization.created_at)
        )
    )


def pending_query() -> Select[CompanyVerification]:
    """The requests waiting for the centre, oldest first."""
    return (
        select(CompanyVerification)
        .where(CompanyVerification.status == "pending")
        .order_by(CompanyVerification.submitted_at, CompanyVerification.id)
    )


def pending_requests(session: Session) -> list[CompanyVerification]:
    return list(session.scalars(pending_query()))


def decide(
    session: Session,
    actor: User,
    request_id: uuid.UUID,
    *,
    approve: bool,
    reason: str,
    ip: str | None = None,
) -> CompanyVerification:
    """The centre's decision on a request. Approving gives the company its credit code: any other
    organisation verified under the same code loses it (and its signing certificates)."""
    if actor.role != Role.ADMIN:
        raise Forbidden(_l("The centre's administrators verify companies."), code="role_forbidden")
    row = session.get(CompanyVerification, request_id)
    if row is None:
        raise NotFound(_l("No such request."), code="verification_not_found")
    if row.status != "pending":
        raise Conflict(_l("This request is already decided."), code="verification_decided")
    text = (reason or "").strip()
    if not approve and len(text) < 2:
        raise Invalid(
            _l("Say why the request is refused: the company is told."),
            code="reason_required",
            details={"field": "reason"},
        )
    org = get_row(session, Organization, row.organization_id)
    now = clock.now()
    row.status, row.decided_by_id, row.decided_at, row.reason = (
        "approved" if approve else "rejected",
        actor.id,
        now,
        text,
    )
    displaced: list[str] = []
    if approve:
        for other in claims(session, org.credit_code):
            if other.id != org.id and other.verified_at is not None:
                _unverify(session, actor, other, org, ip)
                displaced.append(str(other.id))
        org.verified_at, org.verification_method = now, "licence"
    session.flush()
    audit.record(
        session,
        actor,
        "accounts.verification_decided",
        org,
        {"request": str(row.id), "approved": approve, "reason": text, "displaced": displaced},
        ip,
    )
    subject = (
        _l("Your company %(name)s is verified: you may now bid.", name=org.name)
        if approve
        else _l("Your company's verification was refused: %(reason)s", reason=text)
    )
    for user in org.users:
        notify(session, user, str(subject), text, "/account/company")
    return row


def _unverify(session: Session, actor: User, org: Organization, winner: Organization, ip: str | None) -> None:
    """The centre found that the code belongs to ``winner``: ``org`` loses it, and every signing
    certificate issued to its people is revoked (a bid signed with one after this is refused)."""
    org.verified_at, org.verification_method = None, None
    user_ids = [u.id for u in org.users]
    if user_ids:
        for cert in session.scalars(
            select(Certificate).where(Certificate.user_id.in_(user_ids), Certificate.revoked_at.is_(None))
        ):
            pki.revoke(session, actor, cert.serial, "affiliation_changed", ip)
    session.flush()
    audit.record(
        session,
        actor,
        "accounts.verification_withdrawn",
        org,
        {"credit_code": org.credit_code, "verified_for": str(winner.id)},
        ip,
    )
    for user in org.users:
        notify(
            session,
            user,
            str(
                _l(
                    "The centre found that credit code %(code)s belongs to another company.",
                    code=org.credit_code,
                )
            ),
            str(_l("Your company is no longer verified and its signing certificates are revoked.")),
            "/account/company",
        )
