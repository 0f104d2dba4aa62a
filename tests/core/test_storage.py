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
