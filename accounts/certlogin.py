"""Certificate sign-in for tenderers: the platform's nonce, signed with the tenderer's signing key.

The signed message is ``b"sunbid-cert-login-v1\\n" + nonce`` (ECDSA P-256, SHA-256, DER signature), so a
signature made for this purpose cannot be replayed as any other signature the key makes. A nonce is
good once and for five minutes; only its hash is stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts import pki
from accounts.models import AuthChallenge, User
from core import clock
from core.errors import DomainError, Invalid, Unauthorized
from crypto import ca

CONTEXT = b"sunbid-cert-login-v1\n"
LIFETIME = timedelta(minutes=5)


def message(nonce: str) -> bytes:
    return CONTEXT + nonce.encode("ascii")


def create_challenge(session: Session) -> tuple[str, AuthChallenge]:
    nonce = secrets.token_urlsafe(32)
    row = AuthChallenge(nonce_hash=hashlib.sha256(nonce.encode()).digest(), expires_at=clock.now() + LIFETIME)
    session.add(row)
    session.flush()
    return nonce, row


def _refuse(error: DomainError, user: User | None, ip: str | None, reason: str) -> DomainError:
    return error.keep(
        lambda s: audit.record(
            s, None, "accounts.sign_in_failed", user, {"method": "certificate", "reason": reason}, ip
        )
    )


def sign_in(
    session: Session, certificate_pem: str, nonce: str, signature_b64: str, ip: str | None = None
) -> User:
    """Check the nonce, the certificate (chain, validity, revocation, on record) and the signature."""
    challenge = session.scalar(
        select(AuthChallenge).where(
            AuthChallenge.nonce_hash == hashlib.sha256((nonce or "").encode()).digest()
        )
    )
    if challenge is None or challenge.used_at is not None or clock.now() >= challenge.expires_at:
        raise _refuse(
            Unauthorized(
                _l("This sign-in challenge is unknown, used or expired. Ask for a new one."),
                code="challenge_invalid",
            ),
            None,
            ip,
            "challenge",
        )
    challenge.used_at = clock.now()  # spent even if what follows fails
    session.flush()
    try:
        cert = x509.load_pem_x509_certificate((certificate_pem or "").encode())
        signature = base64.b64decode(signature_b64 or "", validate=True)
    except ValueError as exc:
        raise Invalid(
            _l("The certificate or signature could not be read."), code="certificate_malformed"
        ) from exc
    try:
        identity, record = pki.verify(session, cert, ca.Profile.TENDERER_SIGNING)
    except DomainError as err:
        session.commit()  # keep the challenge spent
        raise _refuse(err, None, ip, err.code) from None
    user = record.user
    public_key = cert.public_key()
    try:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public_key.verify(signature, message(nonce), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        session.commit()
        raise _refuse(
            Unauthorized(_l("The signature does not match the certificate."), code="signature_invalid"),
            user,
            ip,
            "signature",
        ) from None
    if user is None or not user.active:
        raise Unauthorized(_l("This account is disabled."), code="account_disabled")
    audit.record(
        session,
        user,
        "accounts.certificate_checked",
        record,
        {"serial": record.serial, "credit_code": identity.credit_code},
        ip,
    )
    return user
