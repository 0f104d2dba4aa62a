"""The tenderer's "My bid" on the tender page and the bidtool download page (issue 15 items 1, 6, 8):
the page gives bidtool the tender's id (not its code), shows each part's state, the receipt links,
withdraw and replace; the bidtool offered for download runs with Python and cryptography alone."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cryptography

from bidding import bidtool_views
from tests.bidding.test_bids import Tenderer
from tests.factories import PASSWORD


def _page(client, tender):
    return client.get(f"/tenders/{tender.id}").get_data(as_text=True)


def test_my_bid_gives_the_tender_id_and_walks_a_bid_from_start_to_receipt(
    client, people, session, tender, tmp_path
):
    bidder = Tenderer(people, session, "bench")
    client.post("/sign-in", data={"username": bidder.user.username, "password": PASSWORD})
    html = _page(client, tender)
    # The tender's id for bidtool: sealing with the code fails at upload (bid_part_mismatch).
    assert 'id="my-bid"' in html and f'value="{tender.id}"' in html
    assert 'id="start-bid"' in html
    assert client.post(f"/tenders/{tender.id}/my-bid", data={"lot": "1"}).status_code == 302
    html = _page(client, tender)
    assert html.count('data-state="missing"') == 3 and 'class="seal-bench"' in html
    assert "signing-key.pem" in html  # the workbench asks for the key files, in the page
    bid_id = html.split('data-bid="')[1].split('"')[0]
    for part in ("qualification", "technical", "commercial"):
        body, signature = bidder.seal(tmp_path, tender, part)
        begun = client.post(
            f"/tenders/{tender.id}/my-bid/{bid_id}/parts/{part}/uploads",
            headers={"X-Bid-Signature": signature, "Accept": "application/json"},
        )
        assert begun.status_code == 201, begun.get_data(as_text=True)
        done = client.patch(
            f"/tenders/{tender.id}/my-bid/{bid_id}/uploads/{begun.get_json()['id']}",
            data=body,
            headers={
                "Upload-Offset": "0",
                "X-Chunk-SHA256": hashlib.sha256(body).hexdigest(),
                "Content-Type": "application/octet-stream",
                "Accept": "application/json",
            },
        )
        assert done.status_code == 201, done.get_data(as_text=True)
    html = _page(client, tender)
    assert html.count('data-state="received"') == 3
    assert client.post(f"/tenders/{tender.id}/my-bid/{bid_id}/submit").status_code == 302
    html = _page(client, tender)
    assert f"/tenders/{tender.id}/bids/{bid_id}/receipt.json" in html and "/receipts/check" in html  # R-B2
    assert f'id="replace-{bid_id}"' in html and f'id="withdraw-{bid_id}"' in html  # R-B4
    receipt = client.get(f"/tenders/{tender.id}/bids/{bid_id}/receipt.json")
    assert receipt.status_code == 200 and b'"signature"' in receipt.get_data()
    assert client.post(f"/tenders/{tender.id}/my-bid/{bid_id}/withdraw").status_code == 302
    html = _page(client, tender)
    assert 'id="bid-history"' in html and 'id="start-bid"' in html


def test_page_requests_refused_in_json_name_their_code(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "bench-json")
    client.post("/sign-in", data={"username": bidder.user.username, "password": PASSWORD})
    client.post(f"/tenders/{tender.id}/my-bid", data={"lot": "1"})
    bid_id = _page(client, tender).split('data-bid="')[1].split('"')[0]
    _body, signature = bidder.seal(tmp_path, tender, "technical")
    wrong_part = client.post(
        f"/tenders/{tender.id}/my-bid/{bid_id}/parts/commercial/uploads",
        headers={"X-Bid-Signature": signature, "Accept": "application/json"},
    )
    assert wrong_part.status_code == 422
    assert wrong_part.get_json()["error"]["code"] == "bid_part_mismatch"


def test_the_bidtool_download_runs_with_python_and_cryptography_only(
    client, people, session, tender, tmp_path
):
    bidder = Tenderer(people, session, "bench-cli")
    client.post("/sign-in", data={"username": bidder.user.username, "password": PASSWORD})
    html = client.get(f"/bidtool?tender_id={tender.id}").get_data(as_text=True)
    assert f"--tender {tender.id} " in html and tender.opening_key.recipient in html
    download = client.get("/bidtool/bidtool.pyz")
    data = download.get_data()
    sha = hashlib.sha256(data).hexdigest()
    assert sha in html and download.headers["X-Content-SHA256"] == sha
    assert bidtool_views.build() == data  # reproducible: the checksum names these bytes
    # Only cryptography (and its own dependency cffi) on the path: no Flask, no SQLAlchemy, no click.
    site = tmp_path / "site"
    site.mkdir()
    packages = Path(cryptography.__file__).parent.parent
    for entry in packages.iterdir():
        if entry.name.startswith(("cryptography", "cffi", "_cffi_backend", "pycparser")):
            (site / entry.name).symlink_to(entry)
    pyz = tmp_path / "bidtool.pyz"
    pyz.write_bytes(data)
    (tmp_path / "pw").write_text("correct horse battery\n")
    run = subprocess.run(
        [
            sys.executable,
            "-S",
            str(pyz),
            "keygen",
            str(tmp_path / "keys"),
            "--org",
            "某某公司",
            "--credit-code",
            bidder.user.organization.credit_code,
            "--name",
            "张三",
            "--passphrase-file",
            str(tmp_path / "pw"),
        ],
        env={"PYTHONPATH": str(site), "PATH": os.environ["PATH"], "BIDTOOL_LANG": "en"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "keys" / "signing-key.pem").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY")
