"""Accounts API: tokens, the current user, and free tenderer registration."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

import audit
from accounts import certlogin, pki, services, verification
from accounts.models import ApiToken, Certificate, User
from accounts.schemas import (
    CertificateBody,
    CertificateOut,
    CertLoginBody,
    ChallengeOut,
    ClockBody,
    CustodianKeyBody,
    DecisionBody,
    MeOut,
    RegistrationBody,
    RegistrationOut,
    RevokeBody,
    TokenBody,
    TokenOut,
    VerificationBody,
)
from core import clock, sandbox
from core.auth import login_required, roles_required
from core.db import db
from core.errors import Invalid, NotFound
from core.extensions import client_ip, limiter
from core.openapi import Raw, Upload, api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out
from core.storage import file_store

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


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
@api_doc(public=True, body=TokenBody, responses={201: TokenOut})
def create_token(body: TokenBody):
    """Exchange user name, password and (where required) a TOTP code for a bearer token."""
    user = services.sign_in_for_token(db.session, body.username, body.password, body.totp, client_ip())
    services.complete_sign_in(db.session, user, method="api_token", ip=client_ip())
    token, row = services.issue_token(db.session, user, name=body.name or "api", ip=client_ip())
    db.session.commit()
    return jsonify({"token": token, "expires_at": row.expires_at.isoformat(), "id": str(row.id)}), 201


@bp.delete("/auth/token")
@login_required
@api_doc(responses={204: "revoked"})
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
@api_doc(responses={200: ItemsOut})
def list_tokens():
    """Your API tokens (never the token values)."""
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return jsonify({"items": [token_json(r) for r in rows]})


@bp.delete("/auth/tokens/<uuid:token_id>")
@login_required
@api_doc(responses={204: "revoked"})
def revoke_token(token_id: uuid.UUID):
    """Revoke one of your tokens."""
    services.revoke_token(db.session, current_user, token_id, client_ip())
    db.session.commit()
    return "", 204


@bp.get("/me")
@login_required
@api_doc(responses={200: MeOut})
def me():
    """The signed-in user and organisation."""
    return jsonify(user_json(current_user))


@bp.post("/organizations")
@limiter.limit("20 per hour")
@api_doc(public=True, body=RegistrationBody, responses={201: RegistrationOut})
def register_organization(body: RegistrationBody):
    """Register a tenderer company (free) with its first user."""
    person = body.user
    org, user = services.register_tenderer(
        db.session,
        org_name=body.name,
        credit_code=body.credit_code,
        username=person.username,
        display_name=person.display_name,
        email=person.email,
        password=person.password,
        phone=person.phone,
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
@api_doc(body=ClockBody, responses={200: Out})
def set_clock(body: ClockBody):
    """Set the platform clock (admins, sandbox deployments only; 404 elsewhere)."""
    if not current_app.config["SANDBOX"]:
        raise NotFound(_l("Not found."), code="not_found")

    target = body.now
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
@api_doc(public=True, responses={200: Out})
def ca_info():
    """The platform CA chain (issuing CA first) and its current CRL."""

    row = pki.get_ca(db.session)
    crl = pki.current_crl(db.session)
    root_crl = pki.root_crl(db.session)
    db.session.commit()  # a freshly published CRL is kept

    return jsonify(
        {
            "name": row.name,
            "chain": [row.issuing_pem, row.root_pem],
            "crl": crl.public_bytes(serialization.Encoding.PEM).decode(),
            "crl_number": row.crl_number,
            "crl_next_update": row.crl_next_update.isoformat(),
            # The root's own CRL: with both, `openssl verify -crl_check_all` checks the whole chain.
            "root_crl": root_crl.public_bytes(serialization.Encoding.PEM).decode(),
        }
    )


@bp.get("/ca/<any(root, issuing):which>.crl")
@api_doc(public=True, responses={200: Raw("application/pkix-crl", "the CRL, DER")})
def ca_crl(which: str):
    """A CRL where the certificates' CRL distribution points name it: the root's or the issuing CA's."""
    from cryptography.hazmat.primitives import serialization

    from accounts import pki

    crl = pki.root_crl(db.session) if which == "root" else pki.current_crl(db.session)
    db.session.commit()
    return crl.public_bytes(serialization.Encoding.DER), 200, {"Content-Type": "application/pkix-crl"}


@bp.post("/certificates")
@login_required
@api_doc(body=CertificateBody, responses={201: CertificateOut})
def issue_certificate(body: CertificateBody):
    """Get a certificate: a signing one from a CSR (csr_pem), or an encryption one for an age recipient."""

    if body.csr_pem:
        row = pki.issue_signing_certificate(db.session, current_user, body.csr_pem, client_ip())
    elif body.recipient:
        row = pki.issue_encryption_certificate(db.session, current_user, body.recipient, client_ip())
    else:
        raise Invalid(
            _l("Send csr_pem or recipient."), code="missing_fields", details={"fields": ["csr_pem"]}
        )
    authority = pki.get_ca(db.session)
    db.session.commit()
    return jsonify({**certificate_json(row), "chain": [authority.issuing_pem, authority.root_pem]}), 201


@bp.get("/certificates")
@login_required
@api_doc(responses={200: ItemsOut})
def list_certificates():
    """Your certificates."""

    rows = db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == current_user.id)
        .order_by(Certificate.created_at.desc())
    ).all()
    return jsonify({"items": [certificate_json(r) for r in rows]})


@bp.post("/certificates/<serial>/revoke")
@login_required
@api_doc(body=RevokeBody, responses={200: CertificateOut})
def revoke_certificate(serial: str, body: RevokeBody):
    """Revoke one of your certificates (administrators: any); the CRL is republished at once."""

    row = pki.revoke(db.session, current_user, serial, body.reason, client_ip())
    db.session.commit()
    return jsonify(certificate_json(row))


@bp.post("/auth/challenge")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@api_doc(public=True, responses={201: ChallengeOut})
def challenge():
    """A one-use nonce for certificate sign-in (sign b"sunbid-cert-login-v1\\n" + nonce)."""

    nonce, row = certlogin.create_challenge(db.session)
    db.session.commit()
    return jsonify({"nonce": nonce, "expires_at": row.expires_at.isoformat()}), 201


@bp.post("/auth/cert-login")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@api_doc(public=True, body=CertLoginBody, responses={201: TokenOut})
def cert_login(body: CertLoginBody):
    """Sign in with the tenderer's signing certificate: returns a bearer token."""

    user = certlogin.sign_in(db.session, body.certificate_pem, body.nonce, body.signature_b64, client_ip())
    services.complete_sign_in(db.session, user, method="certificate", ip=client_ip())
    token, row = services.issue_token(db.session, user, name="certificate", ip=client_ip())
    db.session.commit()
    return jsonify({"token": token, "expires_at": row.expires_at.isoformat(), "id": str(row.id)}), 201


@bp.put("/me/custodian-key")
@login_required
@api_doc(body=CustodianKeyBody, responses={200: Out})
def set_custodian_key(body: CustodianKeyBody):
    """Register the age recipient you hold opening-key shares under (agency, supervisor, admin)."""
    services.set_custodian_key(db.session, current_user, body.recipient, client_ip())
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
@api_doc(responses={200: Out})
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
@api_doc(body=VerificationBody, form=True, upload=Upload("licence", raw=False), responses={201: Out})
def request_verification(body: VerificationBody):
    """Ask the centre to verify your company: multipart form with legal_representative and licence."""
    upload = request.files.get("licence")
    if upload is None:
        raise Invalid(_l("Attach the business licence."), code="missing_fields", details={"field": "licence"})
    row = verification.submit(
        db.session,
        current_user,
        legal_representative=body.legal_representative,
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
@api_doc(responses={200: ItemsOut})
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
@api_doc(body=DecisionBody, responses={200: Out})
def decide_verification(request_id: uuid.UUID, body: DecisionBody):
    """The centre's decision; approving takes the code from any other verified registration."""
    row = verification.decide(
        db.session,
        current_user,
        request_id,
        approve=body.approve,
        reason=body.reason,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(_verification_json(row))
