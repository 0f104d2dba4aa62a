"""Deposits confirmed by the bank (issue 14 item 5): statements with matching, partial, duplicate, foreign,
refused and malformed lines; every line's outcome stated, nothing half-imported, books that balance; a
refund batch that round-trips through the next statement."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from bidding import bank, ledger
from bidding.models import BankStatement, BankTransaction, Deposit, DepositReference, LedgerLine, RefundLine
from core import clock
from core.errors import Conflict, Invalid
from core.roles import Role
from demo import bank as demo_bank
from tests.bidding.test_ledger import ACCOUNT, pay
from tests.bidding.test_tenders import auth

OTHER_ACCOUNT = "6222020200155556666"


@pytest.fixture
def bidders(people, session):
    users = []
    for n, name in enumerate(("北京建工集团有限公司", "中铁城建有限公司", "华北路桥工程有限公司")):
        user = people.user(Role.TENDERER, f"bank-bidder{n}")
        user.organization.name = name
        user.organization.basic_account_bank = "中国工商银行北京分行"
        user.organization.basic_account_no = f"62220202001122{n:05d}"
        users.append(user)
    session.commit()
    return users


def _account():
    return bank.deposit_account()


def _line(reference: DepositReference, user, **changes) -> demo_bank.Line:
    values = {
        "amount_fen": reference.amount_fen,
        "counterparty_account": user.organization.basic_account_no,
        "counterparty_name": user.organization.name,
        "memo": f"{reference.reference} 投标保证金",
        "booked_at": clock.now(),
        "sub_account": reference.sub_account,
    }
    values.update(changes)
    return demo_bank.Line(**values)


def _books_balance(session) -> None:
    """Every transaction sums to zero, and escrow holds exactly what the imported lines moved."""
    assert ledger.trial_balance(session) == 0
    bank_total = session.scalar(select(func.coalesce(func.sum(BankTransaction.amount_fen), 0)))
    assert ledger.balances(session).get(ledger.ESCROW, 0) == bank_total


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_statement_states_each_lines_outcome_and_the_books_balance(session, tender, bidders):
    account = _account()
    a, b, c = bidders
    ref_a, ref_b, ref_c = (bank.issue_reference(session, u, tender, 1) for u in bidders)
    session.commit()
    assert ref_a.sub_account == account.sub_account(tender) and ref_a.reference != ref_b.reference
    matched = _line(ref_a, a)
    lines = [
        matched,
        _line(ref_b, b, amount_fen=ref_b.amount_fen // 2),  # partial
        _line(ref_c, c, counterparty_account=OTHER_ACCOUNT),  # not from the basic account (R-D1)
        demo_bank.Line(50_000, "6217000000000001", "张三", "货款", clock.now()),  # no reference
        demo_bank.Line(1_000, "6217000000000001", "张三", "USD", clock.now(), currency="USD"),  # foreign
        _line(ref_a, a, bank_ref=matched.bank_ref),  # the same bank line again: duplicate
    ]
    data = demo_bank.csv_statement(account.number, account.name, lines)  # GB18030, as banks export
    result = bank.import_statement(session, None, filename="11月流水.csv", data=data)
    session.commit()
    outcomes = [
        (r["line"], r["outcome"], r["detail"]) for r in bank.statement_lines(session, result.statement)
    ]
    assert [(o, d) for _line_no, o, d in outcomes] == [
        ("matched", ""),
        ("partial", "short"),
        ("refused", "not_basic_account"),
        ("unmatched", "no_reference"),
        ("foreign", "other_currency"),
        ("duplicate", "repeated"),
    ]
    assert [line for line, _o, _d in outcomes] == [5, 6, 7, 8, 9, 10]  # the file's own line numbers
    held = session.scalars(select(Deposit)).one()
    assert (held.organization_id, held.status, held.paid_at) == (a.organization_id, "held", matched.booked_at)
    assert held.payer_account == a.organization.basic_account_no  # the bank's payer data, checked (R-D1)
    assert session.get(DepositReference, ref_a.id).deposit_id == held.id
    _books_balance(session)
    in_suspense = sum(tx.amount_fen for tx in bank.unmatched(session))
    assert ledger.balances(session)[ledger.SUSPENSE] == -in_suspense
    assert in_suspense == ref_b.amount_fen // 2 + ref_c.amount_fen + 50_000
    logged = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "bidding.statement_imported")
    ).one()
    assert result.statement.sha256.encode() in logged.leaf and b"outcomes_sha256" in logged.leaf

    # The same file again: every line is a duplicate, no money moves.
    before = ledger.balances(session)
    again = bank.import_statement(session, None, filename="again.csv", data=data)
    session.commit()
    assert again.counts == {"duplicate": 5, "foreign": 1}
    assert ledger.balances(session) == before and _count(session, Deposit) == 1


def test_a_malformed_line_refuses_the_whole_file_and_names_it(session, tender, bidders):
    account = _account()
    reference = bank.issue_reference(session, bidders[0], tender, 1)
    session.commit()
    good = demo_bank.csv_statement(account.number, account.name, [_line(reference, bidders[0])]).decode(
        "gb18030"
    )
    broken = good.replace("\r\n合计", '\r\n2026-11-23,10:00:00,X1,人民币,,"12,3x4.00",,1,某公司,,,,\r\n合计')
    before = [_count(session, m) for m in (BankStatement, BankTransaction, Deposit, LedgerLine, AuditEntry)]
    with pytest.raises(Invalid) as err:
        bank.import_statement(session, None, filename="broken.csv", data=broken.encode("gb18030"))
    session.rollback()
    assert err.value.code == "statement_malformed" and err.value.status == 422
    assert err.value.details["malformed"] == [[6, "贷方发生额", "invalid_amount", "12,3x4.00"]]
    assert err.value.details["not_imported"] == 1  # the good line was not imported either
    after = [_count(session, m) for m in (BankStatement, BankTransaction, Deposit, LedgerLine, AuditEntry)]
    assert after == before


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", None),
        (b"hello,world\r\n1,2\r\n", "no_header"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<Document>&b;</Document>",
            "invalid_xml",
        ),
        (b"<Document><BkToCstmrStmt><Stmt>", "invalid_xml"),
    ],
)
def test_unreadable_files_are_refused(session, tender, data, reason):
    with pytest.raises(Invalid) as err:
        bank.import_statement(session, None, filename="x", data=data)
    assert err.value.details["field"] == "file"
    if reason:
        assert err.value.code == "statement_unreadable" and err.value.details["reason"] == reason


def test_another_accounts_statement_is_refused(session, tender):
    data = demo_bank.csv_statement("1100000000000000000", "别的账户", [])
    with pytest.raises(Invalid) as err:
        bank.import_statement(session, None, filename="x.csv", data=data)
    assert err.value.code == "statement_other_account"


def test_camt053_with_two_accounts_and_a_balance_check(session, tender, bidders):
    account = _account()
    reference = bank.issue_reference(session, bidders[0], tender, 1)
    session.commit()
    ours = demo_bank.camt053_statement(account.number, account.name, [_line(reference, bidders[0])])
    theirs = demo_bank.camt053_statement(
        "0200001209200099999", "运营中心基本户", [demo_bank.Line(9_900, "1", "某某", "房租", clock.now())]
    )
    # One file with both statements (banks send every account of the customer in one camt.053).
    stmt_other = theirs[theirs.index(b"<Stmt>") : theirs.index(b"</Stmt>") + 7]
    combined = ours.replace(b"</Stmt>", b"</Stmt>" + stmt_other, 1)
    result = bank.import_statement(session, None, filename="camt053.xml", data=combined)
    session.commit()
    assert result.counts == {"foreign": 1, "matched": 1}
    _books_balance(session)
    # A statement whose entries do not add up to its closing balance is cut short: refused whole.
    second = bank.issue_reference(session, bidders[1], tender, 1)
    session.commit()
    short = demo_bank.camt053_statement(account.number, account.name, [_line(second, bidders[1])])
    short = short.replace(
        b'<Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">', b'<Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">1'
    )
    with pytest.raises(Invalid) as err:
        bank.import_statement(session, None, filename="short.xml", data=short)
    assert err.value.details["malformed"][0][2] == "balances_do_not_add_up"


def test_a_refund_batch_round_trips_through_the_next_statement(session, people, tender, bidders):
    account = _account()
    a, b, c = bidders
    refs = [bank.issue_reference(session, u, tender, 1) for u in bidders]
    session.commit()
    paid_in = [_line(refs[0], a), _line(refs[1], b), _line(refs[2], c, amount_fen=refs[2].amount_fen - 100)]
    bank.import_statement(
        session, None, filename="in.csv", data=demo_bank.csv_statement(account.number, account.name, paid_in)
    )
    session.commit()
    deposit_a = session.scalar(select(Deposit).where(Deposit.organization_id == a.organization_id))
    clock.advance(timedelta(days=30))
    ledger.schedule_refund(session, deposit_a, "withdrawal", clock.now())  # R-D2
    session.commit()
    admin = people.user(Role.ADMIN)
    batch = bank.create_refund_batch(session, admin)
    session.commit()
    assert [(line.deposit_id is not None, line.payee_name) for line in batch.lines] == [
        (True, a.organization.name),  # the refund, to the basic account it came from
        (False, c.organization.name),  # the short payment, back to its payer
    ]
    refund = batch.lines[0]
    assert refund.interest_fen > 0 or not ledger._rates(session, "deposit")
    with pytest.raises(Conflict):  # nothing is put in a second batch while the first waits for the bank
        bank.create_refund_batch(session, admin)
    session.rollback()
    payment_file = bank.batch_file(batch)
    assert payment_file.startswith("\ufeff序号,收款人账号".encode())
    debits = demo_bank.pay_batch(payment_file, clock.now())
    bank.import_statement(
        session,
        admin,
        filename="out.xml",
        data=demo_bank.camt053_statement(account.number, account.name, debits, opening_fen=0),
    )
    session.commit()
    session.refresh(deposit_a)
    assert deposit_a.status == "refunded" and deposit_a.refunded_at == debits[0].booked_at
    assert all(line.paid_at is not None for line in session.get(type(batch), batch.id).lines)
    assert bank.unmatched(session) == []  # the short payment went back
    _books_balance(session)
    assert ledger.balances(session).get(ledger.SUSPENSE, 0) == 0


def test_a_refund_batch_line_with_another_amount_is_not_settled(session, people, tender, bidders):
    account = _account()
    deposit = pay(session, bidders[0], tender)
    ledger.schedule_refund(session, deposit, "withdrawal", clock.now())
    session.commit()
    batch = bank.create_refund_batch(session, people.user(Role.ADMIN))
    session.commit()
    (debit,) = demo_bank.pay_batch(bank.batch_file(batch), clock.now())
    debit.amount_fen -= 1
    result = bank.import_statement(
        session, None, filename="x.csv", data=demo_bank.csv_statement(account.number, account.name, [debit])
    )
    session.commit()
    assert result.counts == {"unmatched": 1}
    assert session.get(Deposit, deposit.id).status == "refund_due"
    assert session.scalars(select(RefundLine)).one().paid_at is None
    _books_balance(session)


def test_references_survive_what_people_type_in_a_memo(session, tender, bidders):
    reference = bank.issue_reference(session, bidders[0], tender, 1).reference
    spaced = f"投标保证金{reference[:5]} {reference[5:]}，谢谢"
    assert bank.find_reference(spaced, "BZ") == reference
    assert bank.find_reference(reference.lower(), "BZ") == reference
    typo = reference[:-1] + ("2" if reference[-1] != "2" else "3")
    assert bank.find_reference(typo, "BZ") is None  # the check character catches a typo


def test_finance_api_imports_and_refuses_with_each_line(client, people, session, tender, bidders):
    account = _account()
    reference = bank.issue_reference(session, bidders[0], tender, 1)
    session.commit()
    admin = people.user(Role.ADMIN)
    headers = auth(people, client, admin)
    data = demo_bank.csv_statement(account.number, account.name, [_line(reference, bidders[0])])
    response = client.post("/api/v1/bank/statements?filename=a.csv", data=data, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["counts"] == {"matched": 1} and body["outcomes"][0]["outcome"] == "matched"
    bad = client.post("/api/v1/bank/statements", data=b"<Document>", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "statement_unreadable"
    clock.advance(timedelta(seconds=31))
    tenderer = auth(people, client, bidders[1])
    refused = client.post("/api/v1/bank/statements", data=data, headers=tenderer)
    assert refused.status_code == 403
    own = client.get(f"/api/v1/tenders/{tender.id}/deposits/payment", headers=tenderer).get_json()
    assert own["items"][0]["status"] == "not_requested"


def test_the_tender_page_tells_the_tenderer_what_to_pay_where(client, people, session, tender, bidders):
    from tests.factories import PASSWORD

    user = bidders[0]
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert 'id="reference-form-1"' in page and "pay-reference" not in page
    client.post(f"/tenders/{tender.id}/deposit/reference", data={"lot": "1"})
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    reference = session.scalars(select(DepositReference)).one()
    account = _account()
    for fact in (reference.reference, reference.sub_account, account.name, account.bank, "20,000.00"):
        assert fact in page
    assert user.organization.basic_account_no in page
    assert ACCOUNT not in page  # another tenderer's basic account, never


def test_an_e_guarantee_is_filed_from_the_page_with_its_verification_reference(
    client, session, tender, bidders
):
    import io

    from tests.factories import PASSWORD

    user = bidders[0]
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    valid = clock.local(tender.bid_deadline + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "lot": "1",
        "amount": "20000",
        "insurer": "中国人民财产保险股份有限公司",
        "policy_number": "BH-2026-0099",
        "verification_ref": "",
        "valid_until": valid,
        "file": (io.BytesIO(b"%PDF-1.7 guarantee"), "保函.pdf"),
    }
    refused = client.post(f"/tenders/{tender.id}/deposit/guarantee", data=form, follow_redirects=True)
    assert _count(session, Deposit) == 0 and "验真码" in refused.get_data(as_text=True)
    form["verification_ref"] = "YZ88421177"
    form["file"] = (io.BytesIO(b"%PDF-1.7 guarantee"), "保函.pdf")
    client.post(f"/tenders/{tender.id}/deposit/guarantee", data=form)
    session.rollback()
    deposit = session.scalars(select(Deposit)).one()
    assert (deposit.kind, deposit.verification_ref, deposit.status) == ("guarantee", "YZ88421177", "held")
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert "YZ88421177" in page


@pytest.mark.parametrize(
    ("cells", "field", "code"),
    [
        (("2026-11-23", "10:00:00", "R1", "", "1e30"), "贷方发生额", "invalid_amount"),
        (("2026-11-23", "10:00:00", "R2", "", "99999999999999999999.00"), "贷方发生额", "invalid_amount"),
        (("0001-01-01", "00:00:00", "R3", "", "1.00"), "交易日期", "invalid_date"),
        (("2026-11-23", "10:00:00", "R" * 65, "", "1.00"), "交易流水号", "too_long"),
        (("2026-11-23", "10:00:00", "R5", "1.00", "1.00"), "借方发生额/贷方发生额", "one_amount_needed"),
        (("2026-11-23", "10:00:00", "", "", "1.00"), "交易流水号", "missing"),
    ],
)
def test_hostile_lines_are_named_not_crashed_on(session, tender, cells, field, code):
    account = _account()
    header = "交易日期,交易时间,交易流水号,借方发生额,贷方发生额,对方账号,对方户名\r\n"
    text = f"账号:,{account.number}\r\n{header}{','.join(cells)},6217000011112222,某人\r\n"
    with pytest.raises(Invalid) as err:
        bank.import_statement(session, None, filename="x.csv", data=text.encode("utf-8"))
    (problem,) = err.value.details["malformed"]
    assert problem[:3] == [3, field, code]


def test_a_line_the_bank_did_not_pay_goes_into_the_next_batch(client, people, session, tender, bidders):
    account = _account()
    deposit = pay(session, bidders[0], tender)
    ledger.schedule_refund(session, deposit, "withdrawal", clock.now())
    session.commit()
    admin = people.user(Role.ADMIN)
    first = bank.create_refund_batch(session, admin)
    session.commit()
    (line,) = first.lines
    headers = auth(people, client, admin)
    response = client.post(f"/api/v1/bank/refund-lines/{line.id}/cancel", json={}, headers=headers)
    assert response.status_code == 200 and response.get_json()["lines"][0]["cancelled_at"]
    session.rollback()
    second = bank.create_refund_batch(session, admin)
    session.commit()
    assert [ln.deposit_id for ln in second.lines] == [deposit.id]
    # A late debit with the cancelled line's reference is not taken for the refund.
    (stale,) = demo_bank.pay_batch(bank.batch_file(first), clock.now())
    result = bank.import_statement(
        session, None, filename="x.csv", data=demo_bank.csv_statement(account.number, account.name, [stale])
    )
    session.commit()
    assert result.counts == {"unmatched": 1}
    (paid,) = demo_bank.pay_batch(bank.batch_file(second), clock.now())
    bank.import_statement(
        session, None, filename="y.csv", data=demo_bank.csv_statement(account.number, account.name, [paid])
    )
    session.commit()
    assert session.get(Deposit, deposit.id).status == "refunded"
    clock.advance(timedelta(seconds=31))
    again = client.post(
        f"/api/v1/bank/refund-lines/{second.lines[0].id}/cancel", json={}, headers=auth(people, client, admin)
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "refund_line_paid"
    _books_balance(session)
