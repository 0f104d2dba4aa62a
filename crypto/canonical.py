"""Canonical JSON: the byte form that is hashed or signed (audit leaves, receipts, manifests).

Keys sorted, no insignificant whitespace, UTF-8 without escaping non-ASCII, and no floats: with
integers, strings, booleans and null only, this coincides with RFC 8785 (JCS) for ASCII keys, so any
language can reproduce the bytes. Money is integer fen; times are strings.
"""

from __future__ import annotations

import json
from typing import Any


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise ValueError(f"{path}: integer outside the interoperable range")
        return
    if isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in canonical JSON")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for n, item in enumerate(value):
            _check(item, f"{path}[{n}]")
        return
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
