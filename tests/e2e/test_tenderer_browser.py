"""A tenderer bids with only a browser (issue 15): keys and certificates made in the page, three parts
sealed in the page (Web Worker) and uploaded in resumable chunks, the receipt downloaded and checked,
the bid replaced, and online decryption at the opening, from links only. The part sealed in Chromium
opens with `age -d` and `bidtool open`, its signatures verify with `openssl cms -verify`; a part sealed
by bidtool decrypts online in the page; no request ever carries a private key or the passphrase."""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect
from sqlalchemy import select

from bidding import opening
from bidding.models import Bid, BidPart, BidUpload
from bidtool.keys import encrypt_private_key_pem
from core import clock
from core.roles import Role
from core.storage import file_store
from tests.bidding.test_bids import Tenderer, new_bid, upload_all
from tests.bidding.test_tenders import auth
from tests.e2e.test_pages import sign_in
from tests.e2e.test_tender_pages import sign_out

pytestmark = pytest.mark.e2e

PASSPHRASE = "瓦片 correct horse 2026"


def _save(page, selector, folder: Path) -> Path:
    with page.expect_download() as download:
        page.click(selector)
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    return path


def _make_keys(page, folder: Path) -> dict[str, Path]:
    page.click("a[href='/account/certificates']")
    expect(page.locator("#browser-keys")).to_be_visible()
    page.fill("#key-passphrase", PASSPHRASE)
    page.fill("#key-passphrase-again", PASSPHRASE)
    page.click("#keys-generate")
    expect(page.locator("#keys-files")).to_be_visible(timeout=60_000)
    files = {
        name: _save(page, f"#keys-files a[data-file='{name}']", folder)
        for name in ("signing-key.pem", "identity.txt", "recipient.txt", "signing.csr")
    }
    page.check("#keys-saved")
    page.click("#keys-request")
    expect(page.locator("#keys-issued")).to_be_visible()
    for name in ("certificate.pem", "chain.pem"):
        files[name] = _save(page, f"#keys-issued a[data-file='{name}']", folder)
    return files


def _seal_all(page, bench, keys: dict[str, Path], sources: dict[str, list[Path]]):
    bench.locator(".signing-key").set_input_files(keys["signing-key.pem"])
    bench.locator(".identity").set_input_files(keys["identity.txt"])
    bench.locator(".passphrase").fill(PASSPHRASE)
    bench.locator(".unlock").click()
    expect(bench.locator(".keys-status")).to_have_class(re.compile("ok"), timeout=60_000)
    for part, files in sources.items():
        box = bench.locator(f".seal-part[data-part='{part}']")
        box.locator(".part-files").set_input_files(files)
        if part == "commercial":
            box.locator(".ps-total").fill("1234567.89")
            box.locator(".ps-words").fill("人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分")
            box.locator(".ps-duration").fill("180")
            box.locator(".ps-quality").fill("合格")
            box.locator(".ps-pm").fill("李四")
        box.locator(".seal-go").click()
        if part != list(sources)[-1]:
            expect(box).to_have_attribute("data-done", "1", timeout=60_000)


def _sources(tmp_path: Path, tag: str) -> dict[str, list[Path]]:
    out = {}
    for part in ("qualification", "technical", "commercial"):
        folder = tmp_path / f"{tag}-{part}"
        folder.mkdir()
        (folder / "投标函.txt").write_text(f"{tag} {part} 投标函\n", encoding="utf-8")
        (folder / f"{part}-附件.bin").write_bytes(bytes(range(256)) * 300)
        # An empty file and one that runs past the page's 1 MiB batches by a few bytes: the page
        # reads files straight into its batches, and both ends of that must come out whole.
        (folder / "空白页.txt").write_bytes(b"")
        (folder / "图纸.bin").write_bytes(bytes(range(251)) * 4178)
        out[part] = sorted(folder.iterdir())
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_tenderer_bids_with_only_a_browser(page, client, people, session, tender, cast, tmp_path, lang):
    clerk = people.user(Role.TENDERER, f"web-clerk-{lang}")
    clerk.display_name = "张三"
    session.commit()
    bodies: list[bytes] = []
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))
    sign_in(page, people, clerk)
    if lang == "en":
        page.click("#lang-switch")
    keys = _make_keys(page, tmp_path)

    # The tender, from the portal; the page gives bidtool the tender's id.
    page.click("nav a[href='/tenders']")
    page.click(f"a[href='/tenders/{tender.id}']")
    expect(page.locator("#tender-id-for-bidtool")).to_have_value(str(tender.id))
    page.click("#start-bid button")
    bench = page.locator(".seal-bench")
    expect(bench).to_be_visible()
    # R-V5: words that do not say the figures are refused before anything is sealed.
    commercial = bench.locator(".seal-part[data-part='commercial']")
    commercial.locator(".ps-total").fill("1234567.89")
    commercial.locator(".ps-words").fill("人民币壹佰贰拾叁万元整")
    commercial.locator(".part-files").set_input_files(_sources(tmp_path, "probe")["commercial"])
    bench.locator(".signing-key").set_input_files(keys["signing-key.pem"])
    bench.locator(".identity").set_input_files(keys["identity.txt"])
    bench.locator(".passphrase").fill("wrong passphrase")
    bench.locator(".unlock").click()
    expect(bench.locator(".keys-status")).to_have_class(re.compile("error"), timeout=60_000)
    _seal_all(page, bench, keys, _sources(tmp_path, "first"))
    expect(page.locator("tr.part-row[data-state='received']")).to_have_count(3, timeout=60_000)

    # Submit; the receipt is downloaded and checked in the page (R-B2).
    page.click("form[id^='submit-'] button")
    receipt = _save(page, "a[id^='receipt-download-']", tmp_path)
    page.click("a[id^='receipt-check-']")
    page.set_input_files("#receipt", receipt)
    page.click("#receipt-check-form button[type=submit]")
    expect(page.locator("#receipt-ok")).to_be_visible()
    page.go_back()
    page.go_back()

    # Replace the bid with a new one before the deadline (R-B4).
    page.locator("details.withdraw summary").first.click()
    page.click("form[id^='replace-'] button")
    bench = page.locator(".seal-bench")
    _seal_all(page, bench, keys, _sources(tmp_path, "second"))
    expect(page.locator("tr.part-row[data-state='received']")).to_have_count(6, timeout=60_000)
    page.click("form[id^='submit-'] button")
    expect(page.locator("#bid-history")).to_contain_text("1")
    session.rollback()
    bid = session.scalars(
        select(Bid).where(Bid.organization_id == clerk.organization_id, Bid.status == "submitted")
    ).one()

    # The part sealed in Chromium, as the platform holds it, checked with outside tools.
    _check_with_outside_tools(session, bid, keys, tmp_path)

    # Two more bids, sealed by bidtool's code, so that the opening can go ahead (R-B5).
    others = [Tenderer(people, session, f"{name}-{lang}") for name in ("cli-one", "cli-two")]
    for other in others:
        headers = auth(people, client, other.user)
        bid_id = new_bid(client, headers, tender)
        upload_all(client, headers, tmp_path, other, tender, bid_id)
        assert (
            client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers).status_code
            == 201
        )

    # The opening: the agency starts it at the deadline; the clerk decrypts in the page.
    clock.freeze(tender.bid_deadline + timedelta(minutes=1))
    session.rollback()
    opening.start(session, cast["agent"], tender)
    session.commit()
    page.goto(page.url.split("#")[0])  # the same tender page, now at the opening
    page.click("nav a[href='/dashboard']")
    page.click(f"a[href='/tenders/{tender.id}#my-bid']")
    widget = page.locator(".decrypt-widget")
    widget.locator(".decrypt-identity").set_input_files(keys["identity.txt"])
    widget.locator(".decrypt-go").click()
    expect(widget.locator(".decrypt-results li[data-status='ok']")).to_have_count(3, timeout=60_000)
    # A second attempt says what happened instead of printing nothing.
    widget.locator(".decrypt-go").click()
    expect(widget.locator(".decrypt-results li")).to_have_count(3)
    expect(widget.locator(".decrypt-results li").first).to_contain_text(
        re.compile("已解密|already decrypted")
    )

    # A part sealed by bidtool decrypts online in the page too.
    sign_out(page)
    other = others[0]
    (tmp_path / "cli-identity.txt").write_text(f"{other.identity}\n")
    sign_in(page, people, other.user)
    page.click(f"a[href='/tenders/{tender.id}#my-bid']")
    widget = page.locator(".decrypt-widget")
    widget.locator(".decrypt-identity").set_input_files(tmp_path / "cli-identity.txt")
    widget.locator(".decrypt-go").click()
    expect(widget.locator(".decrypt-results li[data-status='ok']")).to_have_count(3, timeout=60_000)

    # Private keys never leave the browser: no request carried them, nor the passphrase.
    _no_secret_sent(bodies, keys)


def _no_secret_sent(bodies: list[bytes], keys: dict[str, Path]) -> None:
    identity = next(
        line for line in keys["identity.txt"].read_text().splitlines() if line.startswith("AGE-SECRET-KEY-1")
    )
    private = serialization.load_pem_private_key(keys["signing-key.pem"].read_bytes(), PASSPHRASE.encode())
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secrets = [
        identity.encode(),
        identity.lower().encode(),
        scalar,
        scalar.hex().encode(),
        base64.b64encode(scalar),
        base64.b64encode(pkcs8)[:40],
        PASSPHRASE.encode(),
        b"PRIVATE KEY",
    ]
    assert len(bodies) > 10
    for body in bodies:
        for secret in secrets:
            assert secret not in body


def _check_with_outside_tools(session, bid: Bid, keys: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "check"
    folder.mkdir()
    part = session.scalars(
        select(BidPart).where(BidPart.bid_id == bid.id, BidPart.part == "commercial")
    ).one()
    sealed = folder / "commercial.age"
    with file_store().open(part.sha256) as f:
        sealed.write_bytes(f.read())
    (folder / "commercial.age.sig").write_text(part.signature)
    at = str(int(clock.now().timestamp()))
    chain = keys["chain.pem"]
    # age -d with the tenderer's own identity opens the tar.
    tar = subprocess.run(
        ["age", "-d", "-i", str(keys["identity.txt"]), str(sealed)], capture_output=True, check=True
    ).stdout
    (folder / "part.tar").write_bytes(tar)
    listing = subprocess.run(
        ["tar", "-tf", str(folder / "part.tar")], capture_output=True, text=True, check=True
    )
    assert listing.stdout.splitlines()[-2:] == ["manifest.json", "manifest.json.p7s"]
    subprocess.run(["tar", "-xf", "part.tar", "manifest.json", "manifest.json.p7s"], cwd=folder, check=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tender"] == str(bid.tender_id) and manifest["price_sheet"]["total_fen"] == 123456789
    # The inner and the outer signatures verify with openssl, to the platform CA.
    for content, signature in (
        (folder / "manifest.json", folder / "manifest.json.p7s"),
        (folder / "statement.json", folder / "statement.p7s"),
    ):
        if content.name == "statement.json":
            document = json.loads(part.signature)
            content.write_bytes(
                json.dumps(document["statement"], sort_keys=True, separators=(",", ":")).encode()
            )
            signature.write_bytes(base64.b64decode(document["cms"]))
        verified = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                str(signature),
                "-content",
                str(content),
                "-CAfile",
                str(chain),
                "-attime",
                at,
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0 and "Verification successful" in verified.stderr, verified.stderr
    # bidtool opens it and checks it all, as the platform does.
    opened = subprocess.run(
        [
            sys.executable,
            "-m",
            "bidtool",
            "--lang",
            "en",
            "open",
            "--identity",
            str(keys["identity.txt"]),
            "--ca",
            str(chain),
            "--at",
            clock.now().isoformat(),
            "--tender",
            str(bid.tender_id),
            str(sealed),
            str(folder / "opened"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr
    chosen = tmp_path / "second-commercial"
    opened_files = [p.name for p in (folder / "opened").iterdir() if not p.name.startswith("manifest")]
    assert sorted(opened_files) == sorted(p.name for p in chosen.iterdir())
    for name in opened_files:  # byte for byte what the tenderer chose
        assert (folder / "opened" / name).read_bytes() == (chosen / name).read_bytes()


def test_an_upload_cut_halfway_resumes_and_bidtool_keys_work_in_the_page(
    page, people, session, tender, tmp_path
):
    """The connection drops at about half of a 40 MiB part: the page asks where the platform's copy stops
    and goes on from there. Then the network goes away for good and the laptop's lid is closed (the page
    reloaded): the sealed part waits in the browser's private storage and the upload resumes from the
    platform's copy. The keys are bidtool's own files (imported, not made in the page)."""
    bidder = Tenderer(people, session, "web-resume")
    keys = {
        "signing-key.pem": tmp_path / "signing-key.pem",
        "identity.txt": tmp_path / "identity.txt",
    }
    keys["signing-key.pem"].write_bytes(encrypt_private_key_pem(bidder.key, PASSPHRASE.encode()))
    keys["identity.txt"].write_text(f"# public key: {bidder.identity.recipient}\n{bidder.identity}\n")
    big = tmp_path / "technical" / "施工组织设计.bin"
    big.parent.mkdir()
    big.write_bytes(os.urandom(40 * 1024 * 1024))
    patches: list[str] = []
    begins: list[str] = []
    back: list[bool] = []

    def network(route):
        patches.append(route.request.url)
        # A blip at the second 16 MiB chunk (the first three go up together, in no fixed order); then
        # the network is gone.
        second = route.request.headers.get("upload-offset") == str(16 * 1024 * 1024)
        if back:
            route.continue_()
        elif second or len(patches) >= 4:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/my-bid/.*/uploads/.*"), network)
    page.on(
        "request",
        lambda r: begins.append(r.url) if r.method == "POST" and r.url.endswith("/uploads") else None,
    )
    sign_in(page, people, bidder.user)
    page.click("nav a[href='/tenders']")
    page.click(f"a[href='/tenders/{tender.id}']")
    page.click("#start-bid button")
    bench = page.locator(".seal-bench")
    bench.locator(".signing-key").set_input_files(keys["signing-key.pem"])
    bench.locator(".identity").set_input_files(keys["identity.txt"])
    bench.locator(".passphrase").fill(PASSPHRASE)
    bench.locator(".unlock").click()
    expect(bench.locator(".keys-status")).to_have_class(re.compile("ok"), timeout=60_000)
    box = bench.locator(".seal-part[data-part='technical']")
    box.locator(".part-files").set_input_files(big)
    box.locator(".seal-go").click()
    deadline = time.monotonic() + 60
    while len(patches) < 5 and time.monotonic() < deadline:  # the blip passed; now the network is gone
        page.wait_for_timeout(200)
    assert len(begins) >= 2  # after the blip it asked where the copy stops
    session.rollback()
    held = session.scalars(select(BidUpload)).one().received
    assert 0 < held < big.stat().st_size  # part of it is on the platform
    # The lid is closed and opened again: a new page, the network back.
    # The network comes back by the handler's flag, not page.unroute: unroute waits for handlers still
    # in flight and hung the test now and then.
    back.append(True)
    # The chunks' digests taken while sealing (the first chunks went up with them) are dropped, as for
    # a part sealed by an earlier page: the resumed upload reads and hashes each chunk itself.
    dropped = page.evaluate(
        """() => Object.keys(localStorage).filter((k) => k.startsWith("sunbid-chunks-"))
                 .map((k) => localStorage.removeItem(k)).length"""
    )
    assert dropped == 1
    page.reload()
    box = page.locator(".seal-part[data-part='technical']")
    expect(box).to_have_attribute("data-resumable", "1")
    box.locator(".seal-go").click()
    # The third chunk, sent before the lid closed, may still wait on the platform (15 s at most) for
    # the one before it, and complete the part itself: the page then learns that its copy is over.
    received = page.locator("tr.part-row[data-part='technical'][data-state='received']")
    expect(received).to_have_count(1, timeout=30_000)
    session.rollback()
    part = session.scalars(select(BidPart).where(BidPart.part == "technical")).one()
    assert part.size > 40 * 1024 * 1024
    with file_store().open(part.sha256) as f:
        assert hashlib.sha256(f.read()).hexdigest() == part.sha256
