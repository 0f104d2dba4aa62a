"""Who is debarred when (R-R3): Beijing calendar days with both ends included, only once published,
no longer once revoked, answered as of a moment; and the record-based penalty points."""

import uuid
from datetime import UTC, date, datetime, timedelta

from core import clock
from credit import services
from credit.models import ConductRecord
from tests.credit.conftest import published

BEIJING_MIDNIGHT = timedelta(hours=-8)  # 00:00 in Beijing is 16:00 UTC the day before


def beijing(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + BEIJING_MIDNIGHT


def test_r_r3_debarment_covers_its_first_and_last_beijing_day(client, session, sup_headers, offender):
    published(
        client, sup_headers, offender, debarred_from="2026-12-01", debarred_to="2027-11-30"
    )  # exactly one year
    session.rollback()
    first, last = date(2026, 12, 1), date(2027, 11, 30)
    checks = {
        beijing(first) - timedelta(seconds=1): False,  # 23:59:59 the evening before
        beijing(first): True,  # 00:00 on the first day (16:00 UTC the day before)
        beijing(last, 23, 59): True,
        beijing(last + timedelta(days=1)): False,  # the day after the last day
    }
    for moment, debarred in checks.items():
        assert services.is_debarred(session, "tenderer", offender.id, moment) is debarred, moment
        assert (offender.id in services.debarred_ids(session, "tenderer", moment)) is debarred, moment
    assert services.debarred_ids(session, "agency", beijing(first)) == set()
    assert services.debarred_ids(session, "expert", beijing(first)) == set()


def test_r_r3_only_published_unrevoked_records_debar_as_of_the_moment(client, session, sup_headers, offender):
    draft = client.post(
        "/api/v1/conduct-records",
        json={
            "subject_kind": "tenderer",
            "subject": offender.credit_code,
            "category": "fraud",
            "facts": "提供虚假业绩证明。",
            "penalty": "取消投标资格三年。",
            "debarred_from": "2026-11-23",
            "debarred_to": "2029-11-22",
        },
        headers=sup_headers,
    ).get_json()
    session.rollback()
    now = clock.now()
    assert not services.is_debarred(session, "tenderer", offender.id, now)  # a draft debars nobody
    publish_time = now
    assert (
        client.post(f"/api/v1/conduct-records/{draft['id']}/publish", headers=sup_headers).status_code == 200
    )
    session.rollback()
    assert services.is_debarred(session, "tenderer", offender.id, publish_time)
    assert not services.is_debarred(session, "tenderer", offender.id, publish_time - timedelta(seconds=1))
    clock.advance(timedelta(hours=2))
    revoked = client.post(
        f"/api/v1/conduct-records/{draft['id']}/revoke", json={"reason": "复议撤销"}, headers=sup_headers
    )
    assert revoked.status_code == 200
    session.rollback()
    assert not services.is_debarred(session, "tenderer", offender.id, clock.now())
    # Asked about a moment before the revocation, the answer is the one it had then.
    assert services.is_debarred(session, "tenderer", offender.id, clock.now() - timedelta(hours=1))


def test_conduct_penalty_points_count_recent_unrevoked_records(
    client, session, sup_headers, offender, people
):
    published(client, sup_headers, offender)  # collusion with a debarment in force today
    published(
        client,
        sup_headers,
        offender,
        category="other",
        debarred_from=None,
        debarred_to=None,
        tender_code=None,
    )
    session.rollback()
    now = clock.now()
    collusion, other = services.CATEGORY["collusion"].points, services.CATEGORY["other"].points
    assert services.conduct_penalty_points(session, "tenderer", offender.id, now) == (
        collusion + other + services.DEBARMENT_POINTS
    )
    after_debarment = beijing(date(2027, 11, 23))
    assert (
        services.conduct_penalty_points(session, "tenderer", offender.id, after_debarment)
        == collusion + other
    )
    assert (
        services.conduct_penalty_points(session, "tenderer", offender.id, now + timedelta(days=365 * 3 + 1))
        == 0
    )
    assert services.conduct_penalty_points(session, "tenderer", uuid.uuid4(), now) == 0
    assert services.conduct_penalty_points(session, "agency", offender.id, now) == 0


def test_the_database_refuses_a_reversed_period(session, supervisor, offender):
    import pytest
    from sqlalchemy.exc import IntegrityError

    session.add(
        ConductRecord(
            subject_kind="tenderer",
            subject_id=offender.id,
            subject_name=offender.name,
            subject_identifier=offender.credit_code,
            category="collusion",
            facts="x",
            penalty="x",
            debarred_from=date(2027, 1, 1),
            debarred_to=date(2026, 1, 1),
            recorded_by_id=supervisor.id,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
