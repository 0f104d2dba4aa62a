"""The tamper-evident audit log (全程记实, R-R1).

``audit.record(session, actor, action, target, data, ip)`` is the one way to log an action. This module
resolves its names lazily so that ``python -m audit.verify`` (the offline verifier) needs no Flask.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "record": ("audit.log", "record"),
    "AuditEntry": ("audit.models", "AuditEntry"),
    "init_app": ("audit.setup", "init_app"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)
