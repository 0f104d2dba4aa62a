"""Proofs that travel with the documents people keep: an audit-log entry, its inclusion proof, and the
cosigned checkpoint it is included in; and the memory of the latest checkpoint a reader has seen.

A **log proof** is a JSON object, checkable offline with the log's key and the witnesses' keys::

    {"v": 1, "type": "sunbid-log-proof",
     "index": 41,                       # the entry's leaf index
     "leaf": "<the leaf, canonical JSON, as a string>",
     "content": "<for a sealed leaf, the committed content with its nonce>",   # optional
     "checkpoint": "<c2sp signed note: the log's signature and the witnesses' cosignatures>",
     "inclusion": ["<base64 hash>", ...]}   # RFC 6962 audit path of the leaf in that checkpoint

A sealed leaf (who bid, before the deadline) holds only ``{"v", "i", "time", "sealed": sha256 hex}``; its
content, disclosed to the bidder in the receipt, must hash to that commitment.

A **checkpoint memory** keeps, per log origin, the largest cosigned checkpoint its holder has seen
(bidtool keeps it in a file; the supervisor's audit page in the browser). Each new checkpoint must be
consistent with it: the same root at the same size, and a consistency proof between different sizes.
A smaller log than one already seen is a rollback, a different root a fork: both are refused loudly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from crypto import cosignature, merkle, note
from crypto.canonical import canonical_json

PROOF_TYPE = "sunbid-log-proof"
_KEYS = {"v", "type", "index", "leaf", "checkpoint", "inclusion"}
_OPTIONAL = {"content"}
MAX_PROOF_HASHES = 128


class ProofError(ValueError):
    """A proof was refused; ``code`` is stable for the application and bidtool to translate."""

    code: ClassVar[str] = "proof_invalid"


class ProofMalformed(ProofError):
    code = "log_proof_malformed"


class CheckpointNotTrusted(ProofError):
    """The checkpoint is not signed by the log's key."""

    code = "checkpoint_not_signed"


class CheckpointNotWitnessed(ProofError):
    """The checkpoint lacks a valid cosignature of a trusted witness."""

    code = "checkpoint_not_witnessed"


class InclusionInvalid(ProofError):
    code = "inclusion_proof_invalid"


class CommitmentMismatch(ProofError):
    """A sealed leaf's content does not hash to its commitment, or says something else."""

    code = "sealed_content_mismatch"


class RollbackDetected(ProofError):
    """The log is smaller than a checkpoint already seen: it was rolled back."""

    code = "log_rolled_back"


class ForkDetected(ProofError):
    """Two checkpoints that cannot both be the same log's history."""

    code = "log_forked"


@dataclass(frozen=True)
class Trust:
    """What a reader trusts: the log's key and the witnesses whose cosignatures it requires."""

    log: note.Verifier
    witnesses: tuple[cosignature.CosignatureVerifier, ...]

    @classmethod
    def from_keys(cls, log_key: str, witness_keys: Sequence[str]) -> Trust:
        return cls(
            note.Verifier.from_key_string(log_key),
            tuple(cosignature.CosignatureVerifier.from_key_string(k) for k in witness_keys),
        )

    def open(self, signed: bytes | str) -> cosignature.Cosigned:
        """The checkpoint, signed by the log and cosigned by every trusted witness."""
        data = signed.encode() if isinstance(signed, str) else signed
        if not self.witnesses:
            raise CheckpointNotWitnessed("no witness is trusted: a checkpoint alone cannot rule out rollback")
        try:
            return cosignature.open_cosigned(data, self.log, list(self.witnesses))
        except cosignature.CosignatureError as e:
            raise CheckpointNotWitnessed(str(e)) from None
        except note.NoteError as e:
            raise CheckpointNotTrusted(f"the checkpoint is not the log's: {e}") from None


@dataclass(frozen=True)
class ProvenEntry:
    """An entry proven to be in a witnessed checkpoint. ``entry`` is what it says (the sealed content
    when there is one), ``sealed`` whether the leaf itself holds only a commitment."""

    index: int
    entry: dict[str, Any]
    leaf: bytes
    sealed: bool
    disclosed: bool
    checkpoint: cosignature.Cosigned


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ProofMalformed("a proof hash is a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofMalformed("a proof hash is not base64") from None
    if len(raw) != merkle.HASH_SIZE:
        raise ProofMalformed("a proof hash is not 32 bytes")
    return raw


def make_proof(
    index: int, leaf: bytes, checkpoint: str, inclusion: Sequence[bytes], content: bytes | None = None
) -> dict[str, Any]:
    proof: dict[str, Any] = {
        "v": 1,
        "type": PROOF_TYPE,
        "index": index,
        "leaf": leaf.decode(),
        "checkpoint": checkpoint,
        "inclusion": [b64(h) for h in inclusion],
    }
    if content is not None:
        proof["content"] = content.decode()
    return proof


def _shape(proof: Any) -> dict[str, Any]:
    if not isinstance(proof, dict) or not _KEYS <= set(proof) <= _KEYS | _OPTIONAL:
        raise ProofMalformed("not a log proof")
    if proof["type"] != PROOF_TYPE or proof["v"] != 1:
        raise ProofMalformed("not a v1 log proof")
    index = proof["index"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ProofMalformed("the index is not a non-negative integer")
    for key in ("leaf", "checkpoint"):
        if not isinstance(proof[key], str) or not proof[key]:
            raise ProofMalformed(f"{key} is not a string")
    if "content" in proof and not isinstance(proof["content"], str):
        raise ProofMalformed("content is not a string")
    if not isinstance(proof["inclusion"], list) or len(proof["inclusion"]) > MAX_PROOF_HASHES:
        raise ProofMalformed("inclusion is not a list of hashes")
    return proof


def verify_proof(proof: Any, trust: Trust) -> ProvenEntry:
    """Check a log proof offline: the checkpoint (log signature, witness cosignatures), the leaf's
    inclusion in it, the leaf's own index, and a sealed leaf's disclosed content against its commitment.
    What the entry must say (which bid, which hash) is the caller's to compare."""
    proof = _shape(proof)
    cosigned = trust.open(proof["checkpoint"])
    index = proof["index"]
    leaf = proof["leaf"].encode()
    path = [_unb64(h) for h in proof["inclusion"]]
    size, root = cosigned.checkpoint.size, cosigned.checkpoint.root
    if not merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, root):
        raise InclusionInvalid(f"entry {index} is not in the checkpoint of size {size}")
    try:
        public = json.loads(leaf)
    except ValueError:
        raise ProofMalformed("the leaf is not JSON") from None
    if not isinstance(public, dict) or public.get("i") != index:
        raise ProofMalformed("the leaf does not carry its own index")
    sealed = "sealed" in public and "action" not in public
    entry, disclosed = public, False
    if sealed and "content" in proof:
        content = proof["content"].encode()
        if hashlib.sha256(content).hexdigest() != public["sealed"]:
            raise CommitmentMismatch(f"the content given for entry {index} is not what its leaf commits to")
        try:
            entry = json.loads(content)
        except ValueError:
            raise CommitmentMismatch("the sealed content is not JSON") from None
        if not isinstance(entry, dict) or entry.get("i") != index or entry.get("time") != public.get("time"):
            raise CommitmentMismatch(f"the content of entry {index} names another index or time")
        disclosed = True
    return ProvenEntry(index, entry, leaf, sealed, disclosed, cosigned)


# -- the memory of the latest checkpoint seen --------------------------------------------------------

ConsistencyFetcher = Callable[[int, int], Sequence[bytes]]


@dataclass(frozen=True)
class Seen:
    """What comparing a new checkpoint with the remembered one showed."""

    status: str  # "first" | "same" | "newer" | "older"
    remembered: int | None  # the remembered size before
    size: int


def check_consistent(
    old: note.Checkpoint, new: note.Checkpoint, fetch: ConsistencyFetcher | None
) -> Seen | None:
    """Compare two verified checkpoints of one log; ``fetch(a, b)`` gets a consistency proof from size a
    to b (from anyone: the proof is checked). Returns None when a proof was needed and none could be had.
    Raises ForkDetected when they cannot be the same log, RollbackDetected when the smaller one was
    served as the latest and the log cannot prove it is a prefix of the one already seen."""
    if old.origin != new.origin:
        raise ForkDetected(f"checkpoints of two logs: {old.origin!r} and {new.origin!r}")
    if old.size == new.size:
        if old.root != new.root:
            raise ForkDetected(f"two cosigned checkpoints at size {old.size} with different roots")
        return Seen("same", old.size, new.size)
    small, large = (old, new) if old.size < new.size else (new, old)
    if fetch is None:
        return None
    try:
        path = list(fetch(small.size, large.size))
    except LookupError:
        path = None
    if path is None or not merkle.verify_consistency(small.size, large.size, small.root, large.root, path):
        if new.size < old.size:
            raise RollbackDetected(
                f"the log now shows {new.size} entries, but a checkpoint of {old.size} entries was already "
                "seen and the log cannot prove it still holds them: it was rolled back"
            )
        raise ForkDetected(
            f"the checkpoint of {new.size} entries does not extend the one of {old.size} already seen"
        )
    return Seen("newer" if new.size > old.size else "older", old.size, new.size)


class CheckpointMemory:
    """The latest cosigned checkpoint seen, per log origin, kept in a small JSON file (0600)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"v": 1, "logs": {}}
        except ValueError:
            raise ProofMalformed(f"{self.path} is not a checkpoint memory file") from None
        if not isinstance(data, dict) or not isinstance(data.get("logs"), dict):
            raise ProofMalformed(f"{self.path} is not a checkpoint memory file")
        return data

    def latest(self, origin: str) -> str | None:
        entry = self._load()["logs"].get(origin)
        return entry.get("checkpoint") if isinstance(entry, dict) else None

    def observe(self, signed: str, trust: Trust, fetch: ConsistencyFetcher | None) -> Seen:
        """Check ``signed`` against the remembered checkpoint and remember the larger one.

        Without ``fetch`` a checkpoint of another size cannot be checked: it is neither refused nor
        remembered (``status`` "unchecked")."""
        new = trust.open(signed).checkpoint
        data = self._load()
        remembered = data["logs"].get(new.origin)
        if remembered is None:
            self._save(data, new.origin, signed)
            return Seen("first", None, new.size)
        old = trust.open(remembered["checkpoint"]).checkpoint
        seen = check_consistent(old, new, fetch)
        if seen is None:
            return Seen("unchecked", old.size, new.size)
        if new.size > old.size:
            self._save(data, new.origin, signed)
        return seen

    def _save(self, data: dict[str, Any], origin: str, signed: str) -> None:
        data["logs"][origin] = {"checkpoint": signed}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(canonical_json(data) + b"\n")
        os.replace(tmp, self.path)
