"""Tender pages: the public portal, a notice, and the agency's tender management."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts import services as account_services
from accounts.models import Organization, User
from bidding import bank_views, collusion, opening, services
from bidding.calendar import Calendar
from bidding.forms import CustodianKeyForm, DeleteDraftForm, PublishForm, TenderForm
from bidding.models import Opening, Tender
from bidding.permissions import may_see_opening_record
from core import clock
from core.auth import login_required, roles_required
from core.db import db
from core.errors import DomainError
from core.extensions import client_ip
from core.forms import options
from core.roles import Role
from core.uow import attempt, flash_error

bp = Blueprint("bidding", __name__)

PER_PAGE = 20


@bp.get("/tenders")
def portal():
    q, category = request.args.get("q", "").strip(), request.args.get("category", "").strip()
    page = max(1, request.args.get("page", 1, type=int))
    rows = db.session.scalars(
        services.published_query(q or None, category or None)
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "bidding/portal.html",
        tenders=rows[:PER_PAGE],
        has_next=len(rows) > PER_PAGE,
        page=page,
        q=q,
        category=category,
        now=clock.now(),
        phase=services.phase,
    )


@bp.get("/tenders/<uuid:tender_id>")
def notice(tender_id: uuid.UUID):
    actor = current_user if current_user.is_authenticated else None
    tender = services.visible(db.session, actor, tender_id)
    manager = actor is not None and actor.role == Role.AGENCY and actor.organization_id == tender.agency_id
    record = signals = None
    if db.session.get(Opening, tender.id) is not None and may_see_opening_record(db.session, actor, tender):
        record = opening.record(db.session, tender)  # R-B7: shown to every bidder, the agency, supervisors
        if actor.role == Role.SUPERVISOR:
            signals = collusion.signals(db.session, tender)  # R-B8
    return render_template(
        "bidding/tender.html",
        tender=tender,
        phase=services.phase(tender, clock.now()),
        manager=manager,
        publish_form=_publish_form() if manager else None,
        custodians=services.custodian_readiness(db.session, actor) if manager else None,
        calendar_warnings=services.calendar_warnings(tender, Calendar.load(db.session))
        if manager and tender.status == "draft"
        else [],
        record=record,
        signals=signals,
        **_notice_context(actor, tender, manager),
        **bank_views.tenderer_context(actor, tender),
    )


def _notice_context(actor, tender: Tender, manager: bool) -> dict:
    """What the notice page shows around the tender: documents, questions, objections, forms by role."""
    from bidding import documents, objections, questions
    from bidding import forms as f
    from bidding.permissions import may_see_downloads

    now = clock.now()
    running = db.session.get(Opening, tender.id)
    tenderer = actor is not None and actor.role == Role.TENDERER
    published = tender.status == "published" and running is None
    from bidding import timeline

    shown = documents.visible_documents(db.session, actor, tender)
    return {
        "timeline_svg": timeline.svg(timeline.events(db.session, tender)) if tender.status != "draft" else "",
        "documents": shown,
        # R-T2: why a file cannot be downloaded now (None: it can)
        "download_refusals": {d.id: documents.download_refusal(actor, tender, d, now) for d in shown},
        "downloads": documents.downloads(db.session, actor, tender)
        if may_see_downloads(actor, tender)
        else None,
        "questions": questions.listing(db.session, actor, tender),
        "objections": objections.listing(db.session, actor, tender),
        "opening": running,
        "document_form": f.DocumentForm() if manager and tender.status == "draft" else None,
        "amendment_form": f.AmendmentForm() if manager and published else None,
        "question_form": f.QuestionForm()
        if tenderer and published and tender.documents_from <= now < tender.clarification_deadline
        else None,
        "answer_form": f.AnswerForm() if manager else None,
        "objection_form": f.ObjectionForm() if tenderer else None,
        "objection_stage": "opening"
        if running is not None and running.status == "decrypting"
        else (
            "documents" if published and tender.documents_from <= now < tender.objection_deadline else None
        ),
        "objection_answer_form": f.ObjectionAnswerForm() if manager else None,
        "close_form": f.CloseOpeningForm()
        if manager and running is not None and running.status == "decrypting"
        else None,
    }


def _tender_form(tender: Tender | None = None) -> TenderForm:
    form = TenderForm(obj=None)
    tenderees = db.session.scalars(
        select(Organization).where(Organization.kind == "tenderee").order_by(Organization.name)
    ).all()
    form.tenderee_id.choices = options((str(o.id), o.name) for o in tenderees)
    if tender is not None and request.method == "GET":
        from core.clock import SHANGHAI

        form.title.data, form.track.data, form.category.data = tender.title, tender.track, tender.category
        form.region.data, form.tenderee_id.data = tender.region, str(tender.tenderee_id)
        form.estimate.data = f"{tender.estimated_price_fen / 100:.2f}"
        form.deposit.data = f"{tender.deposit_fen / 100:.2f}"
        form.state_controlled.data, form.description.data = tender.state_controlled, tender.description
        for name in services.TIMELINE:
            value = getattr(tender, name)
            getattr(form, name).data = value.astimezone(SHANGHAI).replace(tzinfo=None) if value else None
        while len(form.lots) < min(len(tender.lots) + 1, form.lots.max_entries):
            form.lots.append_entry()  # every lot, and room for one more
        for entry, lot in zip(form.lots, tender.lots, strict=False):
            entry.form.name.data = lot.name
            entry.form.estimate.data = f"{lot.estimated_price_fen / 100:.2f}"
            entry.form.deposit.data = f"{lot.deposit_fen / 100:.2f}"
    return form


def _publish_form() -> PublishForm:
    form = PublishForm()
    supervisors = services.custodian_candidates(db.session, Role.SUPERVISOR)
    form.supervisor.choices = options((s.username, s.display_name) for s in supervisors)
    form.notary.choices = options([("", "—")] + [(s.username, s.display_name) for s in supervisors])
    return form


@bp.get("/agency/tenders")
@roles_required(Role.AGENCY)
def agency_tenders():
    rows = db.session.scalars(
        select(Tender)
        .where(Tender.agency_id == current_user.organization_id)
        .order_by(Tender.created_at.desc())
    ).all()
    return render_template("bidding/agency_tenders.html", tenders=rows, now=clock.now(), phase=services.phase)


@bp.route("/agency/tenders/new", methods=["GET", "POST"])
@roles_required(Role.AGENCY)
def new_tender():
    form = _tender_form()
    if form.validate_on_submit():
        try:
            tender = services.create_draft(
                db.session, current_user, services.parse_tender(form.to_data()), client_ip()
            )
        except DomainError as err:
            flash_error(err)
            return render_template("bidding/tender_form.html", form=form, tender=None, error=err), err.status
        db.session.commit()
        flash(_("Draft %(code)s saved.", code=tender.code), "success")
        return redirect(url_for("bidding.notice", tender_id=tender.id))
    return render_template("bidding/tender_form.html", form=form, tender=None, error=None)


@bp.route("/agency/tenders/<uuid:tender_id>/edit", methods=["GET", "POST"])
@roles_required(Role.AGENCY)
def edit_tender(tender_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = _tender_form(tender)
    if form.validate_on_submit():
        try:
            services.update_draft(
                db.session, current_user, tender, services.parse_tender(form.to_data()), client_ip()
            )
        except DomainError as err:
            flash_error(err)
            return render_template(
                "bidding/tender_form.html", form=form, tender=tender, error=err
            ), err.status
        db.session.commit()
        flash(_("Draft %(code)s saved.", code=tender.code), "success")
        return redirect(url_for("bidding.notice", tender_id=tender.id))
    return render_template("bidding/tender_form.html", form=form, tender=tender, error=None)


@bp.route("/agency/tenders/<uuid:tender_id>/delete", methods=["GET", "POST"])
@roles_required(Role.AGENCY)
def delete_tender(tender_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = DeleteDraftForm()
    if form.validate_on_submit():
        code = tender.code
        if attempt(
            lambda: services.delete_draft(db.session, current_user, tender, client_ip()),
            _("Draft %(code)s deleted.", code=code),
        ):
            return redirect(url_for("bidding.agency_tenders"))
        return redirect(url_for("bidding.notice", tender_id=tender_id))
    return render_template("bidding/delete_draft.html", tender=tender, form=form)


@bp.post("/agency/tenders/<uuid:tender_id>/publish")
@roles_required(Role.AGENCY)
def publish(tender_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = _publish_form()
    if form.validate_on_submit():
        supervisor = db.session.scalar(select(User).where(User.username == form.supervisor.data))
        notary = (
            db.session.scalar(select(User).where(User.username == form.notary.data))
            if form.notary.data
            else None
        )
        try:
            services.publish(
                db.session, current_user, tender, supervisor=supervisor, notary=notary, ip=client_ip()
            )
        except DomainError as err:
            flash_error(err)
            for problem in err.details.get("problems", []):
                flash(
                    _(
                        "%(field)s: %(code)s %(rule)s %(limit)s",
                        field=problem["field"],
                        code=problem["code"],
                        rule=problem.get("rule") or "",
                        limit=problem.get("earliest") or problem.get("latest") or "",
                    ),
                    "error",
                )
        else:
            db.session.commit()
            flash(
                _("%(code)s is published; its opening key is split among the custodians.", code=tender.code),
                "success",
            )
            for warning in services.calendar_warnings(tender, Calendar.load(db.session)):
                flash(str(warning["message"]), "warning")
    return redirect(url_for("bidding.notice", tender_id=tender.id))


@bp.route("/account/custodian-key", methods=["GET", "POST"])
@login_required
def custodian_key():
    form = CustodianKeyForm()
    if form.validate_on_submit():
        try:
            account_services.set_custodian_key(db.session, current_user, form.recipient.data, client_ip())
        except DomainError as err:
            flash_error(err)
        else:
            db.session.commit()
            flash(_("Your custodian key is registered."), "success")
            return redirect(url_for("accounts.settings"))
    return render_template("bidding/custodian_key.html", form=form)
