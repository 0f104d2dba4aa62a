"""bidtool's client for the SunBid API (API.md): certificate sign-in, bid submission with receipts.

Standard library only (urllib): bidtool runs on tenderers' machines, often behind strict proxies, and
must not need more than Python and ``crypto``. Part uploads stream from disk with a progress callback;
nothing is held in memory whole.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import age, bidpack, opening

LOGIN_CONTEXT = b"sunbid-cert-login-v1\n"  # must match accounts.certlogin on the server
CHUNK = 1024 * 1024
SUBMIT_ATTEMPTS = 3
SUBMIT_RETRY_SECONDS = 2.0


class ApiError(Exception):
    """The server refused: ``code`` is the API's stable error code (or a transport code)."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class _ProgressReader:
    """A file-like body that reports how much of it was sent."""

    def __init__(self, f: BinaryIO, total: int, progress: Callable[[int, int], object] | None) -> None:
        self.f, self.total, self.sent, self.progress = f, total, 0, progress

    def read(self, size: int = -1) -> bytes:
        # http.client asks for 8 KiB at a time; a MiB per call sends a GiB part with far less CPU.
        chunk = self.f.read(CHUNK if size is None or size < 0 else max(size, CHUNK))
        self.sent += len(chunk)
        if self.progress is not None:
            self.progress(self.sent, self.total)
        return chunk


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
    size = os.path.getsize(out)
    if size > bidpack.MAX_PART_SIZE:
        # The platform refuses such a body unread; sent anyway, it would only end in a reset connection.
        raise ApiError(
            413,
            "file_too_large",
            f"{out} is {size} bytes; the platform takes a part of at most {bidpack.MAX_PART_SIZE}",
            {"max_size": bidpack.MAX_PART_SIZE},
        )
    signature = base64.b64encode(sig.read_bytes()).decode()
    with out.open("rb") as f:
        _status, payload = api.request(
            "PUT",
            f"/api/v1/tenders/{tender_id}/bids/{bid_id}/parts/{part}",
            body=_ProgressReader(f, size, progress),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size),
                "X-Bid-Signature": signature,
            },
        )
    return json.loads(payload)


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
