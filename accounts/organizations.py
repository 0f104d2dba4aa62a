"""The centre's organisations: agencies, tenderees, supervising authorities and notaries it onboards.

Tenderers register themselves (free and immediate, 企业入库零门槛; accounts.verification decides who is
who). Every other organisation is created by the centre's administrators, who vouch for it, so it is
verified at once. An organisation can be deactivated, never deleted: its people can no longer sign in,
and everything it did stays on record (R-R2, 15 years).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

import audit
from accounts import lifecycle, services
from accounts.models import ORG_KINDS, Organization, User
from core.errors import Conflict, Forbidden, Invalid
from core.roles import Role

# What the centre may create: everything but the platform operator itself (one, made at install).
CREATABLE_KINDS = tuple(kind for kind in ORG_KINDS if kind != "platform")


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden(_l("The centre's administrators manage organisations."), code="role_forbidden")


def create(
    session: Session, actor: User, *, name: str, credit_code: str, kind: str, ip: str | None = None
) -> Organization:
    _require_admin(actor)
    if kind not in CREATABLE_KINDS:
        raise Invalid(_l("Choose the kind of organisation."), code="invalid_kind", details={"field": "kind"})
    return services.create_organization(
        session, actor, name=name, credit_code=credit_code, kind=kind, verified=True, ip=ip
    )


def rename(
    session: Session, actor: User, org: Organization, name: str, ip: str | None = None
) -> Organization:
    _require_admin(actor)
    clean = (name or "").strip()
    if not 2 <= len(clean) <= 200:
        raise Invalid(
            _l("Give the organisation's registered name."), code="invalid_name", details={"field": "name"}
        )
    if clean != org.name:
        old, org.name = org.name, clean
        session.flush()
        audit.record(session, actor, "accounts.organization_renamed", org, {"from": old, "to": clean}, ip)
    return org


def set_active(
    session: Session, actor: User, org: Organization, active: bool, reason: str, ip: str | None = None
) -> Organization:
    """Deactivate (every person in it is disabled at once: sessions and tokens end) or reactivate (its
    people stay disabled until an administrator enables each one)."""
    _require_admin(actor)
    if org.kind == "platform":
        raise Conflict(_l("The platform's own organisation stays active."), code="platform_org")
    text = (reason or "").strip()
    if len(text) < 2:
        raise Invalid(
            _l("Say why: it is kept in the log."), code="reason_required", details={"field": "reason"}
        )
    if org.active == active:
        return org
    org.active = active
    if not active:
        for user in org.users:
            if user.active:
                lifecycle.disable(session, actor, user, text, ip)
    session.flush()
    action = "accounts.organization_activated" if active else "accounts.organization_deactivated"
    audit.record(session, actor, action, org, {"reason": text}, ip)
    return org


def query(kind: str | None = None, q: str | None = None) -> Select:
    statement = select(Organization).order_by(Organization.kind, Organization.name)
    if kind:
        statement = statement.where(Organization.kind == kind)
    if q:
        text = q.strip()
        statement = statement.where(
            Organization.name.icontains(text, autoescape=True)
            | Organization.credit_code.icontains(text, autoescape=True)
        )
    return statement


def member_counts(session: Session) -> dict:
    return dict(
        session.execute(select(User.organization_id, func.count()).group_by(User.organization_id)).all()
    )
