"""Making a rename durable: the new directory entry must reach the disk, not only the file."""

from __future__ import annotations

import errno
import os

__all__ = ["fsync_dir"]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync the folder ``path``, after a file in it was created, renamed or removed.

    Windows has no directory descriptors (NTFS journals the rename itself), and a few file systems
    cannot sync a folder (EINVAL): both are skipped. Any other error, a failing disk above all, is
    raised, since whoever asked for durability must not be told it was had.
    """
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)
