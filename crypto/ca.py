"""The platform certificate authority: a two-level ECDSA P-256 hierarchy, end-entity profiles, CRLs.

The root CA only ever signs the issuing CA, so its key can stay offline; the issuing CA signs
end-entity certificates and CRLs. Both private keys are kept as passphrase-encrypted PKCS#8 PEM.

Subject layout of end-entity certificates:

* ``O``  the organisation name,
* ``organizationIdentifier`` (2.5.4.97) the 18-character unified social credit code, written with
  the ETSI EN 319 412-1 semantics prefix for national trade registers: ``NTRCN-<code>``. That
  attribute exists for exactly this purpose, whereas ``serialNumber`` conventionally names a
  natural person and ``OU`` is free text;
* ``CN`` the person's or service's name.

The profile is carried as a certificate policy OID (non-critical CertificatePolicies) under a UUID
arc (ITU-T X.667, ``2.25.<uuid>``), which needs no registration. Key usage and EKU are still set per
profile, and the verifier checks them against the policy, so a certificate can't claim a profile
its key usages don't support. Signing profiles carry the emailProtection EKU because
``openssl cms -verify`` checks the S/MIME signing purpose by default.

Verification is done by hand instead of with ``cryptography.x509.verification``. That verifier
implements the Web PKI profile: its end-entity defaults demand a subjectAltName and the clientAuth
EKU, so our certificates pass only with ``ExtensionPolicy.permit_all()``, which then checks nothing
of our profiles; it reports every failure as one ``VerificationError`` whose message would have to
be parsed to tell an expired certificate from a foreign one; its docs call the API unstable; and it
does no revocation at all. Our hierarchy is fixed and short, so the RFC 5280 checks it needs are
few: signature and name chaining up to the caller's trusted root, validity at the requested time,
basic constraints and path length, key usage, unknown critical extensions, then revocation from a
CRL whose own signature and update window are checked.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

__all__ = [
    "CABundle",
    "CRLInvalid",
    "CSRInvalid",
    "CertificateError",
    "CertificateExpired",
    "CertificateNotYetValid",
    "CertificateRevoked",
    "CertificateUntrusted",
    "CertificateWrongProfile",
    "Issuer",
    "Profile",
    "SubjectInfo",
    "UnsupportedKey",
    "VerifiedIdentity",
    "build_crl",
    "create_ca",
    "identity_of",
    "is_valid_credit_code",
    "issue_for_public_key",
    "issue_from_csr",
    "load_issuer",
    "verify_certificate",
]

# SunBid's own OID arc, derived from a UUID generated once for the project (ITU-T X.667).
SUNBID_OID_ARC = "2.25.168798746529898018962898397629253915855"
_POLICY_ARC = SUNBID_OID_ARC + ".1"

CREDIT_CODE_PREFIX = "NTRCN-"

DEFAULT_END_ENTITY_DAYS = 730
# Certificates are backdated a little so that a client whose clock runs slightly behind the
# platform's can use a certificate it has only just received.
_CLOCK_SKEW = timedelta(minutes=5)


# --------------------------------------------------------------------------------------------------
# Errors


class CertificateError(Exception):
    """A certificate, CSR or CRL was refused; ``code`` is stable and safe to show to API clients."""

    code = "certificate_error"


class CertificateExpired(CertificateError):
    code = "certificate_expired"


class CertificateNotYetValid(CertificateError):
    code = "certificate_not_yet_valid"


class CertificateRevoked(CertificateError):
    code = "certificate_revoked"

    def __init__(self, message: str, *, revoked_at: datetime, reason: x509.ReasonFlags | None) -> None:
        super().__init__(message)
        self.revoked_at = revoked_at
        self.reason = reason


class CertificateUntrusted(CertificateError):
    code = "certificate_untrusted"


class CertificateWrongProfile(CertificateError):
    code = "certificate_wrong_profile"


class CRLInvalid(CertificateError):
    code = "crl_invalid"


class CSRInvalid(CertificateError):
    code = "csr_invalid"


class UnsupportedKey(CertificateError):
    code = "unsupported_key"


# --------------------------------------------------------------------------------------------------
# Profiles


class Profile(enum.Enum):
    """What a certificate is for; the value is what gets stored and logged."""

    TENDERER_SIGNING = "tenderer_signing"
    TENDERER_ENCRYPTION = "tenderer_encryption"
    EXPERT = "expert"
    STAFF = "staff"
    SERVICE = "service"

    @property
    def policy_oid(self) -> x509.ObjectIdentifier:
        return _SPECS[self].policy_oid


@dataclass(frozen=True)
class _ProfileSpec:
    policy_oid: x509.ObjectIdentifier
    key_kind: str  # "p256" or "x25519"
    key_usage: frozenset[str]
    ekus: tuple[x509.ObjectIdentifier, ...]
    needs_credit_code: bool


_SIGNING_USAGE = frozenset({"digital_signature", "content_commitment"})

# The signing profiles differ only in their policy OID on purpose: what a signature may stand for
# (a bid, an evaluation report, a receipt) is decided by the profile the verifier asks for, and
# nonRepudiation with emailProtection suits all of them.

_SPECS: dict[Profile, _ProfileSpec] = {
    Profile.TENDERER_SIGNING: _ProfileSpec(
        x509.ObjectIdentifier(_POLICY_ARC + ".1"),
        "p256",
        _SIGNING_USAGE,
        (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        needs_credit_code=True,
    ),
    Profile.TENDERER_ENCRYPTION: _ProfileSpec(
        x509.ObjectIdentifier(_POLICY_ARC + ".2"),
        "x25519",
        frozenset({"key_agreement"}),
        (),
        needs_credit_code=True,
    ),
    Profile.EXPERT: _ProfileSpec(
        x509.ObjectIdentifier(_POLICY_ARC + ".3"),
        "p256",
        _SIGNING_USAGE,
        (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        needs_credit_code=False,
    ),
    Profile.STAFF: _ProfileSpec(
        x509.ObjectIdentifier(_POLICY_ARC + ".4"),
        "p256",
        _SIGNING_USAGE,
        (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        needs_credit_code=False,
    ),
    Profile.SERVICE: _ProfileSpec(
        x509.ObjectIdentifier(_POLICY_ARC + ".5"),
        "p256",
        _SIGNING_USAGE,
        (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        needs_credit_code=False,
    ),
}

_PROFILE_BY_POLICY = {spec.policy_oid: profile for profile, spec in _SPECS.items()}

_KEY_USAGE_FLAGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


# --------------------------------------------------------------------------------------------------
# Value types

# GB 32100-2015: 31 symbols (digits and capitals without I, O, S, V, Z), weights 3^i mod 31.
_CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def is_valid_credit_code(code: str) -> bool:
    """True for a syntactically valid unified social credit code, check character included."""
    if len(code) != 18 or any(ch not in _CREDIT_CODE_ALPHABET for ch in code):
        return False
    total = sum(_CREDIT_CODE_ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(code[:17]))
    return _CREDIT_CODE_ALPHABET[(31 - total % 31) % 31] == code[17]


@dataclass(frozen=True)
class SubjectInfo:
    org_name: str
    common_name: str
    credit_code: str | None = None

    def __post_init__(self) -> None:
        if not self.org_name or not self.common_name:
            raise ValueError("org_name and common_name must not be empty")
        if self.credit_code is not None and not is_valid_credit_code(self.credit_code):
            raise ValueError(f"not a valid unified social credit code: {self.credit_code!r}")

    def to_name(self) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.org_name)]
        if self.credit_code is not None:
            attrs.append(
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, CREDIT_CODE_PREFIX + self.credit_code)
            )
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, self.common_name))
        return x509.Name(attrs)


@dataclass(frozen=True)
class VerifiedIdentity:
    org_name: str
    credit_code: str | None
    common_name: str
    serial: int
    profile: Profile | None


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    # Where this issuer publishes its CRL: named in every certificate it issues (CRL distribution point),
    # so that a verifier (``openssl verify -crl_check_all``) knows which CRL to fetch.
    crl_url: str | None = None


@dataclass(frozen=True)
class CABundle:
    root_cert: x509.Certificate
    issuing_cert: x509.Certificate
    root_key_pem: bytes
    issuing_key_pem: bytes

    @property
    def chain(self) -> list[x509.Certificate]:
        """The ``chain`` argument for :func:`verify_certificate`: issuing CA first, root last."""
        return [self.issuing_cert, self.root_cert]

    def load_issuer(self, passphrase: bytes) -> Issuer:
        return load_issuer(
            self.issuing_cert.public_bytes(serialization.Encoding.PEM), self.issuing_key_pem, passphrase
        )


# --------------------------------------------------------------------------------------------------
# Helpers


def _utc(when: datetime) -> datetime:
    # A naive datetime would be silently read as UTC by cryptography and as local time elsewhere.
    if when.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return when.astimezone(UTC)


def _add_years(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def _random_serial() -> int:
    while True:
        serial = secrets.randbits(159)
        if serial:
            return serial


def _key_usage(flags: frozenset[str]) -> x509.KeyUsage:
    kwargs = {name: name in flags for name in _KEY_USAGE_FLAGS}
    return x509.KeyUsage(**kwargs, encipher_only=False, decipher_only=False)


def _key_kind(public_key: object) -> str | None:
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return "p256"
    if isinstance(public_key, x25519.X25519PublicKey):
        return "x25519"
    return None


def _spki(public_key: object) -> bytes:
    return bytes(
        public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _first_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


def _ext(cert: x509.Certificate, ext_type: type) -> x509.Extension[Any] | None:
    try:
        return cert.extensions.get_extension_for_class(ext_type)
    except x509.ExtensionNotFound:
        return None


def _ski_of(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    ext = _ext(cert, x509.SubjectKeyIdentifier)
    if ext is not None:
        return cast(x509.SubjectKeyIdentifier, ext.value)
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key())


def _ca_certificate(
    subject: x509.Name,
    issuer_name: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    authority_ski: x509.SubjectKeyIdentifier,
    not_before: datetime,
    not_after: datetime,
    path_length: int,
    crl_url: str | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(_random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(frozenset({"key_cert_sign", "crl_sign"})), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_ski), critical=False
        )
    )
    if crl_url:
        builder = builder.add_extension(crl_distribution_point(crl_url), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


# --------------------------------------------------------------------------------------------------
# CA creation and loading


def create_ca(name: str, passphrase: bytes, now: datetime, *, root_crl_url: str | None = None) -> CABundle:
    """Create a root CA (20 years) and an issuing CA below it (10 years); the issuing CA's certificate
    names ``root_crl_url``, where the root publishes its CRL (of revoked issuing CAs)."""
    if not name:
        raise ValueError("CA name must not be empty")
    if not passphrase:
        raise ValueError("a passphrase is required: CA keys are never stored in the clear")
    now = _utc(now)
    not_before = now - _CLOCK_SKEW

    root_key = ec.generate_private_key(ec.SECP256R1())
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root CA"),
        ]
    )
    issuing_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Issuing CA"),
        ]
    )
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    # Path length 1 on the root still allows a replacement issuing CA, never a deeper hierarchy.
    root_cert = _ca_certificate(
        root_name,
        root_name,
        root_key.public_key(),
        root_key,
        root_ski,
        not_before,
        _add_years(now, 20),
        path_length=1,
    )
    issuing_cert = _ca_certificate(
        issuing_name,
        root_name,
        issuing_key.public_key(),
        root_key,
        root_ski,
        not_before,
        _add_years(now, 10),
        path_length=0,
        crl_url=root_crl_url,
    )
    encryption = serialization.BestAvailableEncryption(passphrase)
    return CABundle(
        root_cert=root_cert,
        issuing_cert=issuing_cert,
        root_key_pem=root_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
        issuing_key_pem=issuing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
    )


def load_issuer(
    issuing_cert_pem: bytes, issuing_key_pem: bytes, passphrase: bytes, *, crl_url: str | None = None
) -> Issuer:
    """Decrypt a CA key (the issuing CA's, or the root's to sign its CRL); raises ValueError for a
    missing or wrong passphrase. ``crl_url`` goes into the certificates it issues."""
    cert = x509.load_pem_x509_certificate(issuing_cert_pem)
    try:
        key = serialization.load_pem_private_key(issuing_key_pem, passphrase or None)
    except TypeError as exc:  # cryptography's way of saying "no password given"
        raise ValueError("the issuing CA key is encrypted and needs its passphrase") from exc
    except ValueError as exc:
        raise ValueError("the issuing CA key could not be decrypted with this passphrase") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or _spki(key.public_key()) != _spki(cert.public_key()):
        raise ValueError("the key does not belong to the issuing CA certificate")
    return Issuer(cert=cert, private_key=key, crl_url=crl_url)


# --------------------------------------------------------------------------------------------------
# Issuance


def _check_key(profile: Profile, public_key: object) -> None:
    wanted = _SPECS[profile].key_kind
    if _key_kind(public_key) != wanted:
        expected = "an ECDSA P-256" if wanted == "p256" else "an X25519"
        raise UnsupportedKey(f"profile {profile.value} needs {expected} public key")


def _issue(
    issuer: Issuer,
    public_key: ec.EllipticCurvePublicKey | x25519.X25519PublicKey,
    profile: Profile,
    subject: SubjectInfo,
    now: datetime,
    days: int,
) -> x509.Certificate:
    spec = _SPECS[profile]
    _check_key(profile, public_key)
    if spec.needs_credit_code and subject.credit_code is None:
        raise ValueError(f"profile {profile.value} needs the organisation's unified social credit code")
    if days <= 0:
        raise ValueError("days must be positive")
    now = _utc(now)
    ca_cert = issuer.cert
    if now > ca_cert.not_valid_after_utc:
        raise CertificateExpired("the issuing CA certificate has expired")
    if now < ca_cert.not_valid_before_utc:
        raise CertificateNotYetValid("the issuing CA certificate is not valid yet")
    not_before = max(now - _CLOCK_SKEW, ca_cert.not_valid_before_utc)
    not_after = min(now + timedelta(days=days), ca_cert.not_valid_after_utc)

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject.to_name())
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(_random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(spec.key_usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski_of(ca_cert)), critical=False
        )
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(spec.policy_oid, None)]), critical=False
        )
    )
    if spec.ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.ekus)), critical=False)
    if issuer.crl_url:
        builder = builder.add_extension(crl_distribution_point(issuer.crl_url), critical=False)
    return builder.sign(issuer.private_key, hashes.SHA256())


def crl_distribution_point(url: str) -> x509.CRLDistributionPoints:
    """RFC 5280 4.2.1.13: one distribution point, a URI, for the issuer's full CRL."""
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def _load_csr(csr_data: bytes) -> x509.CertificateSigningRequest:
    try:
        if csr_data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(csr_data)
        return x509.load_der_x509_csr(csr_data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CSRInvalid("the certificate request cannot be parsed") from exc


def _subject_from_name(name: x509.Name) -> SubjectInfo:
    org = _first_attr(name, NameOID.ORGANIZATION_NAME)
    cn = _first_attr(name, NameOID.COMMON_NAME)
    org_id = _first_attr(name, NameOID.ORGANIZATION_IDENTIFIER)
    code = None
    if org_id is not None:
        code = org_id.removeprefix(CREDIT_CODE_PREFIX)
    return SubjectInfo(org_name=org or "", common_name=cn or "", credit_code=code)


def issue_from_csr(
    issuer: Issuer,
    csr_pem: bytes,
    profile: Profile,
    *,
    subject_override: SubjectInfo | None = None,
    now: datetime,
    days: int = DEFAULT_END_ENTITY_DAYS,
) -> x509.Certificate:
    """Certify the key in a PKCS#10 request (PEM or DER) under ``profile``.

    The CSR proves possession of the key and nothing more: its requested extensions are ignored and
    the subject should come from the platform's verified registration (``subject_override``). Without
    an override only O, organizationIdentifier and CN are taken from the CSR's subject, and validated.
    """
    csr = _load_csr(csr_pem)
    try:
        signature_ok = csr.is_signature_valid
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CSRInvalid("the certificate request's signature cannot be checked") from exc
    if not signature_ok:
        raise CSRInvalid("the certificate request's signature is invalid")
    try:
        public_key = csr.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKey("the certificate request carries an unsupported key") from exc
    _check_key(profile, public_key)
    if subject_override is None:
        try:
            subject_override = _subject_from_name(csr.subject)
        except ValueError as exc:
            raise CSRInvalid(f"the certificate request's subject is unusable: {exc}") from exc
    return _issue(issuer, public_key, profile, subject_override, now, days)  # type: ignore[arg-type]


def issue_for_public_key(
    issuer: Issuer,
    public_key: ec.EllipticCurvePublicKey | x25519.X25519PublicKey,
    profile: Profile,
    subject: SubjectInfo,
    now: datetime,
    *,
    days: int = DEFAULT_END_ENTITY_DAYS,
) -> x509.Certificate:
    """Certify a bare public key; this is how X25519 keys get certified, as they cannot sign a CSR.

    The caller must have established possession of the key by other means (for the tenderer's
    encryption key: a registration statement signed with their signing certificate).
    """
    return _issue(issuer, public_key, profile, subject, now, days)


# --------------------------------------------------------------------------------------------------
# Revocation


def build_crl(
    issuer: Issuer,
    revoked: Sequence[tuple[int, datetime, x509.ReasonFlags | None]],
    now: datetime,
    next_update: datetime,
    *,
    number: int | None = None,
) -> x509.CertificateRevocationList:
    """A full CRL signed by the issuing CA; serialise with ``public_bytes(Encoding.DER or PEM)``.

    ``number`` should come from a persistent counter; by default it is derived from ``now`` in
    milliseconds, which only increases as long as CRLs are not built twice in the same millisecond.
    """
    now = _utc(now)
    next_update = _utc(next_update)
    if next_update <= now:
        raise ValueError("next_update must be after now")
    if number is None:
        number = int(now.timestamp() * 1000)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski_of(issuer.cert)),
            critical=False,
        )
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(_utc(revoked_at))
        # RFC 5280 5.3.1: "unspecified" is expressed by leaving the reason code out.
        if reason is not None and reason is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer.private_key, hashes.SHA256())


# --------------------------------------------------------------------------------------------------
# Verification

# cryptography parses extensions lazily: a certificate or CRL that loaded can still fail on access.
_PARSE_ERRORS = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType, UnsupportedAlgorithm)

_UNDERSTOOD_CERT_EXTENSIONS = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.CERTIFICATE_POLICIES,
}
_UNDERSTOOD_CRL_EXTENSIONS = {ExtensionOID.CRL_NUMBER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER}
_UNDERSTOOD_CRL_ENTRY_EXTENSIONS = {x509.oid.CRLEntryExtensionOID.CRL_REASON}


def identity_of(cert: x509.Certificate) -> VerifiedIdentity:
    """Read the identity fields of a certificate. This verifies nothing: see verify_certificate."""
    org_id = _first_attr(cert.subject, NameOID.ORGANIZATION_IDENTIFIER)
    credit_code = None
    if org_id is not None and org_id.startswith(CREDIT_CODE_PREFIX):
        credit_code = org_id.removeprefix(CREDIT_CODE_PREFIX)
    return VerifiedIdentity(
        org_name=_first_attr(cert.subject, NameOID.ORGANIZATION_NAME) or "",
        credit_code=credit_code,
        common_name=_first_attr(cert.subject, NameOID.COMMON_NAME) or "",
        serial=cert.serial_number,
        profile=_declared_profile(cert),
    )


def _declared_profile(cert: x509.Certificate) -> Profile | None:
    ext = _ext(cert, x509.CertificatePolicies)
    if ext is None:
        return None
    oids = {policy.policy_identifier for policy in ext.value}
    found = {profile for oid, profile in _PROFILE_BY_POLICY.items() if oid in oids}
    # Two profiles in one certificate would let it be used for either; treat as none.
    return found.pop() if len(found) == 1 else None


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x})"


def _check_chain(path: list[x509.Certificate]) -> None:
    root = path[-1]
    for child, parent in itertools.pairwise(path):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            raise CertificateUntrusted(f"{_describe(child)} was not issued by {_describe(parent)}") from exc
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
        raise CertificateUntrusted("the trust anchor is not a self-signed root certificate") from exc

    for cert in path:
        for ext in cert.extensions:
            if ext.critical and ext.oid not in _UNDERSTOOD_CERT_EXTENSIONS:
                raise CertificateUntrusted(f"{_describe(cert)} has an unknown critical extension {ext.oid}")

    # ``below`` counts the CA certificates between this CA and the end entity, as pathLenConstraint does.
    for below, ca in enumerate(path[1:]):
        bc = _ext(ca, x509.BasicConstraints)
        if bc is None or not bc.value.ca:
            raise CertificateUntrusted(f"{_describe(ca)} is not a CA certificate")
        if bc.value.path_length is not None and below > bc.value.path_length:
            raise CertificateUntrusted(f"{_describe(ca)} path length constraint exceeded")
        ku = _ext(ca, x509.KeyUsage)
        if ku is None or not ku.value.key_cert_sign:
            raise CertificateUntrusted(f"{_describe(ca)} may not sign certificates")


def _check_validity(path: list[x509.Certificate], at: datetime) -> None:
    for cert in path:
        if at < cert.not_valid_before_utc:
            raise CertificateNotYetValid(
                f"{_describe(cert)} is valid only from {cert.not_valid_before_utc.isoformat()}"
            )
        if at > cert.not_valid_after_utc:
            raise CertificateExpired(f"{_describe(cert)} expired at {cert.not_valid_after_utc.isoformat()}")


def _check_revocation(
    cert: x509.Certificate, ca: x509.Certificate, crl: x509.CertificateRevocationList, at: datetime
) -> None:
    if crl.issuer != ca.subject:
        raise CRLInvalid("the CRL was not issued by the certificate's issuer")
    ku = _ext(ca, x509.KeyUsage)
    if ku is None or not ku.value.crl_sign:
        raise CRLInvalid("the issuer may not sign CRLs")
    try:
        signature_ok = crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise CRLInvalid("the CRL signature cannot be checked") from exc
    if not signature_ok:
        raise CRLInvalid("the CRL signature is invalid")
    if crl.next_update_utc is None:
        raise CRLInvalid("the CRL has no nextUpdate, so its freshness is unknown")
    if at < crl.last_update_utc:
        raise CRLInvalid(f"the CRL was issued at {crl.last_update_utc.isoformat()}, after the checked time")
    if at > crl.next_update_utc:
        raise CRLInvalid(f"the CRL went stale at {crl.next_update_utc.isoformat()}")
    for ext in crl.extensions:
        # Delta CRLs and issuing distribution points would narrow the CRL's scope; we issue neither.
        if ext.critical and ext.oid not in _UNDERSTOOD_CRL_EXTENSIONS:
            raise CRLInvalid(f"the CRL has an unknown critical extension {ext.oid}")

    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return
    for ext in entry.extensions:
        if ext.critical and ext.oid not in _UNDERSTOOD_CRL_ENTRY_EXTENSIONS:
            raise CRLInvalid(f"a CRL entry has an unknown critical extension {ext.oid}")
    reason = None
    with contextlib.suppress(x509.ExtensionNotFound):
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    # A listed certificate counts as revoked whatever its revocation date: the CRL must be current
    # at ``at`` anyway, and a later date would only mean a backdated compromise being reported.
    raise CertificateRevoked(
        f"{_describe(cert)} was revoked at {entry.revocation_date_utc.isoformat()}"
        + (f" ({reason.value})" if reason else ""),
        revoked_at=entry.revocation_date_utc,
        reason=reason,
    )


def _check_profile(cert: x509.Certificate, identity: VerifiedIdentity, wanted: Profile | None) -> None:
    bc = _ext(cert, x509.BasicConstraints)
    if bc is not None and bc.value.ca:
        raise CertificateWrongProfile(f"{_describe(cert)} is a CA certificate, not an end entity")
    declared = identity.profile
    if declared is None:
        raise CertificateWrongProfile(f"{_describe(cert)} carries no SunBid certificate profile")
    if wanted is not None and declared is not wanted:
        raise CertificateWrongProfile(
            f"{_describe(cert)} is a {declared.value} certificate, not {wanted.value}"
        )
    spec = _SPECS[declared]
    if _key_kind(cert.public_key()) != spec.key_kind:
        raise CertificateWrongProfile(f"{_describe(cert)} has the wrong key type for {declared.value}")
    ku = _ext(cert, x509.KeyUsage)
    if ku is None or not all(getattr(ku.value, flag) for flag in spec.key_usage):
        raise CertificateWrongProfile(f"{_describe(cert)} lacks the key usages of {declared.value}")
    if spec.ekus:
        eku = _ext(cert, x509.ExtendedKeyUsage)
        if eku is None or not all(oid in eku.value for oid in spec.ekus):
            raise CertificateWrongProfile(
                f"{_describe(cert)} lacks the extended key usages of {declared.value}"
            )
    if not identity.org_name or not identity.common_name:
        raise CertificateWrongProfile(f"{_describe(cert)} lacks O or CN in its subject")
    if spec.needs_credit_code and identity.credit_code is None:
        raise CertificateWrongProfile(f"{_describe(cert)} lacks the unified social credit code")


def verify_certificate(
    cert: x509.Certificate,
    *,
    chain: Sequence[x509.Certificate],
    crl: x509.CertificateRevocationList,
    at: datetime,
    profile: Profile | None = None,
) -> VerifiedIdentity:
    """Verify an end-entity certificate at time ``at`` and return its identity.

    ``chain`` is ``[issuing CA, root CA]`` from the platform's own configuration: its last element is
    the trust anchor, so it must never come from the party being verified. ``crl`` is the issuing
    CA's current CRL; revocation checking is not optional. Checks run in this order, and the first
    failure is raised: chain (certificate_untrusted), validity of every certificate at ``at``
    (certificate_not_yet_valid / certificate_expired), the CRL (crl_invalid) and the certificate's
    status in it (certificate_revoked), then the profile (certificate_wrong_profile), which is
    checked for consistency even when ``profile`` is None.
    """
    if not chain:
        raise ValueError("chain must hold at least the trusted root")
    at = _utc(at)
    path = [cert, *chain]
    try:
        _check_chain(path)
    except _PARSE_ERRORS as exc:
        raise CertificateUntrusted("a certificate in the path cannot be parsed") from exc
    _check_validity(path, at)
    try:
        _check_revocation(cert, chain[0], crl, at)
    except _PARSE_ERRORS as exc:
        raise CRLInvalid("the CRL cannot be parsed") from exc
    identity = identity_of(cert)
    _check_profile(cert, identity, profile)
    return identity
