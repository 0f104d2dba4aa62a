"""A sample tender run end to end on the sandbox clock: draft with documents and a scoring scheme,
publication with the opening key split between the demo agency and supervisor, a question answered,
three sealed bids with deposits and receipts, the opening at the deadline, online decryption and the
signed record; then a verifiable expert draw, the calls answered, the evaluation room (check-in with
second-factor codes, blind technical scoring, the chair, the signed report), the candidates' publicity,
the tenderee's decision and the contract.

Everything goes through the same services the pages and the API call; only the clock is moved (the
sandbox clock, shared with a running server). The custodians' and tenderers' keys are written under
``instance/demo/`` so a newcomer can repeat any step by hand with bidtool.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets as random
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import pki, totp
from accounts import services as accounts
from accounts.models import Organization, User
from bidding import bank, bids, documents, official_data, opening, periods, questions, services
from bidding.calendar import SHANGHAI, Calendar
from bidding.models import Bid, Tender
from core import clock, sandbox
from core.db import get_row
from core.storage import FileStore
from crypto import age, bidpack
from demo import accounts as cast
from demo import bank as demo_bank
from demo import experts as demo_experts
from evaluation import award, report, room, scoring
from evaluation import services as evaluation_services
from experts import calls, draws
from experts.eligibility import Criteria
from experts.models import Call, Expert

PRICES_FEN = {"tenderer1": 4_865_000_000, "tenderer2": 4_912_300_000, "tenderer3": 4_798_800_000}
BASIC_ACCOUNTS = {
    "tenderer1": "0200001409000123456",
    "tenderer2": "1100101050000234567",
    "tenderer3": "3220130100345678",
}
DOCUMENT = """市第一人民医院门诊楼改扩建工程施工招标文件

第一章 招标公告
第二章 投标人须知
第三章 评标办法（综合评估法）
第四章 合同条款及格式
第五章 工程量清单
第六章 图纸
第七章 技术标准和要求
第八章 投标文件格式
"""


def _user(session: Session, username: str) -> User:
    return session.execute(select(User).where(User.username == username)).scalar_one()


def _identity(folder: Path, name: str) -> age.Identity:
    """The demo person's age identity, kept in instance/demo so later runs and bidtool reuse it."""
    path = folder / f"{name}.identity.txt"
    if path.exists():
        return age.Identity.parse(path.read_text().strip().splitlines()[-1])
    identity = age.generate_identity()
    path.write_text(f"# {name}: demo age identity (never do this with a real key)\n{identity}\n")
    path.chmod(0o600)
    return identity


def _set_clock(session: Session, moment: datetime) -> None:
    sandbox.set_now(session, moment)
    session.commit()


def _signing_key(session: Session, folder: Path, user: User):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user.username)]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    row = pki.issue_signing_certificate(session, user, csr, ip="demo")
    (folder / f"{user.username}.cert.pem").write_text(row.pem)
    return key, x509.load_pem_x509_certificate(row.pem.encode())


def run(
    session: Session,
    store: FileStore,
    instance: Path,
    data_key: str,
    echo: Callable[[str], None],
    *,
    evaluate: bool = True,
) -> Tender:
    folder = instance / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    official_data.load(session, ip="demo")  # the holiday calendars and rates (R-T6, R-D3 interest)
    cast.seed(session, data_key)
    demo_experts.seed(session)
    pki.ensure_ca(session)
    session.commit()
    agent, supervisor, notary = (
        _user(session, "agency1"),
        _user(session, "supervisor"),
        _user(session, "notary"),
    )
    for custodian in (agent, supervisor, notary):
        identity = _identity(folder, custodian.username)
        if custodian.custodian_recipient != str(identity.recipient):
            accounts.set_custodian_key(session, custodian, str(identity.recipient), "demo")
    session.commit()

    # 1. The draft: documents out tomorrow at 09:00 Beijing time, deadline 25 days later at 09:30.
    # Each run starts from the real time, so runs never collide with an earlier one's timeline.
    sandbox.set_now(session, datetime.now(SHANGHAI))
    start = datetime.combine(clock.local(clock.now()).date() + timedelta(days=1), time(9, 0), tzinfo=SHANGHAI)
    deadline = datetime.combine((start + timedelta(days=25)).date(), time(9, 30), tzinfo=SHANGHAI)
    tenderee = session.execute(
        select(Organization).where(Organization.kind == "tenderee").limit(1)
    ).scalar_one()
    data = services.parse_tender(
        {
            "title": "市第一人民医院门诊楼改扩建工程施工（示例）",
            "track": "works",
            "category": "房屋建筑",
            "region": "北京市",
            "tenderee_id": str(tenderee.id),
            "estimated_price": {"amount_fen": 5_000_000_000},
            "deposit": {"amount_fen": 80_000_000},
            "description": "示例项目：由 demo tender 命令在沙箱时钟上自动完成从发布到开标的全过程。",
            "timeline": {
                "documents_from": start.isoformat(),
                "documents_to": (start + timedelta(days=7)).isoformat(),
                "clarification_deadline": (deadline - timedelta(days=16)).isoformat(),
                "objection_deadline": periods.statutory_objection_close(
                    deadline, Calendar.load(session)
                ).isoformat(),
                "bid_deadline": deadline.isoformat(),
            },
        }
    )
    tender = services.create_draft(session, agent, data, "demo")
    evaluation_services.define_scheme(session, agent, tender.id, SCHEME, "demo")
    documents.upload(
        session,
        agent,
        tender,
        io.BytesIO(DOCUMENT.encode()),
        filename="招标文件.txt",
        title="招标文件（第一版）",
        store=store,
        ip="demo",
    )
    services.publish(session, agent, tender, supervisor=supervisor, notary=notary, ip="demo")
    session.commit()
    echo(
        f"published {tender.code}: documents from {start:%Y-%m-%d %H:%M}, deadline {deadline:%Y-%m-%d %H:%M}"
    )

    # 2. Bidding: a question answered to everyone, then three sealed bids with deposits and receipts.
    _set_clock(session, start + timedelta(hours=2))
    bidders, transfers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for username, price in PRICES_FEN.items():
            user = _user(session, username)
            org = get_row(session, Organization, user.organization_id)
            org.basic_account_bank, org.basic_account_no = "中国工商银行北京分行", BASIC_ACCOUNTS[username]
            session.flush()
            reference = bank.issue_reference(session, user, tender, 1, "demo")
            transfers.append(
                demo_bank.Line(
                    reference.amount_fen,
                    org.basic_account_no,
                    org.name,
                    f"{reference.reference} 投标保证金",
                    clock.now(),
                    sub_account=reference.sub_account,
                )
            )
            key, cert = _signing_key(session, folder, user)
            identity = _identity(folder, username)
            session.commit()
            bid = bids.open_bid(session, user, tender, 1, "demo")
            session.commit()  # as the API does: a part streams in outside any transaction
            sealed = {}
            for part in bidpack.PARTS:
                src = Path(tmp) / username / part
                src.mkdir(parents=True)
                (src / f"{part}.txt").write_text(f"{org.name} 投标文件 {part}\n", encoding="utf-8")
                out = Path(tmp) / f"{username}-{part}.age"
                bidpack.seal(
                    src,
                    out,
                    recipients=[age.Recipient.parse(tender.key.recipient), identity.recipient],
                    certificate=cert,
                    private_key=key,
                    tender=str(tender.id),
                    lot=1,
                    part=part,
                    price_sheet={
                        "currency": "CNY",
                        "total_fen": price,
                        "items": [{"name": "投标总价", "amount_fen": price}],
                    }
                    if part == "commercial"
                    else None,
                    machine_fingerprint=hashlib.sha256(f"demo-pc-{username}".encode()).hexdigest(),
                    tool_version="demo",
                )
                signature = base64.b64encode(Path(f"{out}.sig").read_bytes()).decode()
                with out.open("rb") as body:
                    bids.receive_part(session, user, tender, bid, part, body, signature, store, "demo")
                session.commit()
                sealed[part] = out.read_bytes()
            bids.submit(session, user, tender, bid, "demo")
            session.commit()
            bidders.append((user, bid, identity, sealed))
            echo(f"  {org.name}: bid sealed, submitted, receipt signed")
            if username == "tenderer2":
                question = questions.ask(session, user, tender, "工期是否包含冬季停工期？", "demo")
                questions.answer(
                    session, agent, tender, [question.id], "包含。冬季停工期计入总工期。", ip="demo"
                )
                session.commit()
                echo("  a question was asked and answered to everyone (without the asker's name)")

    # The centre's finance staff import the deposit account's statement: the three payments are matched.
    account = _deposit_account()
    imported = bank.import_statement(
        session,
        _user(session, "admin"),
        filename="deposit-account.csv",
        data=demo_bank.csv_statement(account.number, account.name, transfers),
        ip="demo",
    )
    session.commit()
    echo(f"  bank statement imported: {imported.counts.get('matched', 0)} deposits confirmed by the bank")

    # 3. The opening at the deadline: every bidder decrypts online, the record is signed.
    _set_clock(session, deadline)
    opening.start(session, agent, tender, "demo")
    session.commit()
    _set_clock(session, deadline + timedelta(minutes=5))
    for user, bid, identity, sealed in bidders:
        keys = {
            part: base64.b64encode(age.unwrap_file_key(body, [identity])).decode()
            for part, body in sealed.items()
        }
        opening.decrypt(session, user, tender, bid, keys, "demo")
        session.commit()
    opening.close(session, agent, tender, {}, ip="demo")
    session.commit()
    record = json.loads(opening.signed_record(session, tender))["record"]
    for row in record["bids"]:
        echo(f"  opened: {row['tenderer']}  {row['price_fen'] / 100:,.2f} yuan  ({row['outcome']})")
    echo("opening record signed")
    if evaluate:
        _evaluate_and_award(session, store, tender, agent, supervisor, deadline, echo)
    echo(f"sandbox clock left at {clock.local(clock.now()):%Y-%m-%d %H:%M} (Beijing)")
    return tender


SCHEME = {
    "method": "comprehensive",
    "criteria": [
        {"key": "Q1", "name": "安全生产许可证", "part": "qualification", "kind": "pass_fail"},
        {
            "key": "T1",
            "name": "施工组织设计",
            "part": "technical",
            "kind": "subjective",
            "max_points": 30,
            "blind": True,
        },
        {"key": "C1", "name": "项目经理业绩", "part": "commercial", "kind": "objective", "max_points": 10},
    ],
    "price": {
        "formula": "average_benchmark",
        "points": 60,
        "coefficients": ["0.95", "0.96", "0.97"],
        "above_per_percent": 1,
        "below_per_percent": "0.5",
    },
}
TECHNICAL = {"tenderer1": "26", "tenderer2": "24.5", "tenderer3": "22"}  # what the experts think of each


def _deposit_account() -> bank.DepositAccount:
    account = bank.deposit_account()
    if account is None:  # the demo's configuration names one (core.config)
        raise RuntimeError("the demo needs DEPOSIT_BANK, DEPOSIT_ACCOUNT_NAME and DEPOSIT_ACCOUNT_NO")
    return account


def _code(user) -> str:
    """The member's code, as their phone would show it: codes follow real time (not the sandbox clock)
    and each is accepted once, so a second use within the same 30 s takes the next step (within drift)."""
    step = max(totp.current_step(), user.totp_last_step + 1)
    return totp.code_at(cast.demo_totp_secret(user.username), step)


def _evaluate_and_award(session, store, tender, agent, supervisor, deadline, echo) -> None:
    """The draw, the calls, the room, the report, the publicity, the decision and the contract."""

    # 4. The draw: requested by the agency, witnessed by the supervisor; both contribute randomness.
    _set_clock(session, deadline + timedelta(minutes=20))
    day_after = datetime.combine((deadline + timedelta(days=1)).date(), time(9, 0), tzinfo=SHANGHAI)
    draw = draws.request_draw(
        session,
        agent,
        tender,
        Criteria({"01": 4, "02": 1}, 0),
        representatives=0,
        supervisor=supervisor,
        evaluation_at=day_after,
        evaluation_place="市公共资源交易中心 第3评标室",
        ip="demo",
    )
    draws.contribute(session, agent, draw, random.token_hex(32), "demo")
    draws.contribute(session, supervisor, draw, random.token_hex(32), "demo")
    session.commit()
    for call in session.scalars(select(Call).where(Call.draw_id == draw.id, Call.status == "pending")):
        expert = session.get(Expert, calls.called_expert(call))
        calls.answer(session, session.get(User, expert.user_id), call.id, accept=True, ip="demo")
    session.commit()
    echo("  experts drawn (verifiably) and called; all accepted")

    # 5. The evaluation room the next morning.
    room.open_room(session, agent, tender, ip="demo")
    session.commit()
    _set_clock(session, day_after)
    members = [session.get(User, m.user_id) for m in room.sitting_members(session, tender)]
    for member in members:
        room.check_in(session, member, tender, _code(member), "demo")
    chair = members[0]
    for member in members:  # until a majority has elected the chair
        if room.vote_chair(session, member, tender, chair.id, "demo"):
            break
    session.commit()
    codes = {c["code"] for c in room.blind_view(session, chair, tender)}
    by_code, _ = scoring.blind_addresses(session, tender)
    for member in members:
        sheet: dict[str, dict[str, Any]] = {"qualification": {}, "scores": {}}
        for code in codes:
            bid = session.get(Bid, by_code[code])
            username = session.scalar(
                select(User.username).where(User.organization_id == bid.organization_id)
            )
            sheet["qualification"][str(bid.id)] = {"Q1": {"pass": True}}
            sheet["scores"][code] = {"T1": TECHNICAL.get(username, "20")}
            sheet["scores"][str(bid.id)] = {"C1": 8}
        scoring.save(session, member, tender, sheet, submit=True, ip="demo")
    session.commit()
    report.draft(session, chair, tender, "demo")
    session.commit()
    _set_clock(session, day_after + timedelta(minutes=1))  # fresh second-factor codes to sign with
    for member in members:
        report.sign(session, member, tender, code=_code(member), decision="agree", ip="demo")
    report.close(session, chair, tender, "demo")
    session.commit()
    echo(f"  evaluated blind by {len(members)} experts; the report is signed; the draw is disclosed")

    # 6. Publicity, the tenderee's decision, the contract.
    award.publish_candidates(session, agent, tender, "demo")
    session.commit()
    publicity_end = session.get(award.Publicity, tender.id).ends_at
    _set_clock(session, publicity_end + timedelta(hours=1))
    owner = _user(session, "tenderee")
    first = min(session.get(award.Publicity, tender.id).candidates, key=lambda c: c["rank"])
    decided = award.decide(session, owner, tender, uuid.UUID(first["bid"]), "综合得分排名第一。", "demo")
    session.commit()
    _set_clock(session, clock.now() + timedelta(days=10))
    award.record_contract(
        session,
        owner,
        tender,
        io.BytesIO(f"{tender.title} 施工合同（示例）".encode()),
        amount_fen=first["price_fen"],
        store=store,
        ip="demo",
    )
    session.commit()
    # 7. Refunds (R-D3): one payment file for the bank; the next statement shows them paid.
    _set_clock(session, clock.now() + timedelta(days=1))
    admin = _user(session, "admin")
    batch = bank.create_refund_batch(session, admin, "demo")
    session.commit()
    paid = demo_bank.pay_batch(bank.batch_file(batch), clock.now())
    account = _deposit_account()
    bank.import_statement(
        session,
        admin,
        filename="deposit-account.xml",
        data=demo_bank.camt053_statement(account.number, account.name, paid, statement_id="DEMO-2"),
        ip="demo",
    )
    session.commit()
    echo(
        f"  awarded to {first['tenderer']} (contract due {decided.contract_due_at:%Y-%m-%d});"
        f" contract recorded; {len(paid)} deposits refunded with interest through the bank ({batch.number})"
    )
