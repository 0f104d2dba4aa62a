"""Who a conduct record is about: resolving a reference to a subject and taking its snapshot.

Tenderers and agencies are organisations in accounts. Experts' profiles live in ``experts``, which
builds on credit (never the reverse), so experts registers its own resolver at start-up with
``register("expert", resolver)``; until it does, an expert is an accounts user in the expert role, named
by the user id, shown with a masked user name.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Organization, User
from core.roles import Role


@dataclass(frozen=True)
class Subject:
    kind: str
    id: uuid.UUID
    name: str
    identifier: str  # credit code for organisations, a masked identifier for experts


Resolver = Callable[[Session, str], Subject | None]


def _uuid(ref: str) -> uuid.UUID | None:
    with contextlib.suppress(ValueError, AttributeError):
        return uuid.UUID(ref.strip())
    return None


def _organization(kind: str) -> Resolver:
    """An organisation of ``kind`` by id or by its unified social credit code."""

    def resolve(session: Session, ref: str) -> Subject | None:
        ident = _uuid(ref)
        condition = Organization.id == ident if ident else Organization.credit_code == ref.strip().upper()
        org = session.scalar(select(Organization).where(condition, Organization.kind == kind))
        return Subject(kind, org.id, org.name, org.credit_code) if org else None

    return resolve


def mask(text: str) -> str:
    """Enough of an identifier for readers to tell people apart, not enough to look them up."""
    if len(text) <= 2:
        return text[:1] + "*"
    keep = 4 if len(text) >= 12 else 1
    return text[:keep] + "*" * min(len(text) - 2 * keep, 10) + text[-keep:]


def _expert_user(session: Session, ref: str) -> Subject | None:
    ident = _uuid(ref)
    user = session.get(User, ident) if ident else None
    if user is None or user.role != Role.EXPERT:
        return None
    return Subject("expert", user.id, user.display_name, mask(user.username))


_RESOLVERS: dict[str, Resolver] = {
    "tenderer": _organization("tenderer"),
    "agency": _organization("agency"),
    "expert": _expert_user,
}


def register(kind: str, resolver: Resolver) -> None:
    """Let a package that builds on credit say how its subjects are found (experts does for experts)."""
    if kind not in _RESOLVERS:
        raise ValueError(f"unknown subject kind {kind}")
    _RESOLVERS[kind] = resolver


def resolve(session: Session, kind: str, ref: str) -> Subject | None:
    return _RESOLVERS[kind](session, ref)
