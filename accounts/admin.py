"""Admin pages: the centre's organisations and the people in them, over their whole life."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts import lifecycle, organizations, services, sessions
from accounts.forms import EmptyForm, OrganizationForm, ProfileForm, ReasonForm, SetPasswordForm, UserForm
from accounts.models import ROLE_ORG_KIND, Organization, User
from core import paging
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, NotFound
from core.extensions import client_ip
from core.forms import options
from core.labels import label
from core.roles import ROLE_LABELS, Role
from core.uow import attempt, flash_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 50


def _org(org_id: uuid.UUID) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound(_("No such organisation."), code="organization_not_found")
    return org


def _user(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."), code="user_not_found")
    return user


# -- organisations ------------------------------------------------------------------------------------


@bp.get("/organizations")
@roles_required(Role.ADMIN)
def organization_list():
    kind = request.args.get("kind") or None
    page = paging.page_of(
        db.session,
        organizations.query(
            kind if kind in (*organizations.CREATABLE_KINDS, "platform") else None, request.args.get("q")
        ),
        PER_PAGE,
    )
    return render_template(
        "accounts/admin_organizations.html",
        page=page,
        kinds=[(k, label("organizations.kind", k)) for k in organizations.CREATABLE_KINDS],
        counts=organizations.member_counts(db.session),
    )


@bp.route("/organizations/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_organization():
    form = OrganizationForm()
    form.kind.choices = options((k, label("organizations.kind", k)) for k in organizations.CREATABLE_KINDS)
    if form.validate_on_submit():
        try:
            org = organizations.create(
                db.session,
                current_user,
                name=form.name.data,
                credit_code=form.credit_code.data,
                kind=form.kind.data,
                ip=client_ip(),
            )
        except DomainError as err:
            flash_error(err)
            if err.details.get("field") in form:
                form[err.details["field"]].errors = [str(err.message)]
            return render_template("accounts/admin_organization_form.html", form=form), err.status
        db.session.commit()
        flash(_("%(name)s is registered. Now add its people.", name=org.name), "success")
        return redirect(url_for("admin.organization", org_id=org.id))
    return render_template("accounts/admin_organization_form.html", form=form)


@bp.get("/organizations/<uuid:org_id>")
@roles_required(Role.ADMIN)
def organization(org_id: uuid.UUID):
    org = _org(org_id)
    form = OrganizationForm(obj=org)
    people = db.session.scalars(
        select(User).where(User.organization_id == org.id).order_by(User.display_name)
    ).all()
    return render_template(
        "accounts/admin_organization.html", org=org, form=form, people=people, reason_form=ReasonForm()
    )


@bp.post("/organizations/<uuid:org_id>/name")
@roles_required(Role.ADMIN)
def rename_organization(org_id: uuid.UUID):
    org = _org(org_id)
    attempt(
        lambda: organizations.rename(
            db.session, current_user, org, request.form.get("name", ""), client_ip()
        ),
        _("The name is saved."),
    )
    return redirect(url_for("admin.organization", org_id=org.id))


@bp.post("/organizations/<uuid:org_id>/active")
@roles_required(Role.ADMIN)
def activate_organization(org_id: uuid.UUID):
    org = _org(org_id)
    form = ReasonForm()
    if form.validate_on_submit():
        active = request.form.get("active") == "1"
        attempt(
            lambda: organizations.set_active(
                db.session, current_user, org, active, form.reason.data, client_ip()
            ),
            _("The organisation is active again; enable its people one by one.")
            if active
            else _("The organisation is deactivated: its people can no longer sign in."),
        )
    else:
        flash(_("Say why: it is kept in the log."), "error")
    return redirect(url_for("admin.organization", org_id=org.id))


# -- people -----------------------------------------------------------------------------------------


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    query = select(User).order_by(User.role, User.username)
    if request.args.get("q"):
        text = request.args["q"].strip()
        query = query.where(
            User.username.icontains(text, autoescape=True)
            | User.display_name.icontains(text, autoescape=True)
        )
    return render_template("accounts/admin_users.html", page=paging.page_of(db.session, query, PER_PAGE))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    form = UserForm()
    org = (
        db.session.get(Organization, uuid.UUID(request.args["organization"]))
        if request.args.get("organization")
        else None
    )
    if org is None and form.organization.data:
        org = db.session.get(Organization, uuid.UUID(form.organization.data))
    orgs = (
        [org]
        if org is not None
        else db.session.scalars(
            select(Organization).where(Organization.active).order_by(Organization.kind, Organization.name)
        ).all()
    )
    form.organization.choices = options(
        ([] if org else [("", "—")])
        + [(str(o.id), f"{o.name}（{label('organizations.kind', o.kind)}）") for o in orgs]
    )
    # Only the roles the organisation's kind allows (experts are individuals, without an organisation).
    allowed = [r for r, kind in ROLE_ORG_KIND.items() if org is None or kind == org.kind]
    if org is None:
        allowed.append(Role.EXPERT)
    form.role.choices = options((str(r), ROLE_LABELS[r]) for r in allowed)
    if form.validate_on_submit():
        try:
            user = services.create_user(
                db.session,
                current_user,
                username=form.username.data,
                display_name=form.display_name.data,
                email=form.email.data,
                role=form.role.data,
                password=form.password.data,
                organization=org,
                ip=client_ip(),
            )
        except DomainError as err:
            flash_error(err)
            if err.details.get("field") in form:
                form[err.details["field"]].errors = [str(err.message)]
            return render_template("accounts/admin_user_form.html", form=form, org=org), err.status
        db.session.commit()
        flash(
            _(
                "%(name)s is created. They choose their own password and set up their second factor "
                "at the first sign-in.",
                name=user.display_name,
            ),
            "success",
        )
        return redirect(
            url_for("admin.organization", org_id=org.id) if org else url_for("admin.user", user_id=user.id)
        )
    return render_template("accounts/admin_user_form.html", form=form, org=org)


@bp.get("/users/<uuid:user_id>")
@roles_required(Role.ADMIN)
def user(user_id: uuid.UUID):
    person = _user(user_id)
    return render_template(
        "accounts/admin_user.html",
        person=person,
        profile=ProfileForm(obj=person),
        reason_form=ReasonForm(),
        password_form=SetPasswordForm(),
        live_sessions=len(sessions.live_sessions(db.session, person)),
        recovery_left=lifecycle.unused_recovery_codes(db.session, person),
    )


@bp.post("/users/<uuid:user_id>/profile")
@roles_required(Role.ADMIN)
def user_profile(user_id: uuid.UUID):
    person = _user(user_id)
    form = ProfileForm()
    if form.validate_on_submit():
        attempt(
            lambda: lifecycle.update_profile(
                db.session,
                current_user,
                person,
                display_name=form.display_name.data,
                email=form.email.data,
                phone=form.phone.data,
                ip=client_ip(),
            ),
            _("The details are saved."),
        )
    else:
        for field, errors in form.errors.items():
            for message in errors:
                flash(f"{form[field].label.text}：{message}", "error")
    return redirect(url_for("admin.user", user_id=person.id))


def _with_reason(user_id: uuid.UUID, action, success: str):
    person = _user(user_id)
    form = ReasonForm()
    if form.validate_on_submit():
        attempt(lambda: action(db.session, current_user, person, form.reason.data, client_ip()), success)
    else:
        flash(_("Say why: it is kept in the log."), "error")
    return redirect(url_for("admin.user", user_id=person.id))


@bp.post("/users/<uuid:user_id>/disable")
@roles_required(Role.ADMIN)
def disable_user(user_id: uuid.UUID):
    return _with_reason(
        user_id, lifecycle.disable, _("The account is disabled: its sessions and API tokens have ended.")
    )


@bp.post("/users/<uuid:user_id>/enable")
@roles_required(Role.ADMIN)
def enable_user(user_id: uuid.UUID):
    return _with_reason(user_id, lifecycle.enable, _("The account is enabled again."))


@bp.post("/users/<uuid:user_id>/reset-totp")
@roles_required(Role.ADMIN)
def reset_totp(user_id: uuid.UUID):
    return _with_reason(
        user_id,
        lifecycle.reset_second_factor,
        _("The second factor is reset: they set up their authenticator again at the next sign-in."),
    )


@bp.post("/users/<uuid:user_id>/unlock")
@roles_required(Role.ADMIN)
def unlock_user(user_id: uuid.UUID):
    person = _user(user_id)
    if EmptyForm().validate_on_submit():
        attempt(
            lambda: lifecycle.unlock(db.session, current_user, person, client_ip()),
            _("Every sign-in lock on this account is lifted."),
        )
    return redirect(url_for("admin.user", user_id=person.id))


@bp.post("/users/<uuid:user_id>/password")
@roles_required(Role.ADMIN)
def set_password(user_id: uuid.UUID):
    person = _user(user_id)
    form = SetPasswordForm()
    if form.validate_on_submit():
        attempt(
            lambda: lifecycle.set_password(db.session, current_user, person, form.password.data, client_ip()),
            _("The password is set: they choose their own at the next sign-in."),
        )
    else:
        for field, errors in form.errors.items():
            for message in errors:
                flash(f"{form[field].label.text}：{message}", "error")
    return redirect(url_for("admin.user", user_id=person.id))
