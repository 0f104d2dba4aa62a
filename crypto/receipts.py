"""Bid receipts (R-B2): what the platform signs when it accepts a sealed bid, checkable offline.

The payload names the tender, lot, bid and tenderer, the SHA-256 and size of every encrypted part as
received, the receipt time and the index of the bid's audit-log leaf (optionally the checkpoint that
covers it). The platform's receipt key signs ``canonical_json(payload)`` with Ed25519; the document
handed to the tenderer is ordinary indented JSON::

    {"receipt": {...}, "alg": "Ed25519", "key_id": "<16 hex>", "signature": "<base64>"}

A receipt may also carry ``"proof"``: the log proof (``crypto.logproof``) of the submission's audit
entry in a witnessed checkpoint, with the entry's sealed content, so that the tenderer can show offline
that the platform logged exactly this submission and cannot later drop or roll it back.

Only the payload is signed, so the document's layout may change without breaking anything, and any
language that reproduces canonical JSON (RFC 8785 for this subset) can verify it. ``key_id`` lets a
verifier holding several receipt keys (after a rotation) pick the right one, and lets a verifier
holding the wrong one say so instead of reporting a forgery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.canonical import canonical_json

__all__ = [
    "ALG",
    "RECEIPT_TYPE",
    "ReceiptError",
    "ReceiptKeyError",
    "ReceiptMalformedError",
    "ReceiptSignatureInvalidError",
    "ReceiptWrongKeyError",
    "build_receipt",
    "format_time",
    "load_public_key_pem",
    "public_key_id",
    "public_key_pem",
    "sign_receipt",
    "verify_receipt",
]

RECEIPT_TYPE = "sunbid-bid-receipt"
VERSION = 1
ALG = "Ed25519"
# A receipt is a few kilobytes even with a checkpoint; the cap only bounds work on hostile input.
MAX_DOCUMENT = 256 * 1024

_PAYLOAD_KEYS = frozenset(
    {
        "v",
        "type",
        "tender_id",
        "lot",
        "bid_id",
        "tenderer",
        "parts",
        "received_at",
        "audit_index",
        "checkpoint",
    }
)
_DOCUMENT_KEYS = frozenset({"receipt", "alg", "key_id", "signature"})
# What the log says about the submission: added after the commit, outside the signed payload
# (crypto.logproof; the checkpoint is cosigned only once the entry is committed).
SUBMITTED_ACTION = "bidding.bid_submitted"
_PART_KEYS = frozenset({"part", "sha256", "size"})
_MAX_SAFE_INT = 2**53 - 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
# The form format_time writes, and only that: one spelling per instant keeps receipts comparable.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
# GB 32100 alphabet; the check characters are the account layer's business, not the signer's.
_CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------------------------- errors


class ReceiptError(ValueError):
    """Base of every refusal here; ``code`` is stable for the application and bidtool to translate."""

    code: ClassVar[str] = "receipt_error"


class ReceiptMalformedError(ReceiptError):
    code = "receipt_malformed"


class ReceiptSignatureInvalidError(ReceiptError):
    code = "receipt_signature_invalid"


class ReceiptWrongKeyError(ReceiptError):
    """The receipt names a key other than the one the verifier holds."""

    code = "receipt_wrong_key"


class ReceiptKeyError(ReceiptError):
    """A public key given to verify with cannot be loaded."""

    code = "receipt_key_invalid"


# ---------------------------------------------------------------------------------------------- keys


def public_key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, as ``openssl pkey -pubout`` writes it."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_pem(data: bytes | str) -> Ed25519PublicKey:
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ReceiptKeyError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ReceiptKeyError("the receipt key must be an Ed25519 public key")
    return key


# ------------------------------------------------------------------------------------------- payload


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``, as the audit log writes times."""
    if not isinstance(moment, datetime):
        raise TypeError("a receipt time is a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a receipt time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= _MAX_SAFE_INT


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value) and value.strip() == value and not _CONTROL.search(value)


def _payload_problem(payload: Any) -> str | None:
    """What is wrong with a receipt payload, or None. Shared by signing and verifying."""
    if not isinstance(payload, dict):
        return "the receipt is not an object"
    if set(payload) != _PAYLOAD_KEYS:
        return "the receipt fields are not those of a v1 bid receipt"
    if payload["type"] != RECEIPT_TYPE or payload["v"] != VERSION or isinstance(payload["v"], bool):
        return "not a v1 bid receipt"
    for name in ("tender_id", "bid_id"):
        if not _is_text(payload[name]):
            return f"{name} must be a non-empty string without control characters"
    if not _is_int(payload["lot"], 1):
        return "lot must be a positive integer"
    if not isinstance(payload["tenderer"], str) or not _CREDIT_CODE.fullmatch(payload["tenderer"]):
        return "tenderer must be an 18-character unified social credit code"
    if not _is_int(payload["audit_index"], 0):
        return "audit_index must be a non-negative integer"
    checkpoint = payload["checkpoint"]
    if checkpoint is not None and (not isinstance(checkpoint, str) or not checkpoint):
        return "checkpoint must be a non-empty string or null"
    if not isinstance(payload["received_at"], str) or not _TIME.fullmatch(payload["received_at"]):
        return "received_at must be an RFC 3339 UTC time with microseconds and 'Z'"
    try:
        datetime.fromisoformat(payload["received_at"])
    except ValueError:
        return "received_at is not a valid time"
    parts = payload["parts"]
    if not isinstance(parts, list) or not parts:
        return "parts must be a non-empty list"
    for part in parts:
        if not isinstance(part, dict) or set(part) != _PART_KEYS:
            return "each part has exactly the fields part, sha256 and size"
        if not _is_text(part["part"]):
            return "a part name must be a non-empty string without control characters"
        if not isinstance(part["sha256"], str) or not _SHA256_HEX.fullmatch(part["sha256"]):
            return "a part digest is 64 lowercase hex digits"
        if not _is_int(part["size"], 0):
            return "a part size is a non-negative integer"
    names = [part["part"] for part in parts]
    if names != sorted(set(names)):
        return "parts must be distinct and sorted by name"
    return None


def build_receipt(
    *,
    tender_id: str,
    lot: int,
    bid_id: str,
    tenderer: str,
    parts: list[dict[str, Any]],
    received_at: datetime,
    audit_index: int,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """The receipt payload for an accepted bid, ready for :func:`sign_receipt`.

    ``parts`` are ``{"part", "sha256", "size"}`` of the ciphertexts as received; they are copied and
    sorted by name so that the same bid always yields the same payload. ``received_at`` must be
    timezone-aware. Raises ValueError (or TypeError) for anything a verifier would refuse.
    """
    if not isinstance(parts, list | tuple) or not all(isinstance(part, dict) for part in parts):
        raise TypeError("parts must be a list of dicts with part, sha256 and size")
    payload = {
        "v": VERSION,
        "type": RECEIPT_TYPE,
        "tender_id": tender_id,
        "lot": lot,
        "bid_id": bid_id,
        "tenderer": tenderer,
        "parts": sorted((dict(part) for part in parts), key=lambda part: str(part.get("part"))),
        "received_at": format_time(received_at),
        "audit_index": audit_index,
        "checkpoint": checkpoint,
    }
    problem = _payload_problem(payload)
    if problem is not None:
        raise ValueError(problem)
    # Round-trip through canonical JSON: the dict then holds exactly what is signed, keys in order.
    signed: dict[str, Any] = json.loads(canonical_json(payload))
    return signed


# ----------------------------------------------------------------------------------- sign and verify


def sign_receipt(payload: dict[str, Any], key: Ed25519PrivateKey, key_id: str | None = None) -> bytes:
    """The signed receipt document (UTF-8 JSON, indented for people, ending in a newline).

    ``key_id`` must be :func:`public_key_id` of ``key``'s public half (computed when omitted); a
    mismatch is a configuration error and refused here rather than by every verifier later.
    """
    problem = _payload_problem(payload)
    if problem is not None:
        raise ValueError(problem)
    own_id = public_key_id(key.public_key())
    if key_id is None:
        key_id = own_id
    elif key_id != own_id:
        raise ValueError("key_id does not belong to the signing key")
    message = canonical_json(payload)
    document = {
        "receipt": json.loads(message),
        "alg": ALG,
        "key_id": key_id,
        "signature": base64.b64encode(key.sign(message)).decode("ascii"),
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    # Parsers disagree on which duplicate wins; a receipt must read the same everywhere.
    if len(obj) != len(pairs):
        raise ReceiptMalformedError("duplicate key in the receipt document")
    return obj


def _refuse_number(text: str) -> Any:
    raise ReceiptMalformedError(f"non-integer number {text!r} in the receipt document")


def _parse(document: bytes) -> dict[str, Any]:
    if not isinstance(document, bytes | bytearray | memoryview):
        raise TypeError("a receipt document is bytes")
    document = bytes(document)
    if len(document) > MAX_DOCUMENT:
        raise ReceiptMalformedError("the receipt document is too large")
    try:
        text = document.decode("utf-8")
        parsed = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_float=_refuse_number, parse_constant=_refuse_number
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ReceiptMalformedError("the receipt document is not UTF-8 JSON") from None
    if not isinstance(parsed, dict) or not _DOCUMENT_KEYS <= set(parsed) <= _DOCUMENT_KEYS | {"proof"}:
        raise ReceiptMalformedError("the document is not a signed receipt")
    if parsed["alg"] != ALG:
        raise ReceiptMalformedError(f"unsupported signature algorithm {parsed['alg']!r}")
    if not isinstance(parsed["key_id"], str) or not _KEY_ID.fullmatch(parsed["key_id"]):
        raise ReceiptMalformedError("key_id is not 16 lowercase hex digits")
    return parsed


def _signature(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ReceiptMalformedError("the signature is not a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ReceiptMalformedError("the signature is not base64") from None
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != text:
        raise ReceiptMalformedError("the signature is not 64 bytes in canonical base64")
    return raw


def verify_receipt(document: bytes, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The payload of a receipt signed by ``public_key``, or a :class:`ReceiptError`.

    Checks, in order: the document's shape (``receipt_malformed``), that it names this key
    (``receipt_wrong_key``), the signature over the canonical payload (``receipt_signature_invalid``)
    and finally the payload's fields (``receipt_malformed``).
    """
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError("verify with the platform's Ed25519 receipt public key")
    parsed = _parse(document)
    signature = _signature(parsed["signature"])
    if parsed["key_id"] != public_key_id(public_key):
        raise ReceiptWrongKeyError("the receipt was signed with another key than the one given")
    payload: dict[str, Any] = parsed["receipt"]
    try:
        message = canonical_json(payload)
    except ValueError:
        raise ReceiptMalformedError("the receipt payload is not canonical JSON data") from None
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        raise ReceiptSignatureInvalidError("the receipt signature does not verify") from None
    problem = _payload_problem(payload)
    if problem is not None:
        raise ReceiptMalformedError(problem)
    return payload


# ----------------------------------------------------------------------------------------- log proof


def attach_proof(document: bytes, proof: dict[str, Any] | None) -> bytes:
    """The receipt document with ``proof`` (a log proof of its submission entry) beside the payload."""
    parsed = _parse(document)
    parsed.pop("proof", None)
    if proof is not None:
        parsed["proof"] = proof
    return (json.dumps(parsed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def proof_of(document: bytes) -> dict[str, Any] | None:
    return _parse(document).get("proof")


def verify_receipt_proof(payload: dict[str, Any], proof: Any, trust: Any) -> Any:
    """Check a receipt's log proof (``crypto.logproof.verify_proof``) and that the proven entry is this
    submission: its index, and, from the disclosed sealed content, the bid, action and every part's hash.

    Returns the ``ProvenEntry``; raises ``logproof.ProofError``."""
    from crypto import logproof

    if proof is None:
        raise logproof.ProofMalformed("the receipt carries no log proof yet: fetch it again later")
    proven = logproof.verify_proof(proof, trust)
    if proven.index != payload["audit_index"]:
        raise logproof.CommitmentMismatch(
            f"the proof is for entry {proven.index}, the receipt names entry {payload['audit_index']}"
        )
    if not proven.sealed or proven.disclosed:
        entry = proven.entry
        target = entry.get("target") or {}
        parts = sorted((dict(p) for p in (entry.get("data") or {}).get("parts", [])), key=lambda p: p["part"])
        if (
            entry.get("action") != SUBMITTED_ACTION
            or target.get("id") != payload["bid_id"]
            or parts != payload["parts"]
        ):
            raise logproof.CommitmentMismatch(
                f"entry {proven.index} is not the submission of bid {payload['bid_id']} with these parts"
            )
    return proven
