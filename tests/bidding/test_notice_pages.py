"""The notice page for each role: documents and downloads (R-T2), questions, objections that pause the
tender (R-T4), amendments moving the deadline (R-T3), the supervisor's dashboard, notifications."""

import re
from datetime import timedelta

from bidding.models import Tender
from core import clock
from core.roles import Role
from tests.bidding.test_bids import Tenderer
from tests.bidding.test_views import sign_in


def browser(app, people, user):
    """A separate cookie jar per person, as separate browsers."""
    client = app.test_client()
    sign_in(client, people, user)
    clock.advance(timedelta(seconds=31))  # the next person's code is in a fresh TOTP step
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def test_question_answer_and_objection_through_the_pages(app, people, cast, session, tender):
    asker = Tenderer(people, session, "page-asker")
    bidder = browser(app, people, asker.user)
    agency = browser(app, people, cast["agent"])
    supervisor = browser(app, people, cast["supervisor"])
    notice = f"/tenders/{tender.id}"

    page = text(bidder.get(notice))
    assert (
        'id="question-form"' in page and 'id="objection-form"' in page and 'id="amendment-form"' not in page
    )
    (document,) = re.findall(rf'href="(/tenders/{tender.id}/documents/[0-9a-f-]+)"', page)
    download = bidder.get(document)
    assert download.status_code == 200 and download.data.startswith("第一章".encode())
    assert 'id="downloads"' not in text(bidder.get(notice))  # tenderers never see who downloaded (R-T2)

    bidder.post(f"{notice}/questions", data={"text": "工期是否含冬季停工？请澄清。"})
    page = text(agency.get(notice))
    assert "工期是否含冬季停工" in page and 'id="downloads"' in page
    (answer_url,) = re.findall(r'action="(/agency/tenders/[^"]+/questions/[^"]+/answer)"', page)
    agency.post(answer_url, data={"answer": "含冬季停工期，计入总工期。"})
    public = text(app.test_client().get(notice))
    assert "含冬季停工期，计入总工期。" in public and asker.user.organization.name not in public

    # The bell counts the clarification for the tenderer who downloaded.
    assert re.search(r'id="bell"[^>]*>.*?<span class="badge">1 条未读</span>', text(bidder.get("/dashboard")))
    assert "含冬季停工期" in text(bidder.get("/notifications"))

    # An objection to the documents pauses the tender (R-T4); supervisors see it waiting.
    bidder.post(f"{notice}/objections/documents", data={"text": "资格条件限定特定地区业绩，排斥潜在投标人。"})
    assert 'id="paused"' in text(app.test_client().get(notice))
    dashboard = text(supervisor.get("/dashboard"))
    assert 'id="supervised-tenders"' in dashboard and tender.code in dashboard
    clock.advance(timedelta(days=4))  # past the 3-day answer period
    assert 'class="badge warn overdue"' in text(supervisor.get("/dashboard"))
    page = text(agency.get(notice))
    (objection_url,) = re.findall(r'action="(/agency/tenders/[^"]+/objections/[^"]+/answer)"', page)
    agency.post(objection_url, data={"answer": "已删除地区业绩要求，见修改通知。"})
    assert 'id="paused"' not in text(app.test_client().get(notice))


def test_a_late_amendment_through_the_page_moves_the_deadline(app, people, cast, session, tender):
    agency = browser(app, people, cast["agent"])
    deadline = tender.bid_deadline
    clock.freeze(deadline - timedelta(days=5))
    response = agency.post(
        f"/agency/tenders/{tender.id}/amendments",
        data={
            "kind": "amendment",
            "title": "工程量清单修改",
            "body": "第3项数量改为1200立方米。",
            "affects_bids": "y",
        },
    )
    assert response.status_code == 302
    session.rollback()  # a fresh snapshot: see what the request wrote
    assert session.get(Tender, tender.id).bid_deadline - deadline >= timedelta(
        days=10
    )  # R-T3: 15 days from the change
    assert "工程量清单修改" in text(app.test_client().get(f"/tenders/{tender.id}"))


def test_people_outside_the_tender_get_no_forms(app, people, cast, tender):
    expert = browser(app, people, people.user(Role.EXPERT, "page-expert"))
    page = text(expert.get(f"/tenders/{tender.id}"))
    assert "question-form" not in page and "objection-form" not in page and 'id="downloads"' not in page
    assert (
        expert.post(f"/tenders/{tender.id}/questions", data={"text": "专家可以提问吗？"}).status_code == 403
    )


def test_the_timeline_shows_plan_and_milestones(app, people, cast, tender):
    page = text(app.test_client().get(f"/tenders/{tender.id}", headers={"Accept-Language": "en"}))
    chart = page[page.index('id="timeline-chart"') :]
    chart = chart[: chart.index("</section>")]
    assert "<svg" in chart and chart.count("<circle") == 5  # four planned dates and the publication
    assert chart.count('fill="#1f6feb"') == 1  # only the publication has happened
