"""Expert pages: the pool for admins, my profile and leave for experts, draws for agencies and supervisors."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from typing import overload

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from accounts.models import User
from bidding import permissions
from bidding import services as tenders
from core import clock, paging
from core.auth import roles_required
from core.clock import SHANGHAI
from core.db import db
from core.errors import DomainError, Invalid
from core.extensions import client_ip
from core.roles import Role
from core.uow import flash_error
from experts import calls, draws, pool
from experts.models import EXPERT_STATUSES, Draw, Leave

bp = Blueprint("experts", __name__)

PER_PAGE = 50


def _local_time(value: str, field: str) -> datetime:
    """A datetime-local input, read as Beijing time."""
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=SHANGHAI)
    except (ValueError, AttributeError) as exc:
        raise Invalid(_l("Not a valid time."), code="invalid_time", details={"field": field}) from exc


@overload
def _date(value: str, field: str) -> date: ...
@overload
def _date(value: str, field: str, *, required: bool) -> date | None: ...
def _date(value: str, field: str, *, required: bool = True) -> date | None:
    if not value and not required:
        return None
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError) as exc:
        raise Invalid(_l("Dates are YYYY-MM-DD."), code="invalid_date", details={"field": field}) from exc


def _int(value: str, field: str) -> int:
    try:
        return int(value or 0)
    except ValueError as exc:
        raise Invalid(_l("Type a whole number."), code="invalid_number", details={"field": field}) from exc


# -- admins: the pool ----------------------------------------------------------------------------------


@bp.get("/admin/experts")
@roles_required(Role.ADMIN)
def admin_list():
    q, status, specialty = (request.args.get(k, "").strip() for k in ("q", "status", "specialty"))
    page = paging.page_of(db.session, pool.search(q, status, specialty), PER_PAGE)
    return render_template(
        "experts/admin_list.html",
        experts=page.items,
        page=page,
        q=q,
        status=status,
        specialty=specialty,
        statuses=EXPERT_STATUSES,
        specialties=pool.specialties(db.session),
    )


def _profile_from_form(current_id_number: str = "") -> pool.Profile:
    form = request.form
    return pool.Profile(
        name=form.get("name", ""),
        id_number=form.get("id_number", "").strip() or current_id_number,
        phone=form.get("phone", ""),
        email=form.get("email", "").strip(),
        title=form.get("title", ""),
        years_of_practice=_int(form.get("years_of_practice", "0"), "years_of_practice"),
        region=form.get("region", ""),
        specialties=form.getlist("specialties"),
        username=form.get("username", "").strip(),
        status=form.get("status", "active"),
    )


def _render_edit(expert=None, problems=None, status=200):
    return (
        render_template(
            "experts/admin_edit.html",
            expert=expert,
            masked=pool.masked_id_number(expert) if expert else "",
            linked=db.session.get(User, expert.user_id) if expert and expert.user_id else None,
            specialties=pool.specialties(db.session),
            statuses=EXPERT_STATUSES,
            problems=problems or [],
            form=request.form,
        ),
        status,
    )


@bp.route("/admin/experts/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_new():
    if request.method == "POST":
        try:
            expert = pool.create_expert(db.session, current_user, _profile_from_form(), client_ip())
        except DomainError as err:
            flash_error(err)
            return _render_edit(problems=err.details.get("problems"), status=err.status)
        db.session.commit()
        flash(_("Expert added."), "success")
        return redirect(url_for("experts.admin_edit", expert_id=expert.id))
    return _render_edit()


@bp.route("/admin/experts/<uuid:expert_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_edit(expert_id: uuid.UUID):
    expert = pool.get_expert(db.session, expert_id)
    if request.method == "POST":
        try:
            pool.update_expert(
                db.session, current_user, expert, _profile_from_form(pool.id_number(expert)), client_ip()
            )
        except DomainError as err:
            flash_error(err)
            return _render_edit(
                pool.get_expert(db.session, expert_id), err.details.get("problems"), err.status
            )
        db.session.commit()
        flash(_("Profile saved."), "success")
        return redirect(url_for("experts.admin_edit", expert_id=expert.id))
    return _render_edit(expert)


@bp.post("/admin/experts/<uuid:expert_id>/employments")
@roles_required(Role.ADMIN)
def admin_add_employment(expert_id: uuid.UUID):
    expert = pool.get_expert(db.session, expert_id)
    form = request.form
    try:
        pool.add_employment(
            db.session,
            current_user,
            expert,
            employer_name=form.get("employer_name", ""),
            employer_credit_code=form.get("employer_credit_code", ""),
            start_date=_date(form.get("start_date", ""), "start_date"),
            end_date=_date(form.get("end_date", ""), "end_date", required=False),
            ip=client_ip(),
        )
        db.session.commit()
        flash(_("Employment recorded."), "success")
    except DomainError as err:
        flash_error(err)
    return redirect(url_for("experts.admin_edit", expert_id=expert_id))


@bp.post("/admin/experts/<uuid:expert_id>/records")
@roles_required(Role.ADMIN)
def admin_add_record(expert_id: uuid.UUID):
    expert = pool.get_expert(db.session, expert_id)
    form = request.form
    try:
        pool.add_record(
            db.session,
            current_user,
            expert,
            kind=form.get("kind", ""),
            title=form.get("title", ""),
            held_on=_date(form.get("held_on", ""), "held_on"),
            result=form.get("result", "")[:100],
            ip=client_ip(),
        )
        db.session.commit()
        flash(_("Record added."), "success")
    except DomainError as err:
        flash_error(err)
    return redirect(url_for("experts.admin_edit", expert_id=expert_id))


@bp.post("/admin/experts/<uuid:expert_id>/leaves")
@roles_required(Role.ADMIN)
def admin_add_leave(expert_id: uuid.UUID):
    _add_leave(pool.get_expert(db.session, expert_id))
    return redirect(url_for("experts.admin_edit", expert_id=expert_id))


@bp.route("/admin/experts/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_import():
    errors, imported = [], None
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise Invalid(_l("Choose a CSV file."), code="import_no_file")
            created = pool.import_csv(
                db.session, current_user, upload.stream.read(pool.MAX_IMPORT_BYTES + 1), client_ip()
            )
            db.session.commit()
            imported = len(created)
        except DomainError as err:
            flash_error(err)
            errors = err.details.get("rows", [])
    return render_template(
        "experts/admin_import.html", errors=errors, imported=imported, columns=pool.CSV_COLUMNS
    )


@bp.route("/admin/specialties", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_specialties():
    if request.method == "POST":
        try:
            pool.add_specialty(
                db.session,
                current_user,
                request.form.get("code", ""),
                request.form.get("name", ""),
                client_ip(),
            )
            db.session.commit()
            flash(_("Specialty added."), "success")
        except DomainError as err:
            flash_error(err)
        return redirect(url_for("experts.admin_specialties"))
    return render_template("experts/admin_specialties.html", specialties=pool.specialties(db.session))


# -- experts: my profile and leave ---------------------------------------------------------------------


def _add_leave(expert) -> None:
    form = request.form
    try:
        pool.add_leave(
            db.session,
            current_user,
            expert,
            starts_at=_local_time(form.get("starts_at", ""), "starts_at"),
            ends_at=_local_time(form.get("ends_at", ""), "ends_at"),
            reason=form.get("reason", ""),
            ip=client_ip(),
        )
        db.session.commit()
        flash(_("Leave recorded: you will not be drawn for evaluations in this period."), "success")
    except DomainError as err:
        flash_error(err)


@bp.get("/experts/me")
@roles_required(Role.EXPERT)
def my_profile():
    expert = pool.expert_for_user(db.session, current_user)
    return render_template(
        "experts/me.html",
        expert=expert,
        masked=pool.masked_id_number(expert),
        names={s.code: s.name for s in pool.specialties(db.session)},
        now=clock.now(),
    )


@bp.post("/experts/me/leaves")
@roles_required(Role.EXPERT)
def my_leave():
    _add_leave(pool.expert_for_user(db.session, current_user))
    return redirect(url_for("experts.my_profile"))


@bp.post("/experts/me/leaves/<uuid:leave_id>/delete")
@roles_required(Role.EXPERT)
def my_leave_delete(leave_id: uuid.UUID):
    expert = pool.expert_for_user(db.session, current_user)
    leave = db.session.get(Leave, leave_id)
    if leave is None or leave.expert_id != expert.id:
        flash(_("No such leave."), "error")
    else:
        pool.remove_leave(db.session, current_user, leave, client_ip())
        db.session.commit()
        flash(_("Leave removed."), "success")
    return redirect(url_for("experts.my_profile"))


# -- draws: the agency requests, the supervisor witnesses ----------------------------------------------


@bp.route("/tenders/<uuid:tender_id>/draws/new", methods=["GET", "POST"])
@roles_required(Role.AGENCY)
def draw_new(tender_id: uuid.UUID):
    tender = tenders.manageable(db.session, current_user, tender_id)
    error = None
    if request.method == "POST":
        form = request.form
        try:
            seats: dict[str, int] = {}
            for code, count in zip(form.getlist("specialty"), form.getlist("count"), strict=False):
                if code and count.strip():
                    seats[code] = seats.get(code, 0) + _int(count, "count")
            data = {
                "specialties": seats,
                "backups": _int(form.get("backups", "0"), "backups"),
                "tenderee_representatives": 1 if form.get("tenderee_representative") else 0,
                "regions": [
                    r.strip() for r in form.get("regions", "").replace("，", ",").split(",") if r.strip()
                ],
            }
            criteria, representatives = draws.parse_criteria(db.session, data)
            draw = draws.request_draw(
                db.session,
                current_user,
                tender,
                criteria,
                representatives=representatives,
                supervisor=draws.supervisor_for(db.session, tender, form.get("supervisor")),
                evaluation_at=_local_time(form.get("evaluation_at", ""), "evaluation_at"),
                evaluation_place=form.get("evaluation_place", ""),
                ip=client_ip(),
            )
            db.session.commit()
            flash(
                _("The draw is committed. Now you and the supervisor each contribute a random value."),
                "success",
            )
            return redirect(url_for("experts.draw_page", draw_id=draw.id))
        except DomainError as err:
            flash_error(err)
            error = err
    supervisors = [
        user
        for row, user in permissions.team(db.session, tender)
        if row.kind == permissions.SUPERVISOR and user.active
    ]
    page = render_template(
        "experts/draw_new.html",
        tender=tender,
        specialties=pool.specialties(db.session),
        supervisors=supervisors,
        error=error,
        form=request.form,
        history=draws.draws_for(db.session, tender),
    )
    return page, error.status if error else 200


@bp.get("/draws/<uuid:draw_id>")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
def draw_page(draw_id: uuid.UUID):
    draw, tender = draws.visible_draw(db.session, current_user, draw_id)
    rows = None
    if request.args.get("names") and permissions.oversees(db.session, current_user, tender):
        rows = draws.members(db.session, current_user, draw_id, client_ip())  # R-E4: logged
        db.session.commit()
    side = draws.contribution_role(db.session, current_user, draw, tender)
    return render_template(
        "experts/draw.html",
        draw=draw,
        tender=tender,
        status=draws.status_json(db.session, draw, tender),
        side=side,
        contributed=side is not None and getattr(draw, f"{side}_contribution") is not None,
        suggestion=secrets.token_hex(32),
        rows=rows,
    )


@bp.post("/draws/<uuid:draw_id>/contribute")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
def draw_contribute(draw_id: uuid.UUID):
    draw, _tender = draws.visible_draw(db.session, current_user, draw_id)
    try:
        draws.contribute(db.session, current_user, draw, request.form.get("value", ""), client_ip())
        db.session.commit()
        flash(_("Contribution recorded."), "success")
    except DomainError as err:
        flash_error(err)
    return redirect(url_for("experts.draw_page", draw_id=draw_id))


# -- calls: the called expert answers ------------------------------------------------------------------


@bp.get("/experts/calls")
@roles_required(Role.EXPERT)
def my_calls():
    page = paging.page_of_list(calls.my_calls(db.session, current_user), PER_PAGE)
    rows = []
    for call in page.items:
        draw = db.session.get(Draw, call.draw_id)
        rows.append((call, draw, calls.call_json(db.session, current_user, call, draw)["room"]))
    return render_template("experts/calls.html", rows=rows, page=page, now=clock.now())


@bp.route("/experts/calls/<uuid:call_id>", methods=["GET", "POST"])
@roles_required(Role.EXPERT)
def my_call(call_id: uuid.UUID):
    if request.method == "POST":
        try:
            calls.answer(
                db.session,
                current_user,
                call_id,
                accept=request.form.get("answer") == "accept",
                reason=request.form.get("reason", ""),
                ip=client_ip(),
            )
            db.session.commit()
            flash(_("Your answer is recorded."), "success")
        except DomainError as err:
            flash_error(err)
        back = request.form.get("back")
        if back == "calls":  # answered from the list
            return redirect(url_for("experts.my_calls"))
        return redirect(url_for("experts.my_call", call_id=call_id))
    call, draw = calls.my_call(db.session, current_user, call_id)
    room = calls.call_json(db.session, current_user, call, draw)["room"]
    return render_template("experts/call.html", call=call, draw=draw, room=room, now=clock.now())
