"""What accounts ask of people now, for their dashboards (core.todo): a tenderer's company is verified
before it signs, pays deposits or bids, then its staff get a signing certificate; administrators check
the licences waiting in the queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts import verification
from accounts.models import Certificate, CompanyVerification, User
from accounts.pki import ROLE_SIGNING_PROFILE
from core.present import when
from core.todo import Todo


def tenderer(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    org = user.organization
    if org is None:
        return
    if org.verified_at is None:
        row = verification.latest(session, org)
        if row is None or row.status != "pending":  # while the centre checks it, nothing to do
            yield Todo(
                _("Verify your company: submit its business licence"), url_for("company.mine"), org.name
            )
        return
    valid = session.scalar(
        select(Certificate.id).where(
            Certificate.user_id == user.id,
            Certificate.profile == ROLE_SIGNING_PROFILE[user.role_enum].value,
            Certificate.revoked_at.is_(None),
            Certificate.not_after > now,
        )
    )
    if valid is None:
        yield Todo(_("Get a signing certificate to sign your bids"), url_for("certificates.mine"), org.name)


def admin(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    waiting, oldest = session.execute(
        select(func.count(CompanyVerification.id), func.min(CompanyVerification.submitted_at)).where(
            CompanyVerification.status == "pending"
        )
    ).one()
    if waiting:
        yield Todo(
            ngettext(
                "Check %(num)d company's business licence",
                "Check %(num)d companies' business licences",
                waiting,
            ),
            url_for("company.queue"),
            _("waiting since %(time)s", time=when(oldest)),
            None,
            None,
            waiting,
        )
