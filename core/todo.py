"""The dashboard as each person's to-do list (ARCHITECTURE.md, "Presentation": each role's dashboard is
its to-do list; every task is reachable by links).

A domain package says, per role, what the signed-in person must do now: ``register(app, Role.AGENCY,
answers_due)``, where ``answers_due(session, user, now)`` yields :class:`Todo` items: a sentence in the
page's language (with its count), where it is done, and by when (the rule that sets the time limit).
The dashboard lists them all, soonest deadline first, so what is overdue comes on top and what has no
time limit comes last. Providers read; they never change anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from accounts.models import User

EXTENSION = "sunbid.todo"


@dataclass(frozen=True)
class Todo:
    """One thing to do: ``text`` says what (with its count, in the page's language), ``href`` where."""

    text: str
    href: str
    subject: str = ""  # what it is about: a tender's code and title, a company
    due: datetime | None = None  # by when; None: no time limit, do it when you can
    rule: str | None = None  # the rule that sets the time limit (R-T4...)
    count: int = 1
    key: str = ""  # a stable name for the item on the page (id="todo-KEY"), where one is useful

    def overdue(self, now: datetime) -> bool:
        return self.due is not None and now >= self.due


Provider = Callable[[Session, "User", datetime], Iterable[Todo]]


def register(app: Flask, role: Any, provider: Provider) -> None:
    app.extensions.setdefault(EXTENSION, {}).setdefault(str(role), []).append(provider)


def for_user(session: Session, user: User, now: datetime) -> list[Todo]:
    """Everything the person's role has to do now, soonest deadline first, undated last."""
    items = [
        item
        for provider in current_app.extensions.get(EXTENSION, {}).get(str(user.role), [])
        for item in provider(session, user, now)
    ]
    return sorted(items, key=lambda item: (item.due is None, item.due or now, item.text))
