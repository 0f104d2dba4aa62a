"""`flask --app wsgi demo tender`: a sample tender from publication to the award and the contract, on
the sandbox clock, through the same services as the pages."""

import json
from datetime import timedelta

from sqlalchemy import select

from bidding import opening
from bidding.models import Bid, Opening, Tender
from core import clock


def test_demo_tender_runs_from_publication_to_the_contract(app, runner, session):
    refused = runner.invoke(args=["demo", "tender"])
    assert refused.exit_code != 0 and "SUNBID_SANDBOX" in refused.output  # never outside the sandbox
    app.config["SANDBOX"] = True
    frozen = clock.now()
    clock.freeze(None)  # the demo moves the sandbox clock, which a frozen test clock would hide
    try:
        result = runner.invoke(args=["demo", "tender"])
    finally:
        clock.set_offset(timedelta(0))
        clock.freeze(frozen)
    assert result.exit_code == 0, result.output
    session.rollback()
    tender = session.scalars(select(Tender)).one()
    assert session.get(Opening, tender.id).status == "closed"
    outcomes = [b.outcome for b in session.scalars(select(Bid).where(Bid.tender_id == tender.id))]
    assert outcomes == ["opened"] * 3
    record = json.loads(opening.signed_record(session, tender))["record"]
    assert sorted(row["price_fen"] for row in record["bids"]) == [4_798_800_000, 4_865_000_000, 4_912_300_000]
    assert "opening record signed" in result.output
    from evaluation.models import Award, EvaluationReport
    from experts.models import Draw

    assert session.get(EvaluationReport, tender.id).status == "signed"
    assert session.scalars(select(Draw)).one().disclosed_at is not None  # the result determined (R-E4)
    winner = session.get(Award, tender.id)
    assert winner.contract_signed_at is not None
    # The three bids all scored 8 on C1; the cheapest is nearest the benchmark and best on price.
    from accounts.models import Organization

    assert (
        session.get(Organization, session.get(Bid, winner.winner_bid_id).organization_id).name
        in result.output
    )
    # Deposits were held on the bank's word and refunded through it (issue 14 item 5): the statement that
    # shows the refund batch paid settles them; the books balance and escrow holds nothing any more.
    from bidding import ledger
    from bidding.models import BankTransaction, Deposit

    deposits = session.scalars(select(Deposit)).all()
    assert [d.status for d in deposits] == ["refunded"] * 3 and all(d.interest_fen > 0 for d in deposits)
    outcomes = sorted(tx.outcome for tx in session.scalars(select(BankTransaction)))
    assert outcomes == ["matched"] * 3 + ["refund_paid"] * 3
    balances = ledger.balances(session)
    assert ledger.trial_balance(session) == 0
    assert balances[ledger.ESCROW] == sum(tx.amount_fen for tx in session.scalars(select(BankTransaction)))
