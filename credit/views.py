"""Conduct record pages: the public list (信用公示) and the supervisors' recording, publication and
revocation."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core import clock, paging
from core.auth import roles_required
from core.db import db
from core.errors import DomainError
from core.extensions import client_ip
from core.roles import Role
from core.storage import file_store
from core.uow import flash_error
from credit import services
from credit.api import evidence_response
from credit.forms import ConductRecordForm, PublishForm, RevokeForm
from credit.models import SUBJECT_KINDS

bp = Blueprint("credit", __name__, url_prefix="/credit")

PER_PAGE = 20


def _actor():
    return current_user if current_user.is_authenticated else None


@bp.get("/records")
def records():
    actor = _actor()
    q = request.args.get("q", "").strip()
    kind = request.args.get("kind", "").strip()
    kind = kind if kind in SUBJECT_KINDS else ""
    page = paging.page_of(db.session, services.listing(actor, q or None, kind or None), PER_PAGE)
    return render_template(
        "credit/records.html",
        records=page.items,
        page=page,
        q=q,
        kind=kind,
        now=clock.now(),
        standing=services.standing,
        categories=services.CATEGORY,
        subject_labels=services.SUBJECT_LABELS,
        manager=services.may_manage(actor),
    )


@bp.get("/records/<uuid:record_id>")
def record(record_id: uuid.UUID):
    actor = _actor()
    row = services.visible(db.session, actor, record_id)
    supervisor = actor is not None and actor.role == Role.SUPERVISOR
    return render_template(
        "credit/record.html",
        record=row,
        now=clock.now(),
        standing=services.standing(row, clock.now()),
        category=services.CATEGORY[row.category],
        subject_label=services.SUBJECT_LABELS[row.subject_kind],
        manager=services.may_manage(actor),
        publish_form=PublishForm() if supervisor and row.status == "draft" else None,
        revoke_form=RevokeForm() if supervisor and row.status != "revoked" else None,
    )


@bp.route("/records/new", methods=["GET", "POST"])
@roles_required(Role.SUPERVISOR)
def new_record():
    form = ConductRecordForm()
    if form.validate_on_submit():
        upload = form.evidence.data
        evidence = (upload.filename, upload.stream) if upload is not None and upload.filename else None
        try:
            row = services.record_conduct(
                db.session,
                current_user,
                services.parse_input(form.to_data()),
                evidence=evidence,
                store=file_store(),
                ip=client_ip(),
            )
        except DomainError as err:
            flash_error(err)
            return render_template("credit/record_form.html", form=form, error=err), err.status
        db.session.commit()
        flash(_("Draft record saved. Check it, then publish it."), "success")
        return redirect(url_for("credit.record", record_id=row.id))
    status = 422 if request.method == "POST" else 200
    return render_template("credit/record_form.html", form=form, error=None), status


@bp.post("/records/<uuid:record_id>/publish")
@roles_required(Role.SUPERVISOR)
def publish(record_id: uuid.UUID):
    row = services.visible(db.session, current_user, record_id)
    if PublishForm().validate_on_submit():
        try:
            services.publish(db.session, current_user, row, client_ip())
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("credit.record", record_id=row.id))
        db.session.commit()
        flash(_("The record is published."), "success")
    return redirect(url_for("credit.record", record_id=row.id))


@bp.post("/records/<uuid:record_id>/revoke")
@roles_required(Role.SUPERVISOR)
def revoke(record_id: uuid.UUID):
    row = services.visible(db.session, current_user, record_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for the revocation."), "error")
        return redirect(url_for("credit.record", record_id=row.id))
    try:
        services.revoke(db.session, current_user, row, form.reason.data, client_ip())
    except DomainError as err:
        flash_error(err)
        return redirect(url_for("credit.record", record_id=row.id))
    db.session.commit()
    flash(_("The record is revoked; it stays visible with the reason."), "success")
    return redirect(url_for("credit.record", record_id=row.id))


@bp.get("/records/<uuid:record_id>/evidence")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def evidence(record_id: uuid.UUID):
    return evidence_response(record_id)
