"""Receipt figures (issue 18): the size of a receipt that carries its log proof, and the time to verify it
(signature, cosigned checkpoint, inclusion proof, sealed content), with the log at 1,000,000 entries.

    .venv/bin/python -m bench.receipt [--entries 1000000] [--repeat 20]

The log is built in memory with the platform's own code (crypto.merkle, audit.log.seal_leaf for the
sealed submission entry, crypto.note and crypto.cosignature for the log's and the witness's
signatures): the proof is the same as the database would serve, only faster to set up. The proven entry
is the first leaf, whose audit path is the longest. Timed: ``receipts.verify_receipt`` plus
``receipts.verify_receipt_proof`` in-process (median of ``--repeat``), and ``bidtool verify-receipt``
as a tenderer runs it (a new process each time, median of 5). Targets: at most 8 KiB and 50 ms
in-process (for information: the command, which starts Python).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SIZE_TARGET = 8 * 1024
TIME_TARGET = 0.050


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.receipt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    from audit.log import seal_leaf
    from crypto import cosignature, logproof, merkle, note, receipts
    from crypto.canonical import canonical_json

    origin = "sunbid.bench/audit"
    log_key = note.generate_signer(origin)
    witness = cosignature.Cosigner.generate("witness.bench/sunbid")
    receipt_key = Ed25519PrivateKey.generate()
    bid = "4a1d9c3e-6f0b-4c55-9d7e-1f2a3b4c5d6e"
    parts = [
        {"part": p, "sha256": f"{n:064x}", "size": 7_000_000 * (n + 1)}
        for n, p in enumerate(("commercial", "qualification", "technical"))
    ]
    time_text = "2026-12-18T08:59:59.123456Z"
    submitted = {
        "v": 1,
        "i": 0,
        "time": time_text,
        "actor": "9d3c0b1e-2a4f-4e6b-8c7d-0f1e2d3c4b5a",
        "role": "tenderer",
        "org": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        "ip": "203.0.113.7",
        "action": "bidding.bid_submitted",
        "target": {"type": "bids", "id": bid},
        "data": {"tender": "7c6b5a49-3827-4615-9504-a3b2c1d0e9f8", "lot": 1, "replaces": [], "parts": parts},
    }
    content, public = seal_leaf(submitted)
    began = time.perf_counter()
    frontier = merkle.Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    first = merkle.leaf_hash(public)
    nodes[(0, 0)] = first
    for level, index, value in frontier.append(first):
        nodes[(level, index)] = value
    for k in range(1, args.entries):
        leaf_hash = merkle.leaf_hash(
            canonical_json({"v": 1, "i": k, "action": "bench.append", "data": {"k": k}})
        )
        nodes[(0, k)] = leaf_hash
        for level, index, value in frontier.append(leaf_hash):
            nodes[(level, index)] = value
    print(f"log of {args.entries:,} entries built in {time.perf_counter() - began:.1f} s")
    text = note.format_checkpoint(origin, frontier.size, frontier.root())
    signed = note.sign_note(text, log_key)
    cosigned = cosignature.add_signatures(signed, witness.signature_line(text))
    path = merkle.inclusion_proof(0, frontier.size, lambda wanted: {w: nodes[w] for w in wanted})
    payload = receipts.build_receipt(
        tender_id=submitted["data"]["tender"],
        lot=1,
        bid_id=bid,
        tenderer="91350100M000100Y43",
        parts=parts,
        received_at=datetime(2026, 12, 18, 8, 59, 59, 123456, tzinfo=UTC),
        audit_index=0,
    )
    document = receipts.attach_proof(
        receipts.sign_receipt(payload, receipt_key),
        logproof.make_proof(0, public, cosigned.decode(), path, content),
    )
    trust = logproof.Trust(log_key.verifier(), (witness.verifier(),))
    public_key = receipt_key.public_key()

    def verify() -> float:
        start = time.perf_counter()
        checked = receipts.verify_receipt(document, public_key)
        proven = receipts.verify_receipt_proof(checked, receipts.proof_of(document), trust)
        assert proven.disclosed
        return time.perf_counter() - start

    verify()
    inproc = statistics.median(verify() for _ in range(args.repeat))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "receipt.json").write_bytes(document)
        (folder / "key.pem").write_bytes(receipts.public_key_pem(public_key))
        command = [
            sys.executable,
            "-m",
            "bidtool",
            "--lang",
            "en",
            "verify-receipt",
            "--key",
            str(folder / "key.pem"),
            "--log-key",
            log_key.verifier().key_string(),
            "--witness-key",
            witness.verifier().key_string(),
            "--state",
            str(folder / "state.json"),
            str(folder / "receipt.json"),
        ]
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
    size = len(document)
    proof_size = len(json.dumps(receipts.proof_of(document)))
    met = size <= SIZE_TARGET and inproc <= TIME_TARGET
    print(
        f"receipt with its log proof: {size} bytes (the proof {proof_size} bytes, {len(path)} hashes)"
        f" (target <= {SIZE_TARGET})"
    )
    print(
        f"verify (signature, cosigned checkpoint, inclusion, sealed content): {inproc * 1000:.2f} ms"
        f" in-process, median of {args.repeat} (target <= {TIME_TARGET * 1000:.0f} ms)"
    )
    print(
        f"bidtool verify-receipt, the whole command: {statistics.median(runs) * 1000:.0f} ms, median of 5"
        " (for information: mostly starting Python)"
    )
    print(f"receipt figures -> {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
