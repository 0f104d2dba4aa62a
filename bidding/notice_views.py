"""Pages around a notice: documents and their downloads (R-T2), clarifications and amendments (R-T3),
questions, objections (R-T4, R-B7), closing the opening (R-B6), and one's notifications."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select, update

from bidding import documents, objections, questions, services
from bidding.forms import (
    AmendmentForm,
    AnswerForm,
    DocumentForm,
    ObjectionAnswerForm,
    ObjectionForm,
    QuestionForm,
)
from core import clock, paging
from core.auth import login_required, roles_required
from core.db import db
from core.extensions import client_ip
from core.models import Notification
from core.present import when
from core.roles import Role
from core.storage import file_store
from core.uow import attempt

bp = Blueprint("notices", __name__)

NOTIFICATIONS_PER_PAGE = 30


def _act(
    tender_id: uuid.UUID,
    form,
    action: Callable[[], object],
    success: str,
    anchor: str = "",
    page: str = "bidding.notice",
):
    """Validate, call one service, commit once; a refusal is flashed and nothing is kept."""
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
    else:
        attempt(action, success)
    return redirect(url_for(page, tender_id=tender_id) + anchor)


# The pages an objection is answered from (their forms' ``back`` field): the tender's page and the
# opening hall, where objections raised at the opening are answered (R-B7).
ANSWERED_FROM = {"notice": ("bidding.notice", "#objections"), "hall": ("hall.hall_page", "#hall-objections")}


@bp.post("/agency/tenders/<uuid:tender_id>/documents")
@roles_required(Role.AGENCY)
def upload_document(tender_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = DocumentForm()

    def action():
        upload = form.file.data
        documents.upload(
            db.session,
            current_user,
            tender,
            upload.stream,
            filename=upload.filename,
            title=form.title.data or upload.filename,
            store=file_store(),
            ip=client_ip(),
        )

    return _act(
        tender_id, form, action, _("The document is added; it is issued with the notice."), "#documents"
    )


@bp.post("/agency/tenders/<uuid:tender_id>/amendments")
@roles_required(Role.AGENCY)
def issue_amendment(tender_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = AmendmentForm()
    before = tender.bid_deadline

    def action():
        upload = form.file.data
        documents.issue_change(
            db.session,
            current_user,
            tender,
            kind=form.kind.data,
            title=form.title.data,
            body=form.body.data or "",
            affects_bids=form.affects_bids.data,
            store=file_store() if upload else None,
            stream=upload.stream if upload else None,
            filename=upload.filename if upload else None,
            ip=client_ip(),
        )

    response = _act(
        tender_id, form, action, _("Issued; everyone who downloaded the documents is told."), "#documents"
    )
    if tender.bid_deadline != before:
        flash(
            _(
                "The bid deadline moved to %(deadline)s (R-T3).",
                deadline=when(tender.bid_deadline),
            ),
            "warning",
        )
    return response


@bp.get("/tenders/<uuid:tender_id>/documents/<uuid:document_id>")
@login_required
def download_document(tender_id: uuid.UUID, document_id: uuid.UUID):
    tender = services.visible(db.session, current_user, tender_id)
    row = documents.document(db.session, current_user, tender, document_id)
    documents.record_download(db.session, current_user, tender, row, client_ip())
    db.session.commit()
    return send_file(
        file_store().path_for(documents.file_of(row)), download_name=row.filename, as_attachment=True
    )


@bp.post("/tenders/<uuid:tender_id>/questions")
@roles_required(Role.TENDERER)
def ask_question(tender_id: uuid.UUID):
    tender = services.visible(db.session, current_user, tender_id)
    form = QuestionForm()
    return _act(
        tender_id,
        form,
        lambda: questions.ask(db.session, current_user, tender, form.text.data, client_ip()),
        _("Your question is sent. The answer goes to everyone, without your name."),
        "#questions",
    )


@bp.post("/agency/tenders/<uuid:tender_id>/questions/<uuid:question_id>/answer")
@roles_required(Role.AGENCY)
def answer_question(tender_id: uuid.UUID, question_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = AnswerForm()
    return _act(
        tender_id,
        form,
        lambda: questions.answer(
            db.session,
            current_user,
            tender,
            [question_id],
            form.answer.data,
            affects_bids=form.affects_bids.data,
            ip=client_ip(),
        ),
        _("The answer is issued as a clarification to everyone."),
        "#questions",
    )


@bp.post("/tenders/<uuid:tender_id>/objections/<stage>")
@roles_required(Role.TENDERER)
def raise_objection(tender_id: uuid.UUID, stage: str):
    tender = services.visible(db.session, current_user, tender_id)
    form = ObjectionForm()
    return _act(
        tender_id,
        form,
        lambda: objections.raise_objection(
            db.session, current_user, tender, stage, form.text.data, client_ip()
        ),
        _("Your objection is recorded; the agency must answer it."),
        "#objections",
    )


@bp.post("/agency/tenders/<uuid:tender_id>/objections/<uuid:objection_id>/answer")
@roles_required(Role.AGENCY)
def answer_objection(tender_id: uuid.UUID, objection_id: uuid.UUID):
    """The one place an objection is answered from a page (R-T4, R-B7), and back to that page."""
    page, anchor = ANSWERED_FROM.get(request.form.get("back", ""), ANSWERED_FROM["notice"])
    tender = services.manageable(db.session, current_user, tender_id)
    form = ObjectionAnswerForm()
    return _act(
        tender_id,
        form,
        lambda: objections.answer(
            db.session,
            current_user,
            tender,
            objections.get(db.session, tender, objection_id),
            form.answer.data,
            client_ip(),
        ),
        _("The answer is recorded and sent to the objector."),
        anchor,
        page,
    )


@bp.get("/notifications")
@login_required
def notifications():
    page = paging.page_of(
        db.session,
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()),
        NOTIFICATIONS_PER_PAGE,
    )
    return render_template("notifications.html", notifications=page.items, page=page, form=FlaskForm())


@bp.post("/notifications/read")
@login_required
def mark_read():
    if FlaskForm().validate_on_submit():
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
            .values(read_at=clock.now())
        )
        db.session.commit()
    return redirect(url_for("notices.notifications"))
