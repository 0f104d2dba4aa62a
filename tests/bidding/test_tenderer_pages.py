"""The tenderer's "my tenders and bids" panel with a countdown on the server's clock (issue 4 item 6)."""

import re

import pytest
from playwright.sync_api import expect

from core import clock
from core.roles import Role
from tests.bidding.test_ledger import ACCOUNT, pay
from tests.factories import PASSWORD


def bidder_with_deposit(people, session, tender, name):
    user = people.user(Role.TENDERER, name)
    user.organization.basic_account_no = ACCOUNT
    session.commit()
    pay(session, user, tender)
    return user


def test_dashboard_lists_my_tenders_with_the_server_time(client, people, session, tender):
    user = bidder_with_deposit(people, session, tender, "panel-bidder")
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    page_html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="my-bids"' in page_html and tender.code in page_html
    assert f'data-deadline="{tender.bid_deadline.isoformat()}"' in page_html
    assert f'data-server-now="{clock.now().isoformat()}"' in page_html


@pytest.mark.e2e
def test_countdown_runs_on_the_server_clock(page, people, session, tender):
    user = bidder_with_deposit(people, session, tender, "countdown-bidder")
    page.goto("/sign-in")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    countdown = page.locator("#my-bids .countdown").first
    # The platform clock is frozen in tests, so the time left is fixed whatever the browser's clock says.
    left = tender.bid_deadline - clock.now()
    days = left.days
    # The script replaces the server-rendered deadline once it has run: wait for it, not for a timer.
    expect(countdown).to_have_text(re.compile(rf"^{days}\D+ \d\d:\d\d:\d\d$"))
