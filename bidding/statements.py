"""Reading the deposit account's bank statements (对账单): CSV as Chinese banks export them, and ISO 20022
camt.053 (BankToCustomerStatement). Both become the same rows; nothing here touches the database.

The CSV layout (docs/bank-statements.md) is the "account details" export of Chinese corporate e-banking:
a few ``key,value`` lines about the account (账号, 户名, 币种, 起止日期), then a header row naming the
columns, then one line per booked transaction, sometimes a 合计 (total) line at the end. Columns are found
by their header, in any order, under the names banks use (交易日期 or 记账日期, 贷方发生额 or 收入金额...).
Files come in GB18030/GBK (most banks) or UTF-8, with or without a byte-order mark. Amounts are yuan with
two decimals and optional thousands separators; a line has its amount either in the debit (借方, money
out) or in the credit (贷方, money in) column. Times are Beijing time.

camt.053 (any version .001.02 to .001.13: the namespace is not checked) is read as a stream with
lxml (a DOCTYPE is refused, entities are never resolved, nothing is fetched; each entry is dropped once
read, so memory stays flat). Each booked entry (``Sts`` BOOK) is one row: the
bank's reference (``AcctSvcrRef``, the transaction's when given), the booking date, the amount with its
``CdtDbtInd``, the counterparty (the debtor of a credit, the creditor of a debit) with its account and
bank, the sub-account credited (``CdtrAcct`` of a credit, when it is not the statement's account), and
the unstructured remittance information (``Ustrd``) as memo.

A line that cannot be read is reported with its line (CSV) or entry number (camt.053), the field and
why; the caller refuses the whole file then (nothing is half-imported).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation

from lxml import etree

from core.clock import SHANGHAI

MAX_LINES = 500_000
MAX_YUAN = Decimal(10) ** 15  # far beyond any deposit; keeps amounts inside the database's 64-bit integers
YEARS = range(2000, 2100)  # a booking date outside is a misread, not a transaction


@dataclass(slots=True)
class Row:
    """One booked line: ``amount_fen`` positive for money in (credit), negative for money out (debit)."""

    line: int
    bank_ref: str
    booked_at: datetime
    amount_fen: int
    currency: str
    sub_account: str
    counterparty_account: str
    counterparty_name: str
    counterparty_bank: str
    memo: str
    booked: bool = True  # camt.053: False for a pending (not yet booked) entry
    account_no: str = ""  # camt.053: the account of the statement the entry is in (a file may hold several)
    reference: str | None = None  # the payment or refund reference found in the memo (bidding/bank.py)


@dataclass
class Problem:
    line: int
    field: str
    code: str
    value: str = ""

    def as_list(self) -> list:
        return [self.line, self.field, self.code, self.value[:60]]


@dataclass
class Statement:
    """A statement being read: ``rows`` is read as it is iterated (a large file is never held whole as
    rows), and ``problems`` fills meanwhile; the caller refuses the file if any is found."""

    format: str
    account_no: str
    currency: str
    rows: Iterator[Row] = field(default_factory=lambda: iter(()))
    problems: list[Problem] = field(default_factory=list)


class UnreadableStatement(ValueError):
    """The file is neither a statement CSV nor camt.053 (or is not a statement at all)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code, self.detail = code, detail


def parse(data: bytes) -> Statement:
    head = data[:512].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return parse_camt053(data)
    return parse_csv(data)


# -- amounts, dates --------------------------------------------------------------------------------------

_CLEAN = re.compile(r"[,\s，¥￥]")


_PLAIN_AMOUNT = re.compile(r"(\d{1,15})\.(\d\d)")


def yuan_to_fen(text: str) -> int:
    """``"1,234.50"`` -> 123450; refuses floats' rounding by reading decimals exactly."""
    plain = _PLAIN_AMOUNT.fullmatch(text.replace(",", ""))
    if plain:  # the usual form, read without Decimal
        return int(plain[1]) * 100 + int(plain[2])
    value = Decimal(_CLEAN.sub("", text))
    if not value.is_finite() or abs(value) >= MAX_YUAN or value != value.quantize(Decimal("0.01")):
        raise InvalidOperation(text)
    return int(value * 100)


def _local(day: str, clock_time: str = "") -> datetime:
    moment = _naive(day, clock_time)
    if moment.year not in YEARS:
        raise ValueError(day)
    return moment.replace(tzinfo=SHANGHAI)


def _naive(day: str, clock_time: str) -> datetime:
    if len(day) == 10 and len(clock_time) == 8 and day[4] == "-" and clock_time[2] == ":":
        return datetime.fromisoformat(f"{day}T{clock_time}")  # the usual form
    day = day.strip().replace("/", "-").replace(".", "-")
    if len(day) == 8 and day.isdigit():
        day = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    moment = datetime.fromisoformat(day[:10])
    clock_time = clock_time.strip().replace(".", ":")
    if clock_time:
        if len(clock_time) == 6 and clock_time.isdigit():
            clock_time = f"{clock_time[:2]}:{clock_time[2:4]}:{clock_time[4:]}"
        moment = datetime.combine(moment.date(), time.fromisoformat(clock_time))
    elif len(day) > 10:  # "2026-11-23 10:15:02" in one column
        moment = datetime.fromisoformat(day)
    return moment


# -- CSV ------------------------------------------------------------------------------------------------

COLUMNS = {
    "date": ("交易日期", "记账日期", "交易时间戳", "日期"),
    "time": ("交易时间", "时间"),
    "bank_ref": ("交易流水号", "流水号", "交易序号", "银行流水号", "凭证号"),
    "debit": ("借方发生额", "借方金额", "支出金额", "支出"),
    "credit": ("贷方发生额", "贷方金额", "收入金额", "收入"),
    "balance": ("余额", "账户余额"),
    "counterparty_account": ("对方账号", "对方账户", "对方帐号"),
    "counterparty_name": ("对方户名", "对方账户名称", "对方名称", "对方单位"),
    "counterparty_bank": ("对方开户行", "对方行名", "对方开户银行"),
    "sub_account": ("子账号", "虚拟子账号", "子账户", "虚拟账号"),
    "summary": ("摘要",),
    "memo": ("附言", "用途", "备注", "交易附言"),
    "currency": ("币种",),
}
REQUIRED = ("date", "bank_ref", "debit", "credit", "counterparty_account", "counterparty_name")
ACCOUNT_KEYS = ("账号", "帐号", "账户", "查询账号")
CURRENCY_NAMES = {"人民币": "CNY", "CNY": "CNY", "RMB": "CNY", "156": "CNY"}


def _encoding(data: bytes) -> str:
    """UTF-8 (with or without its byte-order mark) if the whole file decodes so, else GB18030 (a superset of
    GBK and GB2312, what most Chinese banks write). Checked piece by piece: nothing is decoded twice whole."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), 1 << 20):
            decoder.decode(data[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _header_map(cells: list[str]) -> dict[str, int] | None:
    names = [c.strip().replace("（", "(").split("(")[0].strip() for c in cells]
    found = {}
    for key, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[key] = names.index(alias)
                break
    return found if all(k in found for k in REQUIRED) else None


def parse_csv(data: bytes) -> Statement:
    text = io.TextIOWrapper(io.BytesIO(data), encoding=_encoding(data), errors="strict", newline="")
    lines = enumerate(csv.reader(text), start=1)
    statement = Statement("csv", "", "CNY")
    columns: dict[str, int] | None = None
    try:
        for _number, cells in lines:
            if not cells or not "".join(cells).strip():
                continue
            key = cells[0].strip().rstrip(":：")
            if key in ACCOUNT_KEYS and len(cells) > 1:
                statement.account_no = "".join(cells[1].split())
            elif key == "币种" and len(cells) > 1:
                statement.currency = CURRENCY_NAMES.get(cells[1].strip(), cells[1].strip())
            else:
                columns = _header_map(cells)
                if columns is not None:
                    break
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableStatement("unknown_encoding", str(exc)[:200]) from exc
    if columns is None:
        raise UnreadableStatement(
            "no_header", "交易日期, 交易流水号, 借方发生额, 贷方发生额, 对方账号, 对方户名"
        )
    if not statement.account_no:
        raise UnreadableStatement("no_account", "账号")
    statement.rows = _csv_rows(lines, columns, statement)
    return statement


FIELDS = (
    "bank_ref",
    "date",
    "time",
    "debit",
    "credit",
    "currency",
    "sub_account",
    "counterparty_account",
    "counterparty_name",
    "counterparty_bank",
    "memo",
    "summary",
)


def _csv_rows(lines, columns: dict[str, int], statement: Statement) -> Iterator[Row]:
    indexes = [columns.get(name) for name in FIELDS]
    try:
        for number, cells in lines:
            if number > MAX_LINES:
                raise UnreadableStatement("too_many_lines", str(MAX_LINES))
            if not cells or not "".join(cells).strip():
                continue
            if cells[0].lstrip().startswith(("合计", "总计", "本页合计", "#")):
                continue  # the bank's totals line, or a comment
            width = len(cells)
            values = [cells[i].strip() if i is not None and i < width else "" for i in indexes]
            row = _csv_row(number, values, statement)
            if row is not None:
                yield row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableStatement("unknown_encoding", str(exc)[:200]) from exc


def _csv_row(number: int, values: list[str], statement: Statement) -> Row | None:
    bank_ref, day, clock_time, debit, credit, currency, sub, account, name, bank, memo, summary = values
    problems = statement.problems
    before = len(problems)
    if not bank_ref or len(bank_ref) > 64:
        problems.append(Problem(number, "交易流水号", "missing" if not bank_ref else "too_long", bank_ref))
    try:
        booked_at = _local(day, clock_time)
    except ValueError:
        problems.append(Problem(number, "交易日期", "invalid_date", f"{day} {clock_time}".strip()))
        booked_at = None
    amounts = {}
    for key, raw, label in (("debit", debit, "借方发生额"), ("credit", credit, "贷方发生额")):
        if raw in ("", "-", "0", "0.00"):
            continue
        try:
            amounts[key] = yuan_to_fen(raw)
        except InvalidOperation:
            problems.append(Problem(number, label, "invalid_amount", raw))
    if len(problems) == before and (len(amounts) != 1 or next(iter(amounts.values())) <= 0):
        problems.append(Problem(number, "借方发生额/贷方发生额", "one_amount_needed", ""))
    if len(problems) > before or booked_at is None:  # a bad date is among the problems
        return None
    return Row(
        number,
        bank_ref,
        booked_at,
        amounts.get("credit") or -amounts["debit"],
        CURRENCY_NAMES.get(currency, currency) if currency else statement.currency,
        "".join(sub.split()),
        "".join(account.split()),
        name[:200],
        bank[:100],
        (f"{memo} {summary}" if memo and summary else memo or summary)[:300],
        account_no=statement.account_no,
    )


# -- camt.053 -------------------------------------------------------------------------------------------


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element, *path: str):
    """The first descendant along ``path`` (local names, any namespace), or None."""
    current = [element]
    for name in path:
        current = [child for parent in current for child in parent if _local_name(child.tag) == name]
        if not current:
            return None
    return current[0]


def _text(element, *path: str) -> str:
    found = _find(element, *path) if path else element
    return (found.text or "").strip() if found is not None else ""


def _account_id(element) -> str:
    if element is None:
        return ""
    return "".join((_text(element, "Id", "Othr", "Id") or _text(element, "Id", "IBAN")).split())


def _balance(statement_el, code: str) -> int | None:
    for bal in statement_el:
        if _local_name(bal.tag) != "Bal":
            continue
        if _text(bal, "Tp", "CdOrPrtry", "Cd") == code:
            amount = yuan_to_fen(_text(bal, "Amt"))
            return -amount if _text(bal, "CdtDbtInd") == "DBIT" else amount
    return None


def parse_camt053(data: bytes) -> Statement:
    statement = Statement("camt053", "", "CNY")
    statement.rows = _camt_rows(data, statement)
    return statement


def _refuse_doctype(data: bytes) -> None:
    """No DTD at all (as defusedxml's forbid_dtd): a DOCTYPE can only stand before the root element."""
    root = re.search(rb"<[A-Za-z_]", data)
    prolog = data[: root.start()] if root else data
    if b"<!DOCTYPE" in prolog.upper():
        raise UnreadableStatement("invalid_xml", "a DOCTYPE is not allowed")


def _camt_rows(data: bytes, statement: Statement) -> Iterator[Row]:
    """Entries read as a stream with lxml (C speed: a statement of 100,000 entries is some 3 million
    elements), entities never resolved, no DTD, no network; each entry is dropped once read."""
    _refuse_doctype(data)
    entry, account, booked_total = 0, "", 0
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=("{*}Acct", "{*}Ntry", "{*}Stmt"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        for _event, element in events:
            name = _local_name(element.tag)
            # Stmt/Acct is the only element named Acct (the parties' are DbtrAcct, CdtrAcct...), and it
            # comes before the statement's entries.
            if name == "Acct" and not account:
                account = _account_id(element)
                statement.account_no = statement.account_no or account
                statement.currency = _text(element, "Ccy") or statement.currency
                booked_total = 0
            elif name == "Ntry":
                entry += 1
                if entry > MAX_LINES:
                    raise UnreadableStatement("too_many_lines", str(MAX_LINES))
                if not account:
                    raise UnreadableStatement("no_account", "Stmt/Acct/Id")
                row = _camt_entry(entry, element, statement)
                _drop(element)
                if row is not None:
                    row.account_no = account
                    booked_total += row.amount_fen if row.booked else 0
                    yield row
            elif name == "Stmt":
                _check_balances(element, statement, booked_total)
                element.clear(keep_tail=True)
                account = ""
    except etree.XMLSyntaxError as exc:
        raise UnreadableStatement("invalid_xml", str(exc)[:200]) from exc
    except InvalidOperation as exc:
        raise UnreadableStatement("invalid_balance") from exc
    if not statement.account_no:
        raise UnreadableStatement("no_account", "Stmt/Acct/Id")


def _drop(element) -> None:
    """Forget an entry once read, and the one before it: memory stays flat however long the statement
    (the statement's balances, before its entries, stay for the check at its end)."""
    element.clear(keep_tail=True)
    previous = element.getprevious()
    if previous is not None and _local_name(previous.tag) == "Ntry":
        element.getparent().remove(previous)


def _check_balances(stmt, statement: Statement, total: int) -> None:
    """The booked entries must add up to the closing balance less the opening one: a statement cut short,
    or with entries missing, fails here instead of importing a part."""
    opening, closing = _balance(stmt, "OPBD"), _balance(stmt, "CLBD")
    if opening is None or closing is None or statement.problems:
        return
    if opening + total != closing:
        statement.problems.append(
            Problem(0, "Bal", "balances_do_not_add_up", f"{(closing - opening - total) / 100:.2f}")
        )


# What an entry is read for: the walk goes down only these (not into BkTxCd, AmtDtls, Chrgs, Purp...).
_INTO = frozenset(
    {
        *("Sts", "BookgDt", "NtryDtls", "TxDtls", "Refs", "RltdPties", "Dbtr", "Cdtr", "Pty"),
        *("DbtrAcct", "CdtrAcct", "Id", "Othr", "RltdAgts", "DbtrAgt", "CdtrAgt", "FinInstnId", "RmtInf"),
    }
)


class _Paths:
    """An entry's elements by their path of local names, read in one walk (an entry is looked up some
    twenty times: a walk of its children for each lookup made camt.053 three times slower than CSV)."""

    def __init__(self, element) -> None:
        self.found: dict[tuple[str, ...], list] = {}
        self._walk(element, ())

    def _walk(self, element, path: tuple[str, ...]) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction
            name = tag[tag.find("}") + 1 :]
            here = (*path, name)
            self.found.setdefault(here, []).append(child)
            if name in _INTO:
                self._walk(child, here)

    def first(self, *path: str):
        found = self.found.get(path)
        return found[0] if found else None

    def all(self, *path: str) -> list:
        return self.found.get(path, [])

    def text(self, *path: str) -> str:
        element = self.first(*path)
        return (element.text or "").strip() if element is not None else ""

    def account(self, *path: str) -> str:
        return "".join((self.text(*path, "Id", "Othr", "Id") or self.text(*path, "Id", "IBAN")).split())


def _camt_entry(number: int, ntry, statement: Statement) -> Row | None:
    problems = statement.problems
    before = len(problems)
    e = _Paths(ntry)
    amount_el = e.first("Amt")
    raw_amount = (amount_el.text or "").strip() if amount_el is not None else ""
    try:
        amount = yuan_to_fen(raw_amount) if raw_amount else None
    except InvalidOperation:
        amount = None
    if amount is None or amount <= 0:
        problems.append(Problem(number, "Amt", "invalid_amount", raw_amount))
    indicator = e.text("CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        problems.append(Problem(number, "CdtDbtInd", "invalid_indicator", indicator))
    status = e.text("Sts", "Cd") or e.text("Sts")
    tx = ("NtryDtls", "TxDtls")
    bank_ref = e.text(*tx, "Refs", "AcctSvcrRef") or e.text("AcctSvcrRef")
    if not bank_ref or len(bank_ref) > 64:
        problems.append(Problem(number, "AcctSvcrRef", "missing" if not bank_ref else "too_long", bank_ref))
    booked_text = e.text("BookgDt", "DtTm") or e.text("BookgDt", "Dt")
    try:
        booked_at = datetime.fromisoformat(booked_text)
        booked_at = booked_at if booked_at.tzinfo else booked_at.replace(tzinfo=SHANGHAI)
        if booked_at.year not in YEARS:
            raise ValueError(booked_text)
    except ValueError:
        problems.append(Problem(number, "BookgDt", "invalid_date", booked_text))
        booked_at = None
    if len(problems) > before or booked_at is None or amount is None:  # both are among the problems
        return None
    credit = indicator == "CRDT"
    parties = (*tx, "RltdPties")
    party = "Dbtr" if credit else "Cdtr"
    name = e.text(*parties, party, "Nm") or e.text(*parties, party, "Pty", "Nm")
    account = e.account(*parties, f"{party}Acct")
    own = e.account(*parties, "CdtrAcct") if credit else ""
    agent = (*tx, "RltdAgts", f"{party}Agt", "FinInstnId")
    bank = e.text(*agent, "Nm") or e.text(*agent, "BICFI") or e.text(*agent, "BIC")
    lines = e.all(*tx, "RmtInf", "Ustrd")
    memo = " ".join((u.text or "").strip() for u in lines) or e.text("AddtlNtryInf")
    return Row(
        number,
        bank_ref,
        booked_at,
        amount if credit else -amount,
        amount_el.get("Ccy", statement.currency),
        own if own != statement.account_no else "",
        account,
        name[:200],
        bank[:100],
        memo[:300],
        status in ("", "BOOK"),
    )
