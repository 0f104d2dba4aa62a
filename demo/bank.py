"""A stand-in for the centre's bank, for the demo, the tests and the benchmark: it writes statements of
the deposit account the way banks export them (CSV in GB18030, camt.053 XML), and carries out a refund
batch file as the bank would (one debit per line, the line's reference in the memo).

Never used by the platform itself: in service the statements come from the bank (docs/bank-statements.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import count
from xml.sax.saxutils import escape

from core.clock import SHANGHAI

_serial = count(1)
HEADER = (
    *("交易日期", "交易时间", "交易流水号", "币种", "借方发生额", "贷方发生额", "余额"),
    *("对方账号", "对方户名", "对方开户行", "子账号", "摘要", "附言"),
)


@dataclass
class Line:
    """One booked transaction: ``amount_fen`` positive into the account, negative out of it."""

    amount_fen: int
    counterparty_account: str
    counterparty_name: str
    memo: str
    booked_at: datetime
    counterparty_bank: str = "中国工商银行北京分行"
    sub_account: str = ""
    bank_ref: str = field(default_factory=lambda: f"DEMO{next(_serial):016d}")
    currency: str = "CNY"


def _plain(fen: int) -> str:
    return f"{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def csv_statement(
    account_no: str,
    account_name: str,
    lines: Iterable[Line],
    *,
    opening_fen: int = 0,
    encoding: str = "gb18030",
) -> bytes:
    """The corporate e-banking "account details" export: account lines, a header, one line per transaction
    (debit and credit in separate columns, a running balance), a totals line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["账号:", account_no])
    writer.writerow(["户名:", account_name])
    writer.writerow(["币种:", "人民币"])
    writer.writerow(HEADER)
    balance, debits, credits = opening_fen, 0, 0
    for line in lines:
        balance += line.amount_fen
        local = line.booked_at.astimezone(SHANGHAI)
        out_fen, in_fen = (-line.amount_fen, 0) if line.amount_fen < 0 else (0, line.amount_fen)
        debits, credits = debits + out_fen, credits + in_fen
        writer.writerow(
            [
                local.strftime("%Y-%m-%d"),
                local.strftime("%H:%M:%S"),
                line.bank_ref,
                "人民币" if line.currency == "CNY" else line.currency,
                _yuan(out_fen) if out_fen else "",
                _yuan(in_fen) if in_fen else "",
                _yuan(balance),
                line.counterparty_account,
                line.counterparty_name,
                line.counterparty_bank,
                line.sub_account,
                "转账" if in_fen else "代付",
                line.memo,
            ]
        )
    writer.writerow(["合计", "", "", "", _yuan(debits), _yuan(credits), "", "", "", "", "", "", ""])
    return out.getvalue().encode(encoding)


def camt053_statement(
    account_no: str,
    account_name: str,
    lines: Iterable[Line],
    *,
    opening_fen: int = 0,
    statement_id: str = "S1",
) -> bytes:
    """ISO 20022 camt.053.001.08 with the opening and closing balances and one entry per transaction."""
    lines = list(lines)
    closing = opening_fen + sum(line.amount_fen for line in lines)
    entries = []
    for line in lines:
        credit = line.amount_fen > 0
        party = "Dbtr" if credit else "Cdtr"
        own = (
            f"<CdtrAcct><Id><Othr><Id>{escape(line.sub_account)}</Id></Othr></Id></CdtrAcct>"
            if credit and line.sub_account
            else ""
        )
        entries.append(
            f'<Ntry><Amt Ccy="{line.currency}">{_plain(line.amount_fen)}</Amt>'
            f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            f"<BookgDt><DtTm>{line.booked_at.astimezone(SHANGHAI).isoformat()}</DtTm></BookgDt>"
            f"<AcctSvcrRef>{escape(line.bank_ref)}</AcctSvcrRef>"
            "<BkTxCd><Prtry><Cd>TRF</Cd></Prtry></BkTxCd><NtryDtls><TxDtls>"
            f"<Refs><AcctSvcrRef>{escape(line.bank_ref)}</AcctSvcrRef></Refs>"
            f"<RltdPties><{party}><Nm>{escape(line.counterparty_name)}</Nm></{party}>"
            f"<{party}Acct><Id><Othr><Id>{escape(line.counterparty_account)}</Id></Othr></Id></{party}Acct>{own}"
            f"</RltdPties><RltdAgts><{party}Agt><FinInstnId><Nm>{escape(line.counterparty_bank)}</Nm>"
            f"</FinInstnId></{party}Agt></RltdAgts>"
            f"<RmtInf><Ustrd>{escape(line.memo)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        )

    def balance(code: str, fen: int) -> str:
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="CNY">{_plain(fen)}</Amt>'
            f"<CdtDbtInd>{'CRDT' if fen >= 0 else 'DBIT'}</CdtDbtInd></Bal>"
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>SUNBID-DEMO</MsgId><CreDtTm>2026-11-30T18:00:00+08:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{escape(statement_id)}</Id>"
        f"<Acct><Id><Othr><Id>{escape(account_no)}</Id></Othr></Id><Ccy>CNY</Ccy>"
        f"<Nm>{escape(account_name)}</Nm></Acct>"
        f"{balance('OPBD', opening_fen)}{balance('CLBD', closing)}{''.join(entries)}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def pay_batch(batch_csv: bytes, booked_at: datetime) -> list[Line]:
    """What the bank does with a refund batch file: one debit per line, its reference echoed in the memo."""
    reader = csv.DictReader(io.StringIO(batch_csv.decode("utf-8-sig")))
    return [
        Line(
            -int(Decimal(row["金额"]) * 100),
            row["收款人账号"],
            row["收款人户名"],
            f"{row['附言']} {row['用途']}",
            booked_at,
            counterparty_bank=row["收款银行"],
        )
        for row in reader
    ]
