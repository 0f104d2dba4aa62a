"""The award page of a tender: the candidates in publicity (public), objections to the result, the
tenderee's decision, the award and the contract; the same services as the API."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from accounts.models import Organization
from bidding import permissions
from bidding import services as tenders
from bidding.calendar import last_day
from core import clock
from core.auth import roles_required
from core.db import db, get_row
from core.errors import Invalid, NotFound
from core.extensions import client_ip
from core.money import AmountError, parse_yuan
from core.roles import Role
from core.storage import file_store
from core.uow import attempt
from evaluation import award
from evaluation.models import Award, EvaluationReport, Publicity

bp = Blueprint("evaluation_award", __name__)


def _portal_list(tab: str, query, moment, template: str):
    from bidding import portal

    filters = portal.Filters.from_args(request.args)
    page = portal.paginate(db.session, filters.apply(query, moment), request.args.get("page", 1, type=int))
    return render_template(
        template, tab=tab, page=page, filters=filters, options=portal.choices(db.session), now=clock.now()
    )


@bp.get("/tenders/candidates")
def candidate_notices():
    """中标候选人公示: every tender's published candidates, newest first (R-A1), for everyone."""
    from sqlalchemy import select

    from bidding.models import Tender

    query = (
        select(Publicity, Tender)
        .join(Tender, Tender.id == Publicity.tender_id)
        .order_by(Publicity.published_at.desc(), Tender.id)
    )
    return _portal_list("candidates", query, Publicity.published_at, "evaluation/portal_candidates.html")


@bp.get("/tenders/results")
def result_notices():
    """中标结果公告: every award with its winner and the signed notice (R-A3, R-R2), for everyone."""
    from sqlalchemy import select

    from bidding.models import Bid, Tender

    query = (
        select(Award, Tender, Organization.name)
        .join(Tender, Tender.id == Award.tender_id)
        .join(Bid, Bid.id == Award.winner_bid_id)
        .join(Organization, Organization.id == Bid.organization_id)
        .order_by(Award.decided_at.desc(), Tender.id)
    )
    return _portal_list("results", query, Award.decided_at, "evaluation/portal_results.html")


@bp.get("/tenders/<uuid:tender_id>/award/<kind>.pdf")
def notice_pdf(tender_id: uuid.UUID, kind: str):
    """A signed notice (R-R2): the result notice for everyone; the award notice for the winner, the
    tenderee, the agency and the supervisors."""
    from flask import Response

    from evaluation import notices

    actor = current_user if current_user.is_authenticated else None
    tender = tenders.visible(db.session, actor, tender_id)
    row = db.session.get(Award, tender.id)
    if kind == notices.AWARD and row is not None and not _may_see_award_notice(actor, tender, row):
        raise NotFound(_("No such notice."), code="notice_not_found")
    body = notices.document(db.session, tender, kind)
    name = f"{tender.code}-{'award-notice' if kind == notices.AWARD else 'result-notice'}.pdf"
    return Response(
        body, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@bp.get("/tenders/<uuid:tender_id>/award")
def award_page(tender_id: uuid.UUID):
    actor = current_user if current_user.is_authenticated else None
    tender = tenders.visible(db.session, actor, tender_id)
    publicity = db.session.get(Publicity, tender.id)
    report = db.session.get(EvaluationReport, tender.id)
    row = db.session.get(Award, tender.id)
    if publicity is None and not permissions.runs(db.session, actor, tender):
        raise NotFound(_("No candidates are published."), code="publicity_not_found")
    role = getattr(actor, "role", None)
    return render_template(
        "evaluation/award.html",
        tender=tender,
        publicity=publicity,
        report_signed=report is not None and report.status == "signed",
        award=award.award_json(db.session, row) if row else None,
        award_row=row,
        contract_last_day=last_day(row.contract_due_at) if row else None,
        now=clock.now(),
        form=FlaskForm(),
        is_agency=permissions.runs(db.session, actor, tender),
        is_tenderee=permissions.is_tenderee(actor, tender),
        is_tenderer=role == Role.TENDERER,
        may_see_award_notice=row is not None and _may_see_award_notice(actor, tender, row),
    )


def _may_see_award_notice(actor, tender, row: Award) -> bool:
    """中标通知书 is addressed to the winner: it, the tenderee, the agency and the supervisors read it."""
    from bidding.models import Bid

    winner = get_row(db.session, Bid, row.winner_bid_id).organization_id
    return (
        permissions.runs(db.session, actor, tender)
        or permissions.oversees(db.session, actor, tender)
        or permissions.is_tenderee(actor, tender)
        or (actor is not None and actor.organization_id == winner)
    )


def _act(tender_id, action, success: str):
    if FlaskForm().validate_on_submit():
        attempt(action, success)
    return redirect(url_for("evaluation_award.award_page", tender_id=tender_id))


@bp.post("/tenders/<uuid:tender_id>/award/candidates")
@roles_required(Role.AGENCY)
def publish(tender_id: uuid.UUID):
    tender = tenders.manageable(db.session, current_user, tender_id)
    return _act(
        tender_id,
        lambda: award.publish_candidates(db.session, current_user, tender, client_ip()),
        _("The candidates are published."),
    )


@bp.post("/tenders/<uuid:tender_id>/award/objection")
@roles_required(Role.TENDERER)
def object_(tender_id: uuid.UUID):
    tender = tenders.visible(db.session, current_user, tender_id)
    text = request.form.get("text", "")
    return _act(
        tender_id,
        lambda: award.object_during_publicity(db.session, current_user, tender, text, client_ip()),
        _("Your objection is recorded; the agency must answer it."),
    )


@bp.post("/tenders/<uuid:tender_id>/award/decision")
@roles_required(Role.TENDEREE)
def decide(tender_id: uuid.UUID):
    tender = tenders.visible(db.session, current_user, tender_id)
    form = request.form

    def action():
        award.decide(
            db.session,
            current_user,
            tender,
            uuid.UUID(form.get("bid", "")),
            form.get("reasons", ""),
            client_ip(),
        )

    return _act(tender_id, action, _("The award is decided; the notices are sent."))


@bp.post("/tenders/<uuid:tender_id>/award/contract")
@roles_required(Role.TENDEREE, Role.AGENCY)
def contract(tender_id: uuid.UUID):
    tender = tenders.visible(db.session, current_user, tender_id)
    upload = request.files.get("file")

    def action():
        if upload is None or not upload.filename:
            raise Invalid(_("Attach the file."), code="missing_fields")
        try:
            amount = parse_yuan(request.form.get("amount"))
        except AmountError as exc:
            raise Invalid(exc.message, code="invalid_amount", details={"field": "amount"}) from exc
        award.record_contract(
            db.session,
            current_user,
            tender,
            upload.stream,
            amount_fen=amount or 0,
            store=file_store(),
            ip=client_ip(),
        )

    return _act(tender_id, action, _("The contract is recorded; the deposits are being refunded."))
