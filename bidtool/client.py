"""bidtool's client for the SunBid API (API.md): certificate sign-in, bid submission with receipts.

Standard library only (urllib): bidtool runs on tenderers' machines, often behind strict proxies, and
must not need more than Python and ``crypto``. Part uploads stream from disk with a progress callback;
nothing is held in memory whole.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import age, bidpack, opening

LOGIN_CONTEXT = b"sunbid-cert-login-v1\n"  # must match accounts.certlogin on the server
SUBMIT_ATTEMPTS = 3
SUBMIT_RETRY_SECONDS = 2.0
UPLOAD_CHUNK = 8 * 1024 * 1024
UPLOAD_RETRIES = 5
UPLOAD_RETRY_SECONDS = 1.0


class ApiError(Exception):
    """The server refused: ``code`` is the API's stable error code (or a transport code)."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


@dataclass
class Api:
    base_url: str
    token: str | None = None
    timeout: float = 600.0

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        url = self.base_url.rstrip("/") + path
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        data = body
        if json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (https/http only)
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                error = json.loads(payload)["error"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(exc.code, "http_error", payload.decode(errors="replace")[:500]) from None
            raise ApiError(
                exc.code, error.get("code", "http_error"), error.get("message", ""), error.get("details")
            ) from None
        except urllib.error.URLError as exc:
            raise ApiError(0, "server_unreachable", str(exc.reason)) from None
        except (ConnectionError, http.client.HTTPException) as exc:  # lost while waiting for the answer
            raise ApiError(0, "server_unreachable", str(exc) or type(exc).__name__) from None

    def json(self, method: str, path: str, body: Any = None) -> Any:
        _status, payload = self.request(method, path, json_body=body)
        return json.loads(payload) if payload else None


def login_code(certificate_pem: str, private_key: ec.EllipticCurvePrivateKey, nonce: str) -> str:
    """What ``bidtool login-sign`` prints: paste it into the certificate sign-in page."""
    signature = private_key.sign(LOGIN_CONTEXT + nonce.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    document = {
        "certificate": certificate_pem,
        "nonce": nonce,
        "signature": base64.b64encode(signature).decode(),
    }
    return base64.b64encode(json.dumps(document).encode()).decode()


def certificate_sign_in(
    api: Api, certificate: x509.Certificate, private_key: ec.EllipticCurvePrivateKey
) -> str:
    """Challenge, sign, token (API.md): no password leaves the machine, only a signature."""
    nonce = api.json("POST", "/api/v1/auth/challenge")["nonce"]
    signature = private_key.sign(LOGIN_CONTEXT + nonce.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    answer = api.json(
        "POST",
        "/api/v1/auth/cert-login",
        {
            "certificate_pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
            "nonce": nonce,
            "signature_b64": base64.b64encode(signature).decode(),
        },
    )
    api.token = answer["token"]
    return answer["token"]


def opening_key(api: Api, tender_id: str) -> str:
    return api.json("GET", f"/api/v1/tenders/{tender_id}/opening-key")["recipient"]


def upload_part(
    api: Api,
    tender_id: str,
    bid_id: str,
    part: str,
    out: Path,
    sig: Path,
    progress: Callable[[int, int], object] | None = None,
) -> dict:
    """Send a sealed part in chunks (the platform's resumable upload, as the web page does): OUT.sig
    first, then chunks with their offset and SHA-256. A dropped connection is retried from where the
    platform's copy stops, so a large part survives a flaky network."""
    size = os.path.getsize(out)
    if size > bidpack.MAX_PART_SIZE:
        # The platform refuses it from the signed size before any byte is sent.
        raise ApiError(
            413,
            "file_too_large",
            f"{out} is {size} bytes; the platform takes a part of at most {bidpack.MAX_PART_SIZE}",
            {"max_size": bidpack.MAX_PART_SIZE},
        )
    base = f"/api/v1/tenders/{tender_id}/bids/{bid_id}"
    signature = base64.b64encode(sig.read_bytes()).decode()

    def begin() -> dict:
        _status, payload = api.request(
            "POST", f"{base}/parts/{part}/uploads", headers={"X-Bid-Signature": signature}
        )
        return json.loads(payload)

    upload = begin()
    if upload["complete"]:  # this very envelope is in already
        return upload["received"]
    offset, step = upload["offset"], min(upload["chunk_max"], UPLOAD_CHUNK)
    failures = 0
    with out.open("rb") as f:
        while True:
            f.seek(offset)
            data = f.read(step)
            try:
                _status, payload = api.request(
                    "PATCH",
                    f"{base}/uploads/{upload['id']}",
                    body=data,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Upload-Offset": str(offset),
                        "X-Chunk-SHA256": hashlib.sha256(data).hexdigest(),
                    },
                )
            except ApiError as exc:
                if exc.code == "upload_offset_mismatch":  # the copy is elsewhere: go on from there
                    offset = int(exc.details["offset"])
                    continue
                if exc.code == "upload_not_found":  # over: completed by another copy, or restarted
                    upload = begin()
                    if upload["complete"]:
                        return upload["received"]
                    offset = upload["offset"]
                    continue
                if exc.code != "server_unreachable" or failures >= UPLOAD_RETRIES:
                    raise
                failures += 1
                time.sleep(UPLOAD_RETRY_SECONDS * failures)
                upload = begin()  # where the platform's copy stops now
                if upload["complete"]:
                    return upload["received"]
                offset = upload["offset"]
                continue
            failures = 0
            answer = json.loads(payload)
            offset = answer["offset"]
            if progress is not None:
                progress(offset, size)
            if answer["complete"]:
                return answer["received"]


def submit_bid(
    api: Api,
    tender_id: str,
    lot: int,
    parts: dict[str, tuple[Path, Path]],
    progress: Callable[[str, int, int], object] | None = None,
) -> bytes:
    """Open a bid, upload every sealed part with its signature, submit: returns the signed receipt."""
    bid = api.json("POST", f"/api/v1/tenders/{tender_id}/bids", {"lot": lot})
    for part, (out, sig) in parts.items():
        upload_part(
            api,
            tender_id,
            bid["id"],
            part,
            out,
            sig,
            functools.partial(progress, part) if progress else None,
        )
    # Submitting again is safe (the server answers a submitted bid with its receipt): an answer lost on
    # the way back is asked for again rather than leaving the tenderer without its receipt (R-B2).
    attempt = 1
    while True:
        try:
            _status, receipt = api.request("POST", f"/api/v1/tenders/{tender_id}/bids/{bid['id']}/submit")
            return receipt
        except ApiError as exc:
            if exc.code != "server_unreachable" or attempt >= SUBMIT_ATTEMPTS:
                raise
        attempt += 1
        time.sleep(SUBMIT_RETRY_SECONDS)


def decrypt_online(api: Api, tender_id: str, bid_id: str, sealed: dict[str, Path], identities: list) -> dict:
    """Online decryption (在线解密): unwrap each part's file key here and send only the 16-byte keys.

    The identity never leaves this machine, and a file key opens only its own part.
    """

    keys = {}
    for part, path in sealed.items():
        with path.open("rb") as f:
            keys[part] = base64.b64encode(age.unwrap_file_key(f, identities)).decode()
    return api.json("POST", f"/api/v1/tenders/{tender_id}/bids/{bid_id}/decrypt", {"file_keys": keys})


def release_share(api: Api, tender_id: str, identities: list) -> dict:
    """A custodian's release: fetch the sealed share, open it here with the custodian's identity, send it."""

    mine = api.json("GET", f"/api/v1/tenders/{tender_id}/opening/shares/mine")
    sealed = opening.SealedShare(
        mine["role"], mine["x"], base64.b64decode(mine["sealed"]), mine["share_sha256"]
    )
    share = None
    for identity in identities:
        try:
            share = opening.open_share(sealed, identity)
            break
        except Exception:  # noqa: S112 (try the next identity; the last failure is reported below)
            continue
    if share is None:
        raise ApiError(0, "no_matching_identity", "none of the identities opens this share")
    return api.json("POST", f"/api/v1/tenders/{tender_id}/opening/shares", {"share": share.encode()})


def latest_cosigned(api: Api) -> str | None:
    """The platform's latest checkpoint cosigned by the witness (a signed note), or None."""
    cosigned = api.json("GET", "/api/v1/audit/checkpoint").get("cosigned")
    return cosigned["checkpoint"] if cosigned else None


def consistency_fetcher(api: Api) -> Callable[[int, int], list[bytes]]:
    """Consistency proofs from the platform, for crypto.logproof (which checks them). A log that cannot
    produce one (it no longer holds that many entries) raises LookupError."""

    def fetch(old: int, new: int) -> list[bytes]:
        try:
            answer = api.json("GET", f"/api/v1/audit/proofs/consistency?from={old}&to={new}")
        except ApiError as exc:
            if exc.status == 422:
                raise LookupError(exc.message) from None
            raise
        return [base64.b64decode(h) for h in answer["proof"]]

    return fetch
