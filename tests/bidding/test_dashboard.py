"""The dashboard is each person's to-do list (issue 13; ARCHITECTURE.md "Presentation"): what needs their
action now, how many, by when (overdue first, undated last), with the link to do it; and every list that
can grow comes in pages whose links keep the list's filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from accounts import pki
from core import clock, paging, todo
from core.roles import Role
from tests.bidding.test_bids import Tenderer
from tests.bidding.test_notice_pages import browser, text


def _todo(page: str) -> str:
    return page[page.index('id="todo"') :].split("</section>")[0]


def _items(page: str) -> list[str]:
    return re.findall(r'<li class="todo-item[^"]*">(.*?)</li>', _todo(page), re.S)


def test_r_t4_an_objection_is_on_the_agency_s_list_with_its_limit_and_overdue_on_top(
    app, people, cast, session, tender
):
    bidder = browser(app, people, Tenderer(people, session, "todo-objector").user)
    agency = browser(app, people, cast["agent"])
    watcher = browser(app, people, cast["supervisor"])
    notice = f"/tenders/{tender.id}"
    assert "目前没有需要您处理的事项" in _todo(text(agency.get("/dashboard")))

    bidder.post(f"{notice}/questions", data={"text": "是否允许联合体投标？"})
    bidder.post(f"{notice}/objections/documents", data={"text": "业绩要求排斥潜在投标人。"})
    items = _items(text(agency.get("/dashboard")))
    assert len(items) == 2
    objection, question = items  # the one with a time limit first, the undated one last
    assert "答复 1 项异议" in objection and f'href="{notice}#objections"' in objection
    assert "截止" in objection and "R-T4" in objection and "overdue" not in objection
    assert (
        "答复 1 个澄清问题" in question and "无时限" in question and f'href="{notice}#questions"' in question
    )
    assert "核查" not in _todo(text(watcher.get("/dashboard")))  # not late yet: nothing for the supervisor

    clock.advance(timedelta(days=4))  # past the 3-day answer period (R-T4)
    page = text(agency.get("/dashboard"))
    assert re.search(r'<li class="todo-item overdue">.*?答复 1 项异议', _todo(page), re.S)
    assert "逾期" in _items(page)[0]
    late = _items(text(watcher.get("/dashboard")))
    assert (
        len(late) == 1
        and "核查 1 项代理机构未按时答复的异议" in late[0]
        and f"{notice}#objections" in late[0]
    )

    (answer,) = re.findall(
        r'action="(/agency/tenders/[^"]+/objections/[^"]+/answer)"', text(agency.get(notice))
    )
    agency.post(answer, data={"answer": "已删除该业绩要求。"})
    assert all("异议" not in item for item in _items(text(agency.get("/dashboard"))))
    assert "目前没有需要您处理的事项" in _todo(text(watcher.get("/dashboard")))


def test_a_tenderer_is_told_to_verify_its_company_then_to_get_a_signing_certificate(app, people, session):
    pki.ensure_ca(session)
    session.commit()
    unverified = people.user(Role.TENDERER, "todo-new", org=people.org("tenderer", verified=False))
    (item,) = _items(text(browser(app, people, unverified).get("/dashboard")))
    assert "企业认证" in item and 'href="/account/company"' in item
    verified = people.user(Role.TENDERER, "todo-verified")
    (item,) = _items(text(browser(app, people, verified).get("/dashboard")))
    assert "申领签名证书" in item and 'href="/account/certificates"' in item
    ready = Tenderer(people, session, "todo-ready")  # verified, with a signing certificate
    english = browser(app, people, ready.user)
    english.post("/lang/en", data={"next": "/dashboard"})
    assert "Nothing needs your action now." in _todo(text(english.get("/dashboard")))


def test_the_list_puts_overdue_first_then_by_deadline_and_undated_last(app, people):
    now = datetime(2026, 12, 1, 2, tzinfo=UTC)
    items = [
        todo.Todo("later", "/b", due=now + timedelta(days=3)),
        todo.Todo("whenever", "/c"),
        todo.Todo("late", "/a", due=now - timedelta(hours=1)),
        todo.Todo("soon", "/d", due=now + timedelta(hours=2)),
    ]
    app.extensions[todo.EXTENSION] = {"admin": [lambda session, user, at: items]}
    user = people.user(Role.ADMIN, "todo-order")
    with app.test_request_context("/dashboard"):
        ordered = todo.for_user(None, user, now)
    assert [t.text for t in ordered] == ["late", "soon", "later", "whenever"]
    assert [t.overdue(now) for t in ordered] == [True, False, False, False]


def test_a_page_of_a_list_is_clamped_and_its_links_keep_the_filters(app):
    with app.test_request_context("/tenders?q=供水&category=工程&page=2"):
        page = paging.page_of_list(list(range(45)), 20)
        assert (page.number, page.pages, page.items[0], page.has_previous, page.has_next) == (
            2,
            3,
            20,
            True,
            True,
        )
        link = paging.page_url(page, 3)
        assert link.startswith("/tenders?") and "page=3" in link and "q=%E4%BE%9B%E6%B0%B4" in link
        assert "category=" in link
    with app.test_request_context("/tenders?page=99"):
        last = paging.page_of_list(list(range(45)), 20)  # past the end: the last page, not an empty one
        assert (last.number, last.items) == (3, list(range(40, 45)))
    with app.test_request_context("/tenders?page=abc"):
        assert paging.page_of_list(list(range(5)), 20).number == 1


def test_the_tenderee_sees_the_tenders_it_owns(app, people, cast, tender):
    owner = people.user(Role.TENDEREE, "todo-owner", org=cast["tenderee"])
    page = text(browser(app, people, owner).get("/dashboard"))
    owned = page[page.index('id="panel-tenderee"') :].split("</section>")[0]
    assert tender.code in owned and f'href="/tenders/{tender.id}"' in owned
    stranger = people.user(Role.TENDEREE, "todo-stranger")  # another tenderee
    assert tender.code not in text(browser(app, people, stranger).get("/dashboard"))
