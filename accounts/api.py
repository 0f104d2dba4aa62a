"""Accounts API: tokens, the current user, and free tenderer registration."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from accounts import services, verification
from accounts.models import ApiToken, User
from core import clock, sandbox
from core.api import json_body
from core.auth import login_required, roles_required
from core.db import db
from core.errors import Invalid, NotFound
from core.extensions import client_ip, limiter
from core.openapi import api_doc
from core.roles import Role
from core.storage import file_store

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")

STRING = {"type": "string"}


def user_json(user: User) -> dict:
    return {
        "id": str(user.id),
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "email": user.email,
        "totp_enabled": user.totp_enabled,
        "organization": (
            {
                "id": str(user.organization.id),
                "name": user.organization.name,
                "credit_code": user.organization.credit_code,
                "kind": user.organization.kind,
            }
            if user.organization
            else None
        ),
    }


def token_json(row: ApiToken) -> dict:
    return {
        "id": str(row.id),
        "name": row.name,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@bp.post("/auth/token")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@api_doc(
    public=True,
    request={
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": STRING, "password": STRING, "totp": STRING, "name": STRING},
    },
    responses={201: {"type": "object", "properties": {"token": STRING, "expires_at": STRING}}},
)
def create_token():
    """Exchange user name, password and (where required) a TOTP code for a bearer token."""
    data = json_body(("username", "password"))
    user = services.sign_in_for_token(
        db.session, str(data["username"]), str(data["password"]), data.get("totp"), client_ip()
    )
    services.complete_sign_in(db.session, user, method="api_token", ip=client_ip())
    token, row = services.issue_token(db.session, user, name=str(data.get("name") or "api"), ip=client_ip())
    db.session.commit()
    return jsonify({"token": token, "expires_at": row.expires_at.isoformat(), "id": str(row.id)}), 201


@bp.delete("/auth/token")
@login_required
def revoke_current_token():
    """Revoke the token this request was made with."""
    row = g.get("api_token")
    if row is None:
        raise Invalid(_l("This request did not use a token."), code="no_token")
    services.revoke_token(db.session, current_user, row.id, client_ip())
    db.session.commit()
    return "", 204


@bp.get("/auth/tokens")
@login_required
def list_tokens():
    """Your API tokens (never the token values)."""
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return jsonify({"items": [token_json(r) for r in rows]})


@bp.delete("/auth/tokens/<uuid:token_id>")
@login_required
def revoke_token(token_id: uuid.UUID):
    """Revoke one of your tokens."""
    services.revoke_token(db.session, current_user, token_id, client_ip())
    db.session.commit()
    return "", 204


@bp.get("/me")
@login_required
def me():
    """The signed-in user and organisation."""
    return jsonify(user_json(current_user))


@bp.post("/organizations")
@limiter.limit("20 per hour")
@api_doc(
    public=True,
    request={
        "type": "object",
        "required": ["name", "credit_code", "user"],
        "properties": {
            "name": STRING,
            "credit_code": STRING,
            "user": {
                "type": "object",
                "required": ["username", "password", "email"],
                "properties": {
                    "username": STRING,
                    "password": STRING,
                    "email": STRING,
                    "display_name": STRING,
                    "phone": STRING,
                },
            },
        },
    },
    responses={201: "organisation and first user created"},
)
def register_organization():
    """Register a tenderer company (free) with its first user."""
    data = json_body(("name", "credit_code", "user"))
    person = data["user"]
    if not isinstance(person, dict):
        raise Invalid(_l("user must be an object."), code="invalid_json")
    org, user = services.register_tenderer(
        db.session,
        org_name=str(data["name"]),
        credit_code=str(data["credit_code"]),
        username=str(person.get("username") or ""),
        display_name=str(person.get("display_name") or ""),
        email=str(person.get("email") or ""),
        password=str(person.get("password") or ""),
        phone=person.get("phone"),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(
        {
            "organization": {
                "id": str(org.id),
                "name": org.name,
                "credit_code": org.credit_code,
                "verified": org.verified_at is not None,
            },
            "user": user_json(user),
        }
    ), 201


@bp.post("/sandbox/clock")
@roles_required(Role.ADMIN)
@api_doc(request={"type": "object", "required": ["now"], "properties": {"now": STRING}})
def set_clock():
    """Set the platform clock (admins, sandbox deployments only; 404 elsewhere)."""
    if not current_app.config["SANDBOX"]:
        raise NotFound(_l("Not found."), code="not_found")
    import audit

    data = json_body(("now",))
    try:
        target = datetime.fromisoformat(str(data["now"]))
    except ValueError as exc:
        raise Invalid(_l("now must be an RFC 3339 time with offset."), code="invalid_time") from exc
    if target.tzinfo is None:
        raise Invalid(_l("now must be an RFC 3339 time with offset."), code="invalid_time")
    before = clock.now()
    sandbox.set_now(db.session, target)
    audit.record(
        db.session,
        current_user,
        "sandbox.clock_set",
        None,
        {"from": before.isoformat(), "to": target.isoformat()},
        client_ip(),
    )
    db.session.commit()
    return jsonify({"now": clock.now().isoformat()})


# -- certificates ------------------------------------------------------------------------------------


def certificate_json(row) -> dict:
    return {
        "serial": row.serial,
        "profile": row.profile,
        "subject": row.subject,
        "certificate_pem": row.pem,
        "not_before": row.not_before.isoformat(),
        "not_after": row.not_after.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@bp.get("/ca")
@api_doc(public=True)
def ca_info():
    """The platform CA chain (issuing CA first) and its current CRL."""
    from accounts import pki

    row = pki.get_ca(db.session)
    crl = pki.current_crl(db.session)
    db.session.commit()  # a freshly published CRL is kept
    from cryptography.hazmat.primitives import serialization

    return jsonify(
        {
            "name": row.name,
            "chain": [row.issuing_pem, row.root_pem],
            "crl": crl.public_bytes(serialization.Encoding.PEM).decode(),
            "crl_number": row.crl_number,
            "crl_next_update": row.crl_next_update.isoformat(),
        }
    )


@bp.post("/certificates")
@login_required
@api_doc(
    request={"type": "object", "properties": {"csr_pem": STRING, "recipient": STRING}},
    responses={201: "the issued certificate (certificate_pem) and the CA chain"},
)
def issue_certificate():
    """Get a certificate: a signing one from a CSR (csr_pem), or an encryption one for an age recipient."""
    from accounts import pki

    data = json_body()
    if data.get("csr_pem"):
        row = pki.issue_signing_certificate(db.session, current_user, str(data["csr_pem"]), client_ip())
    elif data.get("recipient"):
        row = pki.issue_encryption_certificate(db.session, current_user, str(data["recipient"]), client_ip())
    else:
        raise Invalid(
            _l("Send csr_pem or recipient."), code="missing_fields", details={"fields": ["csr_pem"]}
        )
    authority = pki.get_ca(db.session)
    db.session.commit()
    return jsonify({**certificate_json(row), "chain": [authority.issuing_pem, authority.root_pem]}), 201


@bp.get("/certificates")
@login_required
def list_certificates():
    """Your certificates."""
    from accounts.models import Certificate

    rows = db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == current_user.id)
        .order_by(Certificate.created_at.desc())
    ).all()
    return jsonify({"items": [certificate_json(r) for r in rows]})


@bp.post("/certificates/<serial>/revoke")
@login_required
@api_doc(request={"type": "object", "required": ["reason"], "properties": {"reason": STRING}})
def revoke_certificate(serial: str):
    """Revoke one of your certificates (administrators: any); the CRL is republished at once."""
    from accounts import pki

    data = json_body(("reason",))
    row = pki.revoke(db.session, current_user, serial, str(data["reason"]), client_ip())
    db.session.commit()
    return jsonify(certificate_json(row))


@bp.post("/auth/challenge")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@api_doc(
    public=True, responses={201: {"type": "object", "properties": {"nonce": STRING, "expires_at": STRING}}}
)
def challenge():
    """A one-use nonce for certificate sign-in (sign b"sunbid-cert-login-v1\\n" + nonce)."""
    from accounts import certlogin

    nonce, row = certlogin.create_challenge(db.session)
    db.session.commit()
    return jsonify({"nonce": nonce, "expires_at": row.expires_at.isoformat()}), 201


@bp.post("/auth/cert-login")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@api_doc(
    public=True,
    request={
        "type": "object",
        "required": ["certificate_pem", "nonce", "signature_b64"],
        "properties": {"certificate_pem": STRING, "nonce": STRING, "signature_b64": STRING},
    },
    responses={201: {"type": "object", "properties": {"token": STRING, "expires_at": STRING}}},
)
def cert_login():
    """Sign in with the tenderer's signing certificate: returns a bearer token."""
    from accounts import certlogin

    data = json_body(("certificate_pem", "nonce", "signature_b64"))
    user = certlogin.sign_in(
        db.session, str(data["certificate_pem"]), str(data["nonce"]), str(data["signature_b64"]), client_ip()
    )
    services.complete_sign_in(db.session, user, method="certificate", ip=client_ip())
    token, row = services.issue_token(db.session, user, name="certificate", ip=client_ip())
    db.session.commit()
    return jsonify({"token": token, "expires_at": row.expires_at.isoformat(), "id": str(row.id)}), 201


@bp.put("/me/custodian-key")
@login_required
@api_doc(request={"type": "object", "required": ["recipient"], "properties": {"recipient": STRING}})
def set_custodian_key():
    """Register the age recipient you hold opening-key shares under (agency, supervisor, admin)."""
    data = json_body(("recipient",))
    services.set_custodian_key(db.session, current_user, str(data["recipient"]), client_ip())
    db.session.commit()
    return jsonify({"recipient": current_user.custodian_recipient})


# -- company verification (accounts.verification) -------------------------------------------------


def _verification_json(row) -> dict:
    return {
        "id": str(row.id),
        "organization": str(row.organization_id),
        "credit_code": row.credit_code,
        "legal_representative": row.legal_representative,
        "status": row.status,
        "submitted_at": row.submitted_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "reason": row.reason,
    }


@bp.get("/organizations/mine/verification")
@roles_required(Role.TENDERER)
def my_verification():
    """Whether your company is verified (it must be, to get a signing certificate and bid)."""
    org = current_user.organization
    row = verification.latest(db.session, org)
    return jsonify(
        {
            "verified": org.verified_at is not None,
            "verified_at": org.verified_at.isoformat() if org.verified_at else None,
            "request": _verification_json(row) if row else None,
        }
    )


@bp.post("/organizations/mine/verification")
@roles_required(Role.TENDERER)
@api_doc(responses={201: "the request, pending the centre's decision"})
def request_verification():
    """Ask the centre to verify your company: multipart form with legal_representative and licence."""
    upload = request.files.get("licence")
    if upload is None:
        raise Invalid(_l("Attach the business licence."), code="missing_fields", details={"field": "licence"})
    row = verification.submit(
        db.session,
        current_user,
        legal_representative=request.form.get("legal_representative", ""),
        stream=upload.stream,
        filename=upload.filename or "licence",
        content_type=upload.mimetype,
        store=file_store(),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(_verification_json(row)), 201


@bp.get("/verifications")
@roles_required(Role.ADMIN)
def pending_verifications():
    """Requests waiting for the centre, each with the other registrations under its credit code."""
    items = []
    for row in verification.pending_requests(db.session):
        body = _verification_json(row)
        body["claims"] = [
            {"organization": str(o.id), "name": o.name, "verified": o.verified_at is not None}
            for o in verification.claims(db.session, row.credit_code)
        ]
        items.append(body)
    return jsonify({"items": items})


@bp.post("/verifications/<uuid:request_id>/decision")
@roles_required(Role.ADMIN)
@api_doc(
    request={
        "type": "object",
        "required": ["approve"],
        "properties": {"approve": {"type": "boolean"}, "reason": STRING},
    }
)
def decide_verification(request_id: uuid.UUID):
    """The centre's decision; approving takes the code from any other verified registration."""
    data = json_body(("approve",))
    if not isinstance(data["approve"], bool):
        raise Invalid(_l("approve is true or false."), code="invalid_field", details={"field": "approve"})
    row = verification.decide(
        db.session,
        current_user,
        request_id,
        approve=data["approve"],
        reason=str(data.get("reason") or ""),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(_verification_json(row))
