"""The one registry of words that pages show for enum values and codes, in the page's language.

Pages never print a machine value (ARCHITECTURE.md, "Presentation"): a status, role, decision, audit
action or error code goes through here.

Add labels (in your package's ``labels.py``, imported by its ``init_app``)::

    from flask_babel import lazy_gettext as _l
    from core.labels import register

    register("deposits.status", {"held": _l("held"), "refunded": _l("refunded")})

then ``make extract`` and translate the new strings in both catalogues.

Show one in a template: ``{{ deposit.status|label("deposits.status") }}``; in Python:
``label("deposits.status", deposit.status)``. Choices for a form: ``choices("deposits.status")``.

Kinds named ``<table>.<column>`` hold the values a column's CheckConstraint allows; a test
(tests/core/test_labels.py) fails when one of them has no label, or a label no translation. Other kinds:
``role``, ``phase`` (a tender's derived phase), ``audit.action`` (a verb phrase: "submitted a bid"),
``error`` (a sentence for an error code that came without a message), ``field`` (a form or API field).
A value without a label is a bug: under tests and debug it raises ``MissingLabel``; in production it is
logged and the value shown as is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from flask import current_app, has_app_context

log = logging.getLogger("sunbid.labels")

_REGISTRY: dict[str, dict[str, Any]] = {}


class MissingLabel(LookupError):
    pass


def register(kind: str, labels: Mapping[str, Any]) -> None:
    """Add ``{value: lazy translated text}`` to ``kind``; registering the same value twice is an error."""
    known = _REGISTRY.setdefault(kind, {})
    for value, text in labels.items():
        if value in known and known[value] is not text:
            raise ValueError(f"label {kind}:{value} is registered twice")
        known[value] = text


def _key(value: Any) -> str:
    return str(value.value if isinstance(value, Enum) else value)


def has(kind: str, value: Any) -> bool:
    return _key(value) in _REGISTRY.get(kind, {})


def label(kind: str, value: Any, default: Any = None) -> str:
    """The words for ``value`` of ``kind`` in the current language ("—" for nothing)."""
    if value is None or value == "":
        return "—"
    text = _REGISTRY.get(kind, {}).get(_key(value))
    if text is not None:
        return str(text)
    if default is not None:
        return str(default)
    if not has_app_context() or current_app.testing or current_app.debug:
        raise MissingLabel(f"no label for {kind}:{value}")
    log.error("no label for %s:%s", kind, value)
    return _key(value)


def choices(kind: str, only: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``(value, words)`` pairs for a select field, in registration order."""
    known = _REGISTRY.get(kind, {})
    return [(value, str(text)) for value, text in known.items() if only is None or value in only]


def kinds() -> dict[str, dict[str, Any]]:
    """Every kind and its labels (for tests)."""
    return {kind: dict(labels) for kind, labels in _REGISTRY.items()}


def values() -> set[str]:
    """Every registered machine value (the crawler looks for them on pages)."""
    return {value for labels in _REGISTRY.values() for value in labels}
