"""The roles people act in (ARCHITECTURE.md, "Who uses it")."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l

from core.labels import register


class Role(StrEnum):
    TENDERER = "tenderer"
    AGENCY = "agency"
    TENDEREE = "tenderee"
    EXPERT = "expert"
    SUPERVISOR = "supervisor"
    NOTARY = "notary"
    ADMIN = "admin"

    @property
    def label(self) -> Any:
        return ROLE_LABELS[self]

    @property
    def needs_second_factor(self) -> bool:
        return self in SECOND_FACTOR_ROLES


ROLE_LABELS = {
    Role.TENDERER: _l("Tenderer"),
    Role.AGENCY: _l("Agency"),
    Role.TENDEREE: _l("Tenderee"),
    Role.EXPERT: _l("Expert"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.NOTARY: _l("Notary"),
    Role.ADMIN: _l("Administrator"),
}

register("role", {str(role): text for role, text in ROLE_LABELS.items()})
register("users.role", {str(role): text for role, text in ROLE_LABELS.items()})

# People who run procedures, evaluate, decide or oversee must prove a second factor (issue 2). The
# tenderee's officer decides the award among the candidates (R-A2) and records the contract: a guessed or
# phished password alone must not do that. Tenderers sign with their certificate instead.
SECOND_FACTOR_ROLES = frozenset(
    {Role.AGENCY, Role.TENDEREE, Role.EXPERT, Role.SUPERVISOR, Role.NOTARY, Role.ADMIN}
)

# People who may hold a share of a tender's opening key (R-B4, R-B6): the agency, a supervising
# authority, and an independent notary (or a second authority).
CUSTODIAN_ROLES = frozenset({Role.AGENCY, Role.SUPERVISOR, Role.NOTARY})
