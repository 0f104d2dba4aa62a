"""Tender pages: the public portal, a notice, and the agency's tender management."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts import services as account_services
from accounts.forms import EmptyForm
from accounts.models import Organization, User
from bidding import (
    bank_views,
    collusion,
    custodians,
    documents,
    hall,
    lifecycle,
    objections,
    opening,
    periods,
    permissions,
    questions,
    services,
    steps,
    timeline,
    workbench,
)
from bidding import forms as f
from bidding import portal as portal_lists
from bidding.calendar import Calendar
from bidding.forms import CustodianKeyForm, DeleteDraftForm, PublishForm, TenderForm
from bidding.models import Opening, Tender
from bidding.permissions import may_see_downloads, may_see_opening_record
from core import clock, paging
from core.auth import login_required, roles_required
from core.clock import SHANGHAI
from core.db import db
from core.errors import DomainError, Invalid
from core.extensions import client_ip
from core.forms import options
from core.money import yuan_input
from core.present import problem_text
from core.roles import Role
from core.uow import attempt, flash_error

bp = Blueprint("bidding", __name__)
PER_PAGE = 20


@bp.get("/tenders")
def portal():
    """Tender notices, the portal's first tab (candidates and results are the evaluation package's)."""
    filters = portal_lists.Filters.from_args(request.args)
    query = filters.apply(portal_lists.notices_query(), Tender.published_at)
    page = portal_lists.paginate(db.session, query, request.args.get("page", 1, type=int))
    return render_template(
        "bidding/portal.html",
        tab="notices",
        page=page,
        filters=filters,
        options=portal_lists.choices(db.session),
        phases=lifecycle.phases(db.session, page.items),
    )


@bp.get("/tenders/<uuid:tender_id>")
def notice(tender_id: uuid.UUID):
    actor = current_user if current_user.is_authenticated else None
    tender = services.visible(db.session, actor, tender_id)
    manager = permissions.runs(db.session, actor, tender)
    record = signals = proven = None
    if db.session.get(Opening, tender.id) is not None and may_see_opening_record(db.session, actor, tender):
        record = opening.record(db.session, tender)  # R-B7: shown to every bidder, the agency, supervisors
        proven = opening.record_proven(db.session, tender) if record["status"] == "closed" else None
        if permissions.oversees(db.session, actor, tender):
            signals = collusion.signals(db.session, tender)  # R-B8
    return render_template(
        "bidding/tender.html",
        tender=tender,
        phase=lifecycle.phase(tender, clock.now()),
        manager=manager,
        publish_form=_publish_form() if manager else None,
        custodians=custodians.readiness(db.session, actor) if manager and actor is not None else None,
        calendar_warnings=services.calendar_warnings(tender, Calendar.load(db.session))
        if manager and tender.status == "draft"
        else [],
        record=record,
        record_proven=proven,
        hall_open=hall.may_watch(db.session, actor, tender),
        signals=signals,
        steps=steps.steps_for(db.session, actor, tender) if manager and actor is not None else None,
        **_notice_context(actor, tender, manager),
        **bank_views.tenderer_context(actor, tender),
        **workbench.context(db.session, actor, tender, clock.now()),
    )


def _team_context(actor, tender: Tender) -> dict | None:
    """The people assigned to the tender, for those assigned: with colleagues they may add."""
    mine = permissions.assignment(db.session, actor, tender)
    if mine is None:
        return None
    members = permissions.team(db.session, tender)
    taken = {user.id for _row, user in members}
    colleagues = db.session.scalars(
        select(User)
        .where(
            User.organization_id == actor.organization_id,
            User.role == actor.role,
            User.active,
            User.id.not_in(taken),
        )
        .order_by(User.display_name)
    ).all()
    return {"members": members, "kind": mine.kind, "colleagues": colleagues, "form": EmptyForm()}


def _notice_context(actor, tender: Tender, manager: bool) -> dict:
    """What the notice page shows around the tender: documents, questions, objections, forms by role."""

    now = clock.now()
    running = db.session.get(Opening, tender.id)
    tenderer = actor is not None and actor.role == Role.TENDERER
    published = tender.status == "published" and running is None
    calendar = Calendar.load(db.session)

    shown = documents.visible_documents(db.session, actor, tender)
    return {
        "timeline_svg": timeline.svg(timeline.events(db.session, tender)) if tender.status != "draft" else "",
        "documents": shown,
        # R-T2: why a file cannot be downloaded now (None: it can)
        "download_refusals": {
            d.id: documents.download_refusal(db.session, actor, tender, d, now) for d in shown
        },
        "downloads": documents.downloads(db.session, actor, tender)
        if may_see_downloads(db.session, actor, tender)
        else None,
        "questions": questions.listing(db.session, actor, tender),
        "objections": objections.listing(db.session, actor, tender),
        "opening": running,
        "document_form": f.DocumentForm() if manager and tender.status == "draft" else None,
        "amendment_form": f.AmendmentForm() if manager and published else None,
        "question_form": f.QuestionForm()
        if tenderer and published and periods.questions_open(tender, now)
        else None,
        "answer_form": f.AnswerForm() if manager else None,
        "objection_form": f.ObjectionForm() if tenderer else None,
        "objection_stage": "opening"
        if running is not None and running.status == "decrypting"
        else ("documents" if published and periods.objections_open(tender, now, calendar) else None),
        "objection_answer_form": f.ObjectionAnswerForm() if manager else None,
        "team": _team_context(actor, tender),
        "objections_close": periods.objections_close(tender, calendar) if tender.bid_deadline else None,
    }


def _tender_form(tender: Tender | None = None) -> TenderForm:
    form = TenderForm(obj=None)
    tenderees = db.session.scalars(
        select(Organization).where(Organization.kind == "tenderee").order_by(Organization.name)
    ).all()
    form.tenderee_id.choices = options((str(o.id), o.name) for o in tenderees)
    if tender is not None and request.method == "GET":
        form.title.data, form.track.data, form.category.data = tender.title, tender.track, tender.category
        form.region.data, form.tenderee_id.data = tender.region, str(tender.tenderee_id)
        form.estimate.data = yuan_input(tender.estimated_price_fen)
        form.deposit.data = yuan_input(tender.deposit_fen)
        form.state_controlled.data, form.description.data = tender.state_controlled, tender.description
        for name in periods.TIMELINE:
            value = getattr(tender, name)
            getattr(form, name).data = value.astimezone(SHANGHAI).replace(tzinfo=None) if value else None
        while len(form.lots) < min(len(tender.lots) + 1, form.lots.max_entries):
            form.lots.append_entry()  # every lot, and room for one more
        for entry, lot in zip(form.lots, tender.lots, strict=False):
            entry.form.name.data = lot.name
            entry.form.estimate.data = yuan_input(lot.estimated_price_fen)
            entry.form.deposit.data = yuan_input(lot.deposit_fen)
    return form


def _custodian_label(user: User) -> str:
    org = user.organization.name if user.organization else ""
    return f"{user.display_name}（{org}）" if org else user.display_name


def _publish_form() -> PublishForm:
    form = PublishForm()
    supervisors = custodians.candidates(db.session, Role.SUPERVISOR)
    third = custodians.candidates(db.session, Role.NOTARY, Role.SUPERVISOR)
    form.supervisor.choices = options((s.username, _custodian_label(s)) for s in supervisors)
    form.notary.choices = options([("", "—")] + [(s.username, _custodian_label(s)) for s in third])
    return form


@bp.get("/agency/tenders")
@roles_required(Role.AGENCY)
def agency_tenders():
    page = paging.page_of(
        db.session,
        select(Tender)
        .where(Tender.id.in_(permissions.assigned_tenders(current_user)))
        .order_by(Tender.created_at.desc(), Tender.id),
        PER_PAGE,
    )
    return render_template(
        "bidding/agency_tenders.html", tenders=page.items, page=page, now=clock.now(), phase=lifecycle.phase
    )


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
        notary = db.session.scalar(select(User).where(User.username == form.notary.data))
        try:
            services.publish(
                db.session, current_user, tender, supervisor=supervisor, notary=notary, ip=client_ip()
            )
        except DomainError as err:
            flash_error(err)
            for problem in err.details.get("problems", []):
                flash(problem_text(problem), "error")  # the field, the rule and the limit, in words
        else:
            db.session.commit()
            flash(
                _("%(code)s is published; its opening key is split among the custodians.", code=tender.code),
                "success",
            )
            for warning in services.calendar_warnings(tender, Calendar.load(db.session)):
                flash(str(warning["message"]), "warning")
    else:
        for field, errors in form.errors.items():
            for message in errors:
                flash(f"{form[field].label.text}：{message}", "error")
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


@bp.post("/tenders/<uuid:tender_id>/team")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
def assign_colleague(tender_id: uuid.UUID):
    """Assign a colleague of one's own organisation to the tender (rights per person)."""
    tender = services.visible(db.session, current_user, tender_id)
    if EmptyForm().validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == request.form.get("username", "")))
        kind = permissions.AGENCY if current_user.role == Role.AGENCY else permissions.SUPERVISOR

        def action():
            if user is None:
                raise Invalid(
                    _("Choose a colleague."), code="invalid_assignee", details={"field": "username"}
                )
            permissions.assign(db.session, current_user, tender, user, kind, client_ip())

        attempt(action, _("%(name)s is assigned to this tender.", name=user.display_name if user else ""))
    return redirect(url_for("bidding.notice", tender_id=tender.id) + "#team")


@bp.post("/tenders/<uuid:tender_id>/team/<uuid:user_id>/remove")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
def unassign_colleague(tender_id: uuid.UUID, user_id: uuid.UUID):
    tender = services.visible(db.session, current_user, tender_id)
    user = db.session.get(User, user_id)
    if EmptyForm().validate_on_submit() and user is not None:
        attempt(
            lambda: permissions.unassign(db.session, current_user, tender, user, client_ip()),
            _("%(name)s no longer acts on this tender.", name=user.display_name),
        )
    return redirect(url_for("bidding.notice", tender_id=tender.id) + "#team")
