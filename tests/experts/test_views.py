"""Draw pages: the agency requests and contributes, the supervisor witnesses and sees names (logged, R-E4)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from audit.models import AuditEntry
from core import clock
from experts.models import Draw
from tests.bidding.test_views import local, sign_in


def test_agency_requests_a_draw_and_the_supervisor_witnesses_it_in_the_pages(
    app, people, session, scene, experts
):
    experts.many(7)
    agency, supervisor = app.test_client(), app.test_client()
    sign_in(agency, people, scene["agent"])
    sign_in(supervisor, people, scene["supervisor"])
    tender = scene["tender"]
    assert f"/tenders/{tender.id}/draws/new" in agency.get("/dashboard").get_data(as_text=True)
    form = {
        "specialty": ["01.01.01", "", ""],
        "count": ["5", "", ""],
        "backups": "1",
        "evaluation_at": local(clock.now() + timedelta(days=1)),
        "evaluation_place": "第3评标室",
        "supervisor": scene["supervisor"].username,
    }
    short = agency.post(f"/tenders/{tender.id}/draws/new", data={**form, "count": ["9", "", ""]})
    assert short.status_code == 422 and 'id="shortfall"' in short.get_data(as_text=True)
    response = agency.post(f"/tenders/{tender.id}/draws/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    page_url = response.headers["Location"]
    draw_id = uuid.UUID(page_url.rsplit("/", 1)[1])
    assert 'id="contribute-form"' in agency.get(page_url).get_data(as_text=True)
    agency.post(f"/draws/{draw_id}/contribute", data={"value": "ab" * 32})
    assert f"/draws/{draw_id}" in supervisor.get("/dashboard").get_data(as_text=True)
    supervisor.post(f"/draws/{draw_id}/contribute", data={"value": "cd" * 32})
    session.rollback()
    assert session.get(Draw, draw_id).status == "drawn"
    agency_view = agency.get(page_url).get_data(as_text=True)
    assert 'id="draw-members"' not in agency_view
    names = supervisor.get(f"{page_url}?names=1").get_data(as_text=True)
    assert names.count("专家") >= 6
    session.rollback()
    viewed = session.scalars(select(AuditEntry).where(AuditEntry.action == "experts.draw_names_viewed")).all()
    assert len(viewed) == 1
