"""Detached CMS (RFC 5652) SignedData with ECDSA P-256 and SHA-256, signing and verification.

Signing uses cryptography's ``PKCS7SignatureBuilder``. It needs the whole content in memory, which is
fine here: the outer signature of a bid covers a short statement (the ciphertext's SHA-256 with the
tender, lot, part and tenderer), never the ciphertext itself. Verification hashes its input in
chunks, so it also accepts a stream.

cryptography (as of 50) can build SignedData but not verify it, so verification parses the DER here
with a deliberately small reader: strict DER only (definite, minimal lengths; low tag numbers), and
only the fields SignedData needs. It accepts exactly one SignerInfo, identified by issuer and serial
or by subject key identifier, with SHA-256 and ECDSA, with or without signed attributes (openssl's
``-noattr``). The signature is checked before the certificate, and the certificate is checked with
:func:`crypto.ca.verify_certificate` at the caller's time ``at``: the signing-time attribute is
chosen by the signer and is only reported.

Errors: :class:`SignatureInvalid` (``signature_invalid``) when the content digest or the signature
does not match, :class:`SignatureMalformed` (``signature_malformed``) when the structure cannot be
read or uses something unsupported, and the :class:`crypto.ca.CertificateError` subclasses for the
signer's certificate. Both hierarchies carry a stable ``code``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, TypeGuard

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs7

from crypto.ca import CertificateError, Profile, UnsupportedKey, VerifiedIdentity, verify_certificate

__all__ = [
    "SignatureError",
    "SignatureInvalid",
    "SignatureMalformed",
    "VerificationErrors",
    "VerifiedSigner",
    "sign_detached",
    "verify_detached",
]

# Anything larger is not one of our signatures (a few certificates and one SignerInfo); refusing it
# early keeps a hostile upload from costing parse time.
_MAX_SIGNATURE_SIZE = 1 << 20
_CHUNK = 1 << 20

_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_DATA = "1.2.840.113549.1.7.1"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
_OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
# RFC 5753 asks for ecdsa-with-SHA256, but some producers put the key's algorithm here; the hash is
# fixed by digestAlgorithm either way.
_OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"

# cryptography parses certificate extensions lazily, so a certificate that loaded can still fail here.
_CERT_PARSE_ERRORS = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)

_SEQUENCE = 0x30
_SET = 0x31
_INTEGER = 0x02
_OCTET_STRING = 0x04
_NULL = 0x05
_OID = 0x06
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_CTX0_CONSTRUCTED = 0xA0
_CTX1_CONSTRUCTED = 0xA1
_CTX0_PRIMITIVE = 0x80


class SignatureError(Exception):
    """A CMS signature was refused; ``code`` is stable and safe to show to API clients."""

    code = "signature_error"


class SignatureInvalid(SignatureError):
    code = "signature_invalid"


class SignatureMalformed(SignatureError):
    code = "signature_malformed"


@dataclass(frozen=True)
class VerifiedSigner:
    identity: VerifiedIdentity
    certificate: x509.Certificate
    # As claimed by the signer; absent with openssl -noattr. Not a trusted time.
    signing_time: datetime | None


# --------------------------------------------------------------------------------------------------
# Signing


def _is_p256(public_key: object) -> TypeGuard[ec.EllipticCurvePublicKey]:
    return isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1)


def _spki(public_key: object) -> bytes:
    return bytes(
        public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _read_all(data: bytes | bytearray | memoryview | BinaryIO) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return data.read()


def sign_detached(
    data: bytes | BinaryIO,
    cert: x509.Certificate,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    extra_certs: Iterable[x509.Certificate] = (),
) -> bytes:
    """A DER ContentInfo holding a detached SignedData over ``data``.

    Signed attributes: content-type, signing-time (the local clock) and message-digest; the S/MIME
    capabilities attribute is left out as nobody encrypts to a signature. ``cert`` is embedded, and
    so is each of ``extra_certs`` (the issuing CA, for verifiers that only hold the root).
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not _is_p256(private_key.public_key()):
        raise UnsupportedKey("CMS signatures are made with ECDSA P-256 keys only")
    if _spki(private_key.public_key()) != _spki(cert.public_key()):
        raise ValueError("the private key does not belong to the certificate")
    builder = pkcs7.PKCS7SignatureBuilder().set_data(_read_all(data))
    builder = builder.add_signer(cert, private_key, hashes.SHA256())
    for extra in extra_certs:
        builder = builder.add_certificate(extra)
    # Binary: without it the builder would rewrite line endings to MIME canonical form before hashing.
    return builder.sign(
        serialization.Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities],
    )


# --------------------------------------------------------------------------------------------------
# DER reading


@dataclass(frozen=True)
class _Tlv:
    tag: int
    content: bytes
    encoded: bytes


def _read_tlv(buf: bytes, pos: int) -> tuple[_Tlv, int]:
    end = len(buf)
    if pos + 2 > end:
        raise SignatureMalformed("truncated DER element")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise SignatureMalformed("high-numbered DER tags are not used by SignedData")
    first = buf[pos + 1]
    header = 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise SignatureMalformed("indefinite lengths (BER) are not accepted; send DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + 2 + count > end:
            raise SignatureMalformed("bad DER length")
        length_bytes = buf[pos + 2 : pos + 2 + count]
        length = int.from_bytes(length_bytes, "big")
        if length_bytes[0] == 0 or length < 0x80:
            raise SignatureMalformed("non-minimal DER length")
        header += count
    if pos + header + length > end:
        raise SignatureMalformed("truncated DER element")
    stop = pos + header + length
    return _Tlv(tag, buf[pos + header : stop], buf[pos:stop]), stop


def _read_all_tlvs(buf: bytes) -> list[_Tlv]:
    items = []
    pos = 0
    while pos < len(buf):
        item, pos = _read_tlv(buf, pos)
        items.append(item)
    return items


def _read_single(buf: bytes) -> _Tlv:
    item, pos = _read_tlv(buf, 0)
    if pos != len(buf):
        raise SignatureMalformed("trailing bytes after DER element")
    return item


def _expect(item: _Tlv, tag: int, what: str) -> _Tlv:
    if item.tag != tag:
        raise SignatureMalformed(f"{what}: expected tag 0x{tag:02x}, found 0x{item.tag:02x}")
    return item


def _children(item: _Tlv, tag: int, what: str) -> list[_Tlv]:
    return _read_all_tlvs(_expect(item, tag, what).content)


def _oid(item: _Tlv, what: str) -> str:
    raw = _expect(item, _OID, what).content
    if not raw or raw[-1] & 0x80:
        raise SignatureMalformed(f"{what}: bad object identifier")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in raw:
        if fresh and byte == 0x80:
            raise SignatureMalformed(f"{what}: non-minimal object identifier")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def _integer(item: _Tlv, what: str) -> int:
    raw = _expect(item, _INTEGER, what).content
    if not raw or (len(raw) > 1 and (raw[0], raw[1] >> 7) in ((0x00, 0), (0xFF, 1))):
        raise SignatureMalformed(f"{what}: bad integer encoding")
    return int.from_bytes(raw, "big", signed=True)


def _algorithm(item: _Tlv, what: str) -> tuple[str, _Tlv | None]:
    parts = _children(item, _SEQUENCE, what)
    if not 1 <= len(parts) <= 2:
        raise SignatureMalformed(f"{what}: bad AlgorithmIdentifier")
    return _oid(parts[0], what), parts[1] if len(parts) == 2 else None


def _null_or_absent(params: _Tlv | None) -> bool:
    return params is None or params.encoded == b"\x05\x00"


def _time(item: _Tlv) -> datetime:
    text = item.content.decode("ascii")
    if item.tag == _UTC_TIME:
        parsed = datetime.strptime(text, "%y%m%d%H%M%SZ")
        # RFC 5280 4.1.2.5.1 pivots two-digit years at 50, Python's strptime at 69.
        if parsed.year >= 2050:
            parsed = parsed.replace(year=parsed.year - 100)
    elif item.tag == _GENERALIZED_TIME:
        parsed = datetime.strptime(text, "%Y%m%d%H%M%S.%fZ" if "." in text else "%Y%m%d%H%M%SZ")
    else:
        raise SignatureMalformed("signing-time is neither UTCTime nor GeneralizedTime")
    return parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# SignedData


@dataclass(frozen=True)
class _SignerInfo:
    sid_issuer: bytes | None
    sid_serial: int | None
    sid_key_id: bytes | None
    signed_attrs: _Tlv | None
    signature: bytes


def _parse_signed_data(signature_der: bytes) -> tuple[list[x509.Certificate], _SignerInfo]:
    content_info = _children(_read_single(signature_der), _SEQUENCE, "ContentInfo")
    if len(content_info) != 2:
        raise SignatureMalformed("ContentInfo must hold a content type and content")
    if _oid(content_info[0], "contentType") != _OID_SIGNED_DATA:
        raise SignatureMalformed("not a CMS SignedData")
    explicit = _children(content_info[1], _CTX0_CONSTRUCTED, "content")
    if len(explicit) != 1:
        raise SignatureMalformed("SignedData content must be a single element")
    fields = _children(explicit[0], _SEQUENCE, "SignedData")
    if len(fields) < 4:
        raise SignatureMalformed("SignedData is missing fields")
    if _integer(fields[0], "SignedData version") not in (1, 3):
        raise SignatureMalformed("unexpected SignedData version")
    # Only a hint for one-pass verifiers, but a list without SHA-256 contradicts the SignerInfo.
    digest_algorithms = [
        _algorithm(item, "digestAlgorithms") for item in _children(fields[1], _SET, "digestAlgorithms")
    ]
    if not any(oid == _OID_SHA256 and _null_or_absent(params) for oid, params in digest_algorithms):
        raise SignatureMalformed("digestAlgorithms does not list SHA-256")

    encap = _children(fields[2], _SEQUENCE, "encapContentInfo")
    if not encap or _oid(encap[0], "eContentType") != _OID_DATA:
        raise SignatureMalformed("the signed content type must be id-data")
    if len(encap) != 1:
        raise SignatureMalformed("the signature is not detached: it carries its content")

    certificates: list[x509.Certificate] = []
    rest = fields[3:]
    if rest and rest[0].tag == _CTX0_CONSTRUCTED:
        for choice in _read_all_tlvs(rest[0].content):
            # Other CertificateChoices (attribute certificates and the like) cannot be signers.
            if choice.tag == _SEQUENCE:
                try:
                    certificates.append(x509.load_der_x509_certificate(choice.encoded))
                except (ValueError, x509.InvalidVersion) as exc:
                    raise SignatureMalformed("an embedded certificate cannot be parsed") from exc
        rest = rest[1:]
    if rest and rest[0].tag == _CTX1_CONSTRUCTED:
        rest = rest[1:]  # embedded CRLs: revocation comes from the caller's CRL only
    if len(rest) != 1:
        raise SignatureMalformed("SignedData has unexpected fields")
    signer_infos = _children(rest[0], _SET, "signerInfos")
    if len(signer_infos) != 1:
        raise SignatureMalformed(f"expected exactly one SignerInfo, found {len(signer_infos)}")
    return certificates, _parse_signer_info(signer_infos[0])


def _parse_signer_info(item: _Tlv) -> _SignerInfo:
    fields = _children(item, _SEQUENCE, "SignerInfo")
    if len(fields) < 5:
        raise SignatureMalformed("SignerInfo is missing fields")
    version = _integer(fields[0], "SignerInfo version")
    sid_issuer = sid_serial = sid_key_id = None
    # RFC 5652 5.3: version 1 goes with issuerAndSerialNumber, version 3 with subjectKeyIdentifier.
    if (version, fields[1].tag) not in ((1, _SEQUENCE), (3, _CTX0_PRIMITIVE)):
        raise SignatureMalformed("SignerInfo version does not match its signer identifier")
    if fields[1].tag == _SEQUENCE:
        issuer_and_serial = _read_all_tlvs(fields[1].content)
        if len(issuer_and_serial) != 2:
            raise SignatureMalformed("bad IssuerAndSerialNumber")
        sid_issuer = _expect(issuer_and_serial[0], _SEQUENCE, "issuer").encoded
        sid_serial = _integer(issuer_and_serial[1], "serialNumber")
    elif fields[1].tag == _CTX0_PRIMITIVE:
        sid_key_id = fields[1].content
    else:
        raise SignatureMalformed("unknown SignerIdentifier")

    digest_oid, digest_params = _algorithm(fields[2], "digestAlgorithm")
    if digest_oid != _OID_SHA256 or not _null_or_absent(digest_params):
        raise SignatureMalformed("only SHA-256 digests are accepted")

    index = 3
    signed_attrs = None
    if fields[index].tag == _CTX0_CONSTRUCTED:
        signed_attrs = fields[index]
        index += 1
    if len(fields) < index + 2:
        raise SignatureMalformed("SignerInfo is missing fields")
    sig_oid, sig_params = _algorithm(fields[index], "signatureAlgorithm")
    if sig_oid not in (_OID_ECDSA_SHA256, _OID_EC_PUBLIC_KEY) or (
        sig_oid == _OID_ECDSA_SHA256 and sig_params is not None
    ):
        raise SignatureMalformed("only ECDSA signatures are accepted")
    signature = _expect(fields[index + 1], _OCTET_STRING, "signature").content
    trailing = fields[index + 2 :]
    if len(trailing) > 1 or (trailing and trailing[0].tag != _CTX1_CONSTRUCTED):
        raise SignatureMalformed("SignerInfo has unexpected fields")
    return _SignerInfo(sid_issuer, sid_serial, sid_key_id, signed_attrs, signature)


def _signed_attributes(signed_attrs: _Tlv) -> dict[str, list[_Tlv]]:
    attributes: dict[str, list[_Tlv]] = {}
    for attribute in _read_all_tlvs(signed_attrs.content):
        parts = _children(attribute, _SEQUENCE, "Attribute")
        if len(parts) != 2:
            raise SignatureMalformed("bad signed attribute")
        oid = _oid(parts[0], "attrType")
        if oid in attributes:
            raise SignatureMalformed(f"signed attribute {oid} appears twice")
        values = _children(parts[1], _SET, "attrValues")
        if not values:
            raise SignatureMalformed(f"signed attribute {oid} has no value")
        attributes[oid] = values
    return attributes


def _single(attributes: dict[str, list[_Tlv]], oid: str, what: str) -> _Tlv | None:
    values = attributes.get(oid)
    if values is None:
        return None
    if len(values) != 1:
        raise SignatureMalformed(f"the {what} attribute must have exactly one value")
    return values[0]


def _is_signer(cert: x509.Certificate, info: _SignerInfo) -> bool:
    if info.sid_key_id is not None:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return ski.digest == info.sid_key_id
    return cert.serial_number == info.sid_serial and cert.issuer.public_bytes() == info.sid_issuer


def _find_signer(certificates: Sequence[x509.Certificate], info: _SignerInfo) -> x509.Certificate:
    for cert in certificates:
        try:
            if _is_signer(cert, info):
                return cert
        except (x509.ExtensionNotFound, *_CERT_PARSE_ERRORS):
            continue  # a broken bystander certificate; the signer may still be among the others
    raise SignatureMalformed("the signer's certificate is not included in the signature")


def _sha256(data: bytes | bytearray | memoryview | BinaryIO) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return hashlib.sha256(data).digest()
    digest = hashlib.sha256()
    while chunk := data.read(_CHUNK):
        digest.update(chunk)
    return digest.digest()


# --------------------------------------------------------------------------------------------------
# Verification


def verify_detached(
    signature_der: bytes,
    data: bytes | BinaryIO,
    *,
    chain: Sequence[x509.Certificate],
    crl: x509.CertificateRevocationList,
    at: datetime,
    profile: Profile | None = None,
) -> VerifiedSigner:
    """Verify a detached CMS signature over ``data`` and the signer's certificate at time ``at``.

    ``chain`` and ``crl`` are as for :func:`crypto.ca.verify_certificate`: the platform's own
    ``[issuing CA, root CA]`` and the issuing CA's CRL. Certificates embedded in the signature are
    only used to find the signer's; they are never trusted for the chain. ``profile`` restricts which
    kind of certificate may have signed (TENDERER_SIGNING for bids, SERVICE for receipts).
    """
    if len(signature_der) > _MAX_SIGNATURE_SIZE:
        raise SignatureMalformed("the signature is too large")
    try:
        certificates, info = _parse_signed_data(bytes(signature_der))
        claimed_digest = signing_time = None
        if info.signed_attrs is not None:
            attributes = _signed_attributes(info.signed_attrs)
            content_type = _single(attributes, _OID_CONTENT_TYPE, "content-type")
            message_digest = _single(attributes, _OID_MESSAGE_DIGEST, "message-digest")
            if content_type is None or message_digest is None:
                raise SignatureMalformed("signed attributes must include content-type and message-digest")
            if _oid(content_type, "content-type") != _OID_DATA:
                raise SignatureMalformed("the content-type attribute does not match the signed content")
            claimed_digest = _expect(message_digest, _OCTET_STRING, "message-digest").content
            time_value = _single(attributes, _OID_SIGNING_TIME, "signing-time")
            signing_time = _time(time_value) if time_value is not None else None
    except (ValueError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
        raise SignatureMalformed(f"the signature cannot be parsed: {exc}") from exc

    signer = _find_signer(certificates, info)
    try:
        public_key = signer.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKey("the signer's certificate holds a key that cannot be used") from exc
    if not _is_p256(public_key):
        raise UnsupportedKey("the signer's certificate does not hold an ECDSA P-256 key")

    digest = _sha256(data)
    try:
        if info.signed_attrs is None or claimed_digest is None:  # openssl -noattr: signs the content
            public_key.verify(info.signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        else:
            if not hmac.compare_digest(claimed_digest, digest):
                raise SignatureInvalid("the content does not match the signed message digest")
            # RFC 5652 5.4: the signature covers the attributes encoded as an explicit SET OF, not
            # with the [0] IMPLICIT tag they carry inside SignerInfo.
            signed_bytes = bytes([_SET]) + info.signed_attrs.encoded[1:]
            public_key.verify(info.signature, signed_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureInvalid("the signature does not verify with the signer's certificate") from exc

    identity = verify_certificate(signer, chain=chain, crl=crl, at=at, profile=profile)
    return VerifiedSigner(identity=identity, certificate=signer, signing_time=signing_time)


# Re-exported so that callers can catch every refusal from this module with one import.
VerificationErrors = (SignatureError, CertificateError)
