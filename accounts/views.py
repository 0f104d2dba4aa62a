"""Sign-in with a second factor, registration, and account settings."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from accounts import services, totp
from accounts.forms import CodeForm, EmptyForm, PasswordChangeForm, RegisterForm, SignInForm, TokenForm
from accounts.models import ApiToken, User
from core import clock
from core.auth import login_required
from core.db import db
from core.errors import DomainError
from core.extensions import client_ip, limiter
from core.i18n import safe_next
from core.uow import flash_error

bp = Blueprint("accounts", __name__)

PENDING = "pending_sign_in"
PENDING_SECONDS = 300


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _set_pending(user: User, next_url: str) -> None:
    session[PENDING] = {
        "uid": str(user.id),
        "v": user.session_version,
        "at": int(clock.now().timestamp()),
        "next": next_url,
    }


def _pending_user() -> tuple[User | None, str]:
    data = session.get(PENDING)
    if not data or clock.now().timestamp() - data["at"] > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None, url_for("web.dashboard")
    user = db.session.get(User, uuid.UUID(data["uid"]))
    if user is None or user.session_version != data["v"] or not user.active:
        session.pop(PENDING, None)
        return None, url_for("web.dashboard")
    return user, data["next"]


def _finish(user: User, method: str, next_url: str):
    services.complete_sign_in(db.session, user, method=method, ip=client_ip())
    db.session.commit()
    session.pop(PENDING, None)
    session.pop("lang", None) if user.locale else None
    login_user(user)
    session.permanent = False
    return redirect(safe_next(next_url, url_for("web.dashboard")))


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("web.dashboard"))
    form = SignInForm()
    next_url = safe_next(request.args.get("next"), url_for("web.dashboard"))
    if form.validate_on_submit():
        try:
            user = services.check_password(db.session, form.username.data, form.password.data, client_ip())
        except DomainError as err:
            flash_error(err)
            return render_template("accounts/sign_in.html", form=form), err.status
        db.session.commit()  # a rehashed password is kept
        if user.totp_enabled:
            _set_pending(user, next_url)
            return redirect(url_for("accounts.verify_code"))
        if services.second_factor_required(user):
            _set_pending(user, next_url)
            return redirect(url_for("accounts.enrol_at_sign_in"))
        return _finish(user, "password", next_url)
    return render_template("accounts/sign_in.html", form=form)


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def verify_code():
    user, next_url = _pending_user()
    if user is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for("accounts.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            services.check_totp(db.session, user, form.code.data, client_ip())
        except DomainError as err:
            flash_error(err)
            return render_template("accounts/code.html", form=form, user=user), err.status
        return _finish(user, "password+totp", next_url)
    return render_template("accounts/code.html", form=form, user=user)


@bp.route("/sign-in/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def enrol_at_sign_in():
    """Roles that need a second factor set it up before their first session starts."""
    user, next_url = _pending_user()
    if user is None or user.totp_enabled:
        return redirect(url_for("accounts.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            services.confirm_totp_enrolment(db.session, user, form.code.data, client_ip())
        except DomainError as err:
            flash_error(err)
        else:
            return _finish(user, "password+totp_enrolment", next_url)
    secret = services.pending_totp_secret(user) if request.method == "POST" else None
    if secret is None:
        secret = services.start_totp_enrolment(db.session, user)
        db.session.commit()
    return render_template(
        "accounts/enrol.html",
        form=form,
        secret=secret,
        user=user,
        qr=totp.qr_svg_data_uri(totp.provisioning_uri(secret, user.username)),
    )


@bp.post("/sign-out")
@login_required
def sign_out():
    services.sign_out(db.session, current_user, client_ip())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("web.index"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    """Free registration of a tenderer company and its first user."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            services.register_tenderer(
                db.session,
                org_name=form.org_name.data,
                credit_code=form.credit_code.data,
                username=form.username.data,
                display_name=form.display_name.data,
                email=form.email.data,
                phone=form.phone.data or None,
                password=form.password.data,
                ip=client_ip(),
            )
        except DomainError as err:
            flash_error(err)
            field = err.details.get("field")
            if field in form:
                form[field].errors = [str(err.message)]
            return render_template("accounts/register.html", form=form), err.status
        db.session.commit()
        flash(_("Your company is registered. Sign in to continue."), "success")
        return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/register.html", form=form)


@bp.get("/account")
@login_required
def settings():
    return _render_settings()


def _render_settings(new_token: str | None = None):
    tokens = db.session.scalars(
        select(ApiToken)
        .where(
            ApiToken.user_id == current_user.id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > clock.real_now(),
        )
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "accounts/settings.html",
        password_form=PasswordChangeForm(prefix="pw"),
        token_form=TokenForm(prefix="tok"),
        tokens=tokens,
        button=EmptyForm(),
        new_token=new_token,
    )


@bp.post("/account/password")
@login_required
def change_password():
    form = PasswordChangeForm(prefix="pw")
    if form.validate_on_submit():
        try:
            services.change_password(db.session, current_user, form.old.data, form.new.data, client_ip())
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("accounts.settings"))
        db.session.commit()
        login_user(
            current_user._get_current_object()
        )  # the session version changed: keep this session, end the others
        flash(_("Your password is changed. Other sessions were signed out."), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("accounts.settings"))


@bp.route("/account/totp", methods=["GET", "POST"])
@login_required
def enrol_totp():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            services.confirm_totp_enrolment(db.session, current_user, form.code.data, client_ip())
        except DomainError as err:
            flash_error(err)
        else:
            db.session.commit()
            flash(_("Your authenticator app is set up."), "success")
            return redirect(url_for("accounts.settings"))
    secret = services.pending_totp_secret(current_user) if request.method == "POST" else None
    if secret is None:
        secret = services.start_totp_enrolment(db.session, current_user)
        db.session.commit()
    return render_template(
        "accounts/enrol.html",
        form=form,
        secret=secret,
        user=current_user,
        qr=totp.qr_svg_data_uri(totp.provisioning_uri(secret, current_user.username)),
    )


@bp.post("/account/tokens")
@login_required
def create_token():
    form = TokenForm(prefix="tok")
    if form.validate_on_submit():
        token, _row = services.issue_token(db.session, current_user, name=form.name.data, ip=client_ip())
        db.session.commit()
        return _render_settings(new_token=token)  # shown once, in this response only
    return redirect(url_for("accounts.settings"))


@bp.post("/account/tokens/<uuid:token_id>/revoke")
@login_required
def revoke_token(token_id: uuid.UUID):
    if EmptyForm().validate_on_submit():
        try:
            services.revoke_token(db.session, current_user, token_id, client_ip())
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("accounts.settings"))
        db.session.commit()
        flash(_("The token is revoked."), "success")
    return redirect(url_for("accounts.settings"))
