"""Sign-in with a second factor, registration, and account settings."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from accounts import lifecycle, services, sessions, totp
from accounts.forms import (
    CodeForm,
    EmptyForm,
    FirstPasswordForm,
    PasswordChangeForm,
    RegisterForm,
    SignInForm,
    TokenForm,
)
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
FIRST_PASSWORD_NEXT = "after_first_password"  # noqa: S105 (a session key, not a secret)
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


def begin_session(user: User, method: str) -> None:
    """Sign ``user`` in to this browser: the sign-in is logged and a server-side session started, which
    the cookie names (accounts.sessions: sign-out, idle time and password changes end it)."""
    services.complete_sign_in(db.session, user, method=method, ip=client_ip())
    token = sessions.start(db.session, user, client_ip(), request.headers.get("User-Agent"))
    db.session.commit()
    lang = session.get("lang") if not user.locale else None
    session.clear()  # nothing from before the sign-in carries over (session fixation)
    if lang:
        session["lang"] = lang
    login_user(user)
    session[sessions.COOKIE_KEY] = token
    session.permanent = False


def _finish(user: User, method: str, next_url: str):
    begin_session(user, method)
    target = safe_next(next_url, url_for("web.dashboard"))
    if user.must_change_password:  # an administrator chose it: the person chooses their own first
        session[FIRST_PASSWORD_NEXT] = target
        return redirect(url_for("accounts.first_password"))
    return redirect(target)


def _show_recovery_codes(user: User, next_url: str):
    """Right after the authenticator is set up: the one-time recovery codes, shown once."""
    codes = lifecycle.new_recovery_codes(db.session, user, client_ip())
    db.session.commit()
    target = safe_next(next_url, url_for("web.dashboard"))
    if user.must_change_password:
        session[FIRST_PASSWORD_NEXT] = target
        target = url_for("accounts.first_password")
    return render_template("accounts/recovery_codes.html", codes=codes, next_url=target)


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
        recovery = lifecycle.looks_like_recovery_code(form.code.data)
        try:
            if recovery:  # the phone is lost: a one-time recovery code stands in for it
                lifecycle.use_recovery_code(db.session, user, form.code.data, client_ip())
            else:
                services.check_totp(db.session, user, form.code.data, client_ip())
        except DomainError as err:
            flash_error(err)
            return render_template("accounts/code.html", form=form, user=user), err.status
        response = _finish(user, "password+recovery_code" if recovery else "password+totp", next_url)
        if recovery:
            left = lifecycle.unused_recovery_codes(db.session, user)
            flash(
                _("You signed in with a recovery code; %(n)s are left. Set up your phone again.", n=left),
                "warning",
            )
        return response
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
            _finish(user, "password+totp_enrolment", next_url)
            return _show_recovery_codes(user, next_url)
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
    sessions.end(db.session, session.get(sessions.COOKIE_KEY), "signed_out")
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
        flash(
            _(
                "Your company is registered. Sign in to read tenders; to bid, submit your business licence "
                "for the centre to verify (Account → Company verification)."
            ),
            "success",
        )
        return redirect(url_for("accounts.sign_in"))
    # Every problem at once, with 422 like any refused input (issue 13).
    return render_template("accounts/register.html", form=form), 422 if form.is_submitted() else 200


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
        recovery_form=CodeForm(prefix="rc"),
        recovery_left=lifecycle.unused_recovery_codes(db.session, current_user),
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
            services.change_password(
                db.session,
                current_user,
                form.old.data,
                form.new.data,
                client_ip(),
                keep_session=session.get(sessions.COOKIE_KEY),
            )
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
            return _show_recovery_codes(current_user, url_for("accounts.settings"))
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


@bp.post("/account/recovery-codes")
@login_required
def new_recovery_codes():
    """New recovery codes, after proving the second factor again (the old ones stop working)."""
    form = CodeForm(prefix="rc")
    if form.validate_on_submit():
        try:
            services.check_totp(
                db.session, current_user, form.code.data, client_ip(), purpose="recovery_codes"
            )
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("accounts.settings"))
        return _show_recovery_codes(current_user, url_for("accounts.settings"))
    flash(_("Enter the code from your authenticator app."), "error")
    return redirect(url_for("accounts.settings"))


@bp.route("/account/password/first", methods=["GET", "POST"])
@login_required
def first_password():
    """Choose your own password in place of the one an administrator set."""
    if not current_user.must_change_password:
        return redirect(url_for("web.dashboard"))
    form = FirstPasswordForm()
    if form.validate_on_submit():
        try:
            lifecycle.change_first_password(
                db.session,
                current_user,
                form.new.data,
                client_ip(),
                keep_session=session.get(sessions.COOKIE_KEY),
            )
        except DomainError as err:
            flash_error(err)
            form.new.errors = [str(err.message)]
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # the session version changed: keep this one
            flash(_("Your password is your own now."), "success")
            return redirect(safe_next(session.pop(FIRST_PASSWORD_NEXT, None), url_for("web.dashboard")))
    return render_template("accounts/first_password.html", form=form)
