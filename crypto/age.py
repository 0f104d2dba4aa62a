"""The age v1 file format (https://age-encryption.org/v1, C2SP age) for sealed bids.

Only the X25519 recipient type is implemented; that is all the platform needs (tenderer identities
and per-tender opening keys) and it keeps every file readable by the standard ``age`` tool. Built on
``cryptography`` primitives only: X25519, HKDF-SHA-256, HMAC-SHA-256 and ChaCha20-Poly1305.

Streaming, constant memory
    :func:`encrypt`, :func:`decrypt` and :func:`decrypt_with_file_key` move data in blocks of
    ``BLOCK_CHUNKS`` STREAM chunks and keep only a bounded number of blocks in flight, so memory stays
    a few MiB whatever the file size. ChaCha20-Poly1305 in ``cryptography`` releases the GIL, so blocks
    are sealed and opened on a small thread pool while the calling thread reads and an output thread
    writes (see :func:`_run_blocks`).

Streaming decryption writes authenticated chunks as it goes, but a truncated or tampered file is only
detected when the bad chunk (possibly the last) is reached. A caller decrypting into its own stream
must therefore discard everything written when an :class:`AgeError` is raised;
:func:`decrypt_file` does this itself (temporary file, fsync, rename on success only).

Online decryption (在线解密)
    At the opening the tenderer's client calls :func:`unwrap_file_key` with its own identity and sends
    just the 16-byte file key; the server calls :func:`decrypt_with_file_key`, which checks the header
    MAC with that key before it decrypts anything, so a wrong or forged key is refused up front.

What a header does not tell
    X25519 stanzas are anonymous by design: an ephemeral share and a wrapped key, nothing naming the
    recipient. Without a secret (the recipient's identity, or the ephemeral secret the sender threw
    away) nobody can tell from the header whether the tender's opening key is among the recipients.
    :class:`Header` therefore only offers ``x25519_stanza_count`` (e.g. "expect at least two"); that
    the opening key really is a recipient has to be established by the protocol, in the end by opening
    the bid with it.
"""

from __future__ import annotations

# Only modules that cryptography loads anyway, or cheap ones: start-up time counts against the age
# binary in the benchmark and in every bidtool run, and dataclasses, concurrent.futures, tempfile and
# pathlib would add about as much again as cryptography itself.
import binascii
import contextlib
import itertools
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from io import BytesIO
from typing import TYPE_CHECKING, Any, ClassVar

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import constant_time, hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.durable import fsync_dir

if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = [
    "BLOCK_CHUNKS",
    "CHUNK_SIZE",
    "AgeError",
    "BadKeyEncodingError",
    "DecryptResult",
    "EncryptResult",
    "Header",
    "HeaderMacMismatchError",
    "Identity",
    "MalformedHeaderError",
    "NoMatchingIdentityError",
    "PayloadCorruptedError",
    "PayloadTruncatedError",
    "Recipient",
    "Stanza",
    "TrailingDataError",
    "UnsupportedVersionError",
    "available_cpus",
    "decrypt",
    "decrypt_file",
    "decrypt_with_file_key",
    "encrypt",
    "encrypt_file",
    "generate_identity",
    "parse_identities",
    "read_header",
    "unwrap_file_key",
]

Progress = Callable[[int], object]

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
FILE_KEY_SIZE = 16
NONCE_SIZE = 16
# 1 MiB per block: big enough that syscalls and thread hand-offs vanish next to the cipher work,
# small enough that the blocks in flight stay far below the memory budget.
BLOCK_CHUNKS = 16

_VERSION_PREFIX = b"age-encryption.org/"
_VERSION_LINE = b"age-encryption.org/v1\n"
_X25519_INFO = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)
_BODY_COLUMNS = 64
# Plugin stanzas (post-quantum ones especially) have long argument lines, but nothing legitimate
# comes near these; they only stop a hostile header from eating memory.
_MAX_LINE = 16 * 1024
_MAX_HEADER = 1024 * 1024

_B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*")
_ARG = re.compile(rb"[\x21-\x7e]+")


# --------------------------------------------------------------------------------------------- errors


class AgeError(Exception):
    """Base of every failure this module reports about keys or files.

    ``code`` is stable and meant for the application to translate; the message is plain English for
    logs and never contains key material.
    """

    code: ClassVar[str] = "age_error"
    default_message: ClassVar[str] = "age encryption error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class MalformedHeaderError(AgeError):
    """The header does not follow the v1 grammar, or an X25519 stanza is invalid."""

    code = "malformed_header"
    default_message = "the age header is malformed"


class UnsupportedVersionError(AgeError):
    """The file is an age file of a version other than v1."""

    code = "unsupported_version"
    default_message = "unsupported age format version"


class NoMatchingIdentityError(AgeError):
    """None of the identities given unwraps any X25519 stanza of the file."""

    code = "no_matching_identity"
    default_message = "the file is not encrypted to any of the given identities"


class HeaderMacMismatchError(AgeError):
    """The header MAC does not verify with the file key (tampered header or wrong file key)."""

    code = "header_mac_mismatch"
    default_message = "the header MAC does not match"


class PayloadTruncatedError(AgeError):
    """The payload ends before its final chunk.

    Reported when the file stops inside the payload nonce, right after it, at a chunk boundary after a
    non-final chunk, or with a last piece too short to hold an authentication tag. A file cut in the
    middle of a chunk cannot be told apart from a damaged last chunk and is reported as
    :class:`PayloadCorruptedError`.
    """

    code = "payload_truncated"
    default_message = "the encrypted payload is truncated"


class PayloadCorruptedError(AgeError):
    """A payload chunk fails authentication: flipped bits, reordered chunks, a cut inside a chunk."""

    code = "payload_corrupted"
    default_message = "the encrypted payload is corrupted"


class TrailingDataError(AgeError):
    """More data follows a valid final chunk.

    Detected when the final chunk is full-sized (plaintexts that are a non-zero multiple of 64 KiB).
    After a shorter final chunk the boundary cannot be located, so extra bytes there make the last
    chunk fail authentication and are reported as :class:`PayloadCorruptedError`.
    """

    code = "trailing_data"
    default_message = "unexpected data after the end of the encrypted payload"


class BadKeyEncodingError(AgeError, ValueError):
    """An identity or recipient string (or raw key) is not a valid age X25519 key."""

    code = "bad_key_encoding"
    default_message = "not a valid age key"


# ------------------------------------------------------------------------------------------- encodings

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_VALUES = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _bech32_polymod(values: Iterable[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = ((checksum & 0x1FFFFFF) << 5) ^ value
        for i, generator in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _bech32_hrp_values(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: Iterable[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int] | None:
    acc = 0
    bits = 0
    out: list[int] = []
    mask = (1 << to_bits) - 1
    for value in data:
        acc = ((acc << from_bits) | value) & 0xFFFF
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & mask)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & mask)
    elif bits >= from_bits or (acc & ((1 << bits) - 1)):
        # BIP 173: at most from_bits-1 bits of zero padding, or the encoding is not canonical.
        return None
    return out


def _bech32_encode(hrp: str, data: bytes) -> str:
    """Lowercase Bech32 (BIP 173 checksum constant 1, no length limit, as age requires)."""
    hrp = hrp.lower()
    words = _regroup(data, 8, 5, pad=True)
    assert words is not None
    polymod = _bech32_polymod([*_bech32_hrp_values(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[w] for w in words + checksum)


def _bech32_decode(text: str) -> tuple[str, bytes]:
    """Return (hrp as written, data); raises BadKeyEncodingError without echoing the input."""
    if not text or any(not 33 <= ord(c) <= 126 for c in text):
        raise BadKeyEncodingError("key contains characters outside printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise BadKeyEncodingError("key mixes upper and lower case")
    lowered = text.lower()
    sep = lowered.rfind("1")
    if sep < 1 or len(lowered) - sep - 1 < 6:
        raise BadKeyEncodingError("key is not Bech32 (separator or checksum missing)")
    try:
        words = [_BECH32_VALUES[c] for c in lowered[sep + 1 :]]
    except KeyError:
        raise BadKeyEncodingError("key contains a character outside the Bech32 alphabet") from None
    # A Bech32m string (checksum constant 0x2BC830A3) fails here too, on purpose: age is Bech32.
    if _bech32_polymod(_bech32_hrp_values(lowered[:sep]) + words) != 1:
        raise BadKeyEncodingError("key checksum is wrong (mistyped or damaged key)")
    data = _regroup(words[:-6], 5, 8, pad=False)
    if data is None:
        raise BadKeyEncodingError("key has non-canonical Bech32 padding")
    return text[:sep], bytes(data)


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=")


def _b64decode(text: bytes, what: str) -> bytes:
    """Unpadded, canonical base64 only, as the spec demands of decoders."""
    if len(text) % 4 == 1 or not _B64_CHARS.fullmatch(text):
        raise MalformedHeaderError(f"{what} is not valid unpadded base64")
    data = binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
    # Leftover bits in the last character must be zero, otherwise one value has several encodings.
    if _b64encode(data) != text:
        raise MalformedHeaderError(f"{what} is not canonical base64")
    return data


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _header_mac(file_key: bytes, mac_input: bytes) -> crypto_hmac.HMAC:
    mac = crypto_hmac.HMAC(_hkdf(file_key, b"", b"header"), hashes.SHA256())
    mac.update(mac_input)
    return mac


# ------------------------------------------------------------------------------------------------ keys


class Recipient:
    """An X25519 recipient (public key), ``age1...``."""

    __slots__ = ("_public",)

    _HRP: ClassVar[str] = "age"

    def __init__(self, public_bytes: bytes) -> None:
        public_bytes = bytes(public_bytes)
        if len(public_bytes) != 32:
            raise BadKeyEncodingError("an X25519 recipient is 32 bytes")
        self._public = public_bytes

    @classmethod
    def parse(cls, text: str) -> Recipient:
        """Parse the canonical lowercase ``age1...`` form."""
        hrp, data = _bech32_decode(text)
        if hrp != cls._HRP:
            raise BadKeyEncodingError("not an age X25519 recipient (expected lowercase 'age1...')")
        if len(data) != 32:
            raise BadKeyEncodingError("an X25519 recipient encodes 32 bytes")
        return cls(data)

    @classmethod
    def from_public_bytes(cls, public_bytes: bytes) -> Recipient:
        return cls(public_bytes)

    @property
    def public_bytes(self) -> bytes:
        return self._public

    def __str__(self) -> str:
        return _bech32_encode(self._HRP, self._public)

    def __repr__(self) -> str:
        return f"Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recipient):
            return NotImplemented
        return self._public == other._public

    def __hash__(self) -> int:
        return hash((Recipient, self._public))


class Identity:
    """An X25519 identity (private key), ``AGE-SECRET-KEY-1...``.

    ``str()`` gives the secret in its canonical form; ``repr()`` shows only the recipient, so that an
    identity that ends up in a log or traceback does not leak.
    """

    __slots__ = ("_key", "_private", "_recipient")

    _HRP: ClassVar[str] = "AGE-SECRET-KEY-"

    def __init__(self, private_bytes: bytes) -> None:
        private_bytes = bytes(private_bytes)
        if len(private_bytes) != 32:
            raise BadKeyEncodingError("an X25519 identity is 32 bytes")
        self._private = private_bytes
        self._key = X25519PrivateKey.from_private_bytes(private_bytes)
        self._recipient = Recipient(self._key.public_key().public_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse the canonical uppercase ``AGE-SECRET-KEY-1...`` form (no surrounding whitespace)."""
        hrp, data = _bech32_decode(text)
        if hrp != cls._HRP:
            raise BadKeyEncodingError("not an age X25519 identity (expected uppercase 'AGE-SECRET-KEY-1...')")
        if len(data) != 32:
            raise BadKeyEncodingError("an X25519 identity encodes 32 bytes")
        return cls(data)

    @classmethod
    def from_private_bytes(cls, private_bytes: bytes) -> Identity:
        """Rebuild an identity from its raw scalar, e.g. after Shamir reconstruction."""
        return cls(private_bytes)

    @property
    def private_bytes(self) -> bytes:
        return self._private

    @property
    def recipient(self) -> Recipient:
        return self._recipient

    def __str__(self) -> str:
        return _bech32_encode(self._HRP, self._private).upper()

    def __repr__(self) -> str:
        return f"Identity(recipient={str(self._recipient)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return constant_time.bytes_eq(self._private, other._private)

    def __hash__(self) -> int:
        return hash((Identity, self._recipient.public_bytes))

    def _unwrap(self, share: bytes, body: bytes) -> bytes | None:
        """File key from one X25519 stanza, or None if the stanza is for someone else."""
        try:
            shared = self._key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:
            shared = bytes(32)
        if not any(shared):
            # A low-order share forces a known shared secret; the spec requires aborting, not skipping.
            raise MalformedHeaderError("X25519 stanza has a low-order ephemeral share")
        wrap_key = _hkdf(shared, share + self._recipient.public_bytes, _X25519_INFO)
        try:
            return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
        except InvalidTag:
            return None


def generate_identity() -> Identity:
    return Identity(os.urandom(32))


def parse_identities(text: str) -> list[Identity]:
    """Identities from an ``age-keygen``-style file: one per line, ``#`` comments and blank lines."""
    identities = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            identities.append(Identity.parse(line))
    if not identities:
        raise BadKeyEncodingError("no identity found")
    return identities


# ---------------------------------------------------------------------------------------------- header


class _Record:
    """Value semantics for the small result classes below, without importing dataclasses."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _shown: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *values: object) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self._fields))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)
        return f"{type(self).__name__}({fields})"


class Stanza(_Record):
    """One recipient stanza. ``type`` is the first argument, ``args`` the rest."""

    __slots__ = ("args", "body", "type")
    _fields = ("type", "args", "body")
    _shown = ("type", "args")
    type: str
    args: tuple[str, ...]
    body: bytes

    def __init__(self, type: str, args: tuple[str, ...], body: bytes) -> None:
        super().__init__(type, tuple(args), bytes(body))

    def encode(self) -> bytes:
        line = b"-> " + " ".join((self.type, *self.args)).encode("ascii") + b"\n"
        text = _b64encode(self.body)
        lines = [text[i : i + _BODY_COLUMNS] for i in range(0, len(text), _BODY_COLUMNS)]
        if len(text) % _BODY_COLUMNS == 0:
            # The body ends at the first line shorter than 64 columns, so a full last line needs an
            # empty one after it.
            lines.append(b"")
        return line + b"".join(part + b"\n" for part in lines)


class Header(_Record):
    """A parsed v1 header. ``raw`` is its exact bytes, MAC line included.

    Carries no secret. Which recipients a file is for cannot be read from X25519 stanzas (see the
    module docstring); ``x25519_stanza_count`` is as far as a server can go without a key.
    """

    __slots__ = ("mac", "raw", "stanzas")
    _fields = ("stanzas", "mac", "raw")
    _shown = ("stanzas",)
    stanzas: tuple[Stanza, ...]
    mac: bytes
    raw: bytes

    def __init__(self, stanzas: tuple[Stanza, ...], mac: bytes, raw: bytes) -> None:
        super().__init__(tuple(stanzas), mac, raw)

    @property
    def mac_input(self) -> bytes:
        """What the MAC covers: the header up to and including ``---``."""
        return self.raw[: -(len(_b64encode(self.mac)) + 2)]

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def x25519_stanza_count(self) -> int:
        return sum(1 for s in self.stanzas if s.type == "X25519")

    def verify_mac(self, file_key: bytes) -> None:
        try:
            _header_mac(file_key, self.mac_input).verify(self.mac)
        except InvalidSignature:
            raise HeaderMacMismatchError(
                "the header MAC does not verify with this file key (header altered or wrong key)"
            ) from None


def _readline(src: BinaryIO, budget: int) -> bytes:
    line = src.readline(min(_MAX_LINE, budget) + 1)
    if not line.endswith(b"\n"):
        if len(line) > min(_MAX_LINE, budget):
            raise MalformedHeaderError("header line or header too long")
        raise MalformedHeaderError("the file ends inside the header")
    return line


def _check_x25519_stanza(stanza: Stanza) -> None:
    if len(stanza.args) != 1:
        raise MalformedHeaderError("X25519 stanza must have exactly one argument after its type")
    if len(_b64decode(stanza.args[0].encode("ascii"), "X25519 ephemeral share")) != 32:
        raise MalformedHeaderError("X25519 ephemeral share must be 32 bytes")
    if len(stanza.body) != FILE_KEY_SIZE + TAG_SIZE:
        raise MalformedHeaderError("X25519 stanza body must be 32 bytes")


def _parse_header(src: BinaryIO) -> Header:
    raw = bytearray()

    def next_line() -> bytes:
        line = _readline(src, _MAX_HEADER - len(raw))
        raw.extend(line)
        return line

    line = next_line()
    if line != _VERSION_LINE:
        version = line[len(_VERSION_PREFIX) : -1]
        if line.startswith(_VERSION_PREFIX) and _ARG.fullmatch(version):
            raise UnsupportedVersionError(
                f"unsupported age format version {version.decode('ascii')!r} (only v1 is supported)"
            )
        raise MalformedHeaderError("not an age v1 file (bad version line)")

    stanzas: list[Stanza] = []
    line = next_line()
    while line.startswith(b"-> "):
        args = line[3:-1].split(b" ")
        if not all(_ARG.fullmatch(arg) for arg in args):
            raise MalformedHeaderError("stanza arguments must be non-empty printable ASCII, one space apart")
        body_lines: list[bytes] = []
        while True:
            body_line = next_line()[:-1]
            if len(body_line) > _BODY_COLUMNS:
                raise MalformedHeaderError("stanza body line longer than 64 columns")
            body_lines.append(body_line)
            if len(body_line) < _BODY_COLUMNS:
                break
        text = [arg.decode("ascii") for arg in args]
        stanza = Stanza(text[0], tuple(text[1:]), _b64decode(b"".join(body_lines), "stanza body"))
        if stanza.type == "X25519":
            _check_x25519_stanza(stanza)
        stanzas.append(stanza)
        line = next_line()

    if not line.startswith(b"---"):
        raise MalformedHeaderError("unexpected line in header")
    if not stanzas:
        raise MalformedHeaderError("header has no recipient stanza")
    if not line.startswith(b"--- ") or len(line) != 4 + 43 + 1:
        raise MalformedHeaderError("header MAC line is malformed")
    mac = _b64decode(line[4:-1], "header MAC")
    return Header(tuple(stanzas), mac, bytes(raw))


def read_header(src: BinaryIO | bytes | bytearray | memoryview) -> Header:
    """Parse the header of an age file and leave a stream positioned at the payload nonce.

    Needs no key. X25519 stanzas are checked strictly; stanzas of other types are kept but not
    interpreted, as the spec asks of identities that do not recognise them.
    """
    if isinstance(src, bytes | bytearray | memoryview):
        # A whole file may be passed; only its first megabyte can hold a header.
        src = BytesIO(bytes(memoryview(src)[: _MAX_HEADER + 1]))
    return _parse_header(src)


def _build_header(file_key: bytes, recipients: Sequence[Recipient]) -> bytes:
    parts = [_VERSION_LINE]
    for recipient in recipients:
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        try:
            shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.public_bytes))
        except ValueError:
            shared = bytes(32)
        if not any(shared):
            raise BadKeyEncodingError("recipient is a low-order point and cannot receive files")
        wrap_key = _hkdf(shared, share + recipient.public_bytes, _X25519_INFO)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        parts.append(Stanza("X25519", (_b64encode(share).decode("ascii"),), body).encode())
    parts.append(b"---")
    mac_input = b"".join(parts)
    return mac_input + b" " + _b64encode(_header_mac(file_key, mac_input).finalize()) + b"\n"


def _unwrap(header: Header, identities: Sequence[Identity]) -> bytes:
    identities = list(identities)
    if not identities:
        raise ValueError("at least one identity is required")
    for stanza in header.stanzas:
        if stanza.type != "X25519":
            continue
        share = _b64decode(stanza.args[0].encode("ascii"), "X25519 ephemeral share")
        for identity in identities:
            file_key = identity._unwrap(share, stanza.body)
            if file_key is not None:
                header.verify_mac(file_key)
                return file_key
    raise NoMatchingIdentityError()


def unwrap_file_key(
    header_or_src: Header | BinaryIO | bytes | bytearray | memoryview, identities: Sequence[Identity]
) -> bytes:
    """The 16-byte file key, from the header of a file encrypted to one of ``identities``.

    Every X25519 stanza is tried with every identity. The header MAC is verified before the key is
    returned, so what goes to the server for online decryption is known to be right.
    """
    header = header_or_src if isinstance(header_or_src, Header) else read_header(header_or_src)
    return _unwrap(header, identities)


# --------------------------------------------------------------------------------------------- payload


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _default_workers() -> int:
    return max(1, min(4, available_cpus()))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_full(src: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` unless the stream ends first; pipes and sockets return short reads."""
    got = 0
    size = len(view)
    readinto = getattr(src, "readinto", None)
    while got < size:
        if readinto is not None:
            n = readinto(view[got:])
            if n is None:
                raise BlockingIOError("non-blocking streams are not supported")
        else:
            data = src.read(size - got)
            n = len(data)
            view[got : got + n] = data
        if not n:
            break
        got += n
    return got


def _write_all(dst: BinaryIO, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = dst.write(view)
        if n is None:
            raise BlockingIOError("non-blocking streams are not supported")
        view = view[n:]


class _Cipher:
    """The payload key, with one AEAD object per worker thread so none is shared across threads."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._local = threading.local()

    def aead(self) -> ChaCha20Poly1305:
        aead = getattr(self._local, "aead", None)
        if aead is None:
            aead = self._local.aead = ChaCha20Poly1305(self._key)
        return aead


def _seal_block(
    cipher: _Cipher, src: bytearray, n: int, dst: bytearray, first: int, final: bool
) -> tuple[int, int]:
    aead = cipher.aead()
    inv = memoryview(src)
    outv = memoryview(dst)
    if n == 0:
        # Only an entirely empty plaintext gets an empty (final) chunk.
        aead.encrypt_into(_nonce(first, True), b"", None, outv[:TAG_SIZE])
        return TAG_SIZE, 0
    pos = out = 0
    counter = first
    while pos < n:
        end = min(pos + CHUNK_SIZE, n)
        size = end - pos
        aead.encrypt_into(
            _nonce(counter, final and end == n), inv[pos:end], None, outv[out : out + size + TAG_SIZE]
        )
        pos = end
        out += size + TAG_SIZE
        counter += 1
    return out, n


def _open_block(
    cipher: _Cipher, src: bytearray, n: int, dst: bytearray, first: int, final: bool
) -> tuple[int, int]:
    aead = cipher.aead()
    inv = memoryview(src)
    outv = memoryview(dst)
    if n == 0:
        raise PayloadTruncatedError("the payload has no chunks (file ends right after the nonce)")
    pos = out = 0
    counter = first
    while pos < n:
        end = min(pos + ENC_CHUNK_SIZE, n)
        piece = inv[pos:end]
        size = end - pos - TAG_SIZE
        if not (final and end == n):
            # Non-final pieces are always full; blocks are read in whole chunks.
            try:
                aead.decrypt_into(_nonce(counter, False), piece, None, outv[out : out + size])
            except InvalidTag:
                _raise_for_inner_chunk(aead, counter, piece)
        elif size < 0:
            raise PayloadTruncatedError("the file ends inside the last chunk's authentication tag")
        else:
            try:
                aead.decrypt_into(_nonce(counter, True), piece, None, outv[out : out + size])
            except InvalidTag:
                _raise_for_last_chunk(aead, counter, piece)
            if size == 0 and counter > 0:
                raise PayloadCorruptedError("the final chunk is empty, which only an empty file may have")
        pos = end
        out += size
        counter += 1
    return out, out


def _raise_for_inner_chunk(aead: ChaCha20Poly1305, counter: int, piece: memoryview) -> None:
    # Only on the failure path: tell "a final chunk with more data after it" apart from damage.
    try:
        aead.decrypt(_nonce(counter, True), piece, None)
    except InvalidTag:
        raise PayloadCorruptedError(f"payload chunk {counter} failed authentication") from None
    raise TrailingDataError("data follows the final chunk of the payload")


def _raise_for_last_chunk(aead: ChaCha20Poly1305, counter: int, piece: memoryview) -> None:
    if len(piece) == ENC_CHUNK_SIZE:
        try:
            aead.decrypt(_nonce(counter, False), piece, None)
        except InvalidTag:
            pass
        else:
            raise PayloadTruncatedError("the file ends after a non-final chunk")
    raise PayloadCorruptedError(f"payload chunk {counter} failed authentication")


BlockFn = Callable[[_Cipher, bytearray, int, bytearray, int, bool], tuple[int, int]]


class _Job:
    __slots__ = ("args", "cancelled", "done", "error", "fn", "result")

    def __init__(self, fn: BlockFn, args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.done = threading.Event()
        self.cancelled = False
        self.result: tuple[int, int] = (0, 0)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if not self.cancelled:
                self.result = self.fn(*self.args)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> tuple[int, int]:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class _Workers:
    """The little of a thread pool that is needed (concurrent.futures would pull in logging)."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"age-{i}", daemon=True) for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job.run()

    def submit(self, fn: BlockFn, *args: object) -> _Job:
        job = _Job(fn, args)
        self._jobs.put(job)
        return job

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class _Pool:
    """Block buffers, allocated on first use up to ``limit`` pairs; ``get`` waits for a free one.

    The limit is what bounds memory: a block is in flight from the moment its buffers are taken
    until the output thread has written it and given them back.
    """

    def __init__(self, in_block: int, out_block: int, limit: int) -> None:
        self._sizes = (in_block, out_block)
        self._free: queue.SimpleQueue[tuple[bytearray, bytearray] | None] = queue.SimpleQueue()
        self._left = limit
        self.error: BaseException | None = None

    def get(self) -> tuple[bytearray, bytearray]:
        if self._left and self._free.empty():
            self._left -= 1
            return bytearray(self._sizes[0]), bytearray(self._sizes[1])
        buffers = self._free.get()
        if buffers is None:
            assert self.error is not None
            raise self.error
        return buffers

    def put(self, buffers: tuple[bytearray, bytearray]) -> None:
        self._free.put(buffers)

    def fail(self, error: BaseException) -> None:
        """Wake a reader waiting for buffers that will never come back, with the reason."""
        self.error = error
        self._free.put(None)


def _blocks(
    src: BinaryIO, pool: _Pool, in_block: int
) -> Iterable[tuple[tuple[bytearray, bytearray], int, int, bool]]:
    """(buffers, bytes read, first chunk counter, final) per block of ``src``.

    One block of read-ahead tells whether the current block is the last one: the final chunk is
    flagged in its nonce.
    """
    buffers = pool.get()
    n = _read_full(src, memoryview(buffers[0]))
    first = 0
    while True:
        final = n < in_block
        if not final:
            ahead = pool.get()
            ahead_n = _read_full(src, memoryview(ahead[0]))
            if ahead_n == 0:
                pool.put(ahead)
                final = True
        yield buffers, n, first, final
        if final:
            return
        buffers, n = ahead, ahead_n
        first += BLOCK_CHUNKS


def _run_blocks(
    src: BinaryIO,
    dst: BinaryIO,
    cipher: _Cipher,
    fn: BlockFn,
    in_block: int,
    out_block: int,
    progress: Progress | None,
    workers: int | None,
) -> tuple[int, int]:
    """Feed ``src`` through ``fn`` block by block, writing results to ``dst`` in order.

    A single block, or ``workers=0``, is done on the calling thread. Otherwise the work is spread
    so that no stage waits for another while there is anything to do: the calling thread only
    reads, ``workers`` threads seal or open blocks, and one output thread writes them in order.
    What ``dst`` does with the data (the bid tools hash it, unpack it, write it to disk) therefore
    runs beside the reading and the cipher instead of after them, which is what lets two cores beat
    one. At most ``4 * workers`` blocks (at least 8) are in flight, which bounds memory.
    """
    workers = _default_workers() if workers is None else max(0, workers)
    # Eight blocks at least: the output thread holds one while ``dst`` hashes and writes it, and
    # the reader one ahead; fewer, and the cipher waits for buffers (measured: a third slower).
    pool = _Pool(in_block, out_block, max(8, 4 * workers))
    blocks = iter(_blocks(src, pool, in_block))
    head = next(blocks)
    if workers == 0 or head[3]:
        written = processed = 0
        for buffers, n, first, final in itertools.chain([head], blocks):
            out_len, plain_len = fn(cipher, buffers[0], n, buffers[1], first, final)
            _write_all(dst, memoryview(buffers[1])[:out_len])
            pool.put(buffers)
            written += out_len
            processed += plain_len
            if progress is not None:
                progress(processed)
        return written, processed
    return _Pipeline(dst, cipher, fn, pool, workers).run(itertools.chain([head], blocks), progress)


class _Pipeline:
    """Reader (the caller), cipher pool and output thread of :func:`_run_blocks`."""

    def __init__(self, dst: BinaryIO, cipher: _Cipher, fn: BlockFn, pool: _Pool, workers: int) -> None:
        self._dst = dst
        self._cipher = cipher
        self._fn = fn
        self._pool = pool
        self._workers = workers
        self._order: queue.SimpleQueue[tuple[_Job, tuple[bytearray, bytearray]] | None] = queue.SimpleQueue()
        self._stop = False
        self.written = 0
        self.processed = 0

    def _output(self) -> None:
        try:
            while not self._stop and (item := self._order.get()) is not None:
                job, buffers = item
                out_len, plain_len = job.wait()
                _write_all(self._dst, memoryview(buffers[1])[:out_len])
                self.written += out_len
                self.processed += plain_len
                self._pool.put(buffers)
        except BaseException as exc:  # raised on the calling thread
            self._pool.fail(exc)

    def run(
        self, blocks: Iterable[tuple[tuple[bytearray, bytearray], int, int, bool]], progress: Progress | None
    ) -> tuple[int, int]:
        executor = _Workers(self._workers)
        output = threading.Thread(target=self._output, name="age-output", daemon=True)
        output.start()
        inflight: deque[_Job] = deque()
        reported = 0
        try:
            for buffers, n, first, final in blocks:
                job = executor.submit(self._fn, self._cipher, buffers[0], n, buffers[1], first, final)
                inflight.append(job)
                self._order.put((job, buffers))
                while inflight and inflight[0].done.is_set():
                    inflight.popleft()
                if progress is not None and self.processed != reported:
                    reported = self.processed
                    progress(reported)
            self._order.put(None)
            output.join()
        except BaseException:
            self._stop = True
            for job in inflight:
                job.cancelled = True
            self._order.put(None)
            raise
        finally:
            executor.close()
            output.join()
        if self._pool.error is not None:
            raise self._pool.error
        if progress is not None and self.processed != reported:
            progress(self.processed)
        return self.written, self.processed


# ------------------------------------------------------------------------------------------------- API


class EncryptResult(_Record):
    """What :func:`encrypt` produced. ``file_key`` is None unless explicitly asked for."""

    __slots__ = ("ciphertext_size", "file_key", "header_bytes", "plaintext_size")
    _fields = ("header_bytes", "ciphertext_size", "plaintext_size", "file_key")
    _shown = ("ciphertext_size", "plaintext_size")
    header_bytes: bytes
    ciphertext_size: int
    plaintext_size: int
    file_key: bytes | None

    def __init__(
        self, header_bytes: bytes, ciphertext_size: int, plaintext_size: int, file_key: bytes | None = None
    ) -> None:
        super().__init__(header_bytes, ciphertext_size, plaintext_size, file_key)


class DecryptResult(_Record):
    __slots__ = ("header", "plaintext_size")
    _fields = ("header", "plaintext_size")
    _shown = ("header", "plaintext_size")
    header: Header
    plaintext_size: int

    def __init__(self, header: Header, plaintext_size: int) -> None:
        super().__init__(header, plaintext_size)


def encrypt(
    src: BinaryIO,
    dst: BinaryIO,
    recipients: Sequence[Recipient],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    expose_file_key: bool = False,
) -> EncryptResult:
    """Encrypt ``src`` to ``recipients`` as an age v1 file written to ``dst``, streaming.

    ``progress`` is called with the number of plaintext bytes done so far. ``workers`` is the
    number of cipher threads (default: the CPUs available, up to 4; 0 does everything on the
    calling thread). The file key is returned only with ``expose_file_key=True``; anyone holding
    it can read the file.
    """
    recipients = list(recipients)
    if not recipients:
        raise ValueError("at least one recipient is required")
    if not all(isinstance(r, Recipient) for r in recipients):
        raise TypeError("recipients must be Recipient objects (use Recipient.parse)")
    file_key = os.urandom(FILE_KEY_SIZE)
    header = _build_header(file_key, recipients)
    nonce = os.urandom(NONCE_SIZE)
    _write_all(dst, header)
    _write_all(dst, nonce)
    cipher = _Cipher(_hkdf(file_key, nonce, b"payload"))
    written, plain = _run_blocks(
        src,
        dst,
        cipher,
        _seal_block,
        BLOCK_CHUNKS * CHUNK_SIZE,
        BLOCK_CHUNKS * ENC_CHUNK_SIZE,
        progress,
        workers,
    )
    return EncryptResult(
        header_bytes=header,
        ciphertext_size=len(header) + NONCE_SIZE + written,
        plaintext_size=plain,
        file_key=file_key if expose_file_key else None,
    )


def _decrypt_payload(
    src: BinaryIO, dst: BinaryIO, file_key: bytes, progress: Progress | None, workers: int | None
) -> int:
    nonce = bytearray(NONCE_SIZE)
    if _read_full(src, memoryview(nonce)) < NONCE_SIZE:
        raise PayloadTruncatedError("the file ends inside the payload nonce")
    cipher = _Cipher(_hkdf(file_key, bytes(nonce), b"payload"))
    _, plain = _run_blocks(
        src,
        dst,
        cipher,
        _open_block,
        BLOCK_CHUNKS * ENC_CHUNK_SIZE,
        BLOCK_CHUNKS * CHUNK_SIZE,
        progress,
        workers,
    )
    return plain


def decrypt(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Sequence[Identity],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> DecryptResult:
    """Decrypt an age file from ``src`` into ``dst`` with the first identity that fits.

    On :class:`AgeError` part of the plaintext may already be in ``dst``: discard it (or use
    :func:`decrypt_file`).
    """
    header = _parse_header(src)
    file_key = _unwrap(header, identities)
    return DecryptResult(header, _decrypt_payload(src, dst, file_key, progress, workers))


def decrypt_with_file_key(
    src: BinaryIO,
    dst: BinaryIO,
    file_key: bytes,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> DecryptResult:
    """Server side of online decryption: decrypt with a file key sent by the tenderer.

    The header MAC is checked with ``file_key`` before any payload is read, so a wrong key fails with
    :class:`HeaderMacMismatchError` and writes nothing. A key that is not 16 bytes is a ValueError:
    validate what comes off the wire before calling.
    """
    file_key = bytes(file_key)
    if len(file_key) != FILE_KEY_SIZE:
        raise ValueError("an age file key is 16 bytes")
    header = _parse_header(src)
    header.verify_mac(file_key)
    return DecryptResult(header, _decrypt_payload(src, dst, file_key, progress, workers))


class _AtomicOutput:
    """A temporary file next to ``path`` that replaces it only when the work succeeded."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.dir = os.path.dirname(self.path) or "."
        base = os.path.basename(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for _ in range(100):
            self.tmp = os.path.join(self.dir, f".{base}.{os.urandom(6).hex()}.part")
            try:
                fd = os.open(self.tmp, flags, 0o600)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 collisions of 48 random bits
            raise FileExistsError(f"could not create a temporary file next to {self.path}")
        self.file = os.fdopen(fd, "wb")

    def __enter__(self) -> BinaryIO:
        return self.file

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            if exc_type is None:
                os.replace(self.tmp, self.path)
                fsync_dir(self.dir)
        finally:
            self.file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


def encrypt_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    recipients: Sequence[Recipient],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> EncryptResult:
    """Encrypt a file; ``dst_path`` appears (mode 0600) only once fully written and fsynced."""
    with open(src_path, "rb") as src, _AtomicOutput(dst_path) as dst:
        return encrypt(src, dst, recipients, progress=progress, workers=workers)


def decrypt_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    identities: Sequence[Identity] | None = None,
    *,
    file_key: bytes | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> DecryptResult:
    """Decrypt a file with ``identities`` or, for online decryption, a ``file_key`` (exactly one).

    The plaintext goes to a temporary file in the destination directory that is fsynced and renamed
    to ``dst_path`` (mode 0600) only after the whole payload authenticated; on any failure it is
    removed, so no partial plaintext is ever left behind.
    """
    if (identities is None) == (file_key is None):
        raise ValueError("give either identities or file_key")
    with open(src_path, "rb") as src, _AtomicOutput(dst_path) as dst:
        if file_key is not None:
            return decrypt_with_file_key(src, dst, file_key, progress=progress, workers=workers)
        assert identities is not None
        return decrypt(src, dst, identities, progress=progress, workers=workers)
