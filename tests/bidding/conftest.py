"""Fixtures shared by the bidding tests: the people around a tender, and a tender open for bids."""

import uuid
from datetime import timedelta

import pytest

from accounts import pki
from accounts import services as accounts
from bidding.models import Tender
from core import clock
from core.roles import Role
from crypto import age
from tests.bidding.test_tenders import draft, publish


@pytest.fixture
def cast(session, people):
    """An agency user and a supervisor with custodian keys, a tenderee, and their identities."""
    agent = people.user(Role.AGENCY, "agent")
    supervisor = people.user(Role.SUPERVISOR, "watcher")
    notary = people.user(Role.NOTARY, "notary")
    tenderee = people.org("tenderee", "市人民医院")
    identities = {}
    for user in (agent, supervisor, notary):
        identities[user.username] = age.generate_identity()
        accounts.set_custodian_key(session, user, str(identities[user.username].recipient))
    session.commit()
    return {
        "agent": agent,
        "supervisor": supervisor,
        "notary": notary,
        "tenderee": tenderee,
        "identities": identities,
    }


@pytest.fixture
def tender(client, people, cast, session):
    """A published tender with its opening key, the clock just after the documents came out."""
    pki.ensure_ca(session)
    session.commit()
    body = draft(client, people, cast)
    assert publish(client, people, cast, body["id"]).status_code == 200
    session.rollback()
    row = session.get(Tender, uuid.UUID(body["id"]))
    clock.freeze(row.documents_from + timedelta(hours=1))
    return row
