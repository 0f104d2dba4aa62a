"""Platform CA: hierarchy, issuance profiles, CRLs and the single verification path."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from crypto import ca

NOW = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
PASSPHRASE = b"correct horse battery staple"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command-line tool is not installed"
)


def credit_code(body: str) -> str:
    """Complete a 17-character code body with its GB 32100-2015 check character."""
    for ch in ALPHABET:
        if ca.is_valid_credit_code(body + ch):
            return body + ch
    raise AssertionError("no check character fits")


CODE = credit_code("91350100M000100Y4")
SUBJECT = ca.SubjectInfo(org_name="福建某某建设工程有限公司", common_name="张三", credit_code=CODE)


@pytest.fixture(scope="module")
def bundle() -> ca.CABundle:
    return ca.create_ca("SunBid Test", PASSPHRASE, NOW)


@pytest.fixture(scope="module")
def issuer(bundle: ca.CABundle) -> ca.Issuer:
    return bundle.load_issuer(PASSPHRASE)


@pytest.fixture(scope="module")
def empty_crl(issuer: ca.Issuer) -> x509.CertificateRevocationList:
    return ca.build_crl(issuer, [], NOW, NOW + timedelta(days=7))


def make_csr(key: ec.EllipticCurvePrivateKey, *, extensions: bool = False) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Requested Org"),
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, ca.CREDIT_CODE_PREFIX + CODE),
                x509.NameAttribute(NameOID.COMMON_NAME, "Requested Name"),
                x509.NameAttribute(NameOID.EMAIL_ADDRESS, "dropped@example.com"),
            ]
        )
    )
    if extensions:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def signing_cert(issuer: ca.Issuer, when: datetime = NOW, **kwargs) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return ca.issue_from_csr(
        issuer, make_csr(key), ca.Profile.TENDERER_SIGNING, subject_override=SUBJECT, now=when, **kwargs
    )


def flip(blob: bytes, index: int) -> bytes:
    return blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1 :]


def verify(cert, bundle, crl, at=NOW + timedelta(hours=1), **kwargs):
    return ca.verify_certificate(cert, chain=bundle.chain, crl=crl, at=at, **kwargs)


# --------------------------------------------------------------------------------------------------
# The hierarchy


def test_root_and_issuing_ca_extensions(bundle: ca.CABundle) -> None:
    root, issuing = bundle.root_cert, bundle.issuing_cert
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    for cert, path_length in ((root, 1), (issuing, 0)):
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert isinstance(cert.public_key().curve, ec.SECP256R1)
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_length
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    issuing_aki = issuing.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_aki = root.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert issuing_aki.key_identifier == root_ski.digest == root_aki.key_identifier
    assert root.not_valid_after_utc.year == NOW.year + 20
    assert issuing.not_valid_after_utc.year == NOW.year + 10
    assert root.not_valid_before_utc <= NOW
    assert "Root CA" in root.subject.rfc4514_string()
    assert bundle.chain == [issuing, root]


def test_ca_keys_are_encrypted_at_rest(bundle: ca.CABundle) -> None:
    for pem in (bundle.root_key_pem, bundle.issuing_key_pem):
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(pem, None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(pem, b"wrong")
        assert isinstance(serialization.load_pem_private_key(pem, PASSPHRASE), ec.EllipticCurvePrivateKey)

    cert_pem = bundle.issuing_cert.public_bytes(serialization.Encoding.PEM)
    for wrong in (b"", b"wrong passphrase"):
        with pytest.raises(ValueError, match="passphrase"):
            ca.load_issuer(cert_pem, bundle.issuing_key_pem, wrong)
    # The root key must not load as the issuing CA's.
    with pytest.raises(ValueError, match="does not belong"):
        ca.load_issuer(cert_pem, bundle.root_key_pem, PASSPHRASE)
    issuer = ca.load_issuer(cert_pem, bundle.issuing_key_pem, PASSPHRASE)
    assert issuer.cert == bundle.issuing_cert


def test_create_ca_refuses_empty_passphrase_and_naive_time() -> None:
    with pytest.raises(ValueError, match="passphrase"):
        ca.create_ca("SunBid Test", b"", NOW)
    with pytest.raises(ValueError, match="timezone"):
        ca.create_ca("SunBid Test", PASSPHRASE, datetime(2026, 1, 1))


# --------------------------------------------------------------------------------------------------
# Issuance


def test_issue_from_csr_decides_subject_and_extensions(
    issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue_from_csr(
        issuer,
        make_csr(key, extensions=True),
        ca.Profile.TENDERER_SIGNING,
        subject_override=SUBJECT,
        now=NOW,
    )
    assert cert.subject == SUBJECT.to_name()
    assert cert.issuer == bundle.issuing_cert.subject
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    # The CSR asked to be a CA; the CA decides otherwise.
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment
    assert not (ku.key_cert_sign or ku.crl_sign or ku.key_agreement)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [ca.Profile.TENDERER_SIGNING.policy_oid]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    issuing_ski = bundle.issuing_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == issuing_ski.digest
    assert 0 < cert.serial_number < 2**159
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=730, minutes=5)

    identity = verify(cert, bundle, empty_crl, profile=ca.Profile.TENDERER_SIGNING)
    assert identity == ca.VerifiedIdentity(
        org_name=SUBJECT.org_name,
        credit_code=CODE,
        common_name="张三",
        serial=cert.serial_number,
        profile=ca.Profile.TENDERER_SIGNING,
    )


def test_serials_differ(issuer: ca.Issuer) -> None:
    assert len({signing_cert(issuer).serial_number for _ in range(5)}) == 5


def test_issue_from_csr_without_override_takes_only_known_attributes(issuer: ca.Issuer) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
    cert = ca.issue_from_csr(issuer, csr, ca.Profile.TENDERER_SIGNING, now=NOW)
    identity = ca.identity_of(cert)
    assert (identity.org_name, identity.credit_code, identity.common_name) == (
        "Requested Org",
        CODE,
        "Requested Name",
    )
    assert not cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)


def test_issue_from_csr_accepts_der(issuer: ca.Issuer) -> None:
    pem = make_csr(ec.generate_private_key(ec.SECP256R1()))
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    cert = ca.issue_from_csr(issuer, der, ca.Profile.STAFF, subject_override=SUBJECT, now=NOW)
    assert ca.identity_of(cert).profile is ca.Profile.STAFF


def test_bad_csr_signature_is_refused(issuer: ca.Issuer) -> None:
    csr = x509.load_pem_x509_csr(make_csr(ec.generate_private_key(ec.SECP256R1())))
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # last byte of the ECDSA signature's s
    tampered = x509.load_der_x509_csr(bytes(der))
    assert not tampered.is_signature_valid
    with pytest.raises(ca.CSRInvalid) as exc:
        ca.issue_from_csr(issuer, bytes(der), ca.Profile.TENDERER_SIGNING, subject_override=SUBJECT, now=NOW)
    assert exc.value.code == "csr_invalid"


def test_unparsable_csr_is_refused(issuer: ca.Issuer) -> None:
    for junk in (
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        b"\x30\x03",
    ):
        with pytest.raises(ca.CSRInvalid):
            ca.issue_from_csr(issuer, junk, ca.Profile.TENDERER_SIGNING, subject_override=SUBJECT, now=NOW)


def test_signing_profiles_need_p256(issuer: ca.Issuer) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ca.UnsupportedKey) as exc:
        ca.issue_from_csr(
            issuer, make_csr(p384), ca.Profile.TENDERER_SIGNING, subject_override=SUBJECT, now=NOW
        )
    assert exc.value.code == "unsupported_key"
    with pytest.raises(ca.UnsupportedKey):
        ca.issue_for_public_key(
            issuer, x25519.X25519PrivateKey.generate().public_key(), ca.Profile.EXPERT, SUBJECT, NOW
        )


def test_x25519_encryption_certificate(
    issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList
) -> None:
    key = x25519.X25519PrivateKey.generate()
    cert = ca.issue_for_public_key(issuer, key.public_key(), ca.Profile.TENDERER_ENCRYPTION, SUBJECT, NOW)
    public = cert.public_key()
    assert isinstance(public, x25519.X25519PublicKey)
    assert public.public_bytes_raw() == key.public_key().public_bytes_raw()
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_agreement and not ku.digital_signature and not ku.content_commitment
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    identity = verify(cert, bundle, empty_crl, profile=ca.Profile.TENDERER_ENCRYPTION)
    assert identity.profile is ca.Profile.TENDERER_ENCRYPTION
    assert identity.credit_code == CODE

    with pytest.raises(ca.UnsupportedKey):
        ca.issue_for_public_key(
            issuer,
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            ca.Profile.TENDERER_ENCRYPTION,
            SUBJECT,
            NOW,
        )


@pytest.mark.parametrize("profile", list(ca.Profile))
def test_every_profile_issues_and_verifies(
    profile: ca.Profile, issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList
) -> None:
    if profile is ca.Profile.TENDERER_ENCRYPTION:
        public_key = x25519.X25519PrivateKey.generate().public_key()
    else:
        public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    subject = ca.SubjectInfo("阳光招采平台运营中心", "receipt-signer")
    if profile in (ca.Profile.TENDERER_SIGNING, ca.Profile.TENDERER_ENCRYPTION):
        with pytest.raises(ValueError, match="credit code"):
            ca.issue_for_public_key(issuer, public_key, profile, subject, NOW)
        subject = SUBJECT
    cert = ca.issue_for_public_key(issuer, public_key, profile, subject, NOW)
    assert verify(cert, bundle, empty_crl, profile=profile).profile is profile


def test_identity_of_fields(issuer: ca.Issuer) -> None:
    cert = signing_cert(issuer)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == "NTRCN-" + CODE
    identity = ca.identity_of(cert)
    assert identity.org_name == "福建某某建设工程有限公司"
    assert identity.credit_code == CODE
    assert identity.common_name == "张三"
    assert identity.serial == cert.serial_number
    assert identity.profile is ca.Profile.TENDERER_SIGNING

    service = ca.issue_for_public_key(
        issuer,
        ec.generate_private_key(ec.SECP256R1()).public_key(),
        ca.Profile.SERVICE,
        ca.SubjectInfo("阳光招采平台", "receipts"),
        NOW,
    )
    assert ca.identity_of(service).credit_code is None
    assert ca.identity_of(service).profile is ca.Profile.SERVICE


def test_validity_is_capped_at_the_issuer(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    late = bundle.issuing_cert.not_valid_after_utc - timedelta(days=100)
    cert = signing_cert(issuer, when=late)
    assert cert.not_valid_after_utc == bundle.issuing_cert.not_valid_after_utc
    short = signing_cert(issuer, days=30)
    assert short.not_valid_after_utc == NOW + timedelta(days=30)
    with pytest.raises(ca.CertificateExpired):
        signing_cert(issuer, when=bundle.issuing_cert.not_valid_after_utc + timedelta(days=1))


def test_credit_code_validation() -> None:
    assert ca.is_valid_credit_code(CODE)
    wrong_check = CODE[:17] + next(ch for ch in ALPHABET if ch != CODE[17])
    assert not ca.is_valid_credit_code(wrong_check)
    assert not ca.is_valid_credit_code(CODE[:17])
    assert not ca.is_valid_credit_code(CODE.lower())
    assert not ca.is_valid_credit_code("I" + CODE[1:])  # I, O, S, V and Z are never used
    with pytest.raises(ValueError, match="credit code"):
        ca.SubjectInfo("Org", "Name", wrong_check)
    with pytest.raises(ValueError):
        ca.SubjectInfo("", "Name")


# --------------------------------------------------------------------------------------------------
# CRLs


def test_crl_contents(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    revoked_at = NOW - timedelta(hours=2)
    crl = ca.build_crl(
        issuer,
        [(1234, revoked_at, x509.ReasonFlags.key_compromise), (5678, revoked_at, None)],
        NOW,
        NOW + timedelta(days=1),
        number=42,
    )
    assert crl.issuer == bundle.issuing_cert.subject
    assert crl.is_signature_valid(bundle.issuing_cert.public_key())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + timedelta(days=1)
    entry = crl.get_revoked_certificate_by_serial_number(1234)
    assert entry is not None and entry.revocation_date_utc == revoked_at
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.key_compromise
    )
    plain = crl.get_revoked_certificate_by_serial_number(5678)
    assert plain is not None and len(plain.extensions) == 0
    default_number = ca.build_crl(issuer, [], NOW, NOW + timedelta(days=1))
    later = ca.build_crl(issuer, [], NOW + timedelta(seconds=1), NOW + timedelta(days=1))
    assert (
        default_number.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        < later.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    )


# --------------------------------------------------------------------------------------------------
# Verification failures, one per code


def test_expired(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    cert = signing_cert(issuer)
    at = cert.not_valid_after_utc + timedelta(seconds=1)
    crl = ca.build_crl(issuer, [], at - timedelta(hours=1), at + timedelta(days=1))
    assert verify(cert, bundle, crl, at=cert.not_valid_after_utc - timedelta(minutes=1), profile=None)
    with pytest.raises(ca.CertificateExpired) as exc:
        verify(cert, bundle, crl, at=at)
    assert exc.value.code == "certificate_expired"


def test_not_yet_valid(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    future = NOW + timedelta(days=30)
    cert = signing_cert(issuer, when=future)
    crl = ca.build_crl(issuer, [], NOW, NOW + timedelta(days=60))
    with pytest.raises(ca.CertificateNotYetValid) as exc:
        verify(cert, bundle, crl, at=NOW + timedelta(days=1))
    assert exc.value.code == "certificate_not_yet_valid"


def test_revoked(issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList) -> None:
    cert = signing_cert(issuer)
    other = signing_cert(issuer)
    assert verify(cert, bundle, empty_crl)
    revoked_at = NOW + timedelta(hours=2)
    crl = ca.build_crl(
        issuer,
        [(cert.serial_number, revoked_at, x509.ReasonFlags.key_compromise)],
        revoked_at,
        revoked_at + timedelta(days=7),
    )
    with pytest.raises(ca.CertificateRevoked) as exc:
        verify(cert, bundle, crl, at=revoked_at + timedelta(minutes=1))
    assert exc.value.code == "certificate_revoked"
    assert exc.value.revoked_at == revoked_at
    assert exc.value.reason is x509.ReasonFlags.key_compromise
    assert verify(other, bundle, crl, at=revoked_at + timedelta(minutes=1)).serial == other.serial_number


def test_foreign_ca_is_untrusted(bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList) -> None:
    # Same names as ours, so only the signatures can tell them apart.
    foreign = ca.create_ca("SunBid Test", b"other passphrase", NOW)
    foreign_issuer = foreign.load_issuer(b"other passphrase")
    cert = signing_cert(foreign_issuer)
    with pytest.raises(ca.CertificateUntrusted) as exc:
        verify(cert, bundle, empty_crl)
    assert exc.value.code == "certificate_untrusted"
    # Their chain with our root as the anchor fails as well.
    with pytest.raises(ca.CertificateUntrusted):
        ca.verify_certificate(
            cert,
            chain=[foreign.issuing_cert, bundle.root_cert],
            crl=empty_crl,
            at=NOW + timedelta(hours=1),
        )


def test_ca_certificate_is_not_an_end_entity(bundle: ca.CABundle) -> None:
    root_crl = ca.build_crl(
        ca.Issuer(bundle.root_cert, serialization.load_pem_private_key(bundle.root_key_pem, PASSPHRASE)),
        [],
        NOW,
        NOW + timedelta(days=1),
    )
    with pytest.raises(ca.CertificateWrongProfile):
        ca.verify_certificate(bundle.issuing_cert, chain=[bundle.root_cert], crl=root_crl, at=NOW)


def test_wrong_profile(
    issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList
) -> None:
    cert = signing_cert(issuer)
    for wanted in (ca.Profile.EXPERT, ca.Profile.TENDERER_ENCRYPTION, ca.Profile.SERVICE):
        with pytest.raises(ca.CertificateWrongProfile) as exc:
            verify(cert, bundle, empty_crl, profile=wanted)
        assert exc.value.code == "certificate_wrong_profile"


def test_certificate_without_profile_is_refused(
    issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    bare = (
        x509.CertificateBuilder()
        .subject_name(SUBJECT.to_name())
        .issuer_name(bundle.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(issuer.private_key, hashes.SHA256())
    )
    assert ca.identity_of(bare).profile is None
    with pytest.raises(ca.CertificateWrongProfile):
        verify(bare, bundle, empty_crl)


def test_unknown_critical_extension_is_untrusted(
    issuer: ca.Issuer, bundle: ca.CABundle, empty_crl: x509.CertificateRevocationList
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    odd = (
        x509.CertificateBuilder()
        .subject_name(SUBJECT.to_name())
        .issuer_name(bundle.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.OCSPNoCheck(), critical=True)
        .sign(issuer.private_key, hashes.SHA256())
    )
    with pytest.raises(ca.CertificateUntrusted):
        verify(odd, bundle, empty_crl)


def test_tampered_crl(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    cert = signing_cert(issuer)
    crl = ca.build_crl(issuer, [(cert.serial_number, NOW, None)], NOW, NOW + timedelta(days=7))
    der = bytearray(crl.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    tampered = x509.load_der_x509_crl(bytes(der))
    with pytest.raises(ca.CRLInvalid) as exc:
        verify(cert, bundle, tampered)
    assert exc.value.code == "crl_invalid"

    # Dropping the entry requires re-signing, which only a foreign key can do.
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    forged = ca.build_crl(ca.Issuer(bundle.issuing_cert, foreign_key), [], NOW, NOW + timedelta(days=7))
    with pytest.raises(ca.CRLInvalid):
        verify(cert, bundle, forged)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_mutated_crl_or_certificate_is_refused(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    cert = signing_cert(issuer)
    crl = ca.build_crl(issuer, [(cert.serial_number, NOW, None)], NOW, NOW + timedelta(days=7))
    crl_der = crl.public_bytes(serialization.Encoding.DER)
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    good_crl = ca.build_crl(issuer, [], NOW, NOW + timedelta(days=7))
    for index in range(len(crl_der)):
        try:
            mutated_crl = x509.load_der_x509_crl(flip(crl_der, index))
        except (ValueError, x509.InvalidVersion):
            continue
        # The entry for this certificate is signed, so it can neither vanish nor be forged away.
        with pytest.raises(ca.CertificateError):
            verify(cert, bundle, mutated_crl)
    for index in range(len(cert_der)):
        try:
            mutated = x509.load_der_x509_certificate(flip(cert_der, index))
        except (ValueError, x509.InvalidVersion):
            continue
        try:
            identity = verify(mutated, bundle, good_crl)
        except ca.CertificateError:
            continue
        assert identity == ca.identity_of(cert)  # only encoding slack outside the signed part


def test_crl_from_another_issuer_or_out_of_window(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    cert = signing_cert(issuer)
    foreign = ca.create_ca("Elsewhere", b"pw", NOW).load_issuer(b"pw")
    with pytest.raises(ca.CRLInvalid):
        verify(cert, bundle, ca.build_crl(foreign, [], NOW, NOW + timedelta(days=7)))
    crl = ca.build_crl(issuer, [], NOW, NOW + timedelta(days=1))
    with pytest.raises(ca.CRLInvalid, match="stale"):
        verify(cert, bundle, crl, at=NOW + timedelta(days=2))
    with pytest.raises(ca.CRLInvalid):
        verify(cert, bundle, crl, at=NOW - timedelta(minutes=1))


def test_error_codes_are_distinct() -> None:
    classes = [
        ca.CertificateExpired,
        ca.CertificateNotYetValid,
        ca.CertificateRevoked,
        ca.CertificateUntrusted,
        ca.CertificateWrongProfile,
        ca.CRLInvalid,
        ca.CSRInvalid,
        ca.UnsupportedKey,
    ]
    assert all(issubclass(cls, ca.CertificateError) for cls in classes)
    assert sorted(cls.code for cls in classes) == [
        "certificate_expired",
        "certificate_not_yet_valid",
        "certificate_revoked",
        "certificate_untrusted",
        "certificate_wrong_profile",
        "crl_invalid",
        "csr_invalid",
        "unsupported_key",
    ]


# --------------------------------------------------------------------------------------------------
# Agreement with openssl verify


def _pem(tmp_path: Path, name: str, obj) -> str:
    path = tmp_path / name
    path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _openssl_verify(
    tmp_path: Path, bundle: ca.CABundle, crl, leaf, at: datetime
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "openssl",
            "verify",
            "-attime",
            str(int(at.timestamp())),
            "-CAfile",
            _pem(tmp_path, "root.pem", bundle.root_cert),
            "-untrusted",
            _pem(tmp_path, "issuing.pem", bundle.issuing_cert),
            "-crl_check",
            "-CRLfile",
            _pem(tmp_path, "crl.pem", crl),
            _pem(tmp_path, "leaf.pem", leaf),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@needs_openssl
def test_openssl_verify_agrees(tmp_path: Path, issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    good = signing_cert(issuer)
    encryption = ca.issue_for_public_key(
        issuer, x25519.X25519PrivateKey.generate().public_key(), ca.Profile.TENDERER_ENCRYPTION, SUBJECT, NOW
    )
    revoked = signing_cert(issuer)
    at = NOW + timedelta(hours=3)
    crl = ca.build_crl(
        issuer,
        [(revoked.serial_number, NOW + timedelta(hours=1), x509.ReasonFlags.superseded)],
        at,
        at + timedelta(days=1),
    )
    for leaf in (good, encryption):
        result = _openssl_verify(tmp_path, bundle, crl, leaf, at)
        assert result.returncode == 0, result.stdout + result.stderr
        assert verify(leaf, bundle, crl, at=at).serial == leaf.serial_number

    result = _openssl_verify(tmp_path, bundle, crl, revoked, at)
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr
    with pytest.raises(ca.CertificateRevoked):
        verify(revoked, bundle, crl, at=at)


@needs_openssl
def test_openssl_verify_agrees_on_expiry_and_foreign_ca(
    tmp_path: Path, issuer: ca.Issuer, bundle: ca.CABundle
) -> None:
    cert = signing_cert(issuer)
    late = cert.not_valid_after_utc + timedelta(days=1)
    crl = ca.build_crl(issuer, [], late - timedelta(hours=1), late + timedelta(days=1))
    result = _openssl_verify(tmp_path, bundle, crl, cert, late)
    assert result.returncode != 0 and "expired" in result.stdout + result.stderr
    with pytest.raises(ca.CertificateExpired):
        verify(cert, bundle, crl, at=late)

    foreign = ca.create_ca("SunBid Test", b"pw", NOW).load_issuer(b"pw")
    stranger = signing_cert(foreign)
    crl = ca.build_crl(issuer, [], NOW, NOW + timedelta(days=1))
    at = NOW + timedelta(hours=1)
    assert _openssl_verify(tmp_path, bundle, crl, stranger, at).returncode != 0
    with pytest.raises(ca.CertificateUntrusted):
        verify(stranger, bundle, crl, at=at)
