"""Content-addressed file store for bid envelopes and documents.

Files are named by their sha256. A write streams into a temporary file in the store, is fsynced, and
is renamed into place (and the directory fsynced) before the caller commits the row that points at it:
a crash can leave a temporary file, never a half file under a real name, and never a row without its
file. ``sweep()`` removes temporaries left by a crash and files no row refers to.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from flask import Flask, current_app

from core.errors import Invalid, TooLarge
from crypto.durable import fsync_dir

if TYPE_CHECKING:
    from _typeshed import SupportsRead

CHUNK = 1024 * 1024
_EXTENSION = "sunbid.storage"
WRITE_BACK_EVERY = 16 * CHUNK


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int


class FileStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)  # sealed bids: owner only
        self.root.chmod(0o700)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise Invalid(code="bad_digest", details={"sha256": sha256})
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(
        self,
        stream: SupportsRead[bytes],  # a file, a request's stream, or a reader wrapping one
        *,
        max_size: int | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> StoredFile:
        """Stream ``stream`` into the store in constant memory; returns its digest and size."""
        digest = hashlib.sha256()
        size = written_back = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        try:
            # A chunk is hashed on another core while it is written and the next one arrives (hashlib
            # lets go of the GIL): a GiB bid part streams at disk speed, not at hash + write + read.
            with os.fdopen(fd, "wb") as out, ThreadPoolExecutor(1, thread_name_prefix="sha256") as hasher:
                hashing = None
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise TooLarge(code="file_too_large", details={"max_size": max_size})
                    if on_chunk:
                        on_chunk(chunk)
                    if hashing is not None:
                        hashing.result()
                    hashing = hasher.submit(digest.update, chunk)
                    out.write(chunk)
                    if size - written_back >= WRITE_BACK_EVERY:
                        out.flush()
                        _let_go(out.fileno(), written_back, size - written_back)
                        written_back = size
                if hashing is not None:
                    hashing.result()
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            _make_folders(final.parent)
            os.replace(tmp_name, final)
            fsync_dir(final.parent)
            return StoredFile(sha, size)
        except BaseException:
            _unlink_quietly(tmp_name)
            raise

    def partial(self, name: str) -> Path:
        """A resumable upload's growing file, outside ``tmp`` (which ``sweep`` clears): an upload may
        wait for days for a closed laptop to come back."""
        folder = self.root / "partial"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / name

    def write_partial(self, path: Path, offset: int, pieces: Iterable[bytes]) -> None:
        """Put ``pieces``, one after the other, at ``offset`` of a resumable upload's file, durably.
        Bytes past ``offset`` are cut first: a crash between writing and committing leaves some beyond
        the recorded offset.

        Write pieces of about CHUNK: on our bench machine (ext4 in a virtual machine) one 16 MiB write()
        took 20-110 ms where the same bytes in 1 MiB writes took 2-4 ms (the upload path, issue 15)."""
        with open(path, "r+b" if path.exists() else "w+b") as f:
            f.truncate(offset)
            f.seek(offset)
            for piece in pieces:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
            _let_go(f.fileno(), offset, f.tell() - offset)

    def digest_partial(self, path: Path, length: int, tail: Iterable[bytes]) -> StoredFile | None:
        """The digest that a resumable upload's file will have once ``tail`` is written at ``length``
        (None if it holds fewer bytes): taken before the last chunk is kept, so that the write lock
        is not held while GiBs are hashed (on SQLite every writer of the platform would wait)."""
        found = _digest_file(path, length, tail)
        return None if found is None else StoredFile(*found)

    def adopt(self, path: Path, known: StoredFile | None = None) -> StoredFile:
        """Move a complete file (a finished resumable upload, already fsynced) into the store under
        its digest, computed here (never taken from the sender): now, or by ``digest_partial`` from
        the same bytes."""
        found = (known.sha256, known.size) if known is not None else _digest_file(path)
        if found is None:
            raise FileNotFoundError(path)
        sha, size = found
        if known is not None and path.stat().st_size != size:
            raise FileNotFoundError(path)
        final = self.path_for(sha)
        _make_folders(final.parent)
        os.replace(path, final)
        fsync_dir(final.parent)
        return StoredFile(sha, size)

    def put_bytes(self, data: bytes) -> StoredFile:
        return self.put_stream(io.BytesIO(data))

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def sweep(self, referenced: Iterable[str], *, older_than: float = 0.0) -> list[str]:
        """Delete crash leftovers and unreferenced files older than ``older_than`` seconds.

        The grace period matters when several hosts share the store: a file written a moment ago may
        belong to an upload whose database row is about to commit on another host.
        """

        keep = set(referenced)
        cutoff = time.time() - older_than
        removed: list[str] = []
        for leftover in self.tmp.iterdir():
            if leftover.stat().st_mtime <= cutoff:
                _unlink_quietly(leftover)
        for path in self.root.glob("??/??/*"):
            if path.name not in keep and path.stat().st_mtime <= cutoff:
                _unlink_quietly(path)
                removed.append(path.name)
        # A part opened at the opening goes to opened/<tender>/<bid>/<part>, through a temporary folder
        # beside it (crypto.bidpack: ".<part>.*.part", renamed when complete) that a crash leaves
        # behind. Only that level: deeper down are the tenderers' own file names.
        for leftover in list(self.root.glob("opened/*/*/.*.part")):
            if leftover.lstat().st_mtime <= cutoff:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    _unlink_quietly(leftover)
        return removed


# -- checking the store against the digests the database recorded --------------------------------------


@dataclass(frozen=True)
class FileOwner:
    """A stored file as the database knows it: its recorded digest (and size), and whose it is."""

    sha256: str
    size: int | None
    tender: str | None  # the tender's code, to report by tender
    what: str  # e.g. "bid <id> technical", "document 招标文件.pdf"
    ref: tuple[object, ...] = ()  # the owner's row (kind, id), for whoever records the finding


@dataclass(frozen=True)
class Finding:
    owner: FileOwner
    status: str  # ok | missing | altered
    found_sha256: str | None = None
    found_size: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


VERIFY_BLOCK = 1024 * 1024


def _digest_file(path: Path, length: int | None = None, tail: Iterable[bytes] = ()) -> tuple[str, int] | None:
    """SHA-256 and size of ``path`` (its first ``length`` bytes only, if given) followed by ``tail``."""
    digest = hashlib.sha256()
    size = dropped = 0
    buffer = bytearray(VERIFY_BLOCK)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as f:
            while (length is None or size < length) and (n := f.readinto(buffer)):
                n = n if length is None else min(n, length - size)
                digest.update(view[:n])  # hashlib lets go of the GIL: files hash on every core
                size += n
                if size - dropped >= WRITE_BACK_EVERY:
                    _let_go(f.fileno(), dropped, size - dropped)
                    dropped = size
    except FileNotFoundError:
        if length != 0:  # a part that is all in its first chunk has no file yet
            return None
    if length is not None and size != length:
        return None
    for piece in tail:
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size


def verify_files(store: FileStore, owners: Iterable[FileOwner], workers: int | None = None) -> list[Finding]:
    """Hash every file ``owners`` name and compare with the digest (and size) recorded for it.

    A file is hashed once even when several rows name it (the store is content-addressed)."""
    owners = list(owners)
    digests: dict[str, tuple[str, int] | None] = {}
    unique = sorted({o.sha256 for o in owners})
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max(1, workers or cpus), thread_name_prefix="verify") as pool:
        for sha, result in zip(
            unique, pool.map(lambda sha: _digest_file(store.path_for(sha)), unique), strict=True
        ):
            digests[sha] = result
    findings = []
    for owner in owners:
        found = digests[owner.sha256]
        if found is None:
            findings.append(Finding(owner, "missing"))
        elif found[0] != owner.sha256 or (owner.size is not None and found[1] != owner.size):
            findings.append(Finding(owner, "altered", found[0], found[1]))
        else:
            findings.append(Finding(owner, "ok", found[0], found[1]))
    return findings


def file_owners(app: Flask | None = None) -> list[FileOwner]:
    """Every stored file the database names, with its owner: the domain packages register providers
    under ``sunbid.file_owners``; a file only in ``sunbid.file_refs`` is reported as an unnamed file."""
    app = app or current_app
    owners: list[FileOwner] = []
    for provider in app.extensions.get("sunbid.file_owners", []):
        owners.extend(provider())
    named = {o.sha256 for o in owners}
    for provider in app.extensions.get("sunbid.file_refs", []):
        for sha in provider():
            if sha not in named:
                owners.append(FileOwner(sha, None, None, "file"))
                named.add(sha)
    return owners


def init_store(app: Flask) -> FileStore:
    """Give the app its file store, rooted at STORAGE_PATH (called by create_app)."""
    store = app.extensions[_EXTENSION] = FileStore(app.config["STORAGE_PATH"])
    return store


def file_store(app: Flask | None = None) -> FileStore:
    """The file store of ``app`` (default: the current app): views, tasks and commands reach it here."""
    return cast(FileStore, (app or current_app).extensions[_EXTENSION])


def _let_go(fd: int, offset: int, length: int) -> None:
    """Tell the kernel a range of a file has been dealt with (Linux: POSIX_FADV_DONTNEED starts write-back
    of its dirty pages without waiting and drops them once clean; clean pages are dropped at once).
    A final fsync then waits for the last range only; a GiB part or a store check does not push
    everything else out of the page cache; and the pages one range let go of are the ones the next
    range is read or written into. That last one is speed on a virtual machine whose host backs a
    guest page on its first touch: a GiB into fresh pages cost the server 2-3 s of CPU (issue 15)."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _make_folders(folder: Path) -> None:
    """The two fan-out folders of a file's path; a new folder's name is made durable in its parent too,
    or an OS crash could lose a file whose row (and receipt) had already gone out."""
    for level in (folder.parent, folder):
        if not level.is_dir():
            with contextlib.suppress(FileExistsError):  # another upload made it meanwhile
                level.mkdir(mode=0o700)
            fsync_dir(level.parent)


def _unlink_quietly(path: str | os.PathLike[str]) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
