"""Content-addressed file store: atomic, streaming, crash leftovers swept (ARCHITECTURE, Storage)."""

import hashlib
import io
import os

import pytest

from core.errors import TooLarge
from core.storage import FileStore


class Exploding(io.RawIOBase):
    """A client connection that drops after some bytes."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_put_stream_names_file_by_sha256(tmp_path):
    store = FileStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 7)
    stored = store.put_stream(io.BytesIO(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    with store.open(stored.sha256) as f:
        assert f.read() == data
    assert list(store.tmp.iterdir()) == []


def test_interrupted_upload_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(ConnectionResetError):
        store.put_stream(io.BufferedReader(Exploding(5 * 1024 * 1024)))
    assert list(store.tmp.iterdir()) == [] and list(store.root.glob("??/??/*")) == []


def test_size_limit_is_413_and_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(TooLarge) as err:
        store.put_stream(io.BytesIO(b"a" * 2048), max_size=1024)
    assert err.value.status == 413 and list(store.tmp.iterdir()) == []


def test_sweep_removes_crash_leftovers_and_unreferenced_files(tmp_path):
    store = FileStore(tmp_path)
    keep = store.put_bytes(b"keep me")
    orphan = store.put_bytes(b"nobody points at me")
    (store.tmp / "up-crashed").write_bytes(b"half")
    removed = store.sweep([keep.sha256])
    assert removed == [orphan.sha256]
    assert store.exists(keep.sha256) and not store.exists(orphan.sha256)
    assert list(store.tmp.iterdir()) == []


def test_digest_paths_cannot_escape_the_store(tmp_path):
    from core.errors import Invalid

    with pytest.raises(Invalid):
        FileStore(tmp_path).path_for("../../etc/passwd".ljust(64, "a"))


def test_a_resumable_upload_is_kept_under_the_digest_of_its_bytes(tmp_path):
    """The last chunk's part digest is taken before the chunk is written (outside the write lock): it
    must be the digest of exactly the bytes then kept, and a file shorter than claimed has none (R-B2)."""
    store = FileStore(tmp_path / "store")
    path = store.partial("upload-1")
    head, tail = os.urandom(3 * 1024 * 1024 + 5), [os.urandom(1024 * 1024), os.urandom(77)]
    store.write_partial(path, 0, [head, b"leftover of a crash"])
    whole = store.digest_partial(path, len(head), tail)
    assert whole is not None
    assert whole.sha256 == hashlib.sha256(head + b"".join(tail)).hexdigest()
    assert store.digest_partial(path, len(head) + 10**6, tail) is None  # the bytes before are not all there
    store.write_partial(path, len(head), tail)  # the crash leftover is cut first
    assert store.adopt(path, whole) == whole
    with store.open(whole.sha256) as f:
        assert hashlib.sha256(f.read()).hexdigest() == whole.sha256
    # A part that is all in one chunk has no file before it.
    alone = store.digest_partial(store.partial("upload-2"), 0, [b"only chunk"])
    assert alone is not None and alone.sha256 == hashlib.sha256(b"only chunk").hexdigest()
