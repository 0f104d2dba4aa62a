"""The platform CA inside the platform: issuing, revoking and publishing certificates.

The cryptography is in ``crypto.ca`` (no Flask); this module keeps the CA and the certificates in the
database, decides subjects from the verified account (never from what a CSR asks for), picks the
profile from the user's role, and keeps the CRL current with a growing CRL number.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts import verification
from accounts.models import Certificate, CertificateAuthority, CrlRecord, User
from core import clock
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from core.keys import instance_secret, random_key
from core.roles import Role
from crypto import age, ca

CRL_LIFETIME = timedelta(days=1)
REASONS = {
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "unspecified": x509.ReasonFlags.unspecified,
}

ROLE_SIGNING_PROFILE = {
    Role.TENDERER: ca.Profile.TENDERER_SIGNING,
    Role.EXPERT: ca.Profile.EXPERT,
    Role.AGENCY: ca.Profile.STAFF,
    Role.TENDEREE: ca.Profile.STAFF,
    Role.SUPERVISOR: ca.Profile.STAFF,
    Role.NOTARY: ca.Profile.STAFF,
    Role.ADMIN: ca.Profile.STAFF,
}


def certificate_error(exc: ca.CertificateError) -> DomainError:
    """The CA library's refusal as a domain error with the same stable code."""
    return Invalid(_l("The certificate was refused: %(reason)s", reason=str(exc)), code=exc.code)


def _passphrase() -> bytes:
    config = current_app.config
    value = config.get("CA_PASSPHRASE") or instance_secret(
        config["INSTANCE_PATH"], "ca_passphrase", random_key
    )
    return value.encode()


def get_ca(session: Session) -> CertificateAuthority:
    row = session.get(CertificateAuthority, 1)
    if row is None:
        raise NotFound(_l("The platform CA is not set up yet."), code="ca_not_initialized")
    return row


def ensure_ca(session: Session, name: str = "SunBid Platform CA") -> CertificateAuthority:
    """Create the root and issuing CA once (``flask --app wsgi ca init``; embedded mode on first use)."""
    row = session.get(CertificateAuthority, 1)
    if row is not None:
        return row
    bundle = ca.create_ca(name, _passphrase(), clock.now(), root_crl_url=crl_url("root"))
    row = CertificateAuthority(
        id=1,
        name=name,
        root_pem=bundle.root_cert.public_bytes(serialization.Encoding.PEM).decode(),
        issuing_pem=bundle.issuing_cert.public_bytes(serialization.Encoding.PEM).decode(),
        root_key_pem=bundle.root_key_pem.decode(),
        issuing_key_pem=bundle.issuing_key_pem.decode(),
    )
    session.add(row)
    session.flush()
    _publish_crl(session, row, clock.now())
    _publish_root_crl(session, row, clock.now())
    audit.record(
        session,
        None,
        "ca.created",
        ("certificate_authorities", "1"),
        {"name": name, "root_sha256": _fingerprint(bundle.root_cert)},
        None,
    )
    return row


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def chain(row: CertificateAuthority) -> list[x509.Certificate]:
    return [
        x509.load_pem_x509_certificate(row.issuing_pem.encode()),
        x509.load_pem_x509_certificate(row.root_pem.encode()),
    ]


def crl_url(which: str) -> str:
    """Where a CRL is published (``root`` or ``issuing``): named in the certificates (CRL distribution
    point) so that a verifier can check the whole chain (``openssl verify -crl_check_all``)."""
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/api/v1/ca/{which}.crl"


def _issuer(row: CertificateAuthority) -> ca.Issuer:
    return ca.load_issuer(
        row.issuing_pem.encode(), row.issuing_key_pem.encode(), _passphrase(), crl_url=crl_url("issuing")
    )


ROOT_CRL_LIFETIME = timedelta(days=30)


def root_crl(session: Session) -> x509.CertificateRevocationList:
    """The root CA's CRL (of issuing CAs revoked: none while there is one issuing CA), refreshed at half
    its lifetime like the issuing CA's."""
    row = get_ca(session)
    now = clock.now()
    if (
        row.root_crl_pem
        and row.root_crl_next_update
        and now < row.root_crl_next_update - ROOT_CRL_LIFETIME / 2
    ):
        return x509.load_pem_x509_crl(row.root_crl_pem.encode())
    return _publish_root_crl(session, row, now)


def _publish_root_crl(
    session: Session, row: CertificateAuthority, now: datetime
) -> x509.CertificateRevocationList:
    session.refresh(row, with_for_update=True)
    row.root_crl_number += 1
    root = ca.load_issuer(row.root_pem.encode(), row.root_key_pem.encode(), _passphrase())
    crl = ca.build_crl(root, [], now, now + ROOT_CRL_LIFETIME, number=row.root_crl_number)
    row.root_crl_pem = crl.public_bytes(serialization.Encoding.PEM).decode()
    row.root_crl_next_update = now + ROOT_CRL_LIFETIME
    session.flush()
    return crl


def current_crl(session: Session) -> x509.CertificateRevocationList:
    """The CRL in force; a new one (next number) when a revocation happened or the last one ages."""
    row = get_ca(session)
    now = clock.now()
    if row.crl_pem and row.crl_next_update and now < row.crl_next_update - CRL_LIFETIME / 2:
        return x509.load_pem_x509_crl(row.crl_pem.encode())
    return _publish_crl(session, row, now)


def _publish_crl(
    session: Session, row: CertificateAuthority, now: datetime, *, current: bool = True
) -> x509.CertificateRevocationList:
    """Publish the CRL as of ``now``: the certificates revoked by then. Only :func:`crl_at` passes a
    past moment (``current=False``), to rebuild the CRL that moment should have had: it is kept in
    the history, and the current CRL stays as it is."""
    revoked = session.execute(
        select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason).where(
            Certificate.revoked_at.is_not(None), Certificate.revoked_at <= now
        )
    ).all()
    # Two processes may publish at once: take the CA row's lock and its latest number first, so CRL
    # numbers never repeat (the history's key would refuse it) nor go backwards.
    session.refresh(row, with_for_update=True)
    row.crl_number += 1
    crl = ca.build_crl(
        _issuer(row),
        [
            (int(serial, 16), at, REASONS.get(reason) if reason else None)
            for serial, at, reason in revoked
            if at is not None  # the query takes revoked certificates only
        ],
        now,
        now + CRL_LIFETIME,
        number=row.crl_number,
    )
    pem = crl.public_bytes(serialization.Encoding.PEM).decode()
    if current:
        row.crl_pem, row.crl_next_update = pem, now + CRL_LIFETIME
    session.add(CrlRecord(number=row.crl_number, this_update=now, next_update=now + CRL_LIFETIME, pem=pem))
    session.flush()
    return crl


def crl_at(session: Session, at: datetime) -> x509.CertificateRevocationList:
    """The CRL in force at ``at``: the latest kept one that was published by then and still fresh.

    A bid part is judged at receipt and again at the opening by this same rule, as at the moment its
    upload completed (R-B6). When no kept CRL covers that moment (the last one lapsed and no refresh
    ran since, or records from before the history began), one is published as of ``at`` from the
    revocations recorded by then: the CRL published at the check itself would be dated after the
    moment checked and refuse a sound bid (crl_invalid).
    """
    row = session.scalar(
        select(CrlRecord)
        .where(CrlRecord.this_update <= at, CrlRecord.next_update > at)
        .order_by(CrlRecord.number.desc())
        .limit(1)
    )
    if row is not None:
        return x509.load_pem_x509_crl(row.pem.encode())
    now = clock.now()
    if at >= now:
        return current_crl(session)
    return _publish_crl(session, get_ca(session), at, current=False)


def _subject_for(user: User) -> ca.SubjectInfo:
    if user.organization is not None:
        return ca.SubjectInfo(
            org_name=user.organization.name,
            common_name=user.display_name,
            credit_code=user.organization.credit_code,
        )
    return ca.SubjectInfo(org_name="评标专家 Evaluation expert", common_name=user.display_name)


def _store(
    session: Session, user: User, cert: x509.Certificate, profile: ca.Profile, ip: str | None
) -> Certificate:
    raw = (
        cert.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if isinstance(cert.public_key(), x25519.X25519PublicKey)
        else cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    row = Certificate(
        serial=format(cert.serial_number, "x"),
        profile=profile.value,
        user_id=user.id,
        organization_id=user.organization_id,
        subject=cert.subject.rfc4514_string()[:500],
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        public_key_sha256=hashlib.sha256(raw).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        user,
        "ca.certificate_issued",
        row,
        {
            "serial": row.serial,
            "profile": profile.value,
            "not_after": row.not_after.isoformat(),
            "public_key_sha256": row.public_key_sha256,
        },
        ip,
    )
    return row


def issue_signing_certificate(
    session: Session, user: User, csr_pem: str, ip: str | None = None
) -> Certificate:
    """Certify the P-256 key in ``csr_pem`` for ``user``; the subject comes from the account."""
    row = get_ca(session)
    profile = ROLE_SIGNING_PROFILE[user.role_enum]
    if user.role_enum is Role.TENDERER:  # a company's signature binds it: identity first
        verification.require_verified(user.organization)
    try:
        cert = ca.issue_from_csr(
            _issuer(row), csr_pem.encode(), profile, subject_override=_subject_for(user), now=clock.now()
        )
    except ca.CertificateError as exc:
        raise certificate_error(exc) from exc
    return _store(session, user, cert, profile, ip)


def issue_encryption_certificate(
    session: Session, user: User, recipient: str, ip: str | None = None
) -> Certificate:
    """Bind a tenderer's age recipient (X25519) to its organisation (tenderer encryption profile)."""
    if user.role_enum is not Role.TENDERER:
        raise Forbidden(_l("Only tenderers hold encryption certificates."), code="role_forbidden")
    verification.require_verified(user.organization)
    try:
        public = x25519.X25519PublicKey.from_public_bytes(age.Recipient.parse(recipient.strip()).public_bytes)
    except age.AgeError as exc:
        raise Invalid(_l("This is not an age recipient (age1...)."), code="invalid_recipient") from exc
    try:
        cert = ca.issue_for_public_key(
            _issuer(get_ca(session)), public, ca.Profile.TENDERER_ENCRYPTION, _subject_for(user), clock.now()
        )
    except ca.CertificateError as exc:
        raise certificate_error(exc) from exc
    return _store(session, user, cert, ca.Profile.TENDERER_ENCRYPTION, ip)


def revoke(session: Session, actor: User, serial: str, reason: str, ip: str | None = None) -> Certificate:
    row = session.scalar(select(Certificate).where(Certificate.serial == serial.lower()))
    if row is None or (actor.role != Role.ADMIN and row.user_id != actor.id):
        raise NotFound(_l("No such certificate."), code="certificate_not_found")
    if reason not in REASONS:
        raise Invalid(
            _l("Unknown revocation reason."), code="invalid_reason", details={"allowed": sorted(REASONS)}
        )
    if row.revoked_at is not None:
        raise Conflict(_l("This certificate is already revoked."), code="certificate_already_revoked")
    row.revoked_at = clock.now()
    row.revocation_reason = reason
    session.flush()
    _publish_crl(session, get_ca(session), clock.now())
    audit.record(session, actor, "ca.certificate_revoked", row, {"serial": row.serial, "reason": reason}, ip)
    return row


def verify(
    session: Session, cert: x509.Certificate, profile: ca.Profile | None = None, at: datetime | None = None
) -> tuple[ca.VerifiedIdentity, Certificate]:
    """Chain, validity at ``at`` and revocation against the platform CA; plus: issued by us, on record."""
    row = get_ca(session)
    try:
        identity = ca.verify_certificate(
            cert, chain=chain(row), crl=current_crl(session), at=at or clock.now(), profile=profile
        )
    except ca.CertificateError as exc:
        raise certificate_error(exc) from exc
    record = session.scalar(select(Certificate).where(Certificate.serial == format(cert.serial_number, "x")))
    if record is None or record.pem.strip() != cert.public_bytes(serialization.Encoding.PEM).decode().strip():
        raise Invalid(
            _l("The certificate was refused: not issued by this platform."), code="certificate_untrusted"
        )
    return identity, record


def issue_service_certificate(session: Session, csr_pem: str, name: str) -> x509.Certificate:
    """For the platform's own services (receipt signer, opening, ...); not tied to a user."""
    row = get_ca(session)
    try:
        cert = ca.issue_from_csr(
            _issuer(row),
            csr_pem.encode(),
            ca.Profile.SERVICE,
            subject_override=ca.SubjectInfo(org_name=row.name, common_name=name),
            now=clock.now(),
        )
    except ca.CertificateError as exc:
        raise certificate_error(exc) from exc
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = Certificate(
        serial=format(cert.serial_number, "x"),
        profile=ca.Profile.SERVICE.value,
        subject=cert.subject.rfc4514_string()[:500],
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        public_key_sha256=hashlib.sha256(spki).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        None,
        "ca.certificate_issued",
        record,
        {"serial": record.serial, "profile": "service", "name": name},
        "cli",
    )
    return cert


def refresh_crl(session: Session) -> int:
    """Beat job: publish the next CRL well before the current one expires."""
    current_crl(session)
    return get_ca(session).crl_number


DOCUMENT_SIGNER_NAME = "SunBid document signing"


def document_signer(session: Session):
    """The platform's signer for PDF documents (R-R2): a P-256 key kept in the instance folder and a
    service certificate for it from the platform CA, issued once (``core.pdfsign`` signs with it)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from core import pdfsign

    app = current_app  # the proxy reaches the app's extensions and config
    cached = app.extensions.get("sunbid.document_signer")
    if cached is not None:
        return cached
    pem = instance_secret(
        app.config["INSTANCE_PATH"],
        "document_signing_key",
        lambda: (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            .decode()
        ),
    )
    key = serialization.load_pem_private_key(pem.encode(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):  # as made above (service certificates are P-256)
        raise ValueError("the document signing key in the instance folder is not an EC key")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    row = session.scalar(
        select(Certificate).where(
            Certificate.public_key_sha256 == hashlib.sha256(spki).hexdigest(),
            Certificate.revoked_at.is_(None),
            Certificate.not_after > clock.now(),
        )
    )
    if row is not None:
        cert = x509.load_pem_x509_certificate(row.pem.encode())
    else:
        ensure_ca(session)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOCUMENT_SIGNER_NAME)]))
            .sign(key, hashes.SHA256())
        )
        cert = issue_service_certificate(
            session, csr.public_bytes(serialization.Encoding.PEM).decode(), DOCUMENT_SIGNER_NAME
        )
    signer = pdfsign.Signer(key, cert, tuple(chain(get_ca(session))), DOCUMENT_SIGNER_NAME)
    if row is not None:  # a certificate issued just now is kept once its transaction commits
        app.extensions["sunbid.document_signer"] = signer
    return signer
