"""Signed notes (c2sp.org/signed-note) with Ed25519, and the checkpoint body (c2sp.org/tlog-checkpoint).

The audit log publishes its tree heads as checkpoints signed this way so that anyone holding the log's
verifier key can check an export or a witness can cosign it, with tools that were not written for
SunBid. Key strings follow the golang.org/x/mod/sumdb/note encoding so that those tools read them too::

    verifier key:  <name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte public key)>
    signer key:    PRIVATE+KEY+<name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte seed)>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_ED25519 = b"\x01"
_SIG_PREFIX = "\u2014 "  # EM DASH, space
# The spec requires accepting at least 16; the cap only stops a hostile note from costing unbounded work.
MAX_SIGNATURES = 100
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile("[0-9a-f]{8}")
_DECIMAL = re.compile("0|[1-9][0-9]*")
_ROOT_SIZE = 32


class NoteError(ValueError):
    """A note, key or checkpoint was refused."""


class MalformedNoteError(NoteError):
    """The bytes do not follow the signed-note (or checkpoint) syntax."""


class UnknownKeyError(NoteError):
    """No signature on the note is from a key the caller trusts."""


class BadSignatureError(NoteError):
    """A signature claiming to be from a trusted key does not verify."""


class InvalidKeyError(NoteError):
    """A key string or key name cannot be used."""


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise InvalidKeyError(
            f"key name {name!r} must be non-empty, without spaces, '+' or control characters"
        )


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def _b64decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    # Only one spelling is accepted per value, so equal bytes always mean equal notes.
    if base64.b64encode(raw).decode() != text:
        raise ValueError("not canonical base64")
    return raw


class Verifier:
    """Checks signatures from one named Ed25519 key."""

    __slots__ = ("_raw", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        _check_key_name(name)
        self.name = name
        self.public_key = public_key
        self._raw = public_key.public_bytes_raw()
        self.key_id = key_id(name, self._raw)

    @classmethod
    def from_key_string(cls, key: str) -> Verifier:
        # Base64 may contain '+', names may not: split from the left.
        parts = key.strip().split("+", 2)
        if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
            raise InvalidKeyError("a verifier key reads name+keyid+base64key")
        name, hex_id, encoded = parts
        try:
            raw = _b64decode(encoded)
        except ValueError as e:
            raise InvalidKeyError(f"verifier key: {e}") from None
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise InvalidKeyError("verifier key is not an Ed25519 key")
        try:
            public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
        except ValueError:
            raise InvalidKeyError("verifier key is not a valid Ed25519 public key") from None
        verifier = cls(name, public_key)
        if verifier.key_id.hex() != hex_id:
            raise InvalidKeyError("verifier key id does not match its name and key")
        return verifier

    def key_string(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(_ED25519 + self._raw).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self._raw) == (other.name, other._raw)

    def __hash__(self) -> int:
        return hash((self.name, self._raw))

    def __repr__(self) -> str:
        return f"Verifier({self.key_string()!r})"


class Signer:
    """Signs notes with one named Ed25519 key."""

    __slots__ = ("_private_key", "key_id", "name")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.key_id = key_id(name, private_key.public_key().public_bytes_raw())

    @classmethod
    def from_key_string(cls, key: str) -> Signer:
        parts = key.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX8.fullmatch(parts[3]):
            raise InvalidKeyError("a signer key reads PRIVATE+KEY+name+keyid+base64seed")
        name, hex_id, encoded = parts[2:]
        try:
            raw = _b64decode(encoded)
        except ValueError as e:
            raise InvalidKeyError(f"signer key: {e}") from None
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise InvalidKeyError("signer key is not an Ed25519 key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_id.hex() != hex_id:
            raise InvalidKeyError("signer key id does not match its name and key")
        return signer

    def key_string(self) -> str:
        seed = self._private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(_ED25519 + seed).decode()}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self._private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        # Never the seed: signers end up in logs and tracebacks.
        return f"Signer({self.name}+{self.key_id.hex()})"


def generate_signer(name: str) -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A note split into its text and signature lines. Nothing in it has been verified."""

    text: str
    signatures: tuple[Signature, ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise MalformedNoteError("note text must not contain control characters other than newline")
    # The spec splits at the last blank line, but a reader that splits at the first would take such a
    # text for signatures; refusing it costs nothing, as checkpoints never contain blank lines.
    if "\n\n" + _SIG_PREFIX in "\n" + text:
        raise MalformedNoteError("note text must not contain a blank line followed by a signature line")


def sign_note(text: str, *signers: Signer) -> bytes:
    """The signed note: text, a blank line, then one signature line per signer, in the order given."""
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    _check_text(text)
    try:
        message = text.encode()
    except UnicodeEncodeError:
        raise MalformedNoteError("note text is not valid Unicode") from None
    lines = []
    for signer in signers:
        blob = base64.b64encode(signer.key_id + signer.sign(message)).decode()
        lines.append(f"{_SIG_PREFIX}{signer.name} {blob}\n")
    return (text + "\n" + "".join(lines)).encode()


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedNoteError("signature lines start with an em dash and a space")
    fields = line[len(_SIG_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise MalformedNoteError("a signature line is: em dash, key name, base64 signature")
    name, encoded = fields
    try:
        _check_key_name(name)
        raw = _b64decode(encoded)
    except (InvalidKeyError, ValueError) as e:
        raise MalformedNoteError(f"signature line: {e}") from None
    if len(raw) < 5:
        raise MalformedNoteError("signature too short to hold a key id")
    return Signature(name, raw[:4], raw[4:])


def parse_note(note: bytes) -> Note:
    """Split a note without verifying it. Its text must not be trusted; use ``open_note`` for that."""
    try:
        message = note.decode()
    except UnicodeDecodeError:
        raise MalformedNoteError("note is not valid UTF-8") from None
    if _CONTROL.search(message):
        raise MalformedNoteError("note contains control characters other than newline")
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def open_note(note: bytes, verifiers: Iterable[Verifier]) -> str:
    """The note's text, once a signature from one of ``verifiers`` verifies.

    Signatures from other keys are ignored, as the spec requires (that is what lets witnesses cosign
    and keys rotate), but a failing signature from a trusted key rejects the whole note.
    """
    parsed = parse_note(note)
    trusted: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_id)
        if trusted.setdefault(key, verifier) != verifier:
            raise ValueError(f"two different trusted keys are both named {verifier.name}+{key[1].hex()}")
    message = parsed.text.encode()
    verified = False
    for sig in parsed.signatures:
        known = trusted.get((sig.name, sig.key_id))
        if known is None:
            continue
        if not known.verify(message, sig.signature):
            raise BadSignatureError(f"signature by {sig.name}+{sig.key_id.hex()} does not verify")
        verified = True
    if not verified:
        seen = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in parsed.signatures)
        raise UnknownKeyError(f"no signature from a trusted key (signed by {seen})")
    return parsed.text


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size) and their Merkle root."""

    origin: str
    size: int
    root: bytes
    extra_lines: tuple[str, ...] = ()


def format_checkpoint(origin: str, size: int, root: bytes, extra_lines: tuple[str, ...] = ()) -> str:
    lines = [origin, str(size), base64.b64encode(root).decode(), *extra_lines]
    if any(not line or "\n" in line or _CONTROL.search(line) for line in lines):
        raise MalformedNoteError("checkpoint lines must be non-empty single lines")
    if not 0 <= size < 1 << 64:
        raise MalformedNoteError("checkpoint size must fit in an unsigned 64-bit integer")
    if len(root) != _ROOT_SIZE:
        raise MalformedNoteError(f"checkpoint root must be {_ROOT_SIZE} bytes")
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    if not text.endswith("\n"):
        raise MalformedNoteError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise MalformedNoteError("checkpoint needs origin, size and root lines, none of them empty")
    origin, size_line, root_line, *extra = lines
    if not _DECIMAL.fullmatch(size_line) or int(size_line) >= 1 << 64:
        raise MalformedNoteError(f"checkpoint size {size_line!r} is not a canonical decimal number")
    try:
        root = _b64decode(root_line)
    except ValueError as e:
        raise MalformedNoteError(f"checkpoint root: {e}") from None
    if len(root) != _ROOT_SIZE:
        raise MalformedNoteError(f"checkpoint root must be {_ROOT_SIZE} bytes")
    return Checkpoint(origin, int(size_line), root, tuple(extra))
