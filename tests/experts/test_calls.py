"""Calls in draw order (R-E2): accept, decline with a reason, deadlines move on to the backups, the committee
forms when every seat is accepted (R-E1), a dry list asks for a supplementary draw; the agency sees how
many accepted, not who (R-E4); bad answers are refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from audit.models import AuditEntry
from core import clock
from core.models import OutboxMessage
from core.notifications import readable
from core.roles import Role
from experts import calls, draws
from experts.models import Call, Draw
from tests.experts.conftest import auth
from tests.experts.test_draws import request, run_draw


def staffed_pool(people, experts, n):
    """n experts with platform accounts, by user."""
    users = {}
    for k in range(n):
        user = people.user(Role.EXPERT, f"callee{uuid.uuid4().hex[:8]}{k}")
        expert = experts.expert(username=user.username)
        users[expert.id] = user
    return users


def pending(session, draw_id):
    session.rollback()
    session.expire_all()  # what the requests wrote, not what this session loaded before
    return list(session.scalars(select(Call).where(Call.draw_id == draw_id, Call.status == "pending")))


def answer(client, people, user, call, **body):
    return client.post(f"/api/v1/calls/{call.id}/answer", json=body, headers=auth(people, client, user))


def test_r_e2_the_first_drawn_are_called_with_time_and_place_only(client, people, scene, experts, session):
    users = staffed_pool(people, experts, 7)
    draw_id, status = run_draw(client, people, scene)
    assert status["accepted"] == 0
    called = pending(session, uuid.UUID(draw_id))
    draw = session.get(Draw, uuid.UUID(draw_id))
    order = draws.result(draw)["selected"]["01.01.01"]
    assert [calls.called_expert(c).hex for c in sorted(called, key=lambda c: c.position)] == order[:5]
    messages = session.scalars(select(OutboxMessage)).all()
    assert len([m for m in messages if m.channel == "email"]) == 5
    for message in messages:
        # R-E4: at rest, neither who is called nor the message can be read from the outbox ...
        assert message.recipient.startswith("sealed:") and message.body.startswith("sealed:")
        assert "第3评标室" not in message.body and "@" not in message.recipient
        # ... while the channel sends time and place, never the tender.
        sent = readable(message)
        assert "第3评标室" in sent.body and scene["tender"].title not in sent.body
        assert scene["tender"].code not in sent.body
    assert all(users[calls.called_expert(c)] for c in called)


def test_a_decline_calls_the_next_and_bad_answers_are_refused(client, people, scene, experts, session):
    users = staffed_pool(people, experts, 7)
    draw_id, _ = run_draw(client, people, scene, backups=2)
    draw_uuid = uuid.UUID(draw_id)
    called = sorted(pending(session, draw_uuid), key=lambda c: c.position)
    first, second = called[0], called[1]
    no_reason = answer(client, people, users[calls.called_expert(first)], first, accept=False)
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["code"] == "decline_reason_required"
    declined = answer(client, people, users[calls.called_expert(first)], first, accept=False, reason="出差")
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    again = answer(client, people, users[calls.called_expert(first)], first, accept=True)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "call_already_answered"
    someone_else = answer(client, people, users[calls.called_expert(called[2])], second, accept=True)
    assert someone_else.status_code == 404
    now_pending = pending(session, draw_uuid)
    assert sorted(c.position for c in now_pending) == [2, 3, 4, 5, 6]  # the first backup is called
    for call in now_pending:
        assert answer(client, people, users[calls.called_expert(call)], call, accept=True).status_code == 200
    status = client.get(f"/api/v1/draws/{draw_id}", headers=auth(people, client, scene["agent"])).get_json()
    assert status["accepted"] == 5 and status["committee_formed_at"] and status["shortfall"] is None


def test_an_answer_after_the_deadline_is_refused_and_a_dry_list_asks_for_a_supplementary_draw(
    client, people, scene, experts, session
):
    users = staffed_pool(people, experts, 6)
    draw_id, _ = run_draw(client, people, scene, backups=0)
    called = sorted(pending(session, uuid.UUID(draw_id)), key=lambda c: c.position)
    clock.advance(calls.ANSWER_WINDOW + timedelta(minutes=1))
    late = answer(client, people, users[calls.called_expert(called[0])], called[0], accept=True)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "call_expired"
    session.rollback()
    draw = session.get(Draw, uuid.UUID(draw_id))
    assert {c.status for c in session.scalars(select(Call).where(Call.draw_id == draw.id))} == {"expired"}
    assert draw.shortfall == {"01.01.01": 5}
    assert session.scalar(select(AuditEntry.index).where(AuditEntry.action == "experts.draw_list_exhausted"))


def test_r_e1_committee_forms_when_every_seat_is_accepted(client, people, scene, experts, session):
    users = staffed_pool(people, experts, 6)
    draw_id, _ = run_draw(client, people, scene)
    for call in pending(session, uuid.UUID(draw_id)):
        assert answer(client, people, users[calls.called_expert(call)], call, accept=True).status_code == 200
    session.rollback()
    draw = session.get(Draw, uuid.UUID(draw_id))
    assert draw.formed_at is not None
    status = client.get(f"/api/v1/draws/{draw_id}", headers=auth(people, client, scene["agent"])).get_json()
    assert status["accepted"] == 5 and status["committee_formed_at"]
    assert "name" not in str(status)  # how many, never who (R-E4)


def test_expire_due_is_idempotent_and_calls_the_backup(client, people, scene, experts, session):
    staffed_pool(people, experts, 6)
    draw_id, _ = run_draw(client, people, scene)
    clock.advance(calls.ANSWER_WINDOW)
    session.rollback()
    assert calls.expire_due(session) == 5
    session.commit()
    assert calls.expire_due(session) == 0
    assert [c.position for c in pending(session, uuid.UUID(draw_id))] == [6]


def test_the_expert_answers_in_the_page(app, people, scene, experts, session):
    from tests.bidding.test_views import sign_in

    users = staffed_pool(people, experts, 6)
    client = app.test_client()
    draw_id, _ = run_draw(client, people, scene)
    call = pending(session, uuid.UUID(draw_id))[0]
    user = users[calls.called_expert(call)]
    browser = app.test_client()
    sign_in(browser, people, user)
    listing = browser.get("/experts/calls").get_data(as_text=True)
    assert f"/experts/calls/{call.id}" in listing and scene["tender"].title not in listing
    browser.post(f"/experts/calls/{call.id}", data={"answer": "accept"})
    session.rollback()
    assert session.get(Call, call.id).status == "accepted"


def test_a_supplementary_draw_fills_the_missing_seat_without_calling_anyone_twice(
    client, people, scene, experts, session
):
    users = staffed_pool(people, experts, 8)
    draw_id, _ = run_draw(client, people, scene, backups=0)
    called = sorted(pending(session, uuid.UUID(draw_id)), key=lambda c: c.position)
    first_round = {calls.called_expert(c) for c in called}
    answer(client, people, users[calls.called_expert(called[0])], called[0], accept=False, reason="生病")
    for call in called[1:]:
        answer(client, people, users[calls.called_expert(call)], call, accept=True)
    session.rollback()
    assert session.get(Draw, uuid.UUID(draw_id)).shortfall == {"01.01.01": 1}

    too_many = request(client, people, scene, specialties={"01.01.01": 2}, backups=0)
    assert too_many.status_code == 422 and too_many.get_json()["error"]["code"] == "invalid_committee"
    extra_id, status = run_draw(client, people, scene, specialties={"01.01.01": 1}, backups=0)
    assert status["eligible"] == {"01.01.01": 3}  # 8 minus the 5 already called
    session.rollback()
    extra = pending(session, uuid.UUID(extra_id))
    assert len(extra) == 1 and calls.called_expert(extra[0]) not in first_round
    assert len(session.get(Draw, uuid.UUID(extra_id)).exclusions["expert:already_called"]) == 5
