"""Detached CMS signatures: our own round trip, both directions with openssl, and each refusal."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from crypto import ca, cms

NOW = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
AT = NOW + timedelta(hours=1)
# Line feeds, a CR LF and a NUL: any text-mode canonicalisation would change the digest.
DATA = b'{"tender":"T-2026-001","lot":1,"part":"commercial","sha256":"ab"}\n\r\nline\n\x00end'

needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command-line tool is not installed"
)


def credit_code(body: str) -> str:
    for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if ca.is_valid_credit_code(body + ch):
            return body + ch
    raise AssertionError("no check character fits")


SUBJECT = ca.SubjectInfo("福建某某建设工程有限公司", "张三", credit_code("91350100M000100Y4"))


class Party:
    def __init__(self, issuer: ca.Issuer, profile: ca.Profile = ca.Profile.TENDERER_SIGNING, when=NOW):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = ca.issue_for_public_key(issuer, self.key.public_key(), profile, SUBJECT, when)


@pytest.fixture(scope="module")
def bundle() -> ca.CABundle:
    return ca.create_ca("SunBid Test", b"pw", NOW)


@pytest.fixture(scope="module")
def issuer(bundle: ca.CABundle) -> ca.Issuer:
    return bundle.load_issuer(b"pw")


@pytest.fixture(scope="module")
def crl(issuer: ca.Issuer) -> x509.CertificateRevocationList:
    return ca.build_crl(issuer, [], NOW, NOW + timedelta(days=7))


@pytest.fixture(scope="module")
def tenderer(issuer: ca.Issuer) -> Party:
    return Party(issuer)


def verify(signature: bytes, bundle: ca.CABundle, crl, data=DATA, at=AT, **kwargs) -> cms.VerifiedSigner:
    return cms.verify_detached(signature, data, chain=bundle.chain, crl=crl, at=at, **kwargs)


def flip(blob: bytes, index: int) -> bytes:
    out = bytearray(blob)
    out[index] ^= 0x01
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Round trip


def test_sign_and_verify(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key)
    assert DATA not in signature
    signer = verify(signature, bundle, crl, profile=ca.Profile.TENDERER_SIGNING)
    assert signer.certificate == tenderer.cert
    assert signer.identity == ca.identity_of(tenderer.cert)
    assert signer.identity.credit_code == SUBJECT.credit_code
    assert signer.signing_time is not None
    assert before <= signer.signing_time <= datetime.now(UTC)


def test_streams_are_accepted(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    signature = cms.sign_detached(io.BytesIO(DATA), tenderer.cert, tenderer.key)
    assert verify(signature, bundle, crl, data=io.BytesIO(DATA)).identity.common_name == "张三"
    assert verify(signature, bundle, crl, data=DATA)


def test_signature_shape(tenderer: Party, bundle: ca.CABundle) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key, extra_certs=[bundle.issuing_cert])
    embedded = pkcs7.load_der_pkcs7_certificates(signature)
    assert set(embedded) == {tenderer.cert, bundle.issuing_cert}
    # The three attributes we want, and no S/MIME capabilities.
    assert b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x03" in signature  # content-type
    assert b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x04" in signature  # message-digest
    assert b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x05" in signature  # signing-time
    assert b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0f" not in signature  # smimeCapabilities
    assert hashlib.sha256(DATA).digest() in signature


def test_sign_refuses_wrong_keys(tenderer: Party) -> None:
    with pytest.raises(ca.UnsupportedKey):
        cms.sign_detached(DATA, tenderer.cert, ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="does not belong"):
        cms.sign_detached(DATA, tenderer.cert, ec.generate_private_key(ec.SECP256R1()))


# --------------------------------------------------------------------------------------------------
# Interoperability with openssl


@pytest.fixture
def files(tmp_path: Path, tenderer: Party, bundle: ca.CABundle) -> dict[str, str]:
    def write(name: str, blob: bytes) -> str:
        (tmp_path / name).write_bytes(blob)
        return str(tmp_path / name)

    pem = serialization.Encoding.PEM
    return {
        "data": write("data.bin", DATA),
        "cert": write("cert.pem", tenderer.cert.public_bytes(pem)),
        "key": write(
            "key.pem",
            tenderer.key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ),
        "root": write("root.pem", bundle.root_cert.public_bytes(pem)),
        "chain": write(
            "chain.pem", bundle.issuing_cert.public_bytes(pem) + bundle.root_cert.public_bytes(pem)
        ),
        "sig": str(tmp_path / "sig.der"),
    }


def openssl_cms_verify(files: dict[str, str], ca_file: str) -> subprocess.CompletedProcess:
    # No -purpose: openssl's default S/MIME signing purpose must accept our profile as it is.
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            files["sig"],
            "-content",
            files["data"],
            "-CAfile",
            ca_file,
            "-attime",
            str(int(AT.timestamp())),
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@needs_openssl
def test_openssl_verifies_our_signature(files: dict[str, str], tenderer: Party, bundle: ca.CABundle) -> None:
    Path(files["sig"]).write_bytes(cms.sign_detached(DATA, tenderer.cert, tenderer.key))
    result = openssl_cms_verify(files, files["chain"])
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr

    # With the issuing CA embedded, the root alone is enough for openssl.
    Path(files["sig"]).write_bytes(
        cms.sign_detached(DATA, tenderer.cert, tenderer.key, extra_certs=[bundle.issuing_cert])
    )
    result = openssl_cms_verify(files, files["root"])
    assert result.returncode == 0, result.stderr

    Path(files["data"]).write_bytes(DATA + b"!")
    assert openssl_cms_verify(files, files["root"]).returncode != 0


@needs_openssl
@pytest.mark.parametrize(
    "options",
    [[], ["-nosmimecap"], ["-noattr"], ["-keyid"]],
    ids=["default", "nosmimecap", "noattr", "keyid"],
)
def test_we_verify_openssl_signatures(
    files: dict[str, str], bundle: ca.CABundle, crl, options: list[str]
) -> None:
    subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-signer",
            files["cert"],
            "-inkey",
            files["key"],
            "-in",
            files["data"],
            "-out",
            files["sig"],
            *options,
        ],
        check=True,
        capture_output=True,
    )
    signature = Path(files["sig"]).read_bytes()
    signer = verify(signature, bundle, crl, profile=ca.Profile.TENDERER_SIGNING)
    assert signer.identity.common_name == "张三"
    assert (signer.signing_time is None) == ("-noattr" in options)

    with pytest.raises(cms.SignatureInvalid) as exc:
        verify(signature, bundle, crl, data=DATA[:-1] + b"X")
    assert exc.value.code == "signature_invalid"


# --------------------------------------------------------------------------------------------------
# Refusals


def test_tampered_data(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key)
    for data in (DATA + b" ", DATA.replace(b"\r\n", b"\n"), b""):
        with pytest.raises(cms.SignatureInvalid) as exc:
            verify(signature, bundle, crl, data=data)
        assert exc.value.code == "signature_invalid"


def test_tampered_signature_value(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key)
    # No unsigned attributes follow, so the last byte belongs to the ECDSA signature.
    with pytest.raises(cms.SignatureInvalid) as exc:
        verify(flip(signature, len(signature) - 1), bundle, crl)
    assert exc.value.code == "signature_invalid"


def test_tampered_signed_attributes(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key)
    signing_time_oid = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x05"
    at = signature.index(signing_time_oid) + len(signing_time_oid)
    assert signature[at + 2] == 0x17  # SET { UTCTime }
    seconds_digit = at + 2 + 2 + 11  # inside "YYMMDDHHMMSSZ"
    with pytest.raises(cms.SignatureInvalid):
        verify(flip(signature, seconds_digit), bundle, crl)


def test_malformed_signatures(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key)
    embedded = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(DATA)
        .add_signer(tenderer.cert, tenderer.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    no_certs = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(DATA)
        .add_signer(tenderer.cert, tenderer.key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCerts],
        )
    )
    other = ec.generate_private_key(ec.SECP256R1())
    other_cert = ca.issue_for_public_key(
        ca.Issuer(bundle.issuing_cert, other), other.public_key(), ca.Profile.TENDERER_SIGNING, SUBJECT, NOW
    )
    two_signers = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(DATA)
        .add_signer(tenderer.cert, tenderer.key, hashes.SHA256())
        .add_signer(other_cert, other, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )
    sha512 = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(DATA)
        .add_signer(tenderer.cert, tenderer.key, hashes.SHA512())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )
    # Indefinite length on the outer SEQUENCE: BER that DER forbids.
    ber = b"\x30\x80" + signature[4:] + b"\x00\x00"
    cases = {
        "empty": b"",
        "garbage": b"not a signature at all",
        "truncated": signature[:-10],
        "trailing": signature + b"\x00",
        "certificate instead": tenderer.cert.public_bytes(serialization.Encoding.DER),
        "not detached": embedded,
        "signer certificate missing": no_certs,
        "two signers": two_signers,
        "sha512": sha512,
        "ber": ber,
        "oversized": b"\x30\x84\x7f\xff\xff\xff" + signature,
    }
    for name, blob in cases.items():
        with pytest.raises(cms.SignatureMalformed) as exc:
            verify(blob, bundle, crl)
        assert exc.value.code == "signature_malformed", name


def test_revoked_signer(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    signer = Party(issuer)
    signature = cms.sign_detached(DATA, signer.cert, signer.key)
    crl = ca.build_crl(
        issuer,
        [(signer.cert.serial_number, NOW, x509.ReasonFlags.key_compromise)],
        NOW,
        NOW + timedelta(days=7),
    )
    with pytest.raises(ca.CertificateRevoked) as exc:
        verify(signature, bundle, crl)
    assert exc.value.code == "certificate_revoked"


def test_expired_signer(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    signer = Party(issuer)
    signature = cms.sign_detached(DATA, signer.cert, signer.key)
    late = signer.cert.not_valid_after_utc + timedelta(days=1)
    crl = ca.build_crl(issuer, [], late - timedelta(hours=1), late + timedelta(days=1))
    with pytest.raises(ca.CertificateExpired) as exc:
        verify(signature, bundle, crl, at=late)
    assert exc.value.code == "certificate_expired"


def test_foreign_ca_signer(bundle: ca.CABundle, crl) -> None:
    foreign = ca.create_ca("SunBid Test", b"other", NOW)
    stranger = Party(foreign.load_issuer(b"other"))
    signature = cms.sign_detached(DATA, stranger.cert, stranger.key, extra_certs=foreign.chain)
    with pytest.raises(ca.CertificateUntrusted) as exc:
        verify(signature, bundle, crl)
    assert exc.value.code == "certificate_untrusted"


def test_wrong_profile_signer(issuer: ca.Issuer, bundle: ca.CABundle, crl) -> None:
    expert = Party(issuer, ca.Profile.EXPERT)
    signature = cms.sign_detached(DATA, expert.cert, expert.key)
    assert verify(signature, bundle, crl).identity.profile is ca.Profile.EXPERT
    with pytest.raises(ca.CertificateWrongProfile) as exc:
        verify(signature, bundle, crl, profile=ca.Profile.TENDERER_SIGNING)
    assert exc.value.code == "certificate_wrong_profile"


def test_signature_is_checked_before_the_certificate(issuer: ca.Issuer, bundle: ca.CABundle) -> None:
    signer = Party(issuer)
    signature = cms.sign_detached(DATA, signer.cert, signer.key)
    crl = ca.build_crl(issuer, [(signer.cert.serial_number, NOW, None)], NOW, NOW + timedelta(days=7))
    with pytest.raises(cms.SignatureInvalid):
        verify(signature, bundle, crl, data=b"other")


def test_every_refusal_has_a_code() -> None:
    assert {cls.code for cls in (cms.SignatureInvalid, cms.SignatureMalformed)} == {
        "signature_invalid",
        "signature_malformed",
    }
    assert cms.VerificationErrors == (cms.SignatureError, ca.CertificateError)


def test_single_byte_changes_are_refused_or_harmless(tenderer: Party, bundle: ca.CABundle, crl) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key)
    original = verify(signature, bundle, crl)
    accepted = []
    for index in range(len(signature)):
        try:
            signer = verify(flip(signature, index), bundle, crl)
        except cms.VerificationErrors:
            continue  # anything else escaping would be a parser bug
        accepted.append(index)
        assert signer.identity == original.identity
        assert signer.signing_time == original.signing_time
    # What may slip through is encoding slack outside every signature, such as the unused-bits
    # count of the certificate's signature BIT STRING when the padding bit happens to be zero.
    assert len(accepted) <= 2, accepted


# Mutated serial numbers can turn negative, which cryptography still loads but warns about.
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_mutations_with_embedded_chain_never_escape_the_error_types(
    tenderer: Party, bundle: ca.CABundle, crl
) -> None:
    signature = cms.sign_detached(DATA, tenderer.cert, tenderer.key, extra_certs=[bundle.issuing_cert])
    for index in range(0, len(signature), 3):
        for mask in (0x01, 0x80, 0xFF):
            mutated = bytearray(signature)
            mutated[index] ^= mask
            try:
                signer = verify(bytes(mutated), bundle, crl)
            except cms.VerificationErrors:
                continue
            # The embedded issuing certificate is never trusted, so changing it changes nothing; a
            # flip in encoding slack outside the signed TBS part (e.g. a BIT STRING's unused-bits
            # count, depending on the random key) may survive, but the signed content is the same.
            assert signer.certificate.tbs_certificate_bytes == tenderer.cert.tbs_certificate_bytes
            assert signer.identity == ca.identity_of(tenderer.cert)
