"""The ledger in view (R-D3): a tender's entries and trial balance for its agency and supervisors (sealed
before the deadline, R-B4), a tenderer's statement with interest for the days held, and `flask ledger
check` proving the books balance."""

import uuid
from datetime import date, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from bidding import ledger, ledger_view
from bidding.models import Deposit, InterestRate, LedgerLine, LedgerTransaction
from core import clock
from core.roles import Role
from tests.bidding.test_ledger import ACCOUNT, pay
from tests.bidding.test_tenders import auth
from tests.bidding.test_views import sign_in


def interest(amount_fen: int, days: int, bps: int = 35) -> int:
    return int(Fraction(amount_fen * bps * days, 10000 * 365) + Fraction(1, 2))


@pytest.fixture
def books(session, people, tender):
    """Three tenderers' deposits: one refunded after a withdrawal 10 days on, one forfeited, one held."""
    session.add(InterestRate(kind="deposit", effective_from=date(2020, 1, 1), annual_bps=35))
    session.commit()
    bidders = []
    for name in ("ledger-a", "ledger-b", "ledger-c"):
        user = people.user(Role.TENDERER, name)
        user.organization.basic_account_no = ACCOUNT
        session.commit()
        bidders.append(user)
    deposits = [pay(session, user, tender) for user in bidders]
    paid = clock.now()
    clock.freeze(paid + timedelta(days=10))
    ledger.schedule_refund(session, deposits[0], "withdrawal", clock.now())
    ledger.execute_refund(session, deposits[0])
    ledger.forfeit(session, deposits[1], "R-B6 not_decrypted")
    session.commit()
    return bidders, deposits


def test_r_d3_the_tender_ledger_is_sealed_before_the_deadline(client, people, cast, session, tender, books):
    url = f"/api/v1/tenders/{tender.id}/ledger"
    sealed = client.get(url, headers=auth(people, client, cast["agent"])).get_json()
    assert sealed["entries"] == [] and sealed["hidden_until"] == tender.bid_deadline.isoformat()
    clock.advance(timedelta(seconds=31))
    tenderer = client.get(url, headers=auth(people, client, books[0][0]))
    assert tenderer.status_code == 403 and tenderer.get_json()["error"]["code"] == "role_forbidden"
    other = client.get(url, headers=auth(people, client, people.user(Role.AGENCY, "other-agency")))
    assert other.status_code == 404


def test_r_d3_agency_and_supervisor_see_entries_and_a_trial_balance(
    client, people, cast, session, tender, books
):
    _bidders, deposits = books
    clock.freeze(tender.bid_deadline)
    for who in (cast["agent"], cast["supervisor"]):
        body = client.get(f"/api/v1/tenders/{tender.id}/ledger", headers=auth(people, client, who)).get_json()
        clock.advance(timedelta(seconds=31))
        assert [e["kind"] for e in body["entries"]] == ["deposit_paid"] * 3 + [
            "deposit_refunded",
            "deposit_forfeited",
        ]
        assert all(sum(line["amount"]["amount_fen"] for line in e["lines"]) == 0 for e in body["entries"])
        tb = body["trial_balance"]
        assert tb["balanced"] and tb["debits"] == tb["credits"]
        accounts = {row["account"]: row for row in tb["accounts"]}
        amount = deposits[0].amount_fen
        paid_interest = interest(amount, 10)
        assert accounts[ledger.ESCROW]["balance"]["amount_fen"] == 3 * amount - amount - paid_interest
        assert accounts[ledger.INTEREST]["balance"]["amount_fen"] == paid_interest
        assert accounts[ledger.FORFEITED]["balance"]["amount_fen"] == -amount
        assert accounts[ledger.deposit_account(deposits[2])]["balance"]["amount_fen"] == -amount  # still owed
        assert tb["debits"]["amount_fen"] == 3 * amount + amount + paid_interest + amount


def _sign_in(client, people, user):
    sign_in(client, people, user)
    clock.advance(timedelta(seconds=31))


def test_r_d3_the_ledger_page_for_agency_and_supervisor(client, people, cast, session, tender, books):
    clock.freeze(tender.bid_deadline - timedelta(minutes=1))
    _sign_in(client, people, cast["agent"])
    notice = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert f"/tenders/{tender.id}/ledger" in notice  # reached from the tender page
    sealed = client.get(f"/tenders/{tender.id}/ledger").get_data(as_text=True)
    assert 'id="trial-balance"' not in sealed and "R-B4" in sealed
    clock.freeze(tender.bid_deadline)
    page = client.get(f"/tenders/{tender.id}/ledger").get_data(as_text=True)
    assert 'id="balance-verdict"' in page and "balance-verdict ok" in page and "<svg" in page
    assert books[0][2].organization.name in page  # accounts named by tenderer, not by id
    assert str(books[1][2].id) not in page and "deposit:" not in page
    client.post("/sign-out")
    _sign_in(client, people, cast["supervisor"])
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert f"/tenders/{tender.id}/ledger" in dashboard  # reached from the supervisor's dashboard
    assert "balance-verdict ok" in client.get(f"/tenders/{tender.id}/ledger").get_data(as_text=True)
    client.post("/sign-out")
    _sign_in(client, people, books[0][0])
    assert client.get(f"/tenders/{tender.id}/ledger").status_code == 403


def test_r_d3_a_tenderers_statement_counts_the_days_held(client, people, session, tender, books):
    bidders, deposits = books
    amount = deposits[0].amount_fen
    statement = client.get("/api/v1/deposits/statement", headers=auth(people, client, bidders[0])).get_json()
    (refunded,) = statement["items"]
    assert refunded["status"] == "refunded" and refunded["days_held"] == 10 and refunded["settled"]
    assert refunded["interest_fen"] == interest(amount, 10)
    assert refunded["returned_fen"] == amount + interest(amount, 10)
    assert refunded["tender_code"] == tender.code
    # A held deposit accrues to date: from the day after payment (R-T6), one more each day.
    paid_day = clock.local(deposits[2].paid_at).date()
    for days in (0, 1, 45):
        clock.freeze(clock.local(deposits[2].paid_at).replace(hour=23, minute=59) + timedelta(days=days))
        if days:
            clock.freeze(clock.now() - timedelta(minutes=1))
        held = client.get("/api/v1/deposits/statement", headers=auth(people, client, bidders[2])).get_json()
        row = held["items"][0]
        assert (clock.local(clock.now()).date() - paid_day).days == days
        assert row["status"] == "held" and not row["settled"] and row["returned_fen"] is None
        assert row["days_held"] == days and row["interest_fen"] == interest(amount, days)
    forfeited = client.get("/api/v1/deposits/statement", headers=auth(people, client, bidders[1])).get_json()
    assert forfeited["items"][0]["status"] == "forfeited" and forfeited["items"][0]["returned_fen"] == 0


def test_r_d3_the_statement_page_from_the_tenderers_dashboard(client, people, session, tender, books):
    bidders, deposits = books
    _sign_in(client, people, bidders[0])
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/deposits/statement"' in dashboard
    page = client.get("/deposits/statement").get_data(as_text=True)
    amount = deposits[0].amount_fen
    returned = amount + interest(amount, 10)
    assert f"¥{returned / 100:,.2f}" in page and tender.code in page and "<svg" in page
    assert "已退还" in page and "撤回投标" in page and "withdrawal" not in page  # in words, in Chinese


def test_flask_ledger_check_proves_the_books_balance(runner, session, tender, books):
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "balanced" in result.output and ledger.ESCROW in result.output
    # One line lost: that transaction no longer sums to zero, and the deposit owes less than it should.
    _bidders, deposits = books
    transaction = session.scalars(
        select(LedgerTransaction).where(
            LedgerTransaction.deposit_id == deposits[2].id, LedgerTransaction.kind == "deposit_paid"
        )
    ).one()
    line = next(line for line in transaction.lines if line.account == ledger.deposit_account(deposits[2]))
    line.amount_fen += 1
    session.commit()
    broken = runner.invoke(args=["ledger", "check"])
    assert broken.exit_code == 1
    assert f"transaction {transaction.id} does not sum to zero" in broken.output
    assert f"deposit {deposits[2].id} (held) owes" in broken.output


def test_the_check_compares_each_deposit_with_its_account(session, tender, books):
    _bidders, deposits = books
    assert ledger_view.check(session).ok
    # A balanced transaction that moves money the deposit's state does not explain is still caught.
    ledger.book(
        session,
        "deposit_refunded",
        [(ledger.deposit_account(deposits[2]), 100), (ledger.ESCROW, -100)],
        tender_id=tender.id,
        deposit_id=deposits[2].id,
    )
    session.commit()
    result = ledger_view.check(session)
    assert result.trial_balance.balanced and not result.ok
    assert result.problems == [
        f"deposit {deposits[2].id} (held) owes {deposits[2].amount_fen - 100} fen on its account, "
        f"expected {deposits[2].amount_fen}"
    ]
    assert session.get(Deposit, uuid.UUID(str(deposits[2].id))).status == "held"
    assert session.scalar(select(LedgerLine.id).limit(1)) is not None
