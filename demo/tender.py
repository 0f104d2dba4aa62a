"""A sample tender run end to end on the sandbox clock: draft with documents, publication with the
opening key split between the demo agency and supervisor, a question answered, three sealed bids with
deposits and receipts, the opening at the deadline, online decryption and the signed record.

Everything goes through the same services the pages and the API call; only the clock is moved (the
sandbox clock, shared with a running server). The custodians' and tenderers' keys are written under
``instance/demo/`` so a newcomer can repeat any step by hand with bidtool.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tempfile
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import pki
from accounts import services as accounts
from accounts.models import Organization, User
from bidding import bids, documents, ledger, opening, questions, services
from bidding.calendar import SHANGHAI
from bidding.models import Tender
from core import clock, sandbox
from core.storage import FileStore
from crypto import age, bidpack
from demo import accounts as cast

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
    return session.scalar(select(User).where(User.username == username))


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
    session: Session, store: FileStore, instance: Path, data_key: str, echo: Callable[[str], None]
) -> Tender:
    folder = instance / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    cast.seed(session, data_key)
    pki.ensure_ca(session)
    session.commit()
    agent, supervisor = _user(session, "agency1"), _user(session, "supervisor")
    for custodian in (agent, supervisor):
        identity = _identity(folder, custodian.username)
        if custodian.custodian_recipient != str(identity.recipient):
            accounts.set_custodian_key(session, custodian, str(identity.recipient), "demo")
    session.commit()

    # 1. The draft: documents out tomorrow at 09:00 Beijing time, deadline 25 days later at 09:30.
    # Each run starts from the real time, so runs never collide with an earlier one's timeline.
    sandbox.set_now(session, datetime.now(SHANGHAI))
    start = datetime.combine(clock.local(clock.now()).date() + timedelta(days=1), time(9, 0), tzinfo=SHANGHAI)
    deadline = datetime.combine((start + timedelta(days=25)).date(), time(9, 30), tzinfo=SHANGHAI)
    tenderee = session.scalar(select(Organization).where(Organization.kind == "tenderee"))
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
                "objection_deadline": (deadline - timedelta(days=12)).isoformat(),
                "bid_deadline": deadline.isoformat(),
            },
        }
    )
    tender = services.create_draft(session, agent, data, "demo")
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
    services.publish(session, agent, tender, supervisor=supervisor, ip="demo")
    session.commit()
    echo(
        f"published {tender.code}: documents from {start:%Y-%m-%d %H:%M}, deadline {deadline:%Y-%m-%d %H:%M}"
    )

    # 2. Bidding: a question answered to everyone, then three sealed bids with deposits and receipts.
    _set_clock(session, start + timedelta(hours=2))
    bidders = []
    with tempfile.TemporaryDirectory() as tmp:
        for username, price in PRICES_FEN.items():
            user = _user(session, username)
            org = session.get(Organization, user.organization_id)
            org.basic_account_bank, org.basic_account_no = "中国工商银行北京分行", BASIC_ACCOUNTS[username]
            session.flush()
            ledger.record_payment(
                session,
                user,
                tender,
                lot_number=1,
                amount_fen=tender.lots[0].deposit_fen,
                payer_bank="中国工商银行北京分行",
                payer_account=BASIC_ACCOUNTS[username],
                payer_name=org.name,
                paid_at=clock.now(),
                ip="demo",
            )
            key, cert = _signing_key(session, folder, user)
            identity = _identity(folder, username)
            session.commit()
            bid = bids.open_bid(session, user, tender, 1, "demo")
            sealed = {}
            for part in bidpack.PARTS:
                src = Path(tmp) / username / part
                src.mkdir(parents=True)
                (src / f"{part}.txt").write_text(f"{org.name} 投标文件 {part}\n", encoding="utf-8")
                out = Path(tmp) / f"{username}-{part}.age"
                bidpack.seal(
                    src,
                    out,
                    recipients=[age.Recipient.parse(tender.opening_key.recipient), identity.recipient],
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
    echo(f"opening record signed; sandbox clock left at {clock.local(clock.now()):%Y-%m-%d %H:%M} (Beijing)")
    return tender
