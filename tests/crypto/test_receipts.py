"""crypto.receipts: Ed25519-signed bid receipts (R-B2), verified offline as bidtool does."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.canonical import canonical_json
from crypto.receipts import (
    ReceiptError,
    ReceiptKeyError,
    ReceiptMalformedError,
    ReceiptSignatureInvalidError,
    ReceiptWrongKeyError,
    build_receipt,
    format_time,
    load_public_key_pem,
    public_key_id,
    public_key_pem,
    sign_receipt,
    verify_receipt,
)

BEIJING = timezone(timedelta(hours=8))
CREDIT_CODE = "91350100M000100Y43"
CHECKPOINT = (
    "sunbid.example/audit\n42\nq1YJ7VSuzz2CgnBKnBzQLYqhE1WzHBDmQX4M4UZc2tw=\n"
    "\n\u2014 sunbid.example/audit AAAA\n"
)
PARTS = [
    {"part": "technical", "sha256": "b" * 64, "size": 2_000_000},
    {"part": "commercial", "sha256": "c" * 64, "size": 12_345},
    {"part": "qualification", "sha256": "a" * 64, "size": 0},
]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def payload(**changes: object) -> dict:
    fields: dict = {
        "tender_id": "T-2026-001",
        "lot": 1,
        "bid_id": "B-7f3a",
        "tenderer": CREDIT_CODE,
        "parts": PARTS,
        "received_at": datetime(2026, 11, 23, 10, 0, 5, 250, tzinfo=BEIJING),
        "audit_index": 41,
        "checkpoint": CHECKPOINT,
    }
    fields.update(changes)
    return build_receipt(**fields)


def signed(key: Ed25519PrivateKey, body: dict | None = None) -> bytes:
    return sign_receipt(body or payload(), key, public_key_id(key.public_key()))


def resign(document: bytes, key: Ed25519PrivateKey, change) -> bytes:
    """The document with its payload changed by ``change`` and a fresh, valid signature over it."""
    parsed = json.loads(document)
    change(parsed["receipt"])
    parsed["signature"] = base64.b64encode(key.sign(canonical_json(parsed["receipt"]))).decode()
    return json.dumps(parsed).encode()


# ------------------------------------------------------------------------------------------- payload


def test_payload_fields() -> None:
    body = payload()
    assert body == {
        "audit_index": 41,
        "bid_id": "B-7f3a",
        "checkpoint": CHECKPOINT,
        "lot": 1,
        "parts": sorted(PARTS, key=lambda part: part["part"]),
        "received_at": "2026-11-23T02:00:05.000250Z",
        "tender_id": "T-2026-001",
        "tenderer": CREDIT_CODE,
        "type": "sunbid-bid-receipt",
        "v": 1,
    }
    assert list(body) == sorted(body)
    assert payload(checkpoint=None)["checkpoint"] is None


def test_payload_is_canonical() -> None:
    body = payload()
    again = json.loads(canonical_json(body))
    assert canonical_json(again) == canonical_json(body)
    shuffled = payload(parts=list(reversed(PARTS)))
    assert canonical_json(shuffled) == canonical_json(body)
    assert body["parts"] is not PARTS and PARTS[0]["part"] == "technical"  # caller's list untouched


def test_times_are_utc_with_z() -> None:
    assert format_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"
    assert format_time(datetime(2026, 1, 1, 7, 59, tzinfo=BEIJING)) == "2025-12-31T23:59:00.000000Z"


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        payload(received_at=datetime(2026, 11, 23, 10, 0))
    with pytest.raises(TypeError):
        payload(received_at="2026-11-23T02:00:05Z")


@pytest.mark.parametrize(
    "changes",
    [
        {"tender_id": ""},
        {"tender_id": "T 1\n"},
        {"bid_id": None},
        {"lot": 0},
        {"lot": True},
        {"lot": "1"},
        {"tenderer": "91350100M000100Y4"},
        {"tenderer": "91350100M000100I43"},
        {"audit_index": -1},
        {"audit_index": 2**53},
        {"checkpoint": ""},
        {"parts": []},
        {"parts": [{"part": "technical", "sha256": "B" * 64, "size": 1}]},
        {"parts": [{"part": "technical", "sha256": "b" * 63, "size": 1}]},
        {"parts": [{"part": "technical", "sha256": "b" * 64, "size": -1}]},
        {"parts": [{"part": "technical", "sha256": "b" * 64, "size": 1.0}]},
        {"parts": [{"part": "technical", "sha256": "b" * 64}]},
        {"parts": [{"part": "technical", "sha256": "b" * 64, "size": 1, "name": "x"}]},
        {"parts": [{"part": "", "sha256": "b" * 64, "size": 1}]},
        {"parts": [PARTS[0], PARTS[0]]},
    ],
)
def test_invalid_payload_refused(changes: dict) -> None:
    with pytest.raises((ValueError, TypeError)):
        payload(**changes)


# --------------------------------------------------------------------------------------- round trip


def test_r_b2_receipt_round_trip(key: Ed25519PrivateKey) -> None:
    """R-B2: the receipt the platform hands out verifies offline with its public key alone."""
    body = payload()
    document = signed(key, body)
    assert verify_receipt(document, key.public_key()) == body
    pem = public_key_pem(key.public_key())
    assert verify_receipt(document, load_public_key_pem(pem)) == body
    assert verify_receipt(document, load_public_key_pem(pem.decode())) == body


def test_document_layout(key: Ed25519PrivateKey) -> None:
    document = signed(key)
    text = document.decode("utf-8")
    assert text.endswith("}\n") and "\n  " in text  # indented for people
    assert "\u2014" in text  # UTF-8, not \u escapes
    parsed = json.loads(document)
    assert list(parsed) == ["receipt", "alg", "key_id", "signature"]
    assert parsed["alg"] == "Ed25519"
    assert parsed["key_id"] == public_key_id(key.public_key())
    # Independently of verify_receipt: the signature is over the canonical payload bytes.
    key.public_key().verify(base64.b64decode(parsed["signature"]), canonical_json(parsed["receipt"]))
    assert signed(key) == document  # Ed25519 is deterministic


def test_key_id_and_pem() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert public_key_id(public) == hashlib.sha256(raw).hexdigest()[:16]
    pem = public_key_pem(public)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert public_key_id(load_public_key_pem(pem)) == public_key_id(public)


def test_unusable_public_keys_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for data in (ec_pem, b"not a key", b""):
        with pytest.raises(ReceiptKeyError) as caught:
            load_public_key_pem(data)
        assert caught.value.code == "receipt_key_invalid"


def test_signing_checks_its_inputs(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="key_id"):
        sign_receipt(payload(), key, public_key_id(other.public_key()))
    assert sign_receipt(payload(), key) == signed(key)
    with pytest.raises(ValueError):
        sign_receipt({**payload(), "extra": 1}, key)
    with pytest.raises(ValueError):
        sign_receipt({**payload(), "type": "something-else"}, key)


# ----------------------------------------------------------------------------------------- refusals


def test_changed_payload_refused(key: Ed25519PrivateKey) -> None:
    parsed = json.loads(signed(key))
    parsed["receipt"]["audit_index"] = 40
    with pytest.raises(ReceiptSignatureInvalidError) as caught:
        verify_receipt(json.dumps(parsed).encode(), key.public_key())
    assert caught.value.code == "receipt_signature_invalid"


def test_flipped_signature_bit_refused(key: Ed25519PrivateKey) -> None:
    parsed = json.loads(signed(key))
    signature = bytearray(base64.b64decode(parsed["signature"]))
    for position in (0, 31, 32, 63):
        flipped = bytearray(signature)
        flipped[position] ^= 0x01
        parsed["signature"] = base64.b64encode(flipped).decode()
        with pytest.raises(ReceiptSignatureInvalidError):
            verify_receipt(json.dumps(parsed).encode(), key.public_key())


def test_every_flipped_byte_refused(key: Ed25519PrivateKey) -> None:
    """Whatever byte of the document changes (payload, signature, key id, syntax), it is refused."""
    document = signed(key)
    for position in range(len(document)):
        tampered = bytearray(document)
        tampered[position] ^= 0x01
        with pytest.raises(ReceiptError):
            verify_receipt(bytes(tampered), key.public_key())


def test_another_key_refused(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    document = signed(key)
    with pytest.raises(ReceiptWrongKeyError) as caught:
        verify_receipt(document, other.public_key())
    assert caught.value.code == "receipt_wrong_key"
    # A receipt relabelled with the verifier's key id is then just a bad signature.
    parsed = json.loads(document)
    parsed["key_id"] = public_key_id(other.public_key())
    with pytest.raises(ReceiptSignatureInvalidError):
        verify_receipt(json.dumps(parsed).encode(), other.public_key())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda doc: b"",
        lambda doc: b"\xff" + doc,
        lambda doc: b"[]",
        lambda doc: doc.replace(b'"alg": "Ed25519"', b'"alg": "Ed448"'),
        lambda doc: doc.replace(b'"alg": "Ed25519"', b'"alg": "Ed25519", "alg": "Ed25519"'),
        lambda doc: doc.replace(b'"alg": "Ed25519"', b'"alg": "Ed25519", "note": 1'),
        lambda doc: doc.replace(b'"lot": 1', b'"lot": 1.0'),
        lambda doc: doc.replace(b'"lot": 1', b'"lot": NaN'),
        lambda doc: doc.replace(b'"lot": 1', b'"lot": 1, "lot": 1'),
        lambda doc: doc.replace(b'"signature": "', b'"signature": " '),
        lambda doc: doc.rstrip(b"\n}"),
        lambda doc: doc + b" " * (256 * 1024),
    ],
)
def test_malformed_documents_refused(key: Ed25519PrivateKey, mangle) -> None:
    document = signed(key)
    mangled = mangle(document)
    assert mangled != document
    with pytest.raises(ReceiptMalformedError) as caught:
        verify_receipt(mangled, key.public_key())
    assert caught.value.code == "receipt_malformed"


def test_non_canonical_signature_encoding_refused(key: Ed25519PrivateKey) -> None:
    parsed = json.loads(signed(key))
    parsed["signature"] = parsed["signature"].rstrip("=")
    with pytest.raises(ReceiptMalformedError):
        verify_receipt(json.dumps(parsed).encode(), key.public_key())


def test_validly_signed_non_receipt_refused(key: Ed25519PrivateKey) -> None:
    """A signature alone does not make a receipt: the payload must be a v1 bid receipt too."""
    document = signed(key)
    for change in (
        lambda r: r.update(type="sunbid-something-else"),
        lambda r: r.update(v=2),
        lambda r: r.pop("checkpoint"),
        lambda r: r.update(received_at="2026-11-23T10:00:05+08:00"),
        lambda r: r["parts"].reverse(),
    ):
        with pytest.raises(ReceiptMalformedError):
            verify_receipt(resign(document, key, change), key.public_key())


def test_reformatted_document_still_verifies(key: Ed25519PrivateKey) -> None:
    """Only the canonical payload is signed: re-indenting the document does not break it."""
    document = signed(key)
    compact = json.dumps(json.loads(document), separators=(",", ":"), ensure_ascii=True).encode()
    assert verify_receipt(compact, key.public_key()) == verify_receipt(document, key.public_key())
