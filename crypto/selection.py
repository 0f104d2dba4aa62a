"""Verifiable random selection of experts (专家抽取, R-E2): commitment, seed, DRBG, shuffle, proof check.

Pure functions, no Flask: the platform runs a draw with them and ``bidtool verify-draw`` re-runs it
offline from the published proof. The procedure (version 1):

1. Before anyone contributes, the platform logs ``commitment = sha256(secret)`` for a 32-byte secret,
   ``pool_root`` (sha256 of the canonical JSON of the eligible pool: expert ids per specialty, sorted)
   and ``exclusions_root`` (sha256 of the canonical JSON of the sorted exclusions list).
2. The agency and the supervisor each contribute a random value.
3. ``seed = sha256(canonical_json({v, draw, secret, agency, supervisor, pool_root, exclusions_root,
   commitment}))`` with every byte string in lower-case hex.
4. For each specialty, a counter-mode HMAC-SHA256 stream keyed with the seed
   (block i = HMAC(seed, "sunbid-draw-v1" 0x00 code 0x00 uint64be(i))) is read as big-endian uint32
   words; a uniform integer below n masks a word to the bit length of n-1 and rejects values >= n
   (no modulo bias); the sorted pool is Fisher-Yates shuffled (i from the end down to 1, j uniform
   in [0, i]).
5. Specialties are served in code order; each takes the first ``count + backups`` of its shuffled
   order not already taken by an earlier specialty (an expert is drawn once per draw), passing over
   an expert a later specialty cannot spare (see :func:`select`).

Nobody who knows only some of the inputs can steer the order: the platform fixed its secret before
seeing the contributions, and the contributors never see the secret until the result is determined.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterator, Sequence
from typing import Any

from crypto.canonical import canonical_json

VERSION = 1
LABEL = b"sunbid-draw-v1"
SECRET_BYTES = 32


class ProofError(Exception):
    """A proof that does not re-run to what it claims. ``code`` says which part differs."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commitment(secret: bytes) -> str:
    return sha256_hex(secret)


def pool_root(pool: dict[str, Sequence[str]]) -> str:
    """Root of the eligible pool snapshot: specialty code -> sorted expert ids."""
    return sha256_hex(canonical_json({code: sorted(ids) for code, ids in pool.items()}))


def exclusions_root(exclusions: Sequence[dict[str, Any]]) -> str:
    return sha256_hex(canonical_json(sorted_exclusions(exclusions)))


def sorted_exclusions(exclusions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(exclusions, key=canonical_json)


def expert_hash(draw_id: str, expert_id: str) -> str:
    """How an excluded expert appears in a proof: unlinkable across draws, checkable by the expert."""
    return sha256_hex(f"sunbid-draw-exclusion:{draw_id}:{expert_id}".encode())


def seed(
    *,
    draw_id: str,
    secret: bytes,
    agency: bytes,
    supervisor: bytes,
    pool_root_hex: str,
    exclusions_root_hex: str,
) -> bytes:
    return hashlib.sha256(
        canonical_json(
            {
                "v": VERSION,
                "draw": draw_id,
                "secret": secret.hex(),
                "commitment": commitment(secret),
                "agency": agency.hex(),
                "supervisor": supervisor.hex(),
                "pool_root": pool_root_hex,
                "exclusions_root": exclusions_root_hex,
            }
        )
    ).digest()


class Stream:
    """HMAC-SHA256 in counter mode, read as big-endian uint32 words."""

    def __init__(self, key: bytes, label: str) -> None:
        self._key = key
        self._prefix = LABEL + b"\x00" + label.encode() + b"\x00"
        self._counter = 0
        self._words: Iterator[int] = iter(())

    def _refill(self) -> None:
        block = hmac.digest(self._key, self._prefix + struct.pack(">Q", self._counter), "sha256")
        self._counter += 1
        self._words = iter(struct.unpack(">8I", block))

    def word(self) -> int:
        for value in self._words:
            return value
        self._refill()
        return next(self._words)

    def below(self, n: int) -> int:
        """Uniform in [0, n) by masking and rejection (never ``word % n``: that favours small values)."""
        if not 0 < n <= 2**32:
            raise ValueError("n must be in 1..2**32")
        if n == 1:
            return 0
        mask = (1 << (n - 1).bit_length()) - 1
        while True:
            value = self.word() & mask
            if value < n:
                return value


def shuffle(items: Sequence[str], stream: Stream) -> list[str]:
    """Fisher-Yates (Durstenfeld): every permutation equally likely given a uniform ``below``."""
    order = list(items)
    for i in range(len(order) - 1, 0, -1):
        j = stream.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def orders(seed_bytes: bytes, pool: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """The shuffled order of each specialty's (sorted) pool."""
    return {code: shuffle(sorted(pool[code]), Stream(seed_bytes, code)) for code in sorted(pool)}


def select(ordered: dict[str, list[str]], wanted: dict[str, int]) -> dict[str, list[str]]:
    """For each specialty in code order, the first ``wanted[code]`` of its order not drawn before.

    An expert who also belongs to a later specialty's pool is passed over when taking them would
    leave that specialty fewer candidates than it wants (overlapping specialties such as "01" and
    "01.01" would otherwise starve the later one).
    """
    pools = {code: set(ordered.get(code, ())) for code in wanted}
    available = {code: len(pools[code]) for code in wanted}
    taken: set[str] = set()
    chosen: dict[str, list[str]] = {code: [] for code in wanted}
    codes = sorted(wanted)
    for n, code in enumerate(codes):
        later = codes[n + 1 :]
        picks = chosen[code]
        for expert in ordered.get(code, ()):
            if len(picks) == wanted[code]:
                break
            if expert in taken:
                continue
            shared = [d for d in later if expert in pools[d]]
            if any(available[d] - 1 < wanted[d] for d in shared):
                continue
            picks.append(expert)
            taken.add(expert)
            for d in wanted:
                if expert in pools[d]:
                    available[d] -= 1
    return chosen


def run(
    *,
    draw_id: str,
    secret: bytes,
    agency: bytes,
    supervisor: bytes,
    pool: dict[str, Sequence[str]],
    exclusions: Sequence[dict[str, Any]],
    wanted: dict[str, int],
) -> dict[str, Any]:
    """The whole draw from its inputs: what the platform stores and what a verifier recomputes."""
    proot, eroot = pool_root(pool), exclusions_root(exclusions)
    s = seed(
        draw_id=draw_id,
        secret=secret,
        agency=agency,
        supervisor=supervisor,
        pool_root_hex=proot,
        exclusions_root_hex=eroot,
    )
    ordered = orders(s, pool)
    return {
        "commitment": commitment(secret),
        "pool_root": proot,
        "exclusions_root": eroot,
        "seed": s.hex(),
        "orders": ordered,
        "selected": select(ordered, wanted),
    }


def _hex(proof: dict, name: str) -> bytes:
    try:
        return bytes.fromhex(proof[name])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError("proof_malformed", f"{name} is missing or not hex") from exc


def verify(proof: dict[str, Any]) -> dict[str, Any]:
    """Re-run a draw proof (as GET /api/v1/draws/{id}/proof gives it); raise ProofError on any difference.

    Returns the recomputed result. Checks, in order: the secret matches the logged commitment, the
    pool and exclusions match their logged roots, no excluded expert is in the pool, and the seed,
    the orders and the selection come out as published.
    """
    if not isinstance(proof, dict) or proof.get("version") != VERSION:
        raise ProofError("proof_malformed", "not a version 1 draw proof")
    try:
        draw_id = str(proof["draw_id"])
        pool = {str(k): [str(i) for i in v] for k, v in proof["pool"].items()}
        exclusions = list(proof["exclusions"])
        wanted = {str(k): int(v) for k, v in proof["wanted"].items()}
        claimed_orders = proof["orders"]
        claimed_selected = proof["selected"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofError("proof_malformed", str(exc)) from exc
    secret = _hex(proof, "secret")
    result = run(
        draw_id=draw_id,
        secret=secret,
        agency=_hex(proof, "agency_contribution"),
        supervisor=_hex(proof, "supervisor_contribution"),
        pool=pool,
        exclusions=exclusions,
        wanted=wanted,
    )
    if result["commitment"] != proof.get("commitment"):
        raise ProofError("draw_commitment_mismatch", "the revealed secret does not match the commitment")
    if result["pool_root"] != proof.get("pool_root"):
        raise ProofError("draw_pool_mismatch", "the pool snapshot does not match its logged root")
    if result["exclusions_root"] != proof.get("exclusions_root"):
        raise ProofError("draw_exclusions_mismatch", "the exclusions do not match their logged root")
    excluded = {e.get("expert_hash") for e in exclusions if isinstance(e, dict)}
    for code, ids in pool.items():
        for expert in ids:
            if expert_hash(draw_id, expert) in excluded:
                raise ProofError("draw_excluded_in_pool", f"an excluded expert is in the pool of {code}")
    if result["seed"] != proof.get("seed"):
        raise ProofError("draw_seed_mismatch", "the seed does not follow from the inputs")
    if result["orders"] != claimed_orders:
        differing = sorted(c for c in result["orders"] if result["orders"][c] != claimed_orders.get(c))
        raise ProofError(
            "draw_order_mismatch", f"the order differs for {', '.join(differing) or 'a specialty'}"
        )
    if result["selected"] != claimed_selected:
        raise ProofError("draw_selection_mismatch", "the selection does not follow from the orders")
    return result
