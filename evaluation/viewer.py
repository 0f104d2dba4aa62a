"""How a bid file is shown in the evaluation room: PDFs in the browser's own viewer, images and text
inline, archives as a list of what they hold; anything else is offered for download. Only these few
types are ever served inline (a bidder's HTML or SVG could run script in the member's session)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

INLINE = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
ARCHIVES = (".zip", ".tar", ".tgz", ".gz")
TEXT_LIMIT = 200_000  # characters shown inline; the rest is in the download
ARCHIVE_LIMIT = 2_000  # entries listed


def kind(path: Path) -> str:
    """pdf, image, text, archive or other."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return "pdf"
    if INLINE.get(suffix, "").startswith("image/"):
        return "image"
    if INLINE.get(suffix, "").startswith("text/"):
        return "text"
    if suffix in ARCHIVES:
        return "archive"
    return "other"


def mimetype(path: Path) -> tuple[str, bool]:
    """The type to serve and whether it is shown inline."""
    suffix = path.suffix.lower()
    if suffix in INLINE:
        return INLINE[suffix], True
    return "application/octet-stream", False


def text_of(path: Path) -> str:
    raw = path.read_bytes()[: TEXT_LIMIT * 4]
    for encoding in ("utf-8", "gb18030"):  # Chinese documents come in either
        try:
            return raw.decode(encoding)[:TEXT_LIMIT]
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")[:TEXT_LIMIT]


def archive_entries(path: Path) -> list[dict]:
    """What an archive holds (names and sizes), without unpacking it; [] when it cannot be read."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return [
                    {"name": i.filename, "size": i.file_size}
                    for i in archive.infolist()[:ARCHIVE_LIMIT]
                    if not i.is_dir()
                ]
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                entries = []
                for member in archive:
                    if member.isfile():
                        entries.append({"name": member.name, "size": member.size})
                    if len(entries) >= ARCHIVE_LIMIT:
                        break
                return entries
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return []
    return []
