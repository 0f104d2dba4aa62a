"""Merkle tree hashing for the audit log (审计日志): RFC 6962 / RFC 9162 over SHA-256 (c2sp.org/tlog).

A node is named ``(level, index)``: the perfect subtree over leaves ``[index * 2**level, (index + 1) *
2**level)``. Level 0 holds leaf hashes. Perfect nodes never change once complete, so the log stores each
one as it is completed (``Frontier.append`` reports them) and builds every proof from them: a subtree
on the right edge that is not perfect is named by its perfect parts, left to right, and hashed by
folding them right to left, which is how RFC 6962 defines the hash of an unbalanced subtree.

The verifiers (``verify_inclusion``, ``verify_consistency``) follow RFC 9162 sections 2.1.3.2 and
2.1.4.2 step by step and share no code with the proof builders, so each checks the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
# One proof element: perfect nodes left to right whose right-to-left fold is the element's hash.
ProofStep = tuple[NodeId, ...]
NodeFetcher = Callable[[set[NodeId]], dict[NodeId, bytes]]

_sha256 = hashlib.sha256
# Copying a primed context skips OpenSSL's per-constructor algorithm lookup, which costs more than
# hashing 65 bytes; the hot loops below rely on it.
_LEAF_CTX = _sha256(b"\x00")
_NODE_CTX = _sha256(b"\x01")


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH as RFC 6962 section 2.1 defines it, recursively; a reference for tests, not for production."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


class Frontier:
    """The right edge of the tree: one perfect subtree hash per set bit of ``size``, largest first.

    This is all that is needed to append and to compute the root, so the log keeps it in one row.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        hashes = [bytes(h) for h in hashes]
        if size < 0:
            raise ValueError("frontier size must not be negative")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes, not {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"frontier hashes must be {HASH_SIZE} bytes")
        self._size = size
        self._hashes = hashes

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return the perfect nodes (level >= 1, index, hash) this completed, lowest first."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        hashes = self._hashes
        completed = []
        h = leaf_hash
        index = self._size
        level = 0
        while index & 1:
            ctx = _NODE_CTX.copy()
            ctx.update(hashes.pop())
            ctx.update(h)
            h = ctx.digest()
            index >>= 1
            level += 1
            completed.append((level, index, h))
        hashes.append(h)
        self._size += 1
        return completed

    def extend_leaves(self, leaves: Iterable[bytes]) -> None:
        """Hash each leaf's bytes and append it, without reporting completed nodes.

        For verifiers, which recompute millions of leaves and store nothing: per-call overhead is most
        of the cost in pure Python, so this fuses leaf hashing and merging in one loop.
        """
        hashes = self._hashes
        pop = hashes.pop
        push = hashes.append
        leaf_ctx = _LEAF_CTX.copy
        node_ctx = _NODE_CTX.copy
        size = self._size
        try:
            for leaf in leaves:
                ctx = leaf_ctx()
                ctx.update(leaf)
                h = ctx.digest()
                k = size
                while k & 1:
                    ctx = node_ctx()
                    ctx.update(pop())
                    ctx.update(h)
                    h = ctx.digest()
                    k >>= 1
                push(h)
                size += 1
        finally:
            # Keeps the frontier consistent with what was absorbed if the iterable raises midway.
            self._size = size

    def append_subtree(self, level: int, subtree_hash: bytes) -> None:
        """Append a whole perfect subtree of 2**level leaves; ``size`` must be a multiple of 2**level."""
        if self._size & ((1 << level) - 1):
            raise ValueError(f"a level-{level} subtree cannot start at leaf {self._size}")
        hashes = self._hashes
        h = subtree_hash
        index = self._size >> level
        while index & 1:
            ctx = _NODE_CTX.copy()
            ctx.update(hashes.pop())
            ctx.update(h)
            h = ctx.digest()
            index >>= 1
        hashes.append(h)
        self._size += 1 << level

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        it = reversed(self._hashes)
        h = next(it)
        for left in it:
            h = node_hash(left, h)
        return h

    def to_bytes(self) -> bytes:
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        if len(blob) != HASH_SIZE * size.bit_count():
            raise ValueError(
                f"a frontier of size {size} is {HASH_SIZE * size.bit_count()} bytes, not {len(blob)}"
            )
        return cls(size, (blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def aligned_blocks(start: int, end: int) -> list[tuple[int, int]]:
    """Split leaves [start, end) into perfect subtrees ``(first_leaf, level)``, left to right, each
    aligned so that it can be appended to a frontier of size ``first_leaf``."""
    blocks = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        blocks.append((start, level))
        start += 1 << level
    return blocks


def subtree_root(leaves: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree over leaf bytes (``len(leaves)`` a power of two), level by level.

    Each hash starts from a copy of a context that has already absorbed the domain-separation byte:
    that keeps the per-hash cost at that of a plain ``sha256(data).digest()`` call, which is what
    dominates in Python.
    """
    count = len(leaves)
    if count == 0 or count & (count - 1):
        raise ValueError("subtree_root needs a power-of-two number of leaves")
    level: list[bytes] = []
    push = level.append
    leaf_ctx = _LEAF_CTX.copy
    for leaf in leaves:
        ctx = leaf_ctx()
        ctx.update(leaf)
        push(ctx.digest())
    node_ctx = _NODE_CTX.copy
    while len(level) > 1:
        pairs = iter(level)
        level = []
        push = level.append
        for left in pairs:
            ctx = node_ctx()
            ctx.update(left)
            ctx.update(next(pairs))
            push(ctx.digest())
    return level[0]


def _aligned_range(lo: int, hi: int) -> ProofStep:
    # Every range the proofs need starts at a multiple of a power of two at least as large as the range,
    # so its perfect parts are simply the set bits of its length, largest first.
    nodes = []
    for level in reversed(range((hi - lo).bit_length())):
        if (hi - lo) >> level & 1:
            nodes.append((level, lo >> level))
            lo += 1 << level
    return tuple(nodes)


def _split(lo: int, hi: int) -> int:
    # RFC 6962: the left subtree holds the largest power of two strictly less than the range's size.
    return lo + (1 << ((hi - lo - 1).bit_length() - 1))


def inclusion_proof_nodes(index: int, size: int) -> list[ProofStep]:
    """The nodes of the audit path for leaf ``index`` in a tree of ``size`` leaves, leaf end first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    steps = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = _split(lo, hi)
        if index < mid:
            steps.append(_aligned_range(mid, hi))
            hi = mid
        else:
            steps.append(_aligned_range(lo, mid))
            lo = mid
    steps.reverse()
    return steps


def consistency_proof_nodes(old_size: int, new_size: int) -> list[ProofStep]:
    """The nodes of RFC 6962's PROOF(old_size, D[new_size]), in proof order."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    steps = []
    lo, hi = 0, new_size
    whole_old_tree = True
    while old_size < hi:
        mid = _split(lo, hi)
        if old_size <= mid:
            steps.append(_aligned_range(mid, hi))
            hi = mid
        else:
            steps.append(_aligned_range(lo, mid))
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        # The verifier knows the old root, so the proof omits it only when it is this very subtree.
        steps.append(_aligned_range(lo, hi))
    steps.reverse()
    return steps


def _resolve(steps: list[ProofStep], get_nodes: NodeFetcher) -> list[bytes]:
    wanted = {node for step in steps for node in step}
    if not wanted:
        return []
    found = get_nodes(wanted)
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"node store lacks {sorted(missing)[:5]} ({len(missing)} missing)")
    if any(len(found[node]) != HASH_SIZE for node in wanted):
        raise ValueError(f"node store returned a hash that is not {HASH_SIZE} bytes")
    proof = []
    for step in steps:
        h = found[step[-1]]
        for node in reversed(step[:-1]):
            h = node_hash(found[node], h)
        proof.append(h)
    return proof


def inclusion_proof(index: int, size: int, get_nodes: NodeFetcher) -> list[bytes]:
    """Audit path for leaf ``index`` at ``size``, fetching every node it needs in one ``get_nodes`` call."""
    return _resolve(inclusion_proof_nodes(index, size), get_nodes)


def consistency_proof(old_size: int, new_size: int, get_nodes: NodeFetcher) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``new_size``, fetching its nodes in one ``get_nodes`` call."""
    return _resolve(consistency_proof_nodes(old_size, new_size), get_nodes)


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes | bytearray) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, plus the cases it leaves out: equal sizes and an empty old tree."""
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
