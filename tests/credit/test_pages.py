"""Conduct record pages: a supervisor records (with evidence), publishes and revokes; the public list shows
published records only (R-R3), in Chinese and English; role checks."""

import io
import re

from core.roles import Role
from tests.bidding.test_views import sign_in
from tests.credit.conftest import TODAY


def form(offender, **changes):
    data = {
        "subject_kind": "tenderer",
        "subject": offender.credit_code,
        "category": "collusion",
        "facts": "与其他投标人串通报价。",
        "penalty": "罚款五万元，取消投标资格一年。",
        "tender_code": "ZB-2026-000123",
        "debarred_from": TODAY.isoformat(),
        "debarred_to": "2027-11-22",
    }
    data.update(changes)
    return data


def record_id(response) -> str:
    return re.search(r"/credit/records/([0-9a-f-]{36})$", response.headers["Location"]).group(1)


def test_r_r3_supervisor_records_publishes_and_the_public_sees_it(app, client, people, offender):
    supervisor = people.user(Role.SUPERVISOR, "page-credit-sup")
    sign_in(client, people, supervisor)
    assert client.get("/credit/records/new").status_code == 200
    data = form(offender, evidence=(io.BytesIO(b"%PDF evidence"), "evidence.pdf"))
    response = client.post("/credit/records/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    rid = record_id(response)
    page = client.get(f"/credit/records/{rid}").get_data(as_text=True)
    assert "北京串标建设有限公司" in page and "publish-form" in page and "evidence-link" in page
    assert client.get(f"/credit/records/{rid}/evidence").data == b"%PDF evidence"
    assert "北京串标建设有限公司" in client.get("/dashboard").get_data(as_text=True)  # the supervisor's panel

    public = app.test_client()
    assert public.get(f"/credit/records/{rid}").status_code == 404  # a draft is not public
    assert "北京串标建设有限公司" not in public.get("/credit/records").get_data(as_text=True)

    assert client.post(f"/credit/records/{rid}/publish").status_code == 302
    listing = public.get("/credit/records", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "北京串标建设有限公司" in listing and offender.credit_code in listing
    assert "2026年11月23日" in listing and "2027年11月22日" in listing and "禁止投标中" in listing
    detail = public.get(f"/credit/records/{rid}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Collusion" in detail and "debarred" in detail
    assert "evidence-link" not in detail and "publish-form" not in detail  # the file is for supervisors
    assert public.get(f"/credit/records/{rid}/evidence").status_code == 302  # sign in first
    found = public.get("/credit/records?q=串标").get_data(as_text=True)
    assert "北京串标建设有限公司" in found
    assert "北京串标建设有限公司" not in public.get("/credit/records?q=无此公司").get_data(as_text=True)

    response = client.post(f"/credit/records/{rid}/revoke", data={"reason": "复议撤销"})
    assert response.status_code == 302
    detail = public.get(f"/credit/records/{rid}").get_data(as_text=True)
    assert "复议撤销" in detail and "已撤销" in detail


def test_r_r3_too_long_a_debarment_is_refused_in_the_page(client, people, offender):
    supervisor = people.user(Role.SUPERVISOR, "page-credit-sup2")
    sign_in(client, people, supervisor)
    response = client.post("/credit/records/new", data=form(offender, debarred_to="2028-11-23"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "R-R3" in page and "2027-11-22" in page and "2028-11-22" in page


def test_only_supervisors_record_in_the_pages(app, client, people):
    tenderer = people.user(Role.TENDERER)
    sign_in(client, people, tenderer)
    assert client.get("/credit/records/new").status_code == 403
    assert client.get("/credit/records").status_code == 200
    anonymous = app.test_client()
    response = anonymous.get("/credit/records/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
