"""Fixtures for conduct records: a supervisor with an API token and a tenderer to record against."""

from datetime import date

import pytest

from core.roles import Role
from tests.bidding.test_tenders import auth

TODAY = date(2026, 11, 23)  # the frozen clock's day in Beijing


@pytest.fixture
def supervisor(people):
    return people.user(Role.SUPERVISOR, "credit-sup")


@pytest.fixture
def sup_headers(people, client, supervisor):
    return auth(people, client, supervisor)


@pytest.fixture
def offender(people):
    return people.org("tenderer", "北京串标建设有限公司")


def body(who, **changes) -> dict:
    data = {
        "subject_kind": "tenderer",
        "subject": who.credit_code,
        "category": "collusion",
        "facts": "与其他投标人相互串通投标报价。",
        "penalty": "罚款并取消投标资格。",
        "tender_code": "ZB-2026-000123",
        "debarred_from": TODAY.isoformat(),
        "debarred_to": date(2027, 11, 22).isoformat(),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def create(client, headers, who, **changes):
    return client.post("/api/v1/conduct-records", json=body(who, **changes), headers=headers)


def published(client, headers, who, **changes) -> dict:
    response = create(client, headers, who, **changes)
    assert response.status_code == 201, response.get_json()
    record_id = response.get_json()["id"]
    response = client.post(f"/api/v1/conduct-records/{record_id}/publish", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
