"""Audit entries in words, for the supervisor's page and its CSV export: who did what to which tender.

The audit package knows no domain package, so the packages that own tenders tell it, at start-up:

- ``register_tender_finder(find)``: ``find(session, code) -> tender id or None`` (by the human code);
- ``register_tender_names(names)``: ``names(session, tender ids) -> {id: code}``;
- ``register_tender_targets(targets)``: ``targets(session, tender id) -> target ids`` of the records that
  belong to that tender (its bids, deposits, documents, draws...), so "this tender's trail" finds them.

An entry's action reads through core.labels (kind ``audit.action``); its actor by display name and role.
Which entries a supervisor may see is decided by the query (audit.queries), not here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import Session

from audit import log
from core.labels import label

_FINDER = "sunbid.audit.tender_finder"
_NAMES = "sunbid.audit.tender_names"
_TARGETS = "sunbid.audit.tender_targets"


def register_tender_finder(app, find: Callable[[Session, str], uuid.UUID | None]) -> None:
    app.extensions[_FINDER] = find


def register_tender_names(app, names: Callable[[Session, set[str]], dict[str, str]]) -> None:
    app.extensions[_NAMES] = names


def register_tender_targets(app, targets: Callable[[Session, uuid.UUID], Iterable[str]]) -> None:
    app.extensions.setdefault(_TARGETS, []).append(targets)


def find_tender(session: Session, code: str) -> uuid.UUID | None:
    find = current_app.extensions.get(_FINDER)
    return find(session, code.strip()) if find and code.strip() else None


def tender_target_ids(session: Session, tender_id: uuid.UUID) -> set[str]:
    ids = {str(tender_id)}
    for targets in current_app.extensions.get(_TARGETS, []):
        ids.update(str(t) for t in targets(session, tender_id))
    return ids


@dataclass(frozen=True)
class Line:
    """One entry as a sentence: "<time> <who> (<role>) <did what> · <tender>"."""

    index: int
    time: datetime
    who: str
    role: str
    what: str
    tender_id: str | None
    tender_code: str | None
    ip: str | None
    leaf_hash: str


def _tender_of(entry: Any, leaf: dict) -> str | None:
    if entry.target_type == "tenders":
        return entry.target_id
    tender = (leaf.get("data") or {}).get("tender")
    return str(tender) if tender else None


def claimed_user(entry: Any) -> uuid.UUID | None:
    """The account an entry with no actor is about (a refused sign-in: wrong password or code, a locked
    account). Nobody proved to be that person, so the line must not say they did it."""
    if entry.actor_id or entry.target_type != "users" or not entry.target_id:
        return None
    try:
        return uuid.UUID(entry.target_id)
    except ValueError:
        return None


def _who(entry: Any, names: dict[Any, str]) -> str:
    if entry.actor_id:
        return names.get(entry.actor_id) or label("audit.who", "gone")
    claimed = claimed_user(entry)
    if claimed is not None and claimed in names:
        return gettext("someone signing in as %(name)s", name=names[claimed])
    if entry.action.startswith("accounts."):  # a sign-in refused before anyone was known
        return gettext("someone signing in")
    return label("audit.who", "platform")


def describe(session: Session, entries: Iterable[Any], names: dict[Any, str]) -> list[Line]:
    """``names``: display names by actor id (the caller looks them up once per page)."""
    # A revealed sealed entry is described by its content (the leaf holds only its commitment).
    rows = [(entry, log.content(entry)) for entry in entries]
    tender_ids = {t for entry, leaf in rows if (t := _tender_of(entry, leaf))}
    codes = (
        current_app.extensions[_NAMES](session, tender_ids)
        if tender_ids and _NAMES in current_app.extensions
        else {}
    )
    lines = []
    for entry, leaf in rows:
        tender = _tender_of(entry, leaf)
        lines.append(
            Line(
                index=entry.index,
                time=entry.created_at,
                who=_who(entry, names),
                role=label("role", entry.actor_role) if entry.actor_role else "",
                what=label("audit.action", entry.action),
                tender_id=tender if tender in codes else None,
                tender_code=codes.get(tender) if tender else None,
                ip=entry.ip if entry.ip not in (None, "demo") else None,
                leaf_hash=entry.leaf_hash.hex(),
            )
        )
    return lines
