"""Admin pages for people and organisations."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts import services
from accounts.forms import EmptyForm, UserForm
from accounts.models import Organization, User
from core import paging
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, NotFound
from core.extensions import client_ip
from core.forms import options
from core.labels import label
from core.roles import Role
from core.uow import flash_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 50


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    page = paging.page_of(db.session, select(User).order_by(User.role, User.username), PER_PAGE)
    return render_template("accounts/admin_users.html", users=page.items, page=page, button=EmptyForm())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    form = UserForm()
    orgs = db.session.scalars(select(Organization).order_by(Organization.kind, Organization.name)).all()
    form.organization.choices = options(
        [("", "—")] + [(str(o.id), f"{o.name} ({label('organizations.kind', o.kind)})") for o in orgs]
    )
    if form.validate_on_submit():
        org = (
            db.session.get(Organization, uuid.UUID(form.organization.data))
            if form.organization.data
            else None
        )
        try:
            services.create_user(
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
            return render_template("accounts/admin_user_form.html", form=form), err.status
        db.session.commit()
        flash(_("The user is created. They set up their second factor at first sign-in."), "success")
        return redirect(url_for("admin.users"))
    return render_template("accounts/admin_user_form.html", form=form)


@bp.post("/users/<uuid:user_id>/reset-totp")
@roles_required(Role.ADMIN)
def reset_totp(user_id: uuid.UUID):
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(code="user_not_found")
    if EmptyForm().validate_on_submit():
        services.reset_totp(db.session, current_user, user, client_ip())
        db.session.commit()
        flash(_("The second factor of %(name)s is reset.", name=user.username), "success")
    return redirect(url_for("admin.users"))
