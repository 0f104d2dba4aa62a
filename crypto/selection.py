"""Verifiable random selection of experts (专家抽取, R-E2): commitment, seed, DRBG, shuffle, proof check.

Pure functions, no Flask: the platform runs a draw with them and ``bidtool verify-draw`` re-runs it
offline from the published proof. The procedure (version 1):

1. Before anyone contributes, the platform logs ``commitment = sha256(secret)`` for a 32-byte secret,
   ``pool_root`` (sha256 of the canonical JSON of the eligible pool: expert ids per specialty, sorted)
   and ``exclusions_root`` (sha256 of the canonical JSON of the exclusions: sorted lists of credit
   codes per "organization:<reason>" and of expert hashes per "expert:<reason>").
2. The agency and the supervisor each contribute a random value.
3. ``seed = sha256(canonical_json({v, draw, secret, agency, supervisor, pool_root, exclusions_root,
   commitment}))`` with every byte string in lower-case hex.
4. For each specialty, a counter-mode HMAC-SHA256 stream keyed with the seed
   (block i = HMAC(seed, "sunbid-draw-v1" 0x00 code 0x00 uint64be(i))) is read as big-endian uint32
   words; a uniform integer below n masks a word to the bit length of n-1 and rejects values >= n
   (no modulo bias); the sorted pool is Fisher-Yates shuffled from the front (place i swaps with
   i + uniform(n - i)), as far as the draw needs (:class:`Order`).
5. Specialties are served in code order; each takes the next of its order not already taken by an
   earlier specialty (an expert is drawn once per draw) until it has ``count + backups``, passing
   over an expert a later specialty cannot spare (see :func:`select`). The proof publishes the part
   of each order that was looked at.

Nobody who knows only some of the inputs can steer the order: the platform fixed its secret before
seeing the contributions, and the contributors never see the secret until the result is determined.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import struct
from collections.abc import Iterator, Mapping, Sequence
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


def _strings_json(value: Any) -> bytes:
    # The canonical JSON bytes (keys sorted, no spaces, UTF-8) of a value made of strings, without
    # canonical_json's type walk: a pool holds tens of thousands of ids. A proof smuggling in other
    # types gains nothing: its bytes, and so its root, differ from what was logged.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def lists_root(lists: Mapping[str, Sequence[str]]) -> str:
    """sha256 of the canonical JSON of {name: list of strings}, the lists hashed as given.

    Names and items that need no JSON escaping (always, for the platform's) are joined directly: the
    same bytes as canonical JSON, several times faster over tens of thousands of ids.
    """
    names = sorted(lists)
    try:
        text = (
            "{"
            + ",".join(f'"{n}":["' + '","'.join(lists[n]) + '"]' if lists[n] else f'"{n}":[]' for n in names)
            + "}"
        )
    except TypeError:  # not all strings: the general path says what canonical JSON makes of it
        text = None
    if text is not None:
        strings = len(names) + sum(len(lists[n]) for n in names)
        # No quote but the structural ones, no backslash, no control character: nothing to escape.
        if text.count('"') == 2 * strings and "\\" not in text and text.isprintable():
            return sha256_hex(text.encode("utf-8"))
    return sha256_hex(_strings_json(lists))


def pool_root(pool: Mapping[str, Sequence[str]]) -> str:
    """Root of the eligible pool snapshot: {specialty code: expert ids, sorted}."""
    return lists_root(pool)


def exclusions_root(exclusions: Mapping[str, Sequence[str]]) -> str:
    """Root of the exclusions: {"organization:<reason>": credit codes, "expert:<reason>": expert hashes},
    each list sorted."""
    return lists_root(exclusions)


def excluded_expert_hashes(exclusions: Mapping[str, Sequence[str]]) -> set[str]:
    return {h for name, hashes in exclusions.items() if name.startswith("expert:") for h in hashes}


_EXCLUSION_PREFIX = hashlib.sha256(b"sunbid-draw-exclusion:")


def expert_hash(draw_id: str, expert_id: str) -> str:
    """How an excluded expert appears in a proof: sha256("sunbid-draw-exclusion:<draw>:<expert>").
    Unlinkable across draws, checkable by the expert."""
    digest = _EXCLUSION_PREFIX.copy()
    digest.update(f"{draw_id}:{expert_id}".encode())
    return digest.hexdigest()


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


class Order:
    """A specialty's pool in random order, revealed one place at a time.

    Fisher-Yates (Durstenfeld) run from the front: place i takes the item at i + below(n - i). Every
    prefix is a uniformly random arrangement of that many items, so a draw computes only as much of
    the order as it uses, and a verifier re-running the same steps gets the same prefix.
    """

    def __init__(self, items: Sequence[str], stream: Stream) -> None:
        self._items = sorted(items)
        self._stream = stream
        self.revealed: list[str] = []

    def __len__(self) -> int:
        return len(self._items)

    def next(self) -> str | None:
        i, n = len(self.revealed), len(self._items)
        if i == n:
            return None
        j = i + self._stream.below(n - i)
        items = self._items
        items[i], items[j] = items[j], items[i]
        self.revealed.append(items[i])
        return items[i]


def shuffle(items: Sequence[str], stream: Stream) -> list[str]:
    """The whole order (every permutation equally likely given a uniform ``below``)."""
    order = Order(items, stream)
    while order.next() is not None:
        pass
    return order.revealed


def select(
    seed_bytes: bytes, pool: Mapping[str, Sequence[str]], wanted: dict[str, int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(orders, selected): each specialty in code order takes the next of its order not drawn before,
    until it has ``wanted[code]``; ``orders`` holds the part of each order that was looked at.

    An expert who also belongs to a later specialty's pool is passed over when taking them would
    leave that specialty fewer candidates than it wants (overlapping specialties such as "01" and
    "01.01" would otherwise starve the later one).
    """
    codes = sorted(wanted)
    # Pools are sorted (verify checks it): membership by bisection, without building sets of thousands.
    pools = {code: pool.get(code, ()) for code in codes}

    def member(expert: str, code: str) -> bool:
        ids = pools[code]
        i = bisect.bisect_left(ids, expert)
        return i < len(ids) and ids[i] == expert

    available = {code: len(pools[code]) for code in codes}
    orders = {code: Order(pool.get(code, ()), Stream(seed_bytes, code)) for code in codes}
    taken: set[str] = set()
    chosen: dict[str, list[str]] = {code: [] for code in codes}
    for n, code in enumerate(codes):
        later = codes[n + 1 :]
        picks = chosen[code]
        while len(picks) < wanted[code]:
            expert = orders[code].next()
            if expert is None:
                break
            if expert in taken:
                continue
            if any(member(expert, d) and available[d] - 1 < wanted[d] for d in later):
                continue
            picks.append(expert)
            taken.add(expert)
            for d in codes:
                if member(expert, d):
                    available[d] -= 1
    return {code: orders[code].revealed for code in codes}, chosen


def run(
    *,
    draw_id: str,
    secret: bytes,
    agency: bytes,
    supervisor: bytes,
    pool: Mapping[str, Sequence[str]],
    exclusions: Mapping[str, Sequence[str]],
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
    ordered, selected = select(s, pool, wanted)
    return {
        "commitment": commitment(secret),
        "pool_root": proot,
        "exclusions_root": eroot,
        "seed": s.hex(),
        "orders": ordered,
        "selected": selected,
    }


def _hex(proof: dict[str, Any], name: str) -> bytes:
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
        exclusions = {str(k): [str(i) for i in v] for k, v in proof["exclusions"].items()}
        wanted = {str(k): int(v) for k, v in proof["wanted"].items()}
        claimed_orders = proof["orders"]
        claimed_selected = proof["selected"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofError("proof_malformed", str(exc)) from exc
    if any(ids != sorted(set(ids)) for ids in pool.values()):
        raise ProofError("draw_pool_mismatch", "a pool list is not sorted or repeats an expert")
    if any(items != sorted(set(items)) for items in exclusions.values()):
        raise ProofError("draw_exclusions_mismatch", "an exclusions list is not sorted or repeats an entry")
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
    excluded = excluded_expert_hashes(exclusions)
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
