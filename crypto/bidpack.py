"""Sealed bid parts: a deterministic tar with a signed manifest, in an age envelope, signed again.

docs/bid-format.md is the specification; this module is its reference implementation. In short:

* A part (qualification, technical, commercial) is a POSIX ustar/pax tar of the tenderer's files in
  UTF-8 byte order of their names, then ``manifest.json`` (canonical JSON: files with sizes and
  SHA-256, the price sheet for the commercial part, tool, 机器码 hash, time) and
  ``manifest.json.p7s`` (the inner signature: detached CMS over the exact manifest bytes).
* The tar is encrypted in the age v1 format to the tender's opening key and the tenderer's own
  recipient (:func:`seal`), and ``OUT.sig`` carries the outer signature: detached CMS over the
  canonical statement ``{tender, lot, part, tenderer, ciphertext_sha256, ciphertext_size}``.
* :func:`verify_envelope` checks OUT against OUT.sig without any key; :func:`open_part` decrypts
  with an identity or with the file key alone (online decryption), unpacks safely and checks the
  manifest and the inner signature.

Why the manifest comes last
    Hashes are computed while the files stream into the tar, so every file is read exactly once and
    nothing is buffered or staged on disk; the manifest is only known once the last file is done.
    The reader, symmetrically, hashes while it extracts and compares at the end.

Why a tar codec of our own
    The tar is part of a signed format. Writing the 512-byte headers ourselves pins the exact bytes
    the specification describes (no uname, no extra pax records, no 10 KiB record padding), and the
    reader is a push parser fed by the age decryptor: strict about the little that is allowed, with
    every header size bounded, which ``tarfile`` is not.

Memory stays constant: files and ciphertext move in the age module's 1 MiB blocks; only names,
sizes, hashes, the manifest (at most 16 MiB) and the signature are kept.

Errors carry a stable ``code``: :class:`BidError` subclasses for this format, and the
:class:`crypto.age.AgeError`, :class:`crypto.ca.CertificateError` codes passed through unchanged.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import io
import json
import os
import queue
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, BinaryIO, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from crypto import age, ca, cms
from crypto.canonical import canonical_json
from crypto.durable import fsync_dir

__all__ = [
    "MANIFEST_NAME",
    "MAX_PART_SIZE",
    "PARTS",
    "SIGNATURE_NAME",
    "Assurance",
    "BidCiphertextMismatch",
    "BidEnvelopeInvalid",
    "BidError",
    "BidKeyMismatch",
    "BidManifestInvalid",
    "BidManifestMismatch",
    "BidPartMismatch",
    "BidSignatureInvalid",
    "BidSignerMismatch",
    "BidSourceChanged",
    "BidSourceError",
    "BidTarInvalid",
    "BidTarUnsafe",
    "EnvelopeSignature",
    "OpenedPart",
    "PriceSheetInvalid",
    "SealResult",
    "Signer",
    "SourceFile",
    "VerifiedEnvelope",
    "collect_sources",
    "load_price_sheet",
    "open_part",
    "read_envelope_signature",
    "seal",
    "validate_price_sheet",
    "verify_envelope",
]

PARTS = ("qualification", "technical", "commercial")
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.p7s"
MANIFEST_TYPE = "sunbid-bid-part"
STATEMENT_TYPE = "sunbid-bid-envelope"
SIGNATURE_FILE_TYPE = "sunbid-bid-envelope-signature"

# Bounds that keep a hostile tar from costing memory; a real bid is far below each.
# The largest sealed part (OUT) the platform takes; bidtool checks it before uploading.
MAX_PART_SIZE = 4 * 1024**3
MAX_FILES = 50_000
MAX_MANIFEST = 16 * 1024 * 1024
MAX_SIGNATURE = 1024 * 1024
MAX_PAX_HEADER = 64 * 1024
MAX_NAME_BYTES = 4096
MAX_COMPONENT_BYTES = 255
MAX_SIG_FILE = 1024 * 1024

_BLOCK = 512
_USTAR_MAX_SIZE = 0o77777777777  # 11 octal digits
_PAX_NAME = b"././@PaxHeader"
_HEX64 = re.compile(r"[0-9a-f]{64}")
TENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_CURRENCY = re.compile(r"[A-Z]{3}")
_QUANTITY = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?")
_MAX_SAFE_INT = 2**53 - 1
# Characters Windows cannot store in a file name, and its reserved device names: evaluators and
# most tenderers open bids on Windows, where such a name would fail or silently go elsewhere.
_WINDOWS_BAD_CHARS = frozenset('\\:*?"<>|')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)


# --------------------------------------------------------------------------------------------- errors


class BidError(Exception):
    """A bid part was refused; ``code`` is stable, the message plain English for logs."""

    code = "bid_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    @property
    def message(self) -> str:
        return str(self.args[0])


class BidSourceError(BidError):
    """SRC holds something a bid may not: a link, a device, a reserved or unportable name, nothing."""

    code = "bid_source_unsupported"


class BidSourceChanged(BidError):
    """A file changed size while it was being sealed."""

    code = "bid_source_changed"


class PriceSheetInvalid(BidError):
    code = "bid_price_sheet_invalid"


class BidTarUnsafe(BidError):
    """A member would escape DEST or overwrite another: absolute, ``..``, link, device, duplicate."""

    code = "bid_tar_unsafe"


class BidTarInvalid(BidError):
    """The tar does not have the layout of a bid part (structure, order, checksums, end marker)."""

    code = "bid_tar_invalid"


class BidManifestInvalid(BidError):
    code = "bid_manifest_invalid"


class BidManifestMismatch(BidError):
    """The files in the tar are not the ones the manifest lists (name, size or SHA-256)."""

    code = "bid_manifest_mismatch"


class BidSignatureInvalid(BidError):
    """A CMS signature (inner or outer) does not verify, or OUT.sig cannot be read."""

    code = "bid_signature_invalid"


class BidSignerMismatch(BidError):
    """The signature is valid but made by someone other than the tenderer named in what it signs."""

    code = "bid_signer_mismatch"


class BidCiphertextMismatch(BidError):
    """OUT is not the file whose hash and size OUT.sig signs (altered, truncated or swapped)."""

    code = "bid_ciphertext_mismatch"


class StoredPartAltered(BidError):
    """The stored envelope is not the one the tenderer signed and the platform receipted: its SHA-256
    or size differs from the receipt. The platform's fault, never the tenderer's (R-B6)."""

    code = "stored_part_altered"


class BidPartMismatch(BidError):
    """Tender, lot or part differ from what the caller expected (a bid replayed into another slot)."""

    code = "bid_part_mismatch"


class BidEnvelopeInvalid(BidError):
    code = "bid_envelope_invalid"


class BidKeyMismatch(BidError):
    code = "bid_key_mismatch"


# ---------------------------------------------------------------------------------------- JSON input


def _strict_json(data: bytes, error: type[BidError], what: str, *, allow_bom: bool = False) -> Any:
    """Parse JSON refusing what canonical JSON cannot carry: floats, NaN, duplicate keys."""

    def no_float(text: str) -> Any:
        raise error(f"{what}: {text} is not an integer (money is integer fen; floats are refused)")

    def no_constant(text: str) -> Any:
        raise error(f"{what}: {text} is not allowed")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise error(f"{what}: key {key!r} appears twice")
            result[key] = value
        return result

    try:
        text = data.decode("utf-8-sig" if allow_bom else "utf-8")
        return json.loads(text, parse_float=no_float, parse_constant=no_constant, object_pairs_hook=unique)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} is not valid UTF-8 JSON: {exc}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _keys(
    obj: Any, required: set[str], optional: set[str], error: type[BidError], what: str
) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise error(f"{what} must be a JSON object")
    missing = required - obj.keys()
    if missing:
        raise error(f"{what} lacks {', '.join(sorted(missing))}")
    unknown = obj.keys() - required - optional
    if unknown:
        raise error(f"{what} has unknown keys {', '.join(sorted(unknown))}")
    return obj


# ---------------------------------------------------------------------------------------- price sheet

_PRICE_SHEET_REQUIRED = {"currency", "total_fen", "items"}
_PRICE_SHEET_OPTIONAL = {
    "duration_days",
    "validity_days",
    "warranty_days",
    "quality",
    "project_manager",
    "remarks",
}
_ITEM_REQUIRED = {"name", "amount_fen"}
_ITEM_OPTIONAL = {"spec", "unit", "quantity", "unit_price_fen"}


def _text(value: Any, where: str, limit: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PriceSheetInvalid(f"price sheet: {where} must be a non-empty string")
    if len(value) > limit:
        raise PriceSheetInvalid(f"price sheet: {where} is longer than {limit} characters")
    allowed = "\n" if multiline else ""
    if any((ord(ch) < 0x20 and ch not in allowed) or ord(ch) == 0x7F for ch in value):
        raise PriceSheetInvalid(f"price sheet: {where} contains control characters")
    return value


def _fen(value: Any, where: str) -> int:
    if not _is_int(value):
        raise PriceSheetInvalid(f"price sheet: {where} must be an integer number of fen (分), not {value!r}")
    if not 0 <= value <= _MAX_SAFE_INT:
        raise PriceSheetInvalid(f"price sheet: {where} is out of range")
    return int(value)


def _days(value: Any, where: str, *, minimum: int) -> int:
    if not _is_int(value) or not minimum <= value <= 36_600:
        raise PriceSheetInvalid(f"price sheet: {where} must be a whole number of days >= {minimum}")
    return int(value)


def validate_price_sheet(sheet: Any) -> dict[str, Any]:
    """Check a price sheet (开标一览表) and return it; see docs/bid-format.md for the schema.

    Amounts are integer fen in one ``currency``; each item's ``amount_fen`` must equal
    ``unit_price_fen × quantity`` rounded half up when both are given, and the items must add up to
    ``total_fen`` exactly, because the price read out at the opening is ``total_fen`` and an
    inconsistent sheet is the classic ground for an objection.
    """
    _keys(sheet, _PRICE_SHEET_REQUIRED, _PRICE_SHEET_OPTIONAL, PriceSheetInvalid, "price sheet")
    if not isinstance(sheet["currency"], str) or not _CURRENCY.fullmatch(sheet["currency"]):
        raise PriceSheetInvalid("price sheet: currency must be an ISO 4217 code such as CNY")
    total = _fen(sheet["total_fen"], "total_fen")
    items = sheet["items"]
    if not isinstance(items, list) or not items:
        raise PriceSheetInvalid("price sheet: items must be a non-empty list")
    if len(items) > 10_000:
        raise PriceSheetInvalid("price sheet: too many items")
    running = 0
    for n, item in enumerate(items):
        where = f"items[{n}]"
        _keys(item, _ITEM_REQUIRED, _ITEM_OPTIONAL, PriceSheetInvalid, f"price sheet {where}")
        _text(item["name"], f"{where}.name", 200)
        for key in ("spec", "unit"):
            if key in item:
                _text(item[key], f"{where}.{key}", 200)
        amount = _fen(item["amount_fen"], f"{where}.amount_fen")
        quantity = item.get("quantity")
        if quantity is not None and (not isinstance(quantity, str) or not _QUANTITY.fullmatch(quantity)):
            raise PriceSheetInvalid(
                f'price sheet: {where}.quantity must be a decimal string such as "12" or "2.5"'
            )
        if "unit_price_fen" in item:
            unit_price = _fen(item["unit_price_fen"], f"{where}.unit_price_fen")
            if quantity is not None:
                expected = (Decimal(quantity) * unit_price).quantize(Decimal(1), rounding=ROUND_HALF_UP)
                if expected != amount:
                    raise PriceSheetInvalid(
                        f"price sheet: {where}.amount_fen is {amount}, but unit_price_fen × quantity"
                        f" is {expected}"
                    )
        running += amount
    if running != total:
        raise PriceSheetInvalid(f"price sheet: the items add up to {running} fen, but total_fen is {total}")
    if "duration_days" in sheet:
        _days(sheet["duration_days"], "duration_days", minimum=1)
    if "validity_days" in sheet:
        _days(sheet["validity_days"], "validity_days", minimum=1)
    if "warranty_days" in sheet:
        _days(sheet["warranty_days"], "warranty_days", minimum=0)
    for key in ("quality", "project_manager"):
        if key in sheet:
            _text(sheet[key], key, 200)
    if "remarks" in sheet:
        _text(sheet["remarks"], "remarks", 2000, multiline=True)
    return cast(dict[str, Any], sheet)  # a JSON object: _keys checked it


def load_price_sheet(data: bytes) -> dict[str, Any]:
    """Parse and validate a price sheet file (UTF-8 JSON; a BOM, as Windows editors write, is fine)."""
    return validate_price_sheet(_strict_json(data, PriceSheetInvalid, "price sheet", allow_bom=True))


# -------------------------------------------------------------------------------------------- names


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a member name of a bid part, or None."""
    if not name:
        return "empty name"
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    if len(raw) > MAX_NAME_BYTES:
        return "name too long"
    if name.startswith("/"):
        return "absolute path"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "control character in name"
    bad = _WINDOWS_BAD_CHARS.intersection(name)
    if bad:
        return f"character {''.join(sorted(bad))!r} is not allowed in names"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return "empty, '.' or '..' path component"
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            return "path component too long"
        if part[-1] in ". ":
            return "path component ends with a dot or a space"
        if part.split(".")[0].upper() in _WINDOWS_DEVICES:
            return "reserved device name"
    return None


def _collision_key(name: str) -> str:
    # Windows and macOS compare names case-insensitively, and macOS after Unicode normalisation.
    return unicodedata.normalize("NFC", name).casefold()


class _NameSet:
    """Member names seen so far: rejects anything that would land on an earlier file or folder."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._dirs: set[str] = set()

    def problem(self, name: str) -> str | None:
        key = _collision_key(name)
        parts = key.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if key in self._files:
            return "duplicate name"
        if key in self._dirs:
            return "name is also a folder"
        if any(prefix in self._files for prefix in prefixes):
            return "a parent folder is also a file"
        self._files.add(key)
        self._dirs.update(prefixes)
        return None


# ----------------------------------------------------------------------------------------- hashing


class _Hasher:
    """SHA-256 updates on a thread of their own, in submission order: for :func:`verify_envelope`,
    where the only other work is reading, which then runs beside the hashing.

    Sealing and opening hash on the threads that already hold the data instead (the reader hashes
    the files it reads, the output thread what it writes): those stages wait for their hash anyway,
    and on two cores the extra threads and hand-offs cost more than they overlapped (measured:
    sealing 7% and opening 6-10% slower with them). Memory handed to :meth:`submit` must not change
    until :meth:`wait` has returned for it.
    """

    _INLINE = 64 * 1024  # below this a thread hand-off costs more than it saves

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, memoryview] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self._submitted = 0
        self._finished = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job[0].update(job[1])
            except BaseException as exc:  # handed to the caller by wait()
                self._done.put(exc)
            else:
                self._done.put(None)

    def submit(self, digest: Any, data: memoryview) -> None:
        if len(data) < self._INLINE:
            self.wait()
            digest.update(data)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="bidpack-sha256", daemon=True)
            self._thread.start()
        self._jobs.put((digest, data))
        self._submitted += 1

    def wait(self) -> None:
        """Wait for every update submitted so far."""
        while self._finished < self._submitted:
            self._error = self._done.get() or self._error
            self._finished += 1
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None


# ------------------------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class SourceFile:
    name: str  # relative, "/"-separated
    path: str
    size: int
    executable: bool


def collect_sources(src: str | os.PathLike[str]) -> list[SourceFile]:
    """The regular files under ``src`` (or ``src`` itself), sorted by UTF-8 name; refuses the rest.

    Symbolic links are refused rather than followed or stored: following one could pull in files
    from outside the folder the tenderer meant to seal, and storing one is a hazard at the opening.
    """
    src = os.fspath(src)
    found: list[SourceFile] = []

    def add(path: str, name: str, st: os.stat_result) -> None:
        problem = _name_problem(name)
        if problem:
            raise BidSourceError(f"{name!r}: {problem}", name=name)
        found.append(SourceFile(name, path, st.st_size, bool(st.st_mode & stat.S_IXUSR)))
        if len(found) > MAX_FILES:
            raise BidSourceError(f"more than {MAX_FILES} files")

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = prefix + entry.name
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    walk(entry.path, name + "/")
                elif stat.S_ISREG(st.st_mode):
                    add(entry.path, name, st)
                else:
                    raise BidSourceError(f"{name!r} is {_kind(st.st_mode)}, not a regular file", name=name)

    st = os.lstat(src)
    if stat.S_ISREG(st.st_mode):
        add(src, os.path.basename(os.path.abspath(src)), st)
    elif stat.S_ISDIR(st.st_mode):
        walk(src, "")
    else:
        raise BidSourceError(f"{src!r} is {_kind(st.st_mode)}, not a file or folder", name=src)
    if not found:
        raise BidSourceError(f"{src!r} holds no files")
    found.sort(key=lambda f: f.name.encode("utf-8"))
    names = _NameSet()
    for source in found:
        if "/" not in source.name and source.name in (MANIFEST_NAME, SIGNATURE_NAME):
            raise BidSourceError(f"{source.name!r} is reserved for the part's own manifest", name=source.name)
        problem = names.problem(source.name)
        if problem:
            raise BidSourceError(f"{source.name!r}: {problem} (names must differ ignoring case)")
    return found


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# ---------------------------------------------------------------------------------------- tar write


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    # The length prefix counts its own digits.
    digits = len(str(len(body)))
    while len(str(len(body) + digits)) != digits:
        digits += 1
    return str(len(body) + digits).encode() + body


def _ustar(name: bytes, size: int, mode: int, typeflag: bytes) -> bytes:
    header = bytearray(_BLOCK)
    header[0 : len(name)] = name
    header[100:108] = _octal(mode, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(0, 12)
    header[148:156] = b" " * 8
    header[156:157] = typeflag
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[329:337] = _octal(0, 8)
    header[337:345] = _octal(0, 8)
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _member_header(name: str, size: int, mode: int) -> bytes:
    """The header block(s) for one regular file: a pax header first when ustar cannot hold it."""
    raw = name.encode("utf-8")
    records = []
    if not raw.isascii() or len(raw) > 100:
        records.append(_pax_record("path", name))
    if size > _USTAR_MAX_SIZE:
        records.append(_pax_record("size", str(size)))
    out = b""
    if records:
        data = b"".join(records)
        out = _ustar(_PAX_NAME, len(data), 0o644, b"x") + data + bytes(-len(data) % _BLOCK)
        raw = name.encode("ascii", "replace")[:100]
    return out + _ustar(raw, size if size <= _USTAR_MAX_SIZE else 0, mode, b"0")


class _FileItem:
    """One source file, streamed into the tar exactly once and hashed on the way."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.remaining = source.size
        self.sha256 = hashlib.sha256()
        self._file: io.FileIO | None = None

    def readinto(self, view: memoryview) -> int:
        """Fill part of ``view``; 0 once the whole declared size was read and the file ended there."""
        if self._file is None:
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(self.source.path, flags)
            self._file = open(fd, "rb", buffering=0)  # noqa: SIM115 - closed by close()
            if os.fstat(fd).st_size != self.source.size:
                raise BidSourceChanged(f"{self.source.name!r} changed while sealing", name=self.source.name)
        if not self.remaining:
            if self._file.read(1):
                raise BidSourceChanged(f"{self.source.name!r} grew while sealing", name=self.source.name)
            self.close()
            return 0
        n = self._file.readinto(view[: min(len(view), self.remaining)])
        if not n:
            raise BidSourceChanged(f"{self.source.name!r} shrank while sealing", name=self.source.name)
        self.sha256.update(view[:n])
        self.remaining -= n
        return n

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _TarSource:
    """A readable stream of the whole tar, produced on demand as the encryptor asks for blocks."""

    def __init__(self, members: Iterator[bytes | _FileItem]) -> None:
        self._members = members
        self._pending = memoryview(b"")
        self._file: _FileItem | None = None
        self.files: list[_FileItem] = []

    def readinto(self, buffer: memoryview | bytearray) -> int:
        view = memoryview(buffer)
        filled = 0
        while filled < len(view):
            if self._pending:
                n = min(len(self._pending), len(view) - filled)
                view[filled : filled + n] = self._pending[:n]
                self._pending = self._pending[n:]
                filled += n
            elif self._file is not None:
                n = self._file.readinto(view[filled:])
                if n:
                    filled += n
                else:
                    self._file = None
            else:
                member = next(self._members, None)
                if member is None:
                    break
                if isinstance(member, _FileItem):
                    self._file = member
                    self.files.append(member)
                else:
                    self._pending = memoryview(member)
        return filled

    def close(self) -> None:
        for item in self.files:
            item.close()


def _tar_members(
    sources: Sequence[SourceFile], finish: Callable[[list[dict[str, Any]]], list[tuple[str, bytes]]]
) -> Iterator[bytes | _FileItem]:
    items = []
    for source in sources:
        yield _member_header(source.name, source.size, 0o755 if source.executable else 0o644)
        item = _FileItem(source)
        yield item
        items.append(item)
        if -source.size % _BLOCK:
            yield bytes(-source.size % _BLOCK)
    entries = [{"name": i.source.name, "size": i.source.size, "sha256": i.sha256.hexdigest()} for i in items]
    for name, data in finish(entries):
        yield _member_header(name, len(data), 0o644)
        yield data
        if -len(data) % _BLOCK:
            yield bytes(-len(data) % _BLOCK)
    yield bytes(2 * _BLOCK)


def tar_size(sources: Sequence[SourceFile]) -> int:
    """The tar's size without the manifest and signature members: for progress bars."""
    total = 2 * _BLOCK
    for source in sources:
        total += len(_member_header(source.name, source.size, 0o644)) + source.size + (-source.size % _BLOCK)
    return total


# ----------------------------------------------------------------------------------------- tar read


def _parse_octal(field: bytes, what: str) -> int:
    if field[:1] and field[0] & 0x80:
        raise BidTarInvalid(f"{what} uses base-256 encoding; a pax record must carry large values")
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not all(0x30 <= c <= 0x37 for c in text):
        raise BidTarInvalid(f"{what} is not an octal number")
    return int(text, 8)


def _parse_pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 21)
        if space <= pos or not data[pos:space].isdigit():
            raise BidTarInvalid("malformed pax record length")
        length = int(data[pos:space])
        end = pos + length
        if length < 5 or end > len(data) or data[end - 1 : end] != b"\n":
            raise BidTarInvalid("malformed pax record")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep or not key:
            raise BidTarInvalid("malformed pax record")
        try:
            key_text, value_text = key.decode("utf-8"), value.decode("utf-8")
        except UnicodeDecodeError:
            raise BidTarInvalid("pax record is not UTF-8") from None
        if key_text in records:
            raise BidTarInvalid(f"pax record {key_text!r} appears twice")
        records[key_text] = value_text
        pos = end
    return records


# pax keys other writers add that say nothing about where or what a member is: accepted and ignored.
_PAX_IGNORED = {"atime", "ctime", "mtime", "uid", "gid", "uname", "gname", "comment"}
_PAX_IGNORED_PREFIXES = ("SCHILY.", "LIBARCHIVE.")


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    executable: bool
    sha256: str


class _Unpacker:
    """Push parser for a bid part tar: ``write()`` takes decrypted bytes, files land under ``root``.

    ``root`` must be a fresh private directory: names are checked before anything is created, and
    files are opened with O_EXCL (and O_NOFOLLOW), so nothing can be written outside it or twice.
    """

    _HEADER, _PAX, _DATA, _SPECIAL, _PAD, _END1, _END = range(7)

    def __init__(self, root: str, *, sync: bool = False) -> None:
        self.root = root
        self.sync = sync
        self.folders = [root]
        self.members: list[_Member] = []
        self.manifest: bytes | None = None
        self.signature: bytes | None = None
        self._names = _NameSet()
        self._previous: bytes | None = None
        self._state = self._HEADER
        self._buf = bytearray()
        self._need = _BLOCK
        self._pax: dict[str, str] | None = None
        self._pad = 0
        self._name = ""
        self._size = 0
        self._executable = False
        self._remaining = 0
        self._file: BinaryIO | None = None
        self._sha = hashlib.sha256()

    # The decryptor hands over views of buffers it reuses: every byte is consumed before returning.
    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        pos = 0
        end = len(view)
        while pos < end:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, end - pos)
                chunk = view[pos : pos + take]
                assert self._file is not None
                written = 0
                while written < take:
                    written += self._file.write(chunk[written:]) or 0
                self._sha.update(chunk)
                self._remaining -= take
                pos += take
                if not self._remaining:
                    self._close_member()
            elif state == self._PAD:
                take = min(self._pad, end - pos)
                self._pad -= take
                pos += take
                if not self._pad:
                    self._state = self._HEADER
                    self._need = _BLOCK
            elif state == self._END:
                if view[pos:].tobytes().strip(b"\0"):
                    raise BidTarInvalid("data after the end-of-archive marker")
                pos = end
            else:
                take = min(self._need - len(self._buf), end - pos)
                self._buf += view[pos : pos + take]
                pos += take
                if len(self._buf) == self._need:
                    block = bytes(self._buf)
                    self._buf.clear()
                    self._complete(block)
        return end

    def _complete(self, data: bytes) -> None:
        state = self._state
        if state == self._HEADER:
            self._header(data)
        elif state == self._END1:
            if data.strip(b"\0"):
                raise BidTarInvalid("a member follows a single zero block")
            self._state = self._END
        elif state == self._PAX:
            self._pax = _parse_pax(data[: self._size])
            self._state = self._HEADER
            self._need = _BLOCK
        else:  # _SPECIAL
            content = data[: self._size]
            if self._name == MANIFEST_NAME:
                self.manifest = content
            else:
                self.signature = content
            self._state = self._HEADER
            self._need = _BLOCK

    def _header(self, block: bytes) -> None:
        if not block.strip(b"\0"):
            if self._pax is not None:
                raise BidTarInvalid("a pax header is not followed by a member")
            self._state = self._END1
            return
        if block[257:265] != b"ustar\x0000":
            raise BidTarInvalid("not a POSIX ustar header (GNU and v7 tar formats are not accepted)")
        checksum = _parse_octal(block[148:156], "header checksum")
        if checksum != sum(block[:148]) + 8 * 0x20 + sum(block[156:]):
            raise BidTarInvalid("header checksum mismatch")
        typeflag = block[156:157]
        size = _parse_octal(block[124:136], "size")
        if typeflag == b"x":
            if self._pax is not None:
                raise BidTarInvalid("two pax headers in a row")
            if size > MAX_PAX_HEADER:
                raise BidTarInvalid("pax header too large")
            self._size = size
            self._state = self._PAX
            self._need = size + (-size % _BLOCK)
            if not self._need:
                self._pax = {}
                self._state = self._HEADER
                self._need = _BLOCK
            return
        pax, self._pax = self._pax or {}, None
        if typeflag in (b"1", b"2"):
            raise BidTarUnsafe("the tar contains a link")
        if typeflag in (b"3", b"4", b"6"):
            raise BidTarUnsafe("the tar contains a device or a named pipe")
        if typeflag not in (b"0", b"\0"):
            raise BidTarInvalid(f"member type {typeflag!r} is not allowed (regular files only)")
        for key in pax:
            if key not in ("path", "size", *_PAX_IGNORED) and not key.startswith(_PAX_IGNORED_PREFIXES):
                raise BidTarInvalid(f"pax record {key!r} is not allowed")
        if "size" in pax:
            if not pax["size"].isdigit():
                raise BidTarInvalid("pax size is not a number")
            size = int(pax["size"])
        if "path" in pax:
            name = pax["path"]
        else:
            prefix = block[345:500].split(b"\0", 1)[0]
            raw = block[0:100].split(b"\0", 1)[0]
            if prefix:
                raw = prefix + b"/" + raw
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BidTarInvalid("member name is not UTF-8") from None
        self._begin(name, size, bool(_parse_octal(block[100:108], "mode") & 0o100))

    def _begin(self, name: str, size: int, executable: bool) -> None:
        if self.signature is not None:
            raise BidTarInvalid(f"member {name!r} follows the manifest signature")
        if self.manifest is not None:
            if name != SIGNATURE_NAME:
                raise BidTarInvalid(f"member {name!r} follows the manifest")
            if size > MAX_SIGNATURE:
                raise BidTarInvalid("the manifest signature is too large")
            self._special(name, size)
            return
        if name == MANIFEST_NAME:
            if size > MAX_MANIFEST:
                raise BidTarInvalid("the manifest is too large")
            self._special(name, size)
            return
        problem = _name_problem(name) or self._names.problem(name)
        if problem:
            raise BidTarUnsafe(f"member {name!r}: {problem}", name=name)
        raw = name.encode("utf-8")
        if self._previous is not None and raw <= self._previous:
            raise BidTarInvalid(f"member {name!r} is out of order (names must be sorted by UTF-8 bytes)")
        self._previous = raw
        if name == SIGNATURE_NAME:
            raise BidTarInvalid("the manifest signature comes before the manifest")
        if len(self.members) >= MAX_FILES:
            raise BidTarInvalid(f"more than {MAX_FILES} files")
        parts = name.split("/")
        folder = self.root
        for part in parts[:-1]:
            folder = os.path.join(folder, part)
            if not os.path.isdir(folder):
                os.mkdir(folder, 0o700)
                self.folders.append(folder)
        flags = (
            os.O_WRONLY
            | os.O_CREAT
            | os.O_EXCL
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0)
        )
        try:
            fd = os.open(os.path.join(folder, parts[-1]), flags, 0o755 if executable else 0o644)
        except FileExistsError:
            raise BidTarUnsafe(f"member {name!r} collides with another file", name=name) from None
        self._file = open(fd, "wb", buffering=0)  # noqa: SIM115 - closed by _close_member/abort
        self._name, self._size, self._executable = name, size, executable
        self._remaining = size
        self._sha = hashlib.sha256()
        if size:
            self._state = self._DATA
        else:
            self._close_member()

    def _special(self, name: str, size: int) -> None:
        self._name, self._size = name, size
        self._need = size + (-size % _BLOCK)
        self._state = self._SPECIAL
        if not self._need:
            self._complete(b"")

    def _close_member(self) -> None:
        assert self._file is not None
        if self.sync:
            os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.members.append(_Member(self._name, self._size, self._executable, self._sha.hexdigest()))
        self._pad = -self._size % _BLOCK
        if self._pad:
            self._state = self._PAD
        else:
            self._state = self._HEADER
            self._need = _BLOCK

    def finish(self) -> None:
        if self._state not in (self._END1, self._END) or self._buf:
            raise BidTarInvalid("the tar ends without its end-of-archive marker (truncated)")
        if self.manifest is None or self.signature is None:
            raise BidTarInvalid("the tar lacks manifest.json or manifest.json.p7s")

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# ----------------------------------------------------------------------------------------- manifest


def _now_rfc3339(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_context(tender: Any, lot: Any, part: Any, error: type[Exception]) -> None:
    if not isinstance(tender, str) or not TENDER_ID.fullmatch(tender):
        raise error("tender must be an id of letters, digits and . _ : - (at most 128)")
    if not _is_int(lot) or not 1 <= lot <= 9999:
        raise error("lot must be an integer from 1 to 9999")
    if part not in PARTS:
        raise error(f"part must be one of {', '.join(PARTS)}")


def _check_manifest(manifest: Any) -> dict[str, Any]:
    required = {
        "v",
        "type",
        "tender",
        "lot",
        "part",
        "tenderer",
        "files",
        "tool",
        "machine_fingerprint_sha256",
        "created_at",
    }
    _keys(manifest, required, {"price_sheet"}, BidManifestInvalid, "manifest")
    if manifest["v"] != 1 or manifest["type"] != MANIFEST_TYPE:
        raise BidManifestInvalid("not a version 1 sunbid-bid-part manifest")
    _check_context(manifest["tender"], manifest["lot"], manifest["part"], BidManifestInvalid)
    tenderer = _keys(manifest["tenderer"], {"credit_code", "name"}, set(), BidManifestInvalid, "tenderer")
    if not isinstance(tenderer["credit_code"], str) or not _CREDIT_CODE.fullmatch(tenderer["credit_code"]):
        raise BidManifestInvalid("tenderer.credit_code is not a unified social credit code")
    if not isinstance(tenderer["name"], str) or not tenderer["name"]:
        raise BidManifestInvalid("tenderer.name must be a non-empty string")
    files = manifest["files"]
    if not isinstance(files, list) or not files:
        raise BidManifestInvalid("files must be a non-empty list")
    for n, entry in enumerate(files):
        _keys(entry, {"name", "size", "sha256"}, set(), BidManifestInvalid, f"files[{n}]")
        if not isinstance(entry["name"], str) or not _is_int(entry["size"]) or entry["size"] < 0:
            raise BidManifestInvalid(f"files[{n}] has a bad name or size")
        if not isinstance(entry["sha256"], str) or not _HEX64.fullmatch(entry["sha256"]):
            raise BidManifestInvalid(f"files[{n}].sha256 is not 64 lowercase hex digits")
    if (manifest["part"] == "commercial") != ("price_sheet" in manifest):
        raise BidManifestInvalid("a price sheet belongs in the commercial part and only there")
    if "price_sheet" in manifest:
        try:
            validate_price_sheet(manifest["price_sheet"])
        except PriceSheetInvalid as exc:
            raise BidManifestInvalid(str(exc)) from None
    tool = _keys(manifest["tool"], {"name", "version"}, set(), BidManifestInvalid, "tool")
    if not all(isinstance(tool[k], str) and tool[k] for k in ("name", "version")):
        raise BidManifestInvalid("tool.name and tool.version must be non-empty strings")
    fingerprint = manifest["machine_fingerprint_sha256"]
    if not isinstance(fingerprint, str) or not _HEX64.fullmatch(fingerprint):
        raise BidManifestInvalid("machine_fingerprint_sha256 is not 64 lowercase hex digits")
    created = manifest["created_at"]
    if not isinstance(created, str) or not _RFC3339_UTC.fullmatch(created):
        raise BidManifestInvalid("created_at is not an RFC 3339 UTC time ending in Z")
    return cast(dict[str, Any], manifest)  # a JSON object: _keys checked it


def _parse_manifest(data: bytes) -> dict[str, Any]:
    manifest = _check_manifest(_strict_json(data, BidManifestInvalid, "manifest"))
    try:
        canonical = canonical_json(manifest)
    except ValueError as exc:
        raise BidManifestInvalid(f"the manifest cannot be canonical JSON: {exc}") from None
    if canonical != data:
        raise BidManifestInvalid("the manifest is not in canonical JSON form")
    return manifest


# ---------------------------------------------------------------------------------------- signatures


class Assurance(enum.Enum):
    """How much of a signer's certificate was checked, strongest first."""

    FULL = "full"  # signature, chain to the platform CA, validity at the time, CRL, profile
    NO_REVOCATION = "no_revocation"  # as FULL, but no CRL was given
    SIGNATURE_ONLY = "signature_only"  # the signature matches its embedded certificate; no CA given


@dataclass(frozen=True)
class Signer:
    identity: ca.VerifiedIdentity
    certificate: x509.Certificate
    assurance: Assurance
    signing_time: datetime | None  # the signer's own claim, not a trusted time


_placeholder: x509.CertificateRevocationList | None = None


def _placeholder_crl() -> x509.CertificateRevocationList:
    """A CRL from nobody: it makes ``verify_certificate`` stop at its revocation step, see below."""
    global _placeholder
    if _placeholder is None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "SunBid placeholder: no CRL given")])
        start = datetime(2000, 1, 1, tzinfo=UTC)
        _placeholder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(name)
            .last_update(start)
            .next_update(start + timedelta(days=365 * 100))
            .sign(key, hashes.SHA256())
        )
    return _placeholder


def _embedded_certificate(signature_der: bytes, what: str) -> x509.Certificate:
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(signature_der)
    except ValueError as exc:
        raise BidSignatureInvalid(f"the {what} signature cannot be parsed: {exc}") from None
    if len(certificates) != 1:
        raise BidSignatureInvalid(f"the {what} signature must carry exactly one certificate, the signer's")
    return certificates[0]


def _verify_signature(
    signature_der: bytes,
    data: bytes,
    *,
    chain: Sequence[x509.Certificate] | None,
    crl: x509.CertificateRevocationList | None,
    at: datetime,
    what: str,
) -> Signer:
    """Verify a CMS signature over ``data`` as far as the caller's trust material allows.

    With chain and CRL this is :func:`crypto.cms.verify_detached` for the tenderer-signing profile.
    Without them it relies on two orders that crypto.cms and crypto.ca document: the signature is
    checked before the certificate, and the certificate's chain and validity before revocation. A
    placeholder CRL from nobody therefore fails with ``crl_invalid`` exactly when everything before
    revocation passed, and (without a chain) any certificate error means the signature itself held.
    """
    certificate = _embedded_certificate(signature_der, what)
    try:
        if chain and crl is not None:
            verified = cms.verify_detached(
                signature_der, data, chain=chain, crl=crl, at=at, profile=ca.Profile.TENDERER_SIGNING
            )
            return Signer(verified.identity, verified.certificate, Assurance.FULL, verified.signing_time)
        try:
            cms.verify_detached(
                signature_der, data, chain=chain or [certificate], crl=_placeholder_crl(), at=at
            )
        except ca.CRLInvalid:
            pass
        except ca.UnsupportedKey:
            raise  # raised before the signature was looked at
        except ca.CertificateError:
            if chain:
                raise
        if not chain:
            return Signer(ca.identity_of(certificate), certificate, Assurance.SIGNATURE_ONLY, None)
        identity = ca.identity_of(certificate)
        # Not part of crypto.ca's public API: the one check verify_certificate makes after revocation.
        ca._check_profile(certificate, identity, ca.Profile.TENDERER_SIGNING)
        return Signer(identity, certificate, Assurance.NO_REVOCATION, None)
    except cms.SignatureError as exc:
        raise BidSignatureInvalid(f"the {what} signature does not verify: {exc}") from None


# ---------------------------------------------------------------------------------- envelope signature


@dataclass(frozen=True)
class EnvelopeSignature:
    statement: dict[str, Any]
    cms_der: bytes
    certificate: x509.Certificate

    def statement_bytes(self) -> bytes:
        """The exact bytes the outer CMS signature covers."""
        return canonical_json(self.statement)


def _statement(tender: str, lot: int, part: str, tenderer: str, sha256: str, size: int) -> dict[str, Any]:
    return {
        "v": 1,
        "type": STATEMENT_TYPE,
        "tender": tender,
        "lot": lot,
        "part": part,
        "tenderer": tenderer,
        "ciphertext_sha256": sha256,
        "ciphertext_size": size,
    }


def _encode_signature_file(statement: dict[str, Any], cms_der: bytes, certificate: x509.Certificate) -> bytes:
    document = {
        "v": 1,
        "type": SIGNATURE_FILE_TYPE,
        "statement": statement,
        "cms": base64.b64encode(cms_der).decode("ascii"),
        "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }
    return canonical_json(document) + b"\n"


def read_envelope_signature(data: bytes) -> EnvelopeSignature:
    """Parse OUT.sig; checks its shape only (see :func:`verify_envelope` for the signature)."""
    if len(data) > MAX_SIG_FILE:
        raise BidSignatureInvalid("the signature file is too large")
    try:
        document = _strict_json(data, BidSignatureInvalid, "signature file")
        _keys(
            document,
            {"v", "type", "statement", "cms", "certificate"},
            set(),
            BidSignatureInvalid,
            "signature file",
        )
        if document["v"] != 1 or document["type"] != SIGNATURE_FILE_TYPE:
            raise BidSignatureInvalid("not a version 1 sunbid bid signature file")
        statement = _keys(
            document["statement"],
            {"v", "type", "tender", "lot", "part", "tenderer", "ciphertext_sha256", "ciphertext_size"},
            set(),
            BidSignatureInvalid,
            "statement",
        )
        if statement["v"] != 1 or statement["type"] != STATEMENT_TYPE:
            raise BidSignatureInvalid("not a version 1 sunbid-bid-envelope statement")
        _check_context(statement["tender"], statement["lot"], statement["part"], BidSignatureInvalid)
        if not isinstance(statement["tenderer"], str) or not _CREDIT_CODE.fullmatch(statement["tenderer"]):
            raise BidSignatureInvalid("statement.tenderer is not a unified social credit code")
        if not isinstance(statement["ciphertext_sha256"], str) or not _HEX64.fullmatch(
            statement["ciphertext_sha256"]
        ):
            raise BidSignatureInvalid("statement.ciphertext_sha256 is not 64 lowercase hex digits")
        if not _is_int(statement["ciphertext_size"]) or statement["ciphertext_size"] < 0:
            raise BidSignatureInvalid("statement.ciphertext_size is not a size")
        if not isinstance(document["cms"], str) or not isinstance(document["certificate"], str):
            raise BidSignatureInvalid("cms and certificate must be strings")
        cms_der = base64.b64decode(document["cms"].encode("ascii"), validate=True)
        certificate = x509.load_pem_x509_certificate(document["certificate"].encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise BidSignatureInvalid(f"the signature file is malformed: {exc}") from None
    return EnvelopeSignature(statement, cms_der, certificate)


# --------------------------------------------------------------------------------------------- seal


@dataclass(frozen=True)
class SealResult:
    out_path: str
    sig_path: str
    ciphertext_sha256: str
    ciphertext_size: int
    plaintext_size: int
    manifest: dict[str, Any]
    statement: dict[str, Any]


class _HashingWriter:
    """The ciphertext's way to disk, hashed as it is written (on the output thread).

    With ``sync``, OUT is fsynced before it is renamed into place. Left to the end, that flush of
    the whole file costs about as long again as the encryption; so every ``_WRITEBACK`` bytes the
    kernel is asked to start writing out what has accumulated (POSIX_FADV_DONTNEED starts writeback
    of dirty pages on Linux and drops them from the cache once clean: OUT is not read back).
    Elsewhere this is a no-op and the final fsync does all the work.
    """

    _WRITEBACK = 32 * 1024 * 1024

    def __init__(self, file: BinaryIO, *, sync: bool) -> None:
        self._file = file
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._flushed = 0
        self._fadvise = getattr(os, "posix_fadvise", None) if sync else None

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += self._file.write(view[written:]) or 0
        self.sha256.update(view)
        self.size += written
        if self._fadvise is not None and self.size - self._flushed >= self._WRITEBACK:
            self._file.flush()
            self._fadvise(
                self._file.fileno(), self._flushed, self.size - self._flushed, os.POSIX_FADV_DONTNEED
            )
            self._flushed = self.size
        return written


def _temp_beside(path: str) -> tuple[str, BinaryIO]:
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=folder)
    return tmp, open(fd, "wb")


def _opening_workers(workers: int | None) -> int:
    """Cipher threads for opening a part: one core is left to the output thread.

    That thread writes and hashes the files, about as much work per byte as the cipher, and every
    byte has to pass through it in order. More cipher threads than the cores left beside it only
    take the core from it: on two cores one cipher thread opens a part 6% faster than two (measured
    by bench/seal). Sealing has two such streams (the files hashed as they are read, the ciphertext
    as it is written) and is fastest with age's default, a cipher thread per core.
    """
    return max(1, age.available_cpus() - 1) if workers is None else workers


def _spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def seal(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    recipients: Sequence[age.Recipient],
    certificate: x509.Certificate,
    private_key: ec.EllipticCurvePrivateKey,
    tender: str,
    lot: int = 1,
    part: str,
    price_sheet: dict[str, Any] | None = None,
    machine_fingerprint: str,
    tool_version: str,
    tool_name: str = "bidtool",
    now: datetime | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], object] | None = None,
    workers: int | None = None,
    sync: bool = False,
) -> SealResult:
    """Seal the files at ``src`` as one bid part into ``out`` and write the outer signature beside it.

    ``recipients`` must hold the tender's opening key and the tenderer's own recipient (at least two
    distinct keys). ``price_sheet`` is required for the commercial part and refused for the others.
    ``out`` and ``out + ".sig"`` appear (by rename) only when both are complete; on any failure
    neither is left behind. ``progress(done, total)`` counts tar bytes (``total`` is an estimate).

    ``sync`` also makes both durable (fsync of the files and the folder) before returning. It is off
    by default, as in ``age``, ``tar`` and ``gpg``: a sealed part is self-checking and can be made
    again, so the disk's write-back speed need not hold the tenderer up. After a power cut a part
    that did not reach the disk is not taken for a good one: its size and SHA-256 are in the signed
    ``.sig``, which ``bidtool verify`` and the platform's upload check (the upload is refused).
    The copy that has to survive a crash is the platform's, which is fsynced before the receipt is
    signed. ``sync`` is for a part written to a removable disk that may be pulled out at once.
    """
    out = os.path.abspath(os.fspath(out))
    sig = out + ".sig"
    _check_context(tender, lot, part, ValueError)
    if (part == "commercial") != (price_sheet is not None):
        raise PriceSheetInvalid("the commercial part needs a price sheet, and only the commercial part")
    if price_sheet is not None:
        validate_price_sheet(price_sheet)
    unique = list(dict.fromkeys(recipients))
    if len(unique) < 2:
        raise ValueError("seal to the tender's opening key and to the tenderer's own recipient")
    if not _HEX64.fullmatch(machine_fingerprint):
        raise ValueError("machine_fingerprint must be 64 lowercase hex digits")
    if _spki(private_key.public_key()) != _spki(certificate.public_key()):
        raise BidKeyMismatch("the signing key does not belong to the certificate")
    identity = ca.identity_of(certificate)
    if identity.credit_code is None or not identity.org_name:
        raise ca.CertificateWrongProfile("the certificate names no organisation with a credit code")
    created_at = _now_rfc3339(now or datetime.now(UTC))
    sources = collect_sources(src)
    if not overwrite:
        for path in (out, sig):
            if os.path.lexists(path):
                raise FileExistsError(f"{path} exists")

    manifest: dict[str, Any] = {}

    def finish(files: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
        manifest.update(
            {
                "v": 1,
                "type": MANIFEST_TYPE,
                "tender": tender,
                "lot": lot,
                "part": part,
                "tenderer": {"credit_code": identity.credit_code, "name": identity.org_name},
                "files": files,
                "tool": {"name": tool_name, "version": tool_version},
                "machine_fingerprint_sha256": machine_fingerprint,
                "created_at": created_at,
            }
        )
        if price_sheet is not None:
            manifest["price_sheet"] = price_sheet
        data = canonical_json(manifest)
        if len(data) > MAX_MANIFEST:
            raise BidSourceError("too many files: the manifest would exceed its size limit")
        return [(MANIFEST_NAME, data), (SIGNATURE_NAME, cms.sign_detached(data, certificate, private_key))]

    total = tar_size(sources)
    report = None if progress is None else (lambda done: progress(done, max(total, done)))
    source = _TarSource(_tar_members(sources, finish))
    tmp_out, out_file = _temp_beside(out)
    tmp_sig: str | None = None
    try:
        try:
            writer = _HashingWriter(out_file, sync=sync)
            # File-like enough for age, which only reads (readinto) and writes (write) them.
            result = age.encrypt(
                cast(BinaryIO, source), cast(BinaryIO, writer), unique, progress=report, workers=workers
            )
            out_file.flush()
            if sync:
                os.fsync(out_file.fileno())
        finally:
            out_file.close()
            source.close()
        digest = writer.sha256.hexdigest()
        statement = _statement(tender, lot, part, identity.credit_code, digest, writer.size)
        signature = cms.sign_detached(canonical_json(statement), certificate, private_key)
        tmp_sig, sig_file = _temp_beside(sig)
        with sig_file:
            sig_file.write(_encode_signature_file(statement, signature, certificate))
            sig_file.flush()
            if sync:
                os.fsync(sig_file.fileno())
        os.replace(tmp_out, out)
        try:
            os.replace(tmp_sig, sig)
        except BaseException:
            os.unlink(out)
            raise
        if sync:
            fsync_dir(os.path.dirname(out))
    except BaseException:
        for leftover in (tmp_out, tmp_sig):
            if leftover is not None and os.path.exists(leftover):
                os.unlink(leftover)
        raise
    return SealResult(out, sig, digest, writer.size, result.plaintext_size, manifest, statement)


# -------------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifiedEnvelope:
    statement: dict[str, Any]
    signer: Signer
    recipients: int  # X25519 stanzas in the age header


def _expect(found: dict[str, Any], tender: str | None, lot: int | None, part: str | None) -> None:
    for key, wanted in (("tender", tender), ("lot", lot), ("part", part)):
        if wanted is not None and found[key] != wanted:
            raise BidPartMismatch(
                f"{key} is {found[key]!r}, expected {wanted!r}", field=key, found=found[key], expected=wanted
            )


def verify_envelope(
    out: str | os.PathLike[str],
    sig: str | os.PathLike[str] | None = None,
    *,
    chain: Sequence[x509.Certificate] | None,
    crl: x509.CertificateRevocationList | None,
    at: datetime,
    tender: str | None = None,
    lot: int | None = None,
    part: str | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> VerifiedEnvelope:
    """Check OUT against its outer signature: what the platform does before it issues a receipt.

    Cheap checks first (the signature over the statement, the signer, the expected tender, lot and
    part), then the SHA-256 and size of OUT, then its age header (two recipients at least). Needs no
    key, and learns nothing about the plaintext.
    """
    out = os.fspath(out)
    sig = os.fspath(sig) if sig is not None else out + ".sig"
    with open(sig, "rb") as f:
        envelope = read_envelope_signature(f.read(MAX_SIG_FILE + 1))
    statement = envelope.statement
    signer = _verify_signature(
        envelope.cms_der, envelope.statement_bytes(), chain=chain, crl=crl, at=at, what="outer"
    )
    if signer.certificate != envelope.certificate:
        raise BidSignerMismatch("the certificate in the signature file is not the one that signed")
    if signer.identity.credit_code != statement["tenderer"]:
        raise BidSignerMismatch(
            f"signed by {signer.identity.credit_code}, but the statement names {statement['tenderer']}"
        )
    _expect(statement, tender, lot, part)

    digest = hashlib.sha256()
    size = 0
    total = os.path.getsize(out)
    hasher = _Hasher()
    try:
        with open(out, "rb", buffering=0) as f:
            # Two buffers: one is read into while the other is being hashed.
            buffers = [bytearray(1024 * 1024), bytearray(1024 * 1024)]
            turn = 0
            while n := f.readinto(buffers[turn]):
                hasher.wait()
                hasher.submit(digest, memoryview(buffers[turn])[:n])
                turn ^= 1
                size += n
                if progress is not None:
                    progress(size, max(total, size))
            hasher.wait()
            if digest.hexdigest() != statement["ciphertext_sha256"] or size != statement["ciphertext_size"]:
                raise BidCiphertextMismatch("the file is not the one the signature covers")
            f.seek(0)
            header = age.read_header(f)
    finally:
        hasher.close()
    if header.x25519_stanza_count < 2:
        raise BidEnvelopeInvalid("the envelope must be sealed to the opening key and the tenderer's own key")
    return VerifiedEnvelope(statement, signer, header.x25519_stanza_count)


# ---------------------------------------------------------------------------------------------- open


class _HashingReader:
    """The stored envelope as the decryptor reads it, hashed on the way: the receipt's SHA-256 is
    checked in the same pass that decrypts, not in a second read of the file.

    Each block is hashed on a thread of its own (``_Hasher``) while the cipher works on it: hashing on
    the reading thread held up the read-ahead, and opening took up to twice as long (bench/opening).
    A block is not read over before its hash is done: the next read waits for it.
    """

    def __init__(self, file: io.BufferedIOBase) -> None:
        self._file = file
        self._hasher = _Hasher()
        self.digest = hashlib.sha256()
        self.size = 0

    def _seen(self, data: bytes | memoryview) -> None:
        self._hasher.submit(self.digest, memoryview(data))
        self.size += len(data)

    def readinto(self, view: memoryview | bytearray) -> int:
        self._hasher.wait()
        n = self._file.readinto(view)
        if n:
            self._seen(memoryview(view)[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        self._hasher.wait()
        data = self._file.read(size)
        self._seen(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        self._hasher.wait()
        data = self._file.readline(size)
        self._seen(data)
        return data

    def finish(self) -> tuple[str, int]:
        """Hash whatever the decryptor did not read (it stops at the first bad chunk)."""
        try:
            self._hasher.wait()
            while chunk := self._file.read(1024 * 1024):
                self._seen(chunk)
                self._hasher.wait()
        finally:
            self._hasher.close()
        return self.digest.hexdigest(), self.size


@dataclass(frozen=True)
class OpenedPart:
    dest: str
    manifest: dict[str, Any]
    signer: Signer


def open_part(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    identities: Sequence[age.Identity] | None = None,
    file_key: bytes | None = None,
    chain: Sequence[x509.Certificate] | None = None,
    crl: x509.CertificateRevocationList | None = None,
    at: datetime,
    tender: str | None = None,
    lot: int | None = None,
    part: str | None = None,
    progress: Callable[[int, int], object] | None = None,
    workers: int | None = None,
    sync: bool = False,
    expect_sha256: str | None = None,
    expect_size: int | None = None,
) -> OpenedPart:
    """Decrypt a sealed part into the new folder ``dest`` and check it; nothing appears on failure.

    ``expect_sha256`` (and ``expect_size``), the envelope as receipted: the file is hashed while it is
    decrypted, and if it is not that one, :class:`StoredPartAltered` is raised whatever else went
    wrong, since a changed envelope explains every later failure and it is not the tenderer's doing.

    Give ``identities`` (the tenderer's own, or the reconstructed opening key) or, for online
    decryption, the 16-byte ``file_key``. Files are extracted into a private temporary folder beside
    ``dest`` while being hashed; only when the tar ended properly, the files match the manifest, the
    inner signature holds for the tenderer the manifest names, and tender, lot and part are as
    expected, is that folder renamed to ``dest``. Signer checks go as far as ``chain`` and ``crl``
    allow: see :class:`Assurance`.

    ``sync`` makes every file and folder durable before the rename and the rename before returning:
    the platform records a part as opened only once its files would survive a power cut. It costs
    the disk's write speed (measured by bench/opening), so bidtool, like ``age -d``, does without.
    """
    if (identities is None) == (file_key is None):
        raise ValueError("give either identities or file_key")
    src = os.fspath(src)
    dest = os.path.abspath(os.fspath(dest))
    if os.path.lexists(dest):
        raise FileExistsError(f"{dest} exists")
    parent = os.path.dirname(dest)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(dest)}.", suffix=".part", dir=parent)
    unpacker = _Unpacker(tmp, sync=sync)
    total = os.path.getsize(src)
    report = None if progress is None else (lambda done: progress(done, max(total, done)))
    try:
        try:
            workers = _opening_workers(workers)
            with open(src, "rb") as f:
                reader = _HashingReader(f) if expect_sha256 is not None else f
                # age reads with read/readline/readinto, which the hashing reader has (duck-typed)
                source = cast(BinaryIO, reader)
                try:
                    if file_key is not None:
                        age.decrypt_with_file_key(
                            source, cast(BinaryIO, unpacker), file_key, progress=report, workers=workers
                        )
                    else:
                        assert identities is not None
                        age.decrypt(
                            source, cast(BinaryIO, unpacker), identities, progress=report, workers=workers
                        )
                finally:
                    if isinstance(reader, _HashingReader):
                        _check_stored(reader, expect_sha256, expect_size)
        finally:
            unpacker.abort()
        unpacker.finish()
        assert unpacker.manifest is not None and unpacker.signature is not None
        manifest = _parse_manifest(unpacker.manifest)
        _compare_files(manifest["files"], unpacker.members)
        signer = _verify_signature(
            unpacker.signature, unpacker.manifest, chain=chain, crl=crl, at=at, what="inner"
        )
        named = manifest["tenderer"]
        if signer.identity.credit_code != named["credit_code"] or signer.identity.org_name != named["name"]:
            raise BidSignerMismatch(
                f"signed by {signer.identity.credit_code} {signer.identity.org_name!r}, but the manifest"
                f" names {named['credit_code']} {named['name']!r}"
            )
        _expect(manifest, tender, lot, part)
        for name, data in ((MANIFEST_NAME, unpacker.manifest), (SIGNATURE_NAME, unpacker.signature)):
            with open(os.path.join(tmp, name), "xb") as f:
                f.write(data)
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
        if sync:
            for folder in reversed(unpacker.folders):
                fsync_dir(folder)
        os.rename(tmp, dest)
        if sync:
            fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return OpenedPart(dest, manifest, signer)


def _check_stored(reader: _HashingReader, sha256: str | None, size: int | None) -> None:
    found, length = reader.finish()
    if found != sha256 or (size is not None and length != size):
        raise StoredPartAltered(
            f"the stored envelope is not the one receipted (SHA-256 {found}, {length} bytes)",
            stored_sha256=found,
            stored_size=length,
        )


def _compare_files(listed: list[dict[str, Any]], members: list[_Member]) -> None:
    if len(listed) != len(members):
        raise BidManifestMismatch(f"the manifest lists {len(listed)} files, the tar holds {len(members)}")
    for entry, member in zip(listed, members, strict=True):
        if entry["name"] != member.name:
            raise BidManifestMismatch(
                f"the tar holds {member.name!r} where the manifest lists {entry['name']!r}", name=member.name
            )
        if entry["size"] != member.size or entry["sha256"] != member.sha256:
            raise BidManifestMismatch(f"{member.name!r} differs from the manifest", name=member.name)
