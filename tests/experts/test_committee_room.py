"""The committee the draw formed is what sits in the evaluation room: the agency opens the room but names
nobody (R-E2); before every seat is accepted it cannot; once the result is determined the names and the
draw's proof are disclosed (R-E4)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from bidding.models import Opening
from core import clock
from evaluation import report
from evaluation.models import RoomMember
from experts import calls
from experts.models import Draw
from tests.experts.conftest import auth
from tests.experts.test_calls import answer, pending, staffed_pool
from tests.experts.test_draws import run_draw


def test_the_formed_committee_is_seated_and_disclosed_when_the_result_is_determined(
    client, people, scene, experts, session
):
    tender = scene["tender"]
    session.add(
        Opening(tender_id=tender.id, started_by_id=scene["agent"].id, started_at=clock.now(), status="closed")
    )
    session.commit()
    users = staffed_pool(people, experts, 6)
    draw_id, _ = run_draw(client, people, scene)
    agency = auth(people, client, scene["agent"])
    early = client.post(f"/api/v1/tenders/{tender.id}/evaluation", json={}, headers=agency)
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "committee_not_formed"
    accepted = []
    for call in pending(session, uuid.UUID(draw_id)):
        user = users[calls.called_expert(call)]
        assert answer(client, people, user, call, accept=True).status_code == 200
        accepted.append(user.id)
    opened = client.post(f"/api/v1/tenders/{tender.id}/evaluation", json={}, headers=agency)
    assert opened.status_code == 201, opened.get_json()
    session.rollback()
    seated = {m.user_id for m in session.scalars(select(RoomMember).where(RoomMember.tender_id == tender.id))}
    assert seated == set(accepted)
    # The result determined (report closed): the draw is disclosed and its proof is public.
    report._disclose_draws(session, scene["agent"], tender, None)
    session.commit()
    assert session.get(Draw, uuid.UUID(draw_id)).disclosed_at is not None
    assert client.get(f"/api/v1/draws/{draw_id}/proof").status_code == 200
