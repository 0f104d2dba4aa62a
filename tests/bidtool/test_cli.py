"""bidtool end to end: keygen, seal, verify, open, and every refusal with its code and exit status."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from bidtool import cli, messages
from bidtool.keys import PBKDF2_ITERATIONS
from crypto import age, bidpack, ca, receipts
from crypto.canonical import canonical_json
from crypto.fingerprint import fingerprint_sha256

from .conftest import CREDIT_CODE, ORG, PRICE_SHEET, SOURCE_FILES, TENDER, Setup, leftovers

AGE = shutil.which("age")
OPENSSL = shutil.which("openssl")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sealed(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A technical part of the whole source folder and a commercial part with a price sheet."""
    folder = tmp_path_factory.mktemp("sealed")
    technical = folder / "technical.age"
    result = setup.seal(technical)
    assert result.exit_code == 0, result.output
    commercial = folder / "commercial.age"
    result = setup.seal(
        commercial, "--price-sheet", str(setup.price_sheet), part="commercial", src=setup.src / "投标函.txt"
    )
    assert result.exit_code == 0, result.output
    return {"technical": technical, "commercial": commercial}


def copy(path: Path, to: Path) -> Path:
    """OUT and OUT.sig copied to ``to`` so that a test can damage them."""
    to.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, to / path.name)
    shutil.copy(f"{path}.sig", to / f"{path.name}.sig")
    return to / path.name


def refused(result, code: str, status: int) -> None:
    assert result.exit_code == status, result.output
    assert f"[{code}]" in result.stderr, result.stderr


def nothing_in(dest: Path) -> None:
    assert not dest.exists()
    assert leftovers(dest.parent) == []


# ------------------------------------------------------------------------------------------ keygen


def test_keygen_writes_the_four_files(setup: Setup) -> None:
    names = sorted(p.name for p in setup.keys.iterdir())
    assert names == ["identity.txt", "recipient.txt", "signing-key.pem", "signing.csr"]
    if os.name == "posix":
        assert setup.keys.joinpath("identity.txt").stat().st_mode & 0o777 == 0o600
        assert setup.keys.joinpath("signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in setup.keys.joinpath("signing-key.pem").read_bytes()
    identity = setup.certificate.subject
    assert ORG in identity.rfc4514_string()
    assert f"NTRCN-{CREDIT_CODE}" in identity.rfc4514_string()


def test_keygen_refuses_to_overwrite(setup: Setup) -> None:
    before = setup.keys.joinpath("identity.txt").read_bytes()
    result = setup.invoke(
        "keygen", str(setup.keys), "--org", ORG, "--credit-code", CREDIT_CODE, "--name", "王五"
    )
    refused(result, "output_exists", 1)
    assert setup.keys.joinpath("identity.txt").read_bytes() == before


def test_keygen_checks_the_credit_code(setup: Setup, tmp_path: Path) -> None:
    result = setup.invoke(
        "keygen", str(tmp_path / "k"), "--org", ORG, "--credit-code", "91350100M000100Y44", "--name", "x"
    )
    assert result.exit_code == 2
    assert not (tmp_path / "k").exists()


def test_keygen_with_a_passphrase_file(setup: Setup, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text("from a file\n")
    result = setup.invoke(
        "keygen",
        str(tmp_path / "k"),
        "--org",
        ORG,
        "--credit-code",
        CREDIT_CODE,
        "--name",
        "x",
        "--passphrase-file",
        str(secret),
        env={"BIDTOOL_PASSPHRASE": None},
    )
    assert result.exit_code == 0, result.output
    load_pem_private_key((tmp_path / "k" / "signing-key.pem").read_bytes(), b"from a file")


def test_keygen_prompts_without_echo(setup: Setup, tmp_path: Path) -> None:
    result = setup.invoke(
        "keygen",
        str(tmp_path / "k"),
        "--org",
        ORG,
        "--credit-code",
        CREDIT_CODE,
        "--name",
        "x",
        env={"BIDTOOL_PASSPHRASE": None},
        input="typed\ntyped\n",
    )
    assert result.exit_code == 0, result.output
    assert "typed" not in result.output


# ---------------------------------------------------------------------------------------- round trip


def test_seal_writes_out_and_sig(sealed: dict[str, Path]) -> None:
    for out in sealed.values():
        assert out.stat().st_size > 0
        document = json.loads(Path(f"{out}.sig").read_bytes())
        assert set(document) == {"v", "type", "statement", "cms", "certificate"}
        assert document["statement"]["tenderer"] == CREDIT_CODE
        assert document["statement"]["lot"] == 2
        assert leftovers(out.parent) == []


def test_verify(setup: Setup, sealed: dict[str, Path]) -> None:
    result = setup.invoke(
        "verify", "--ca", str(setup.chain), "--crl", str(setup.crl), str(sealed["technical"])
    )
    assert result.exit_code == 0, result.output
    assert TENDER in result.stdout and CREDIT_CODE in result.stdout
    assert "完整" in result.stdout

    result = setup.invoke(
        "verify",
        "--ca",
        str(setup.chain),
        "--crl",
        str(setup.crl),
        "--tender",
        TENDER,
        "--lot",
        "2",
        "--part",
        "commercial",
        str(sealed["commercial"]),
    )
    assert result.exit_code == 0, result.output


def test_verify_without_crl_says_revocation_was_not_checked(setup: Setup, sealed: dict[str, Path]) -> None:
    result = setup.invoke("--lang", "en", "verify", "--ca", str(setup.chain), str(sealed["technical"]))
    assert result.exit_code == 0, result.output
    assert "revocation was not checked" in result.stderr


def test_verify_refuses_another_slot(setup: Setup, sealed: dict[str, Path]) -> None:
    args = ["verify", "--ca", str(setup.chain), "--crl", str(setup.crl)]
    refused(setup.invoke(*args, "--part", "commercial", str(sealed["technical"])), "bid_part_mismatch", 1)
    refused(
        setup.invoke(*args, "--tender", "ZB-2026-000999", str(sealed["technical"])), "bid_part_mismatch", 1
    )


@pytest.mark.skipif(AGE is None, reason="the age CLI is not installed (apt-get install age)")
def test_age_cli_decrypts_to_the_expected_tar(setup: Setup, sealed: dict[str, Path]) -> None:
    for identity in (setup.keys / "identity.txt", setup.tender_identity):
        plain = subprocess.run(
            [AGE, "-d", "-i", str(identity), str(sealed["technical"])], capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            expected = sorted(SOURCE_FILES, key=lambda n: n.encode())
            assert names == [*expected, "manifest.json", "manifest.json.p7s"]
            for member in members:
                assert member.isfile() and member.mtime == 0 and member.uid == member.gid == 0
                assert member.mode == (0o755 if member.name == "run.sh" else 0o644)
                if member.name in SOURCE_FILES:
                    assert tar.extractfile(member).read() == SOURCE_FILES[member.name]
            manifest = json.loads(tar.extractfile("manifest.json").read())
    assert [f["name"] for f in manifest["files"]] == expected
    assert manifest["tender"] == TENDER and manifest["lot"] == 2 and manifest["part"] == "technical"
    assert manifest["tenderer"] == {"credit_code": CREDIT_CODE, "name": ORG}
    assert "price_sheet" not in manifest


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
def test_openssl_accepts_the_outer_signature(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    document = json.loads(Path(f"{sealed['commercial']}.sig").read_bytes())
    statement = tmp_path / "statement.json"
    statement.write_bytes(canonical_json(document["statement"]))
    signature = tmp_path / "statement.p7s"
    signature.write_bytes(base64.b64decode(document["cms"]))
    command = [
        OPENSSL,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(signature),
        "-content",
        str(statement),
        "-CAfile",
        str(setup.chain),
        "-out",
        os.devnull,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr

    statement.write_bytes(statement.read_bytes().replace(b'"lot":2', b'"lot":3'))
    assert subprocess.run(command, capture_output=True, check=False).returncode != 0


def test_open_with_own_identity(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "opened"
    result = setup.invoke(
        "open",
        "--identity",
        str(setup.keys / "identity.txt"),
        "--ca",
        str(setup.chain),
        "--crl",
        str(setup.crl),
        "--tender",
        TENDER,
        "--lot",
        "2",
        "--part",
        "technical",
        str(sealed["technical"]),
        str(dest),
    )
    assert result.exit_code == 0, result.output
    for name, data in SOURCE_FILES.items():
        assert (dest / name).read_bytes() == data
        assert name in result.stdout
    assert (dest / "manifest.json").exists() and (dest / "manifest.json.p7s").exists()
    assert os.access(dest / "run.sh", os.X_OK)
    assert leftovers(tmp_path) == []


def test_open_with_the_tenders_opening_key(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "opened"
    result = setup.invoke(
        "open",
        "--identity",
        str(setup.tender_identity),
        "--ca",
        str(setup.chain),
        "--crl",
        str(setup.crl),
        str(sealed["commercial"]),
        str(dest),
    )
    assert result.exit_code == 0, result.output
    assert (dest / "投标函.txt").read_bytes() == SOURCE_FILES["投标函.txt"]
    # The price sheet is read out: total, duration and items.
    assert "1,234,567.90 CNY" in result.stdout
    assert "180 天" in result.stdout and "钢材" in result.stdout
    manifest = json.loads((dest / "manifest.json").read_bytes())
    assert manifest["price_sheet"] == PRICE_SHEET


def test_open_without_ca_warns(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    result = setup.invoke(
        "open", "--identity", str(setup.tender_identity), str(sealed["technical"]), str(tmp_path / "d")
    )
    assert result.exit_code == 0, result.output
    assert "未校验证书链" in result.stdout and "警告" in result.stderr


def test_subprocess_python_m_bidtool(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BIDTOOL_LANG": "en"}
    verify = [sys.executable, "-m", "bidtool", "verify", "--ca", str(setup.chain), "--crl", str(setup.crl)]
    ok = subprocess.run(
        [*verify, str(sealed["technical"])], capture_output=True, text=True, env=env, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "Outer signature valid" in ok.stdout

    damaged = copy(sealed["technical"], tmp_path)
    with open(damaged, "r+b") as f:
        f.seek(-100, os.SEEK_END)
        byte = f.read(1)
        f.seek(-100, os.SEEK_END)
        f.write(bytes([byte[0] ^ 1]))
    bad = subprocess.run([*verify, str(damaged)], capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1
    assert "[bid_ciphertext_mismatch]" in bad.stderr


# -------------------------------------------------------------------------------------------- refusals


def test_wrong_identity(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text(f"{age.generate_identity()}\n")
    dest = tmp_path / "d"
    refused(
        setup.invoke("open", "--identity", str(other), str(sealed["technical"]), str(dest)),
        "no_matching_identity",
        5,
    )
    nothing_in(dest)


def test_tampered_out(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    out = copy(sealed["technical"], tmp_path / "copy")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x40
    out.write_bytes(bytes(data))
    refused(
        setup.invoke("verify", "--ca", str(setup.chain), "--crl", str(setup.crl), str(out)),
        "bid_ciphertext_mismatch",
        1,
    )
    dest = tmp_path / "d"
    refused(
        setup.invoke("open", "--identity", str(setup.tender_identity), str(out), str(dest)),
        "payload_corrupted",
        1,
    )
    nothing_in(dest)


def test_truncated_out(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    out = copy(sealed["technical"], tmp_path / "copy")
    out.write_bytes(out.read_bytes()[:-5000])
    dest = tmp_path / "d"
    result = setup.invoke("open", "--identity", str(setup.tender_identity), str(out), str(dest))
    assert result.exit_code == 1
    nothing_in(dest)


@pytest.mark.parametrize("damage", ["statement", "cms", "certificate", "json"])
def test_tampered_sig(setup: Setup, sealed: dict[str, Path], tmp_path: Path, damage: str) -> None:
    out = copy(sealed["commercial"], tmp_path)
    sig = Path(f"{out}.sig")
    document = json.loads(sig.read_bytes())
    if damage == "statement":
        document["statement"]["part"] = "technical"
    elif damage == "cms":
        raw = bytearray(base64.b64decode(document["cms"]))
        raw[-10] ^= 1  # inside the ECDSA signature value
        document["cms"] = base64.b64encode(bytes(raw)).decode()
    elif damage == "certificate":
        document["certificate"] = setup.bundle.issuing_cert.public_bytes(Encoding.PEM).decode()
    sig.write_bytes(b"{" if damage == "json" else json.dumps(document).encode())
    code = "bid_signer_mismatch" if damage == "certificate" else "bid_signature_invalid"
    refused(setup.invoke("verify", "--ca", str(setup.chain), "--crl", str(setup.crl), str(out)), code, 1)


def test_revoked_certificate(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    crl = setup.crl_file("revoked.pem", [setup.certificate.serial_number])
    refused(
        setup.invoke("verify", "--ca", str(setup.chain), "--crl", str(crl), str(sealed["technical"])),
        "certificate_revoked",
        1,
    )
    dest = tmp_path / "d"
    result = setup.invoke(
        "open",
        "--identity",
        str(setup.tender_identity),
        "--ca",
        str(setup.chain),
        "--crl",
        str(crl),
        str(sealed["technical"]),
        str(dest),
    )
    refused(result, "certificate_revoked", 1)
    nothing_in(dest)


def test_crl_inside_the_ca_bundle(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "ca-with-crl.pem"
    bundle.write_bytes(
        setup.chain.read_bytes() + setup.crl_file("r.pem", [setup.certificate.serial_number]).read_bytes()
    )
    refused(setup.invoke("verify", "--ca", str(bundle), str(sealed["technical"])), "certificate_revoked", 1)


def test_expired_certificate(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    later = (setup.certificate.not_valid_after_utc + timedelta(days=1)).isoformat()
    refused(
        setup.invoke(
            "verify",
            "--ca",
            str(setup.chain),
            "--crl",
            str(setup.crl),
            "--at",
            later,
            str(sealed["technical"]),
        ),
        "certificate_expired",
        1,
    )
    dest = tmp_path / "d"
    result = setup.invoke(
        "open",
        "--identity",
        str(setup.tender_identity),
        "--ca",
        str(setup.chain),
        "--at",
        later,
        str(sealed["technical"]),
        str(dest),
    )
    refused(result, "certificate_expired", 1)
    nothing_in(dest)


def test_foreign_ca(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:
    other = ca.create_ca("Someone Else", b"x", setup.now - timedelta(hours=1))
    chain = tmp_path / "other.pem"
    chain.write_bytes(
        other.issuing_cert.public_bytes(Encoding.PEM) + other.root_cert.public_bytes(Encoding.PEM)
    )
    refused(setup.invoke("verify", "--ca", str(chain), str(sealed["technical"])), "certificate_untrusted", 1)


def test_unsafe_tar_is_refused(setup: Setup, tmp_path: Path) -> None:
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("../evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    out = tmp_path / "evil.age"
    with open(out, "wb") as f:
        recipients = [age.Recipient.parse(setup.tender_recipient)]
        age.encrypt(io.BytesIO(tar_bytes.getvalue()), f, recipients)
    dest = tmp_path / "inner" / "d"
    dest.parent.mkdir()
    result = setup.invoke("open", "--identity", str(setup.tender_identity), str(out), str(dest))
    refused(result, "bid_tar_unsafe", 1)
    nothing_in(dest)
    assert not (tmp_path / "evil").exists()


def test_price_sheet_with_a_float(setup: Setup, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.json"
    sheet.write_text(json.dumps({**PRICE_SHEET, "total_fen": 1234567.9}))
    out = tmp_path / "c.age"
    result = setup.seal(out, "--price-sheet", str(sheet), part="commercial")
    refused(result, "bid_price_sheet_invalid", 1)
    assert not out.exists() and not Path(f"{out}.sig").exists()


def test_commercial_needs_a_price_sheet(setup: Setup, tmp_path: Path) -> None:
    assert setup.seal(tmp_path / "c.age", part="commercial").exit_code == 2
    result = setup.seal(tmp_path / "t.age", "--price-sheet", str(setup.price_sheet), part="technical")
    assert result.exit_code == 2


def test_wrong_passphrase(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "t.age"
    args = ["seal", "--to", setup.tender_recipient, "--key", str(setup.keys), "--cert", str(setup.cert)]
    args += ["--tender", TENDER, "--part", "technical", str(setup.src), str(out)]
    result = setup.invoke(*args, env={"BIDTOOL_PASSPHRASE": "wrong"})
    refused(result, "wrong_passphrase", 3)
    assert not out.exists() and leftovers(tmp_path) == []


def test_seal_needs_the_opening_key(setup: Setup, tmp_path: Path) -> None:
    own = (setup.keys / "recipient.txt").read_text().strip()
    args = ["seal", "--to", own, "--key", str(setup.keys), "--cert", str(setup.cert)]
    result = setup.invoke(
        *args, "--tender", TENDER, "--part", "technical", str(setup.src), str(tmp_path / "o.age")
    )
    assert result.exit_code == 2
    bad = setup.invoke(
        "seal",
        "--to",
        "age1notakey",
        "--key",
        str(setup.keys),
        "--cert",
        str(setup.cert),
        "--tender",
        TENDER,
        "--part",
        "technical",
        str(setup.src),
        str(tmp_path / "o.age"),
    )
    assert bad.exit_code == 2


def test_recipient_from_a_file(setup: Setup, tmp_path: Path) -> None:
    recipients = tmp_path / "opening.pub"
    recipients.write_text(f"# ZB-2026-000123 opening key\n{setup.tender_recipient}\n")
    out = tmp_path / "o.age"
    args = ["seal", "--to", str(recipients), "--key", str(setup.keys), "--cert", str(setup.cert)]
    result = setup.invoke(
        *args, "--tender", TENDER, "--part", "qualification", str(setup.src / "run.sh"), str(out)
    )
    assert result.exit_code == 0, result.output
    dest = tmp_path / "d"
    assert setup.invoke("open", "--identity", str(setup.tender_identity), str(out), str(dest)).exit_code == 0
    assert sorted(os.listdir(dest)) == ["manifest.json", "manifest.json.p7s", "run.sh"]


def test_seal_refuses_symlinks_and_leaves_nothing(setup: Setup, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    (src / "link").symlink_to(setup.src / "投标函.txt")
    out = tmp_path / "o.age"
    refused(setup.seal(out, src=src), "bid_source_unsupported", 1)
    assert not out.exists() and leftovers(tmp_path) == []


def test_seal_refuses_to_overwrite_unless_forced(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "o.age"
    assert setup.seal(out, src=setup.src / "run.sh").exit_code == 0
    first = out.read_bytes()
    refused(setup.seal(out, src=setup.src / "run.sh"), "output_exists", 1)
    assert setup.seal(out, "--force", src=setup.src / "run.sh").exit_code == 0
    assert out.read_bytes() != first


def test_missing_file_is_an_io_error(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    args = [
        "seal",
        "--to",
        setup.tender_recipient,
        "--key",
        str(tmp_path / "keys"),
        "--cert",
        str(setup.cert),
    ]
    result = setup.invoke(
        *args, "--tender", TENDER, "--part", "technical", str(setup.src), str(tmp_path / "o.age")
    )
    refused(result, "io", 4)


# -------------------------------------------------------------------------------------------- language


def test_messages_in_chinese_by_default_and_english_on_request(setup: Setup, sealed: dict[str, Path]) -> None:
    args = ["verify", "--ca", str(setup.chain), "--crl", str(setup.crl), str(sealed["technical"])]
    assert "外层签名有效" in setup.invoke(*args).stdout
    assert "外层签名有效" in setup.invoke(*args, env={"LANG": "en_US.UTF-8"}).stdout
    assert "Outer signature valid" in setup.invoke("--lang", "en", *args).stdout
    assert "Outer signature valid" in setup.invoke(*args, env={"BIDTOOL_LANG": "en"}).stdout
    assert "外层签名有效" in setup.invoke("--lang", "zh", *args, env={"BIDTOOL_LANG": "en"}).stdout

    refusal = [*args, "--part", "commercial"]
    assert "与预期不符" in setup.invoke(*refusal).stderr
    assert "differ from what was expected" in setup.invoke("--lang", "en", *refusal).stderr

    assert "退出码" in setup.invoke("--help").stdout
    english = setup.invoke("--lang", "en", "--help").stdout
    assert "Exit codes: 0 ok; 1 verification failed" in english
    assert "Seal and sign one bid part" in english
    assert "Show the version" in english


def test_every_message_has_both_languages() -> None:

    for key, pair in messages.MESSAGES.items():
        assert len(pair) == 2 and all(text.strip() for text in pair), key


def test_fingerprint_command(setup: Setup) -> None:
    result = setup.invoke("--lang", "en", "fingerprint", "--show")
    assert result.exit_code == 0
    assert fingerprint_sha256() in result.stdout


def test_main_runs_the_group(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["bidtool", "--lang", "en", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0
    assert "bidtool" in capsys.readouterr().out


# ------------------------------------------------------------------------------------- keys, receipts


def test_signing_key_uses_a_slow_kdf(setup: Setup) -> None:
    pem = setup.keys.joinpath("signing-key.pem").read_text()
    der = base64.b64decode("".join(line for line in pem.splitlines() if not line.startswith("-----")))
    iterations = PBKDF2_ITERATIONS.to_bytes(3, "big")
    assert b"\x02\x03" + iterations in der  # the INTEGER iterationCount inside PBKDF2-params
    if OPENSSL:
        check = [OPENSSL, "pkey", "-in", str(setup.keys / "signing-key.pem"), "-passin", "env:PW", "-noout"]
        env = {**os.environ, "PW": "正确的口令 correct horse"}
        assert subprocess.run(check, env=env, capture_output=True, check=False).returncode == 0


def test_verify_receipt(setup: Setup, sealed: dict[str, Path], tmp_path: Path) -> None:

    key = Ed25519PrivateKey.generate()
    parts = []
    for name, out in sealed.items():
        data = out.read_bytes()
        parts.append({"part": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    payload = receipts.build_receipt(
        tender_id=TENDER,
        lot=2,
        bid_id="b-1",
        tenderer=CREDIT_CODE,
        parts=parts,
        received_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        audit_index=41,
    )
    receipt = tmp_path / "receipt.json"
    receipt.write_bytes(receipts.sign_receipt(payload, key))
    public = tmp_path / "receipt-key.pem"
    public.write_bytes(receipts.public_key_pem(key.public_key()))

    bids = ["--bid", str(sealed["technical"]), "--bid", str(sealed["commercial"])]
    result = setup.invoke("--lang", "en", "verify-receipt", "--key", str(public), *bids, str(receipt))
    assert result.exit_code == 0, result.output
    assert "Receipt valid" in result.stdout and "matches technical" in result.stdout

    other = tmp_path / "other.age"
    other.write_bytes(b"not the sealed part")
    refused(
        setup.invoke("verify-receipt", "--key", str(public), "--bid", str(other), str(receipt)),
        "receipt_bid_mismatch",
        1,
    )
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(receipts.public_key_pem(Ed25519PrivateKey.generate().public_key()))
    refused(setup.invoke("verify-receipt", "--key", str(wrong), str(receipt)), "receipt_wrong_key", 1)
    receipt.write_bytes(receipt.read_bytes().replace(b'"audit_index": 41', b'"audit_index": 42'))
    refused(
        setup.invoke("verify-receipt", "--key", str(public), str(receipt)), "receipt_signature_invalid", 1
    )


def test_bidtool_imports_nothing_of_the_platform() -> None:
    # bidtool runs on tenderers' machines: only crypto/ and click, never the web application.
    platform = "flask sqlalchemy core accounts audit bidding experts evaluation credit"
    code = (
        "import sys, bidtool.cli, bidtool.__main__\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({platform.split()!r}))))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == ""


def test_a_part_over_the_platforms_limit_is_refused_before_anything_is_sent(tmp_path):
    """The platform refuses a body over its limit unread, and a client still sending it sees only a
    reset connection: bidtool says why instead, before it connects at all."""
    from bidtool import client

    out, sig = tmp_path / "huge.age", tmp_path / "huge.age.sig"
    with out.open("wb") as f:
        f.truncate(bidpack.MAX_PART_SIZE + 1)  # sparse: no disk used
    sig.write_bytes(b"unchecked")
    api = client.Api("http://127.0.0.1:9", token="unused")  # the discard port: nothing listens
    with pytest.raises(client.ApiError) as refused:
        client.upload_part(api, "tender", "bid", "technical", out, sig)
    assert refused.value.code == "file_too_large"
    assert refused.value.details == {"max_size": bidpack.MAX_PART_SIZE}
    assert messages.error_text("file_too_large") != messages.error_text("bid_error")
