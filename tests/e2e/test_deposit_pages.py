"""Deposits through the bank in Chromium (issue 14 item 5): the tenderer registers its basic account and
reads what to pay, where and with which reference; the centre's finance staff import statements from
their dashboard (a malformed file refused with its line named, then each line's outcome in words) and
make the refund batch for the bank; the tenderer's page then says the deposit is held."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bidding import bank, ledger
from bidding.models import Deposit, DepositReference
from core import clock
from core.roles import Role
from demo import bank as demo_bank
from tests.e2e.test_pages import sign_in
from tests.e2e.test_tender_pages import sign_out

pytestmark = pytest.mark.e2e

BASIC = "6222020200188887777"


def _statement_file(tmp_path, lines, name="流水.csv"):
    account = bank.deposit_account()
    path = tmp_path / name
    path.write_bytes(demo_bank.csv_statement(account.number, account.name, lines))
    return path


def test_the_tenderer_pays_and_the_finance_staff_confirm_it_from_the_statement(
    page, people, session, tender, tmp_path
):
    tenderer = people.user(Role.TENDERER, "pay-bidder")
    admin = people.user(Role.ADMIN, "finance")

    # The tenderer: from the notices to the tender's deposit section.
    sign_in(page, people, tenderer)
    page.click("nav a[href='/tenders']")
    page.click(f"a:has-text('{tender.title}')")
    expect(page.locator("#basic-account-missing")).to_be_visible()
    page.fill("#basic-account-form #bank", "中国工商银行北京海淀支行")
    page.fill("#basic-account-form #account_no", BASIC)
    page.click("#basic-account-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    page.click("#reference-form-1 button[type=submit]")
    instructions = page.locator("#payment-1")
    expect(instructions).to_be_visible()
    reference = instructions.locator(".pay-reference").inner_text()
    sub_account = instructions.locator(".pay-to").inner_text()
    assert re.fullmatch(r"BZ[2-9A-Z]{8}", reference) and sub_account == bank.deposit_account().sub_account(
        tender
    )
    expect(instructions).to_contain_text("¥20,000.00")
    expect(instructions).to_contain_text(BASIC)
    expect(page.locator("#deposit-state-1")).to_have_text("等待银行确认到账")
    sign_out(page)

    # The bank pays; the finance staff import the statement from their dashboard.
    session.rollback()  # a fresh read: the server committed meanwhile
    ref = session.scalars(select(DepositReference)).one()
    org = tenderer.organization
    paid = demo_bank.Line(
        ref.amount_fen, BASIC, org.name, f"{reference} 投标保证金", clock.now(), sub_account=sub_account
    )
    stranger = demo_bank.Line(12_345, "6217000011112222", "李四", "货款", clock.now())
    good = _statement_file(tmp_path, [paid, stranger])
    broken = tmp_path / "坏文件.csv"
    broken.write_bytes(good.read_bytes().decode("gb18030").replace("123.45", "12x.45").encode("gb18030"))
    sign_in(page, people, admin)
    page.click("#panel-deposit-account a.button")
    page.set_input_files("#statement-form input[type=file]", str(broken))
    page.click("#statement-form button[type=submit]")
    expect(page.locator("#refusal")).to_contain_text("未导入任何内容")
    expect(page.locator("#refusal table")).to_contain_text("不是金额")
    page.set_input_files("#statement-form input[type=file]", str(good))
    page.click("#statement-form button[type=submit]")
    lines = page.locator("#statement-lines tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("保证金到账")
    expect(lines.nth(0)).to_contain_text("投标截止前不显示所属项目")  # sealed until the deadline (R-B4)
    expect(lines.nth(1)).to_contain_text("附言中没有缴款识别码")
    page.click("a:has-text('保证金专户')")
    expect(page.locator("#unmatched")).to_contain_text("李四")
    expect(page.locator("#account-facts")).to_contain_text("平衡")

    # A refund batch for the money to return: the payment file for the bank.
    page.click("#batch-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("退款批次")
    with page.expect_download() as download:
        page.click("#batch-file")
    assert download.value.suggested_filename.endswith(".csv")
    content = download.value.path().read_text(encoding="utf-8-sig")
    assert "李四" in content and "123.45" in content and "6217000011112222" in content
    sign_out(page)

    # The tenderer's page now says the bank confirmed the deposit.
    session.rollback()  # a fresh read: the server committed meanwhile
    assert session.scalars(select(Deposit)).one().status == "held"
    assert ledger.trial_balance(session) == 0
    clock.advance(timedelta(seconds=31))
    sign_in(page, people, tenderer)
    page.goto(f"/tenders/{tender.id}")
    expect(page.locator("#deposit-state-1")).to_have_text("已缴纳：银行确认到账")
