"""File names people give us, made safe to keep and to show.

A name comes from the uploader's machine and goes back out in Content-Disposition headers and on pages
read by others, so it must not carry a path (``../``, ``C:\\``), control characters, or invisible
formatting: a right-to-left override (U+202E) can make ``报价表\u202efdp.exe`` read as ``报价表exe.pdf``.
Names are NFC-normalised, reduced to their last path component, stripped of every control (Cc) and
format (Cf: bidi controls, zero-width characters) character, and cut to a length.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 200
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean(name: str | None, *, max_length: int = MAX_LENGTH) -> str:
    """The safe form of ``name``; empty when nothing safe is left (the caller decides what then)."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(" " if ch in "\t\r\n" else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".").strip()
    if len(text) > max_length:
        _stem, dot, suffix = text.rpartition(".")
        keep = suffix if dot and len(suffix) <= 10 else ""
        text = text[: max_length - len(keep) - 1].rstrip() + "." + keep if keep else text[:max_length]
    return text
