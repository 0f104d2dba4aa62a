"""crypto.bidpack below the CLI: the tar codec, hostile tars, manifests, signatures, price sheets."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import age, bidpack, ca, cms
from crypto.canonical import canonical_json

from .conftest import CREDIT_CODE, ORG, PRICE_SHEET, TENDER, Setup, leftovers

FINGERPRINT = "ab" * 32
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class Keys:
    """A tenderer's signing key and certificate, the opening key, and the tenderer's own identity."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = ca.SubjectInfo(ORG, "张三", CREDIT_CODE)
        self.cert = ca.issue_for_public_key(
            setup.issuer,
            self.key.public_key(),
            ca.Profile.TENDERER_SIGNING,
            subject,
            setup.now - timedelta(minutes=5),
        )
        self.opening = age.generate_identity()
        self.own = age.generate_identity()
        self.crl = ca.build_crl(
            setup.issuer, [], setup.now - timedelta(minutes=1), setup.now + timedelta(days=1)
        )

    @property
    def recipients(self) -> list[age.Recipient]:
        return [self.opening.recipient, self.own.recipient]

    def seal(self, src: Path, out: Path, **kwargs) -> bidpack.SealResult:
        args = {
            "recipients": self.recipients,
            "certificate": self.cert,
            "private_key": self.key,
            "machine_fingerprint": FINGERPRINT,
            "tool_version": "test",
            "tender": TENDER,
            "lot": 1,
            "part": "technical",
            "now": NOW,
            **kwargs,
        }
        return bidpack.seal(src, out, **args)

    def open(self, out: Path, dest: Path, **kwargs) -> bidpack.OpenedPart:
        args = {
            "identities": [self.opening],
            "chain": self.setup.bundle.chain,
            "crl": self.crl,
            "at": self.setup.now,
            **kwargs,
        }
        return bidpack.open_part(out, dest, **args)

    def manifest(self, files: dict[str, bytes], **changes) -> dict:
        manifest = {
            "v": 1,
            "type": "sunbid-bid-part",
            "tender": TENDER,
            "lot": 1,
            "part": "technical",
            "tenderer": {"credit_code": CREDIT_CODE, "name": ORG},
            "files": [
                {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in sorted(files.items(), key=lambda item: item[0].encode())
            ],
            "tool": {"name": "hand-made", "version": "1"},
            "machine_fingerprint_sha256": FINGERPRINT,
            "created_at": "2026-11-23T02:00:00Z",
        }
        manifest.update(changes)
        return manifest

    def hand_made(
        self, out: Path, members: list[tuple[str, bytes]], manifest: dict | bytes | None = None
    ) -> Path:
        """A part built with Python's tarfile, as a third-party client might, encrypted by crypto.age."""
        files = dict(members)
        if manifest is None:
            manifest = self.manifest(files)
        data = manifest if isinstance(manifest, bytes) else canonical_json(manifest)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, content in [
                *members,
                ("manifest.json", data),
                ("manifest.json.p7s", cms.sign_detached(data, self.cert, self.key)),
            ]:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
        with open(out, "wb") as f:
            age.encrypt(io.BytesIO(buffer.getvalue()), f, self.recipients)
        return out


@pytest.fixture(scope="module")
def keys(setup: Setup) -> Keys:
    return Keys(setup)


def plaintext(keys: Keys, out: Path) -> bytes:
    buffer = io.BytesIO()
    with open(out, "rb") as f:
        age.decrypt(f, buffer, [keys.own])
    return buffer.getvalue()


# --------------------------------------------------------------------------------------- tar layout


def test_tar_is_deterministic(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    first = plaintext(keys, keys.seal(setup.src, tmp_path / "1.age").out_path and tmp_path / "1.age")
    second = plaintext(keys, keys.seal(setup.src, tmp_path / "2.age").out_path and tmp_path / "2.age")
    # Everything up to the CMS signature (whose ECDSA nonce and signing time vary) is byte for byte equal.
    cut = first.index(b"manifest.json.p7s")
    assert first[:cut] == second[:cut]
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        for member in tar.getmembers():
            assert (member.uname, member.gname, member.mtime, member.uid, member.gid) == ("", "", 0, 0, 0)
            assert member.type == tarfile.REGTYPE
    # Two zero blocks end the archive, and nothing follows them.
    assert first.endswith(bytes(1024)) and len(first) % 512 == 0


def test_non_ascii_and_long_names_use_pax_path(keys: Keys, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "报价.txt").write_text("x")
    (src / ("b" * 101)).write_text("y")
    (src / "plain.txt").write_text("z")
    keys.seal(src, tmp_path / "o.age")
    data = plaintext(keys, tmp_path / "o.age")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["报价.txt"].pax_headers == {"path": "报价.txt"}
    assert members["b" * 101].pax_headers == {"path": "b" * 101}
    assert members["plain.txt"].pax_headers == {}


def test_huge_sizes_get_a_pax_size_record() -> None:
    size = 2**33 + 5
    header = bidpack._member_header("big.bin", size, 0o644)
    with tarfile.open(fileobj=io.BytesIO(header + bytes(1024)), mode="r|") as tar:
        member = tar.next()
        assert member is not None and member.size == size and member.name == "big.bin"


def test_gnu_tar_lists_the_part(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    if shutil.which("tar") is None:
        pytest.skip("no tar command")
    data = plaintext(keys, keys.seal(setup.src, tmp_path / "o.age") and tmp_path / "o.age")
    listing = subprocess.run(["tar", "-tf", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert "技术方案/附件/进度计划.xlsx" in listing.splitlines()
    assert listing.splitlines()[-2:] == ["manifest.json", "manifest.json.p7s"]


# ---------------------------------------------------------------------------------- open: success


def test_open_a_part_made_with_pythons_tarfile(keys: Keys, tmp_path: Path) -> None:
    members = [("a.txt", b"a"), ("sub/b.txt", b"bb"), ("文件.txt", "中文".encode())]
    out = keys.hand_made(tmp_path / "h.age", members)
    opened = keys.open(out, tmp_path / "d", tender=TENDER, lot=1, part="technical")
    assert opened.signer.assurance is bidpack.Assurance.FULL
    assert (tmp_path / "d" / "文件.txt").read_text() == "中文"


def test_online_decryption_with_the_file_key(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    result = keys.seal(setup.src, tmp_path / "o.age")
    with open(result.out_path, "rb") as f:
        file_key = age.unwrap_file_key(f, [keys.own])
    opened = keys.open(Path(result.out_path), tmp_path / "d", identities=None, file_key=file_key)
    assert opened.manifest == result.manifest
    with pytest.raises(age.HeaderMacMismatchError):
        keys.open(Path(result.out_path), tmp_path / "e", identities=None, file_key=bytes(16))
    assert not (tmp_path / "e").exists() and leftovers(tmp_path) == []


def test_assurance_follows_the_trust_material(keys: Keys, tmp_path: Path) -> None:
    out = keys.hand_made(tmp_path / "h.age", [("a.txt", b"a")])
    assert keys.open(out, tmp_path / "1", crl=None).signer.assurance is bidpack.Assurance.NO_REVOCATION
    assert (
        keys.open(out, tmp_path / "2", chain=None, crl=None).signer.assurance
        is bidpack.Assurance.SIGNATURE_ONLY
    )


def test_verify_envelope(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    result = keys.seal(setup.src, tmp_path / "o.age", lot=3, part="qualification")
    verified = bidpack.verify_envelope(
        result.out_path,
        chain=setup.bundle.chain,
        crl=keys.crl,
        at=setup.now,
        tender=TENDER,
        lot=3,
        part="qualification",
    )
    assert verified.statement == result.statement
    assert verified.recipients == 2
    assert verified.signer.identity.credit_code == CREDIT_CODE
    with pytest.raises(bidpack.BidPartMismatch):
        bidpack.verify_envelope(result.out_path, chain=setup.bundle.chain, crl=keys.crl, at=setup.now, lot=1)


def test_envelope_to_one_recipient_is_refused(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "one.age"
    with open(out, "wb") as f:
        age.encrypt(io.BytesIO(b"x"), f, [keys.opening.recipient])
    data = out.read_bytes()
    statement = bidpack._statement(
        TENDER, 1, "technical", CREDIT_CODE, hashlib.sha256(data).hexdigest(), len(data)
    )
    signature = cms.sign_detached(canonical_json(statement), keys.cert, keys.key)
    Path(f"{out}.sig").write_bytes(bidpack._encode_signature_file(statement, signature, keys.cert))
    with pytest.raises(bidpack.BidEnvelopeInvalid):
        bidpack.verify_envelope(out, chain=setup.bundle.chain, crl=keys.crl, at=setup.now)


def test_statement_signed_by_someone_else(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    result = keys.seal(setup.src / "run.sh", tmp_path / "o.age")
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = ca.issue_for_public_key(
        setup.issuer,
        other_key.public_key(),
        ca.Profile.TENDERER_SIGNING,
        ca.SubjectInfo("另一家公司", "王五", credit_code("91110000100000000")),
        setup.now - timedelta(minutes=5),
    )
    signature = cms.sign_detached(canonical_json(result.statement), other, other_key)
    Path(result.sig_path).write_bytes(bidpack._encode_signature_file(result.statement, signature, other))
    with pytest.raises(bidpack.BidSignerMismatch):
        bidpack.verify_envelope(result.out_path, chain=setup.bundle.chain, crl=keys.crl, at=setup.now)


def credit_code(body: str) -> str:
    for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if ca.is_valid_credit_code(body + ch):
            return body + ch
    raise AssertionError("no check character fits")


# ---------------------------------------------------------------------------------- open: refusals


def refused_open(keys: Keys, out: Path, dest: Path, error: type[Exception], **kwargs) -> Exception:
    with pytest.raises(error) as info:
        keys.open(out, dest, **kwargs)
    assert not dest.exists()
    assert leftovers(dest.parent) == []
    return info.value


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("../evil", bidpack.BidTarUnsafe),
        ("/etc/evil", bidpack.BidTarUnsafe),
        ("a/../../evil", bidpack.BidTarUnsafe),
        ("./a", bidpack.BidTarUnsafe),
        ("a//b", bidpack.BidTarUnsafe),
        ("C:evil", bidpack.BidTarUnsafe),
        ("a\\..\\evil", bidpack.BidTarUnsafe),
        ("NUL.txt", bidpack.BidTarUnsafe),
        ("tail.", bidpack.BidTarUnsafe),
        ("ctl\x01", bidpack.BidTarUnsafe),
    ],
)
def test_unsafe_names(keys: Keys, tmp_path: Path, name: str, error: type[Exception]) -> None:
    out = keys.hand_made(tmp_path / "h.age", [(name, b"evil")])
    refused_open(keys, out, tmp_path / "d", error)
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize(
    "names",
    [["a.txt", "a.txt"], ["A.txt", "a.txt"], ["a", "a/b"], ["é", "e\u0301"]],
    ids=["duplicate", "case", "file-then-folder", "unicode-normalisation"],
)
def test_colliding_names(keys: Keys, tmp_path: Path, names: list[str]) -> None:
    members = [(name, b"x") for name in names]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    unpacker = bidpack._Unpacker(str(tmp_path))
    with pytest.raises(bidpack.BidTarUnsafe):
        unpacker.write(buffer.getvalue())
    unpacker.abort()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_devices(keys: Keys, tmp_path: Path, kind: bytes) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("innocent")
        info.type = kind
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    out = tmp_path / "l.age"
    with open(out, "wb") as f:
        age.encrypt(io.BytesIO(buffer.getvalue()), f, keys.recipients)
    refused_open(keys, out, tmp_path / "d", bidpack.BidTarUnsafe)


def raw_unpack(tmp_path: Path, data: bytes) -> bidpack._Unpacker:
    unpacker = bidpack._Unpacker(str(tmp_path))
    try:
        unpacker.write(data)
        unpacker.finish()
    finally:
        unpacker.abort()
    return unpacker


def ustar(name: str, data: bytes) -> bytes:
    return bidpack._member_header(name, len(data), 0o644) + data + bytes(-len(data) % 512)


def test_tar_layout_refusals(keys: Keys, tmp_path: Path) -> None:
    manifest = b"{}"
    tail = ustar("manifest.json", manifest) + ustar("manifest.json.p7s", b"sig")
    bad_checksum = bytearray(ustar("a", b""))
    bad_checksum[148:156] = b"0000000\0"
    gnu = bytearray(ustar("a", b""))
    gnu[257:265] = b"ustar  \0"
    cases = {
        "out of order": (ustar("b", b"") + ustar("a", b"") + tail + bytes(1024), "out of order"),
        "no end marker": (ustar("a", b"") + tail, "truncated"),
        "single zero block": (ustar("a", b"") + tail + bytes(512) + ustar("c", b""), "single zero"),
        "data after end": (ustar("a", b"") + tail + bytes(1024) + b"junk", "after the end"),
        "member after signature": (
            ustar("a", b"") + tail + ustar("z", b"") + bytes(1024),
            "follows the manifest",
        ),
        "no manifest": (ustar("a", b"") + bytes(1024), "lacks manifest"),
        "signature first": (
            ustar("a", b"") + ustar("manifest.json.p7s", b"s") + bytes(1024),
            "before the manifest",
        ),
        "bad checksum": (bytes(bad_checksum) + bytes(1024), "checksum"),
        "directory member": (_with_type(ustar("dir", b""), b"5") + tail + bytes(1024), "regular files only"),
        "GNU magic": (bytes(gnu), "POSIX"),
    }
    for label, (data, reason) in cases.items():
        sub = tmp_path / label.replace(" ", "-")
        sub.mkdir()
        with pytest.raises(bidpack.BidTarInvalid, match=reason):
            raw_unpack(sub, data)


def _with_type(header: bytes, typeflag: bytes) -> bytes:
    block = bytearray(header[:512])
    block[156:157] = typeflag
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + header[512:]


def test_pax_records_from_other_writers_are_tolerated(tmp_path: Path) -> None:
    records = bidpack._pax_record("mtime", "1700000000.5") + bidpack._pax_record("SCHILY.xattr.user.x", "y")
    pax = bidpack._ustar(b"PaxHeaders/a", len(records), 0o644, b"x") + records + bytes(-len(records) % 512)
    unpacker = raw_unpack(
        tmp_path,
        pax
        + ustar("a", b"a")
        + ustar("manifest.json", b"{}")
        + ustar("manifest.json.p7s", b"s")
        + bytes(1024),
    )
    assert [m.name for m in unpacker.members] == ["a"]
    sparse = bidpack._pax_record("GNU.sparse.map", "0,1")
    header = bidpack._ustar(b"PaxHeaders/a", len(sparse), 0o644, b"x") + sparse + bytes(-len(sparse) % 512)
    (tmp_path / "2").mkdir()
    with pytest.raises(bidpack.BidTarInvalid, match="not allowed"):
        raw_unpack(tmp_path / "2", header + ustar("a", b"a"))


def test_manifest_mismatch(keys: Keys, tmp_path: Path) -> None:
    files = {"a.txt": b"a", "b.txt": b"b"}
    members = sorted(files.items())
    cases = {
        "hash": keys.manifest({**files, "b.txt": b"B"}),
        "missing": keys.manifest({"a.txt": b"a"}),
        "extra": keys.manifest({**files, "c.txt": b"c"}),
    }
    for label, manifest in cases.items():
        out = keys.hand_made(tmp_path / f"{label}.age", members, manifest)
        refused_open(keys, out, tmp_path / label, bidpack.BidManifestMismatch)


def test_manifest_invalid(keys: Keys, tmp_path: Path) -> None:
    files = {"a.txt": b"a"}
    cases = {
        "not canonical": json.dumps(keys.manifest(files), indent=1).encode(),
        "float": canonical_json(keys.manifest(files)).replace(b'"lot":1', b'"lot":1.0'),
        "unknown key": canonical_json({**keys.manifest(files), "extra": 1}),
        "price sheet in technical": canonical_json({**keys.manifest(files), "price_sheet": PRICE_SHEET}),
        "commercial without price sheet": canonical_json(keys.manifest(files, part="commercial")),
        "bad fingerprint": canonical_json(keys.manifest(files, machine_fingerprint_sha256="x")),
    }
    for label, manifest in cases.items():
        out = keys.hand_made(tmp_path / f"{label}.age", list(files.items()), manifest)
        refused_open(keys, out, tmp_path / label.replace(" ", "-"), bidpack.BidManifestInvalid)


def test_manifest_naming_another_tenderer(keys: Keys, tmp_path: Path) -> None:
    files = {"a.txt": b"a"}
    manifest = keys.manifest(
        files, tenderer={"credit_code": credit_code("91110000100000000"), "name": "别家"}
    )
    out = keys.hand_made(tmp_path / "o.age", list(files.items()), manifest)
    refused_open(keys, out, tmp_path / "d", bidpack.BidSignerMismatch)


def test_inner_signature_over_other_bytes(keys: Keys, tmp_path: Path) -> None:
    files = {"a.txt": b"a"}
    data = canonical_json(keys.manifest(files))
    other = canonical_json(keys.manifest(files, lot=2))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in [
            ("a.txt", b"a"),
            ("manifest.json", data),
            ("manifest.json.p7s", cms.sign_detached(other, keys.cert, keys.key)),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    out = tmp_path / "o.age"
    with open(out, "wb") as f:
        age.encrypt(io.BytesIO(buffer.getvalue()), f, keys.recipients)
    for chain, crl in ((keys.setup.bundle.chain, keys.crl), (keys.setup.bundle.chain, None), (None, None)):
        refused_open(keys, out, tmp_path / "d", bidpack.BidSignatureInvalid, chain=chain, crl=crl)


def test_expectations_at_open(keys: Keys, tmp_path: Path) -> None:
    out = keys.hand_made(tmp_path / "o.age", [("a.txt", b"a")])
    for expected in ({"tender": "ZB-2026-000999"}, {"lot": 2}, {"part": "commercial"}):
        error = refused_open(keys, out, tmp_path / "d", bidpack.BidPartMismatch, **expected)
        assert error.details["field"] in expected


def test_no_revocation_mode_still_checks_chain_and_validity(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    out = keys.hand_made(tmp_path / "o.age", [("a.txt", b"a")])
    refused_open(
        keys, out, tmp_path / "d", ca.CertificateExpired, crl=None, at=setup.now + timedelta(days=800)
    )
    other = ca.create_ca("Other", b"x", setup.now - timedelta(hours=1))
    refused_open(keys, out, tmp_path / "d", ca.CertificateUntrusted, crl=None, chain=other.chain)


def test_wrong_profile_is_refused_without_crl_too(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    staff_key = ec.generate_private_key(ec.SECP256R1())
    staff = ca.issue_for_public_key(
        setup.issuer,
        staff_key.public_key(),
        ca.Profile.STAFF,
        ca.SubjectInfo(ORG, "员工", CREDIT_CODE),
        setup.now - timedelta(minutes=5),
    )
    other = Keys.__new__(Keys)
    other.__dict__.update(keys.__dict__)
    other.key, other.cert = staff_key, staff
    out = other.hand_made(tmp_path / "o.age", [("a.txt", b"a")])
    for crl in (keys.crl, None):
        refused_open(keys, out, tmp_path / "d", ca.CertificateWrongProfile, crl=crl)


# ------------------------------------------------------------------------------------------- sealing


def test_seal_refuses_bad_sources(keys: Keys, tmp_path: Path) -> None:
    cases = {
        "manifest.json": "reserved",
        "A.txt|a.txt": "ignoring case",
        "x:y": "not allowed",
        "con.txt": "reserved device",
    }
    for n, (names, _message) in enumerate(cases.items()):
        src = tmp_path / f"src{n}"
        src.mkdir()
        for name in names.split("|"):
            (src / name).write_text("x")
        with pytest.raises(bidpack.BidSourceError):
            keys.seal(src, tmp_path / f"o{n}.age")
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    with pytest.raises(bidpack.BidSourceError):
        keys.seal(empty, tmp_path / "e.age")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo-src"
        fifo.mkdir()
        os.mkfifo(fifo / "pipe")
        with pytest.raises(bidpack.BidSourceError, match="named pipe"):
            keys.seal(fifo, tmp_path / "f.age")
    assert not any(p.suffix == ".age" for p in tmp_path.iterdir())
    assert leftovers(tmp_path) == []


def test_seal_refuses_a_file_that_changes(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(b"x" * 1000)
    collect = bidpack.collect_sources

    def racing(path):
        found = collect(path)
        (src / "a.bin").write_bytes(b"x" * 10)
        return found

    monkeypatch.setattr(bidpack, "collect_sources", racing)
    with pytest.raises(bidpack.BidSourceChanged):
        keys.seal(src, tmp_path / "o.age")
    assert not (tmp_path / "o.age").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("sync", [True, False])
def test_seal_sync_forces_both_files_and_the_folder_to_disk(
    keys: Keys, setup: Setup, tmp_path: Path, fsynced: list[str], sync: bool
) -> None:
    """``--sync`` makes OUT, OUT.sig and their names durable before seal returns; without it
    nothing is forced (as with age), and a part cut short by a power cut is caught by its .sig."""
    out = tmp_path / "o.age"
    result = keys.seal(setup.src, out, sync=sync)
    synced = list(fsynced)
    # Written under temporary names, then renamed: the fsyncs name the temporary files.
    kinds = sorted(
        "folder" if path == str(tmp_path) else "sig" if ".o.age.sig." in path else "out" for path in synced
    )
    assert kinds == (["folder", "out", "sig"] if sync else [])
    assert bidpack.verify_envelope(out, chain=setup.bundle.chain, crl=keys.crl, at=setup.now)
    # What a power cut can leave of an unsynced OUT: the name, with the data short or missing.
    with open(out, "r+b") as f:
        f.truncate(result.ciphertext_size // 2)
    with pytest.raises(bidpack.BidCiphertextMismatch):
        bidpack.verify_envelope(out, chain=setup.bundle.chain, crl=keys.crl, at=setup.now)


def test_open_sync_makes_every_file_and_folder_durable_before_the_rename(
    keys: Keys, setup: Setup, tmp_path: Path, fsynced: list[str]
) -> None:
    """What the platform asks for before it records a part as opened (R-B6's outcome must not
    outlive the files it vouches for)."""
    out = tmp_path / "o.age"
    keys.seal(setup.src, out)
    fsynced.clear()
    keys.open(out, tmp_path / "plain", sync=True)
    synced = list(fsynced)
    # Relative to the temporary folder the files were extracted into, before its rename.
    temporary = os.path.dirname(next(p for p in synced if p.endswith("manifest.json")))
    inside = {os.path.relpath(p, temporary) for p in synced if p.startswith(temporary)}
    files = {str(p.relative_to(setup.src)) for p in setup.src.rglob("*") if p.is_file()}
    folders = {str(p.relative_to(setup.src)) for p in setup.src.rglob("*") if p.is_dir()}
    assert inside == files | folders | {".", "manifest.json", "manifest.json.p7s"}
    assert synced[-1] == str(tmp_path)  # the rename itself, last
    # Without sync nothing is forced, as with age -d.
    fsynced.clear()
    keys.open(out, tmp_path / "plain2")
    assert fsynced == []


def test_seal_checks_its_arguments(keys: Keys, setup: Setup, tmp_path: Path) -> None:
    src = setup.src / "run.sh"
    with pytest.raises(bidpack.PriceSheetInvalid):
        keys.seal(src, tmp_path / "1.age", part="commercial")
    with pytest.raises(bidpack.PriceSheetInvalid):
        keys.seal(src, tmp_path / "2.age", price_sheet=PRICE_SHEET)
    with pytest.raises(ValueError, match="opening key"):
        bidpack.seal(
            src,
            tmp_path / "3.age",
            recipients=[keys.own.recipient, keys.own.recipient],
            certificate=keys.cert,
            private_key=keys.key,
            tender=TENDER,
            part="technical",
            machine_fingerprint=FINGERPRINT,
            tool_version="t",
        )
    with pytest.raises(bidpack.BidKeyMismatch):
        keys.seal(src, tmp_path / "4.age", private_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValueError, match="tender"):
        keys.seal(src, tmp_path / "5.age", tender="bad id/..")
    assert not any(p.suffix == ".age" for p in tmp_path.iterdir())


# -------------------------------------------------------------------------------------- price sheet


def test_price_sheet_accepts_the_example() -> None:
    assert bidpack.validate_price_sheet(json.loads(json.dumps(PRICE_SHEET))) == PRICE_SHEET
    with_bom = "\ufeff".encode() + json.dumps(PRICE_SHEET, ensure_ascii=False).encode()
    assert bidpack.load_price_sheet(with_bom) == PRICE_SHEET


@pytest.mark.parametrize(
    "text",
    [
        '{"currency":"CNY","total_fen":1.5,"items":[{"name":"a","amount_fen":1}]}',
        '{"currency":"CNY","total_fen":1e3,"items":[{"name":"a","amount_fen":1000}]}',
        '{"currency":"CNY","total_fen":NaN,"items":[]}',
        '{"currency":"CNY","currency":"USD","total_fen":1,"items":[{"name":"a","amount_fen":1}]}',
        "[1,2]",
        "not json",
    ],
    ids=["float", "exponent", "nan", "duplicate-key", "not-object", "garbage"],
)
def test_price_sheet_refuses_bad_json(text: str) -> None:
    with pytest.raises(bidpack.PriceSheetInvalid):
        bidpack.load_price_sheet(text.encode())


@pytest.mark.parametrize(
    "change",
    [
        {"total_fen": 1},
        {"currency": "cny"},
        {"currency": "RMB¥"},
        {"items": []},
        {"duration_days": 0},
        {"duration_days": True},
        {"warranty_days": -1},
        {"quality": ""},
        {"quality": "a\nb"},
        {"bid_bond_fen": 5},
        {"items": [{"name": "a", "amount_fen": 123456790, "colour": "red"}]},
        {"items": [{"name": "a", "amount_fen": -1}], "total_fen": -1},
        {
            "items": [{"name": "钢材", "quantity": "2.5", "unit_price_fen": 100, "amount_fen": 251}],
            "total_fen": 251,
        },
        {"items": [{"name": "钢材", "quantity": "2,5", "amount_fen": 123456790}]},
        {"items": [{"name": "钢材", "quantity": 2, "amount_fen": 123456790}]},
    ],
)
def test_price_sheet_refuses_bad_content(change: dict) -> None:
    with pytest.raises(bidpack.PriceSheetInvalid):
        bidpack.validate_price_sheet({**PRICE_SHEET, **change})


def test_price_sheet_rounds_half_up() -> None:
    item = {"name": "钢材", "quantity": "0.5", "unit_price_fen": 3, "amount_fen": 2}
    assert bidpack.validate_price_sheet({"currency": "CNY", "total_fen": 2, "items": [item]})
