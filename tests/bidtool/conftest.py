"""A test PKI and a tenderer set up the way a real one is: bidtool keygen, then a certificate from the CSR."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bidtool import cli
from crypto import age, ca

PASSPHRASE = "正确的口令 correct horse"
CREDIT_CODE = "91350100M000100Y43"
ORG = "福建某某建设工程有限公司"
TENDER = "ZB-2026-000123"
PEM = serialization.Encoding.PEM

PRICE_SHEET = {
    "currency": "CNY",
    "total_fen": 123456790,
    "items": [
        {"name": "土建工程", "amount_fen": 100000000},
        {
            "name": "钢材",
            "spec": "HRB400",
            "quantity": "2.5",
            "unit": "吨",
            "unit_price_fen": 9382716,
            "amount_fen": 23456790,
        },
    ],
    "duration_days": 180,
    "validity_days": 90,
    "warranty_days": 730,
    "quality": "合格",
    "project_manager": "李四",
    "remarks": "含税价\n增值税 9%",
}

# Chinese names, a nested folder, an empty file, an executable and a name too long for ustar.
SOURCE_FILES = {
    "投标函.txt": "投标函：我方愿意按招标文件要求投标。\n".encode(),
    "技术方案/施工组织设计.docx": os.urandom(3000),
    "技术方案/附件/进度计划.xlsx": os.urandom(70_000),
    "empty.txt": b"",
    "run.sh": b"#!/bin/sh\necho hi\n",
    "a" * 120 + ".pdf": b"%PDF-1.7\n",
}


@dataclass
class Setup:
    root: Path
    keys: Path
    cert: Path
    chain: Path
    crl: Path
    tender_identity: Path
    tender_recipient: str
    src: Path
    price_sheet: Path
    bundle: ca.CABundle
    issuer: ca.Issuer
    certificate: x509.Certificate
    now: datetime

    def invoke(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        base = {"BIDTOOL_PASSPHRASE": PASSPHRASE, "BIDTOOL_LANG": None, "LANG": "C.UTF-8"}
        return CliRunner().invoke(cli.cli, list(args), env={**base, **(env or {})}, input=input)

    def crl_file(self, name: str, revoked: list[int]) -> Path:
        crl = ca.build_crl(
            self.issuer,
            [(serial, self.now, x509.ReasonFlags.key_compromise) for serial in revoked],
            self.now,
            self.now + timedelta(days=30),
        )
        path = self.root / name
        path.write_bytes(crl.public_bytes(PEM))
        return path

    def seal(self, out: Path, *extra: str, part: str = "technical", src: Path | None = None) -> Result:
        args = ["seal", "--to", self.tender_recipient, "--key", str(self.keys), "--cert", str(self.cert)]
        args += ["--tender", TENDER, "--lot", "2", "--part", part, *extra, str(src or self.src), str(out)]
        return self.invoke(*args)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if (root / "run.sh").exists():
        (root / "run.sh").chmod(0o755)
    return root


@pytest.fixture(scope="session")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("bidtool")
    now = datetime.now(UTC)
    keys = root / "keys"
    result = CliRunner().invoke(
        cli.cli,
        ["keygen", str(keys), "--org", ORG, "--credit-code", CREDIT_CODE, "--name", "张三"],
        env={"BIDTOOL_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 0, result.output

    bundle = ca.create_ca("SunBid Test", b"ca-pass", now - timedelta(hours=1))
    issuer = bundle.load_issuer(b"ca-pass")
    certificate = ca.issue_from_csr(
        issuer,
        (keys / "signing.csr").read_bytes(),
        ca.Profile.TENDERER_SIGNING,
        now=now - timedelta(minutes=30),
    )
    cert = root / "cert.pem"
    cert.write_bytes(certificate.public_bytes(PEM))
    chain = root / "chain.pem"
    chain.write_bytes(bundle.root_cert.public_bytes(PEM) + bundle.issuing_cert.public_bytes(PEM))
    crl = root / "crl.pem"
    crl.write_bytes(
        ca.build_crl(issuer, [], now - timedelta(minutes=10), now + timedelta(days=30)).public_bytes(PEM)
    )

    opening = age.generate_identity()
    tender_identity = root / "opening-key.txt"
    tender_identity.write_text(
        f"# the tender's opening key, normally only ever rebuilt from shares\n{opening}\n"
    )
    price_sheet = root / "price-sheet.json"
    price_sheet.write_text(json.dumps(PRICE_SHEET, ensure_ascii=False, indent=2), encoding="utf-8")
    src = write_tree(root / "src", SOURCE_FILES)
    return Setup(
        root=root,
        keys=keys,
        cert=cert,
        chain=chain,
        crl=crl,
        tender_identity=tender_identity,
        tender_recipient=str(opening.recipient),
        src=src,
        price_sheet=price_sheet,
        bundle=bundle,
        issuer=issuer,
        certificate=certificate,
        now=now,
    )


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a failed command might have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".part"))
