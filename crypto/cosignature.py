"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 type) and cosigned checkpoints.

A witness cosigns a checkpoint of the audit log only after checking that it extends the last one it
cosigned (c2sp.org/tlog-witness, ``audit.witness``). A cosignature is an ordinary signed-note signature
line whose key id uses the algorithm byte 0x04 and whose signature is ``timestamp (u64, big-endian) ||
Ed25519 signature`` over::

    cosignature/v1
    time <timestamp>
    <the checkpoint text>

Key strings follow the signed-note ``vkey`` encoding with that byte, so ``name+keyid+base64(0x04 ||
public key)``; the private half is ``PRIVATE+KEY+name+keyid+base64(0x04 || seed)``. Verifiers here duck-type
``crypto.note.Verifier`` (``name``, ``key_id``, ``verify``), so ``note.open_note`` accepts them.

``open_cosigned`` is the check every reader of a checkpoint makes: signed by the log *and* cosigned by
the witnesses it trusts. A log that was rolled back or forked cannot get a new cosignature, so a
checkpoint that carries one is the log's only history.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto import note

ALGORITHM = b"\x04"
HEADER = b"cosignature/v1\n"
_MAX_TIMESTAMP = 2**63 - 1
_SIG_PREFIX = "\u2014 "


class CosignatureError(note.NoteError):
    """A checkpoint lacks a cosignature its reader requires, or one does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ALGORITHM + public_key).digest()[:4]


def signed_message(text: str, timestamp: int) -> bytes:
    return HEADER + b"time %d\n" % timestamp + text.encode()


class CosignatureVerifier:
    """Checks the cosignatures of one named witness key; ``timestamp`` of the last one verified."""

    __slots__ = ("_raw", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        note._check_key_name(name)
        self.name = name
        self.public_key = public_key
        self._raw = public_key.public_bytes_raw()
        self.key_id = key_id(name, self._raw)

    @classmethod
    def from_key_string(cls, key: str) -> CosignatureVerifier:
        parts = key.strip().split("+", 2)
        if len(parts) != 3 or not note._HEX8.fullmatch(parts[1]):
            raise note.InvalidKeyError("a witness key reads name+keyid+base64key")
        name, hex_id, encoded = parts
        try:
            raw = note._b64decode(encoded)
        except ValueError as e:
            raise note.InvalidKeyError(f"witness key: {e}") from None
        if len(raw) != 33 or raw[:1] != ALGORITHM:
            raise note.InvalidKeyError("not an Ed25519 cosignature (type 0x04) key")
        try:
            public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
        except ValueError:
            raise note.InvalidKeyError("the witness key is not a valid Ed25519 public key") from None
        verifier = cls(name, public_key)
        if verifier.key_id.hex() != hex_id:
            raise note.InvalidKeyError("the witness key id does not match its name and key")
        return verifier

    def key_string(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ALGORITHM + self._raw).decode()}"

    def timestamp_of(self, signature: bytes) -> int | None:
        if len(signature) != 8 + 64:
            return None
        (timestamp,) = struct.unpack(">Q", signature[:8])
        return timestamp if timestamp <= _MAX_TIMESTAMP else None

    def verify(self, message: bytes, signature: bytes) -> bool:
        timestamp = self.timestamp_of(signature)
        if timestamp is None:
            return False
        try:
            self.public_key.verify(signature[8:], HEADER + b"time %d\n" % timestamp + message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CosignatureVerifier):
            return NotImplemented
        return (self.name, self._raw) == (other.name, other._raw)

    def __hash__(self) -> int:
        return hash((self.name, self._raw, ALGORITHM))

    def __repr__(self) -> str:
        return f"CosignatureVerifier({self.key_string()!r})"


class Cosigner:
    """The witness's signing key."""

    __slots__ = ("_private_key", "key_id", "name")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        note._check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.key_id = key_id(name, private_key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, key: str) -> Cosigner:
        parts = key.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not note._HEX8.fullmatch(parts[3]):
            raise note.InvalidKeyError("a witness signing key reads PRIVATE+KEY+name+keyid+base64seed")
        name, hex_id, encoded = parts[2:]
        try:
            raw = note._b64decode(encoded)
        except ValueError as e:
            raise note.InvalidKeyError(f"witness signing key: {e}") from None
        if len(raw) != 33 or raw[:1] != ALGORITHM:
            raise note.InvalidKeyError("not an Ed25519 cosignature (type 0x04) signing key")
        cosigner = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if cosigner.key_id.hex() != hex_id:
            raise note.InvalidKeyError("the witness signing key id does not match its name and key")
        return cosigner

    def key_string(self) -> str:
        seed = self._private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(ALGORITHM + seed).decode()}"

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self._private_key.public_key())

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """The note signature line cosigning checkpoint ``text`` at ``timestamp`` (default: now)."""
        stamp = int(time.time()) if timestamp is None else timestamp
        if not 0 <= stamp <= _MAX_TIMESTAMP:
            raise ValueError("a cosignature timestamp is a non-negative 63-bit integer")
        signature = struct.pack(">Q", stamp) + self._private_key.sign(signed_message(text, stamp))
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + signature).decode()}\n"

    def __repr__(self) -> str:
        return f"Cosigner({self.name}+{self.key_id.hex()})"


def add_signatures(signed: bytes, lines: str) -> bytes:
    """The note ``signed`` with more signature lines appended (e.g. a witness's answer)."""
    note.parse_note(signed)  # it must already be a note
    if (
        not lines
        or not lines.endswith("\n")
        or not all(line.startswith(_SIG_PREFIX) for line in lines[:-1].split("\n"))
    ):
        raise note.MalformedNoteError("signature lines start with an em dash and end with a newline")
    return signed + lines.encode()


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint whose log signature and witness cosignatures verified."""

    checkpoint: note.Checkpoint
    text: str
    cosigned_at: dict[str, int]  # witness name -> the time it cosigned (POSIX seconds)


def open_cosigned(
    signed: bytes,
    log: note.Verifier,
    witnesses: list[CosignatureVerifier],
    *,
    quorum: int | None = None,
) -> Cosigned:
    """The checkpoint in ``signed``, once the log's signature and ``quorum`` of the ``witnesses``'
    cosignatures (default: all of them) verify. Other signature lines are ignored, as the spec says.

    Raises ``note.NoteError`` subclasses: the log signature missing or bad, or ``CosignatureError``.
    """
    text = note.open_note(signed, [log])
    checkpoint = note.parse_checkpoint(text)
    needed = len(witnesses) if quorum is None else quorum
    if needed <= 0:
        raise ValueError("a cosigned checkpoint needs at least one trusted witness")
    parsed = note.parse_note(signed)
    message = parsed.text.encode()
    cosigned: dict[str, int] = {}
    for witness in witnesses:
        for sig in parsed.signatures:
            if (sig.name, sig.key_id) != (witness.name, witness.key_id):
                continue
            if not witness.verify(message, sig.signature):
                raise CosignatureError(f"the cosignature by {witness.name} does not verify")
            stamp = witness.timestamp_of(sig.signature)
            assert stamp is not None
            cosigned[witness.name] = stamp
    if len(cosigned) < needed:
        missing = [w.name for w in witnesses if w.name not in cosigned]
        raise CosignatureError(
            f"checkpoint at size {checkpoint.size} lacks the cosignature of {', '.join(missing)}"
        )
    return Cosigned(checkpoint, text, cosigned)
