"""Pages for certificates: sign-in with a certificate, and one's own certificates."""

from __future__ import annotations

import base64
import json

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from accounts import certlogin, pki
from accounts.forms import CertificateSignInForm, CsrForm, EmptyForm, RecipientForm
from accounts.models import Certificate
from accounts.views import begin_session
from core.auth import login_required, roles_required
from core.db import db
from core.errors import DomainError, Invalid
from core.extensions import client_ip, limiter
from core.roles import Role
from core.uow import flash_error

bp = Blueprint("certificates", __name__)


def parse_login_code(code: str) -> tuple[str, str, str]:
    """bidtool's login code: base64 of JSON {certificate, nonce, signature}."""
    try:
        data = json.loads(base64.b64decode("".join(code.split()), validate=True))
        return str(data["certificate"]), str(data["nonce"]), str(data["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid(
            _l("This login code could not be read. Copy the whole output of bidtool login-sign."),
            code="login_code_malformed",
        ) from exc


@bp.route("/sign-in/certificate", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def sign_in():
    form = CertificateSignInForm()
    if form.validate_on_submit():
        try:
            certificate, nonce, signature = parse_login_code(form.login_code.data)
            user = certlogin.sign_in(db.session, certificate, nonce, signature, client_ip())
        except DomainError as err:
            flash_error(err)
        else:
            begin_session(user, "certificate")
            return redirect(url_for("web.dashboard"))
    nonce, challenge = certlogin.create_challenge(db.session)
    db.session.commit()
    return render_template(
        "accounts/cert_sign_in.html", form=form, nonce=nonce, expires_at=challenge.expires_at
    )


@bp.get("/account/certificates")
@login_required
def mine():
    rows = db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == current_user.id)
        .order_by(Certificate.created_at.desc())
    ).all()
    return render_template(
        "accounts/certificates.html",
        certificates=rows,
        csr_form=CsrForm(prefix="csr"),
        recipient_form=RecipientForm(prefix="rcp"),
        button=EmptyForm(),
    )


def _request(form, issue, value):
    """Issue a certificate from a submitted form and come back to the list (errors flashed)."""
    if form.validate_on_submit():
        try:
            row = issue(db.session, current_user, value(form), client_ip())
        except DomainError as err:
            flash_error(err)
        else:
            db.session.commit()
            flash(_("Certificate %(serial)s issued. Download it below.", serial=row.serial), "success")
    return redirect(url_for("certificates.mine"))


@bp.post("/account/certificates/signing")
@login_required
def request_signing():
    return _request(CsrForm(prefix="csr"), pki.issue_signing_certificate, lambda form: form.csr_pem.data)


@bp.post("/account/certificates/encryption")
@login_required
def request_encryption():
    return _request(
        RecipientForm(prefix="rcp"), pki.issue_encryption_certificate, lambda form: form.recipient.data
    )


@bp.post("/account/certificates/browser")
@roles_required(Role.TENDERER)
def request_from_browser():
    """Keys made in the page (frontend/src/keys.js): the signing request and the public recipient come
    in, both certificates go back. Nothing secret is sent: the private keys stay in the tenderer's files."""
    data = request.get_json(silent=True) or {}
    csr_pem, recipient = data.get("csr_pem"), data.get("recipient")
    if not isinstance(csr_pem, str) or not isinstance(recipient, str):
        raise Invalid(
            _l("Send the signing request and the public recipient."),
            code="missing_fields",
            details={"fields": ["csr_pem", "recipient"]},
        )
    signing = pki.issue_signing_certificate(db.session, current_user, csr_pem, client_ip())
    encryption = pki.issue_encryption_certificate(db.session, current_user, recipient, client_ip())
    authority = pki.get_ca(db.session)
    db.session.commit()
    return jsonify(
        {
            "signing": {"serial": signing.serial, "certificate_pem": signing.pem},
            "encryption": {"serial": encryption.serial, "certificate_pem": encryption.pem},
            "chain": [authority.issuing_pem, authority.root_pem],
        }
    ), 201


@bp.get("/account/certificates/<serial>.pem")
@login_required
def download(serial: str):
    row = db.session.scalar(
        select(Certificate).where(Certificate.serial == serial, Certificate.user_id == current_user.id)
    )
    if row is None:
        raise Invalid(_l("No such certificate."), code="certificate_not_found", status=404)
    return (
        row.pem,
        200,
        {
            "Content-Type": "application/x-pem-file",
            "Content-Disposition": f'attachment; filename="{serial}.pem"',
        },
    )


@bp.get("/ca/chain.pem")
def chain():
    row = pki.get_ca(db.session)
    return (
        row.issuing_pem + row.root_pem,
        200,
        {
            "Content-Type": "application/x-pem-file",
            "Content-Disposition": 'attachment; filename="sunbid-ca.pem"',
        },
    )
