"""The award page: the agency publishes the candidates, anyone reads them, the tenderee decides after the
publicity (R-A1, R-A2), and the contract is recorded (R-A3) — through the forms."""

import io
from datetime import timedelta

from sqlalchemy import select

from core import clock
from core.roles import Role
from evaluation.models import Award
from tests.bidding.test_notice_pages import browser, text
from tests.evaluation.test_award import signed  # noqa: F401 (fixture)


def test_award_through_the_pages(app, people, session, cast, signed):  # noqa: F811
    tender, bids = signed
    url = f"/tenders/{tender.id}/award"
    assert app.test_client().get(url).status_code == 404  # nothing public before the publicity
    agency = browser(app, people, cast["agent"])
    assert 'id="publish-candidates-form"' in text(agency.get(url))
    agency.post(f"{url}/candidates")
    page = text(app.test_client().get(url))
    assert 'id="candidates"' in page and bids[0][0].user.organization.name in page
    owner = browser(app, people, people.user(Role.TENDEREE, "page-owner", org=cast["tenderee"]))
    assert 'id="decision-form"' not in text(owner.get(url))  # not during the publicity
    clock.freeze(clock.now() + timedelta(days=4))
    assert 'id="decision-form"' in text(owner.get(url))
    owner.post(f"{url}/decision", data={"bid": bids[0][1], "reasons": "综合得分第一，报价最低"})
    page = text(owner.get(url))
    assert 'id="award"' in page and 'id="contract-form"' in page
    owner.post(
        f"{url}/contract",
        data={"amount": "980000.00", "file": (io.BytesIO("施工合同".encode()), "合同.pdf")},
        content_type="multipart/form-data",
    )
    session.rollback()
    row = session.scalars(select(Award)).one()
    assert row.contract_amount_fen == 98_000_000 and row.contract_sha256


def test_the_supervisor_reviews_each_expert_in_the_room_page(app, people, session, cast, committee, signed):  # noqa: F811
    from experts import pool
    from experts.models import ExpertReview
    from tests.experts.conftest import id_number

    tender, _bids = signed
    pool.add_specialty(session, None, "01", "工程建设")
    expert = pool.create_expert(
        session,
        None,
        pool.Profile(
            name="评审对象", id_number=id_number(88), specialties=["01"], username=committee[0].username
        ),
    )
    session.commit()
    supervisor = browser(app, people, cast["supervisor"])
    page = text(supervisor.get(f"/evaluation/{tender.id}"))
    assert (
        'id="reviews"' in page and page.count('class="form review-form"') == 1
    )  # the others have no profile
    supervisor.post(
        f"/evaluation/{tender.id}/reviews/{expert.id}",
        data={
            "punctuality": "5",
            "independence": "4",
            "competence": "5",
            "discipline": "5",
            "notes": "认真负责",
        },
    )
    session.rollback()
    review = session.scalars(select(ExpertReview)).one()
    assert (review.expert_id, review.independence, review.notes) == (expert.id, 4, "认真负责")
    assert review.facts["chair"] is True  # the facts as the evaluation recorded them
