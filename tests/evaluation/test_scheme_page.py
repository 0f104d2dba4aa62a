"""The scoring-scheme page: the tender's agency edits it while the tender is a draft (same rules as the
API, problems listed by item); everyone reads it once published."""

from datetime import timedelta

from core import clock
from core.roles import Role
from tests.bidding.test_tenders import draft, publish
from tests.factories import PASSWORD


def sign_in(client, people, user):
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    if user.username in people.secrets:
        client.post("/sign-in/code", data={"code": people.code(user)})
    clock.advance(timedelta(seconds=31))


def rows(criteria):
    data = {}
    for n, (key, name, part, kind, low, high) in enumerate(criteria):
        data.update(
            {
                f"criteria-{n}-key": key,
                f"criteria-{n}-name": name,
                f"criteria-{n}-part": part,
                f"criteria-{n}-kind": kind,
                f"criteria-{n}-min_points": low,
                f"criteria-{n}-max_points": high,
            }
        )
    return data


FORM = {
    "method": "comprehensive",
    "subject": "",
    "formula": "average_benchmark",
    "price_points": "60",
    "coefficients": "0.95, 0.97",
    "above_per_percent": "1",
    "below_per_percent": "0.5",
    **rows(
        [
            ("Q1", "营业执照", "qualification", "pass_fail", "", ""),
            ("T1", "施工组织设计", "technical", "subjective", "0", "30"),
            ("C1", "项目经理业绩", "commercial", "objective", "0", "10"),
            ("", "", "technical", "subjective", "", ""),  # a blank row is skipped
        ]
    ),
    "criteria-1-blind": "y",
}


def test_agency_saves_a_scheme_from_the_page_and_everyone_reads_it_once_published(
    app, client, people, cast, session
):
    from accounts import pki

    pki.ensure_ca(session)
    session.commit()
    tender = draft(client, people, cast)
    browser = app.test_client()  # the agent's browser; `client` calls the API with tokens
    sign_in(browser, people, cast["agent"])
    page = browser.get(f"/tenders/{tender['id']}/scoring-scheme")
    assert page.status_code == 200 and 'id="scheme-form"' in page.get_data(as_text=True)
    response = browser.post(f"/agency/tenders/{tender['id']}/scoring-scheme", data=FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    shown = browser.get(f"/tenders/{tender['id']}/scoring-scheme").get_data(as_text=True)
    assert "施工组织设计" in shown and "0.95, 0.97" in shown

    visitor = app.test_client()
    assert visitor.get(f"/tenders/{tender['id']}/scoring-scheme").status_code == 404  # a draft is not public
    published = publish(client, people, cast, tender["id"])
    assert published.status_code == 200, published.get_json()
    public = visitor.get(f"/tenders/{tender['id']}/scoring-scheme", headers={"Accept-Language": "zh-CN"})
    text = public.get_data(as_text=True)
    assert public.status_code == 200 and "施工组织设计" in text and "暗标评审" in text
    assert 'id="scheme-form"' not in text
    assert 'id="scheme-form"' not in browser.get(f"/tenders/{tender['id']}/scoring-scheme").get_data(
        as_text=True
    )


def test_page_lists_the_problems_by_item(client, people, cast):
    tender = draft(client, people, cast)
    sign_in(client, people, cast["agent"])
    bad = {**FORM, "criteria-2-max_points": "5"}  # 30 + 5 + 60 = 95
    response = client.post(f"/agency/tenders/{tender['id']}/scoring-scheme", data=bad)
    assert response.status_code == 422
    assert "points_not_100" in response.get_data(as_text=True) and "95.00" in response.get_data(as_text=True)


def test_only_the_tenders_agency_may_post(client, people, cast):
    tender = draft(client, people, cast)
    sign_in(client, people, people.user(Role.AGENCY))
    assert client.post(f"/agency/tenders/{tender['id']}/scoring-scheme", data=FORM).status_code == 404
    client.post("/sign-out")
    sign_in(client, people, people.user(Role.TENDERER))
    assert client.post(f"/agency/tenders/{tender['id']}/scoring-scheme", data=FORM).status_code == 403
