"""Custody of a tender's opening key (R-B4, R-B6): who may hold its shares, and when they get them.

The opening key is split at publication (crypto.opening) 2-of-3 among three custodians from three
different organisations: the tender's agency, a supervising authority, and an independent notary or a
second authority. So no single organisation can rebuild the key, and any two can when a bidder could
not decrypt through no fault of its own.

A custodian's share is sealed twice: to the custodian's own age recipient (only they can read it) and,
at rest, with the platform's data key (a copy of the database alone yields nothing). The platform hands
the sealed share to its custodian only at or after the bid deadline; every request, granted or
refused, is logged. Two custodians who want to open bids early therefore also need the operator's
data key and database, and leave a trace in the log if they ask the platform (docs/threat-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding.lifecycle import deadline_passed
from bidding.models import CustodianShare, Opening, Tender
from core.errors import Conflict, Invalid, NotFound
from core.keys import ColumnCipher
from core.roles import Role
from crypto import age

THRESHOLD = 2  # any two custodians rebuild the key (R-B6); one alone never can
# Custodian kinds, in share order: the tender's agency, its supervising authority, and a third party.
AGENCY, SUPERVISOR, NOTARY, SECOND_AUTHORITY = "agency", "supervisor", "notary", "second_authority"
_SHARE_PURPOSE = "custodian-share"


@dataclass(frozen=True)
class Custodian:
    kind: str
    user: User


def _org(session: Session, user: User) -> Organization | None:
    return session.get(Organization, user.organization_id) if user.organization_id else None


def choose(session: Session, agent: User, supervisor: User | None, third: User | None) -> list[Custodian]:
    """The three custodians of a tender's opening key, or the reason they cannot hold it.

    Three people from three organisations: the publishing agency user, a supervisor of a supervising
    authority, and a notary (or a supervisor of another authority). Each needs a custodian key.
    """
    if supervisor is None or supervisor.role != Role.SUPERVISOR or not supervisor.active:
        raise Invalid(
            _l("Choose a supervisor of the supervising authority as custodian."),
            code="invalid_custodian",
            details={"field": "supervisor"},
        )
    if third is None or third.role not in (Role.NOTARY, Role.SUPERVISOR) or not third.active:
        raise Invalid(
            _l("Choose a notary, or a supervisor of another authority, as the third custodian."),
            code="invalid_custodian",
            details={"field": "notary"},
        )
    third_kind = NOTARY if third.role == Role.NOTARY else SECOND_AUTHORITY
    custodians = [Custodian(AGENCY, agent), Custodian(SUPERVISOR, supervisor), Custodian(third_kind, third)]
    orgs = [c.user.organization_id for c in custodians]
    if None in orgs or len(set(orgs)) != len(orgs):
        raise Invalid(
            _l("The three custodians must belong to three different organisations."),
            code="custodians_not_independent",
            details={"field": "notary"},
        )
    missing = [c for c in custodians if not c.user.custodian_recipient]
    if missing:
        raise Invalid(
            _l(
                "%(names)s must register a custodian key first (account settings).",
                names="、".join(c.user.display_name for c in missing),
            ),
            code="custodian_key_missing",
            details={"field": missing[0].kind, "custodians": [c.kind for c in missing]},
        )
    if len({c.user.custodian_recipient for c in custodians}) != len(custodians):
        raise Invalid(
            _l("Each custodian needs a custodian key of their own."),
            code="invalid_custodian",
            details={"field": "notary"},
        )
    return custodians


def recipients(custodians: list[Custodian]) -> list[tuple[str, age.Recipient]]:
    return [(c.kind, age.Recipient.parse(c.user.custodian_recipient or "")) for c in custodians]


def candidates(session: Session, *roles: Role) -> list[User]:
    """Active people in ``roles`` who have registered a custodian key, by name."""
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_([str(r) for r in roles]), User.active, User.custodian_recipient.is_not(None))
            .order_by(User.display_name)
        )
    )


def _cipher() -> ColumnCipher:
    return ColumnCipher(current_app.config["DATA_KEY"])


def seal_at_rest(age_ciphertext: bytes) -> bytes:
    """The stored form of a share already sealed to its custodian: wrapped again with the data key."""
    return _cipher().seal(_SHARE_PURPOSE, age_ciphertext)


def share_of(session: Session, actor: User, tender: Tender) -> CustodianShare:
    share = session.scalar(
        select(CustodianShare).where(
            CustodianShare.tender_id == tender.id, CustodianShare.custodian_id == actor.id
        )
    )
    if share is None:
        raise NotFound(_l("You hold no share of this tender's opening key."), code="share_not_found")
    return share


def fetch_sealed_share(session: Session, actor: User, tender: Tender, ip: str | None = None) -> tuple:
    """The custodian's share, sealed to their own key, handed over only at or after the bid deadline.

    Before it the request is refused and the refusal logged (R-B4): nobody may hold enough to open a
    bid while bids can still arrive. Returns ``(share row, age ciphertext)``.
    """
    share = share_of(session, actor, tender)
    data = {"custodian": share.role, "x": share.x}
    if not deadline_passed(tender):
        raise Conflict(
            _l("Shares are handed to their custodians only at the bid deadline."),
            code="share_sealed_until_deadline",
            details={"deadline": tender.bid_deadline.isoformat() if tender.bid_deadline else None},
        ).keep(lambda s: audit.record(s, actor, "bidding.share_refused", tender, data, ip))
    if tender.status in ("failed", "cancelled") or _opening_failed(session, tender):
        raise Conflict(
            _l("This tender's bids are not opened: its shares are not needed."),
            code="opening_not_needed",
        ).keep(lambda s: audit.record(s, actor, "bidding.share_refused", tender, data, ip))
    ciphertext = _cipher().open(_SHARE_PURPOSE, share.sealed)
    audit.record(session, actor, "bidding.share_fetched", tender, data, ip)
    return share, ciphertext


def _opening_failed(session: Session, tender: Tender) -> bool:
    opening = session.get(Opening, tender.id)
    return opening is not None and opening.status == "failed"


@dataclass(frozen=True)
class Readiness:
    """Who can hold a share of a new tender's opening key now, and who must first make a custodian key
    (the publish page says so, instead of a form that cannot succeed)."""

    agent_ready: bool
    supervisors_ready: list[User]
    supervisors_missing: list[User]
    notaries_ready: list[User]
    notaries_missing: list[User]

    @property
    def third_possible(self) -> bool:
        """A notary, or a supervisor of a second authority, is there to be the third custodian."""
        authorities = {s.organization_id for s in self.supervisors_ready}
        return bool(self.notaries_ready) or len(authorities) >= 2

    @property
    def can_publish(self) -> bool:
        return self.agent_ready and bool(self.supervisors_ready) and self.third_possible


def readiness(session: Session, actor: User) -> Readiness:
    people = session.scalars(
        select(User)
        .where(User.role.in_([str(Role.SUPERVISOR), str(Role.NOTARY)]), User.active)
        .order_by(User.display_name)
    ).all()
    supervisors = [p for p in people if p.role == Role.SUPERVISOR]
    notaries = [p for p in people if p.role == Role.NOTARY]
    return Readiness(
        actor.custodian_recipient is not None,
        [s for s in supervisors if s.custodian_recipient],
        [s for s in supervisors if not s.custodian_recipient],
        [n for n in notaries if n.custodian_recipient],
        [n for n in notaries if not n.custodian_recipient],
    )
