"""crypto.durable: a rename counts as durable only once its folder is synced (R-B2, R-B6)."""

from __future__ import annotations

import errno
import os

import pytest

from crypto.durable import fsync_dir


def test_the_folder_itself_is_synced(tmp_path, fsynced):
    (tmp_path / "part.age").write_bytes(b"sealed")
    fsync_dir(tmp_path)
    assert fsynced == [str(tmp_path)]


def failing_fsync(code: int):
    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    return fsync


def test_a_file_system_that_cannot_sync_folders_is_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", failing_fsync(errno.EINVAL))
    fsync_dir(tmp_path)


def test_a_failing_disk_is_reported_not_taken_for_durability(tmp_path, monkeypatch):
    """Whoever asked for durability (a receipt, an opening record) must not be told it was had."""
    monkeypatch.setattr(os, "fsync", failing_fsync(errno.EIO))
    with pytest.raises(OSError) as failed:
        fsync_dir(tmp_path)
    assert failed.value.errno == errno.EIO


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "gone")
