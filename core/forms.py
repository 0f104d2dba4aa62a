"""Form helpers shared by the domain packages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms.fields.choices import SelectChoice


def options(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """Select choices from (value, label) pairs (WTForms 3.3 deprecates plain tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]
