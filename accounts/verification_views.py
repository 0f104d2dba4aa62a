"""Company verification pages: the tenderer submits its licence; the centre decides between claims."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts import verification
from accounts.forms import DecisionForm, VerificationForm
from accounts.models import CompanyVerification, Organization
from core import paging
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, NotFound
from core.extensions import client_ip
from core.roles import Role
from core.storage import file_store
from core.uow import attempt, flash_error

bp = Blueprint("company", __name__)

PER_PAGE = 30


@bp.route("/account/company", methods=["GET", "POST"])
@roles_required(Role.TENDERER)
def mine():
    """The tenderer's company: whether it is verified, and the form to ask for it."""
    org = current_user.organization
    form = VerificationForm()
    if form.validate_on_submit():
        upload = form.licence.data
        try:
            verification.submit(
                db.session,
                current_user,
                legal_representative=form.legal_representative.data,
                stream=upload.stream,
                filename=upload.filename or "licence",
                content_type=upload.mimetype,
                store=file_store(),
                ip=client_ip(),
            )
        except DomainError as err:
            flash_error(err)
            if err.details.get("field") in form:
                form[err.details["field"]].errors = [str(err.message)]
        else:
            db.session.commit()
            flash(_("Your licence is with the centre. You will be told its decision."), "success")
            return redirect(url_for("company.mine"))
    return render_template(
        "accounts/company.html", org=org, request_row=verification.latest(db.session, org), form=form
    )


@bp.get("/admin/verifications")
@roles_required(Role.ADMIN)
def queue():
    page = paging.page_of(db.session, verification.pending_query(), PER_PAGE)
    rows = [(row, verification.claims(db.session, row.credit_code)) for row in page.items]
    return render_template("accounts/admin_verifications.html", rows=rows, page=page)


def _request(request_id: uuid.UUID) -> CompanyVerification:
    row = db.session.get(CompanyVerification, request_id)
    if row is None:
        raise NotFound(_("No such request."), code="verification_not_found")
    return row


@bp.get("/admin/verifications/<uuid:request_id>")
@roles_required(Role.ADMIN)
def review(request_id: uuid.UUID):
    row = _request(request_id)
    org = db.session.get(Organization, row.organization_id)
    return render_template(
        "accounts/admin_verification.html",
        row=row,
        org=org,
        claims=verification.claims(db.session, row.credit_code),
        form=DecisionForm(),
    )


@bp.get("/admin/verifications/<uuid:request_id>/licence")
@roles_required(Role.ADMIN)
def licence(request_id: uuid.UUID):
    row = _request(request_id)
    return send_file(
        file_store().path_for(row.document_sha256),
        mimetype=row.document_type,
        download_name=row.document_name,
    )


@bp.post("/admin/verifications/<uuid:request_id>/decision")
@roles_required(Role.ADMIN)
def decide(request_id: uuid.UUID):
    form = DecisionForm()
    if not form.validate_on_submit():
        return redirect(url_for("company.review", request_id=request_id))
    approve = bool(form.approve.data)
    done = attempt(
        lambda: verification.decide(
            db.session,
            current_user,
            request_id,
            approve=approve,
            reason=form.reason.data or "",
            ip=client_ip(),
        ),
        _("The company is verified.") if approve else _("The request is refused; the company is told why."),
    )
    return redirect(url_for("company.queue") if done else url_for("company.review", request_id=request_id))
