"""Identity leaks in blind technical bids (暗标): what in a decrypted technical part could tell the
committee whose bid it is.

Checked: document metadata (Office ``docProps`` author, last editor, company, manager; PDF ``/Author``,
``/Creator``, ``/Producer`` and XMP ``dc:creator``), and the bidder's name, short name or unified social
credit code anywhere in the text (Office XML text, plain text files, and the raw bytes of anything else
in UTF-8, UTF-16 and GB18030). Findings never quote the identifying text: the committee learns that
and where a part leaks, not whose it is (R-V1 independence, ARCHITECTURE promise 4).

Pure functions over a folder: no Flask, no database. Reading is bounded (zip bombs, huge files).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

MAX_SCAN = 64 * 1024 * 1024  # bytes read per file for the raw search
MAX_MEMBER = 32 * 1024 * 1024  # uncompressed bytes read per Office zip member
OFFICE_SUFFIXES = {".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm"}
TEXT_SUFFIXES = {".txt", ".md", ".csv", ".html", ".htm", ".xml", ".json", ".rtf"}

_CORE = "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}"
_CORE_FIELDS = {
    "{http://purl.org/dc/elements/1.1/}creator": "author",
    f"{_CORE}lastModifiedBy": "last_modified_by",
}
_APP_FIELDS = {
    "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}Company": "company",
    "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}Manager": "manager",
}
_PDF_INFO = re.compile(rb"/(Author|Creator|Producer|Company)\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)")
_XMP_CREATOR = re.compile(rb"<dc:creator>(.*?)</dc:creator>", re.S)
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Bidder:
    """What identifies a bidder: its registered name, short names, and credit code."""

    name: str
    credit_code: str | None = None
    aliases: tuple[str, ...] = ()

    def needles(self) -> list[str]:
        found = [self.name, *self.aliases]
        if self.credit_code:
            found.append(self.credit_code)
        short = _short_name(self.name)
        if short and short != self.name:
            found.append(short)
        return [n for n in dict.fromkeys(found) if len(n) >= 2]


@dataclass(frozen=True)
class Finding:
    """One leak: where (file, field) and what kind, never the identifying text itself."""

    file: str
    kind: str  # metadata | name_in_text | credit_code_in_text | not_scanned (too big to check)
    field: str  # e.g. author, company, text

    def as_dict(self) -> dict:
        return {"file": self.file, "kind": self.kind, "field": self.field}


_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司")


def _short_name(name: str) -> str | None:
    """北京建工集团有限公司 -> 北京建工集团: companies are often named without their legal form."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 4:
            return name[: -len(suffix)]
    return None


def scan(folder: Path, bidder: Bidder) -> list[Finding]:
    """Every finding in the files under ``folder`` (paths reported relative to it)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())
    return scan_files(Path(folder), files, bidder)


def scan_files(folder: Path, files: Iterable[Path], bidder: Bidder) -> list[Finding]:
    """Every finding in ``files`` (under ``folder``, to which their paths are reported relative)."""
    findings: list[Finding] = []
    for path in files:
        findings.extend(_scan_file(path, path.relative_to(folder).as_posix(), bidder))
    return findings


def _scan_file(path: Path, rel: str, bidder: Bidder) -> Iterator[Finding]:
    suffix = path.suffix.lower()
    if suffix in OFFICE_SUFFIXES and zipfile.is_zipfile(path):
        yield from _scan_office(path, rel, bidder)
        return
    with path.open("rb") as f:
        data = f.read(MAX_SCAN)
    if path.stat().st_size > MAX_SCAN:
        yield Finding(rel, "not_scanned", f"after {MAX_SCAN // (1024 * 1024)} MiB")
    if data.startswith(b"%PDF"):
        yield from _scan_pdf_metadata(data, rel)
    yield from _search(data, rel, "text", bidder, texts=_decodings(data, suffix))


def _decodings(data: bytes, suffix: str) -> list[str]:
    texts = []
    for encoding in ("utf-8", "gb18030", "utf-16"):
        try:
            texts.append(data.decode(encoding))
        except (UnicodeDecodeError, ValueError):
            continue
        if suffix in TEXT_SUFFIXES and encoding == "utf-8":
            break
    return texts


def _search(
    data: bytes, rel: str, field: str, bidder: Bidder, *, texts: Iterable[str] = ()
) -> Iterator[Finding]:
    """The bidder's names and credit code in decoded text, or as raw bytes in a common encoding."""
    texts = list(texts)

    def found(needle: str) -> bool:
        return any(needle in text for text in texts) or any(
            needle.encode(encoding) in data for encoding in ("utf-8", "gb18030", "utf-16-le", "utf-16-be")
        )

    if any(found(n) for n in bidder.needles() if n != bidder.credit_code):
        yield Finding(rel, "name_in_text", field)
    if bidder.credit_code and found(bidder.credit_code):
        yield Finding(rel, "credit_code_in_text", field)


def _scan_office(path: Path, rel: str, bidder: Bidder) -> Iterator[Finding]:
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            if member.file_size > MAX_MEMBER:  # a zip bomb or a giant part: say it went unchecked
                yield Finding(rel, "not_scanned", member.filename)
                continue
            name = member.filename
            if name == "docProps/core.xml":
                yield from _metadata_fields(archive.read(member), _CORE_FIELDS, rel)
            elif name == "docProps/app.xml":
                yield from _metadata_fields(archive.read(member), _APP_FIELDS, rel)
            elif name.endswith(".xml") and (
                name.startswith(("word/", "xl/", "ppt/")) and "/media/" not in name
            ):
                raw = archive.read(member)
                text = _TAGS.sub("", raw.decode("utf-8", errors="replace"))
                yield from _search(raw, rel, name, bidder, texts=[text])


def _metadata_fields(xml: bytes, fields: dict[str, str], rel: str) -> Iterator[Finding]:
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314 - stdlib parser: no external entities are resolved
    except ElementTree.ParseError:
        return
    for element in root.iter():
        label = fields.get(element.tag)
        if label and (element.text or "").strip():
            yield Finding(rel, "metadata", label)


def _scan_pdf_metadata(data: bytes, rel: str) -> Iterator[Finding]:
    seen = set()
    for match in _PDF_INFO.finditer(data):
        key, value = match.group(1).decode().lower(), match.group(2)
        if _pdf_string_is_empty(value) or key in seen:
            continue
        seen.add(key)
        yield Finding(rel, "metadata", key)
    for match in _XMP_CREATOR.finditer(data):
        if (
            _TAGS.sub("", match.group(1).decode("utf-8", errors="replace")).strip()
            and "xmp_creator" not in seen
        ):
            seen.add("xmp_creator")
            yield Finding(rel, "metadata", "xmp_creator")


def _pdf_string_is_empty(value: bytes) -> bool:
    if value.startswith(b"("):
        return not value[1:-1].strip()
    digits = re.sub(rb"\s", b"", value[1:-1])
    return digits in (b"", b"FEFF", b"feff")
