import hashlib
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 test leaves and the roots of their prefixes, as used by Certificate Transparency's and
# transparency-dev/merkle's test suites.
RFC_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
RFC_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
# (leaf index, tree size, audit path)
RFC_INCLUSION_PROOFS = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
# (old size, new size, proof)
RFC_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

MAX_SIZE = 1100


class Log:
    """A log of ``size`` distinct leaves with every stored node and the root at every size."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaf_hashes = [leaf_hash(leaf) for leaf in leaves]
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.roots = [EMPTY_ROOT]
        frontier = Frontier()
        for index, h in enumerate(self.leaf_hashes):
            self.nodes[(0, index)] = h
            for level, node_index, node in frontier.append(h):
                self.nodes[(level, node_index)] = node
            self.roots.append(frontier.root())

    def get_nodes(self, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {node: self.nodes[node] for node in wanted}


def rfc_log() -> Log:
    return Log(RFC_LEAVES)


@cache
def big_log() -> Log:
    return Log([b"leaf %d" % i for i in range(MAX_SIZE)])


def flip(data: bytes, position: int = 0) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x10]) + data[position + 1 :]


def test_empty_tree_hash_is_sha256_of_nothing():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of([]) == EMPTY_ROOT == Frontier().root()


def test_leaf_and_node_hashes_are_domain_separated():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


def test_roots_of_the_rfc_test_leaves():
    hashes = [leaf_hash(leaf) for leaf in RFC_LEAVES]
    appended, extended = Frontier(), Frontier()
    for size in range(1, len(RFC_LEAVES) + 1):
        appended.append(hashes[size - 1])
        extended.extend_leaves([RFC_LEAVES[size - 1]])
        assert root_of(hashes[:size]) == appended.root() == extended.root() == RFC_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "expected"), RFC_INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_rfc_vectors(index, size, expected):
    log = rfc_log()
    proof = inclusion_proof(index, size, log.get_nodes)
    assert proof == [bytes.fromhex(h) for h in expected]
    assert verify_inclusion(log.leaf_hashes[index], index, size, proof, RFC_ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "expected"), RFC_CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_rfc_vectors(old, new, expected):
    log = rfc_log()
    proof = consistency_proof(old, new, log.get_nodes)
    assert proof == [bytes.fromhex(h) for h in expected]
    assert verify_consistency(old, new, RFC_ROOTS[old - 1], RFC_ROOTS[new - 1], proof)


@pytest.mark.parametrize(("index", "size", "expected"), [v for v in RFC_INCLUSION_PROOFS if v[2]])
def test_corrupted_inclusion_proofs_are_refused(index, size, expected):
    proof = [bytes.fromhex(h) for h in expected]
    leaf = leaf_hash(RFC_LEAVES[index])
    root = RFC_ROOTS[size - 1]
    probes = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [root, *proof], root),
        (leaf, index, size, proof[:-1], root),
        (leaf, index, size, [proof[0], EMPTY_ROOT, *proof[1:]], root),
    ]
    probes += [(leaf, index, size, [*proof[:i], flip(p), *proof[i + 1 :]], root) for i, p in enumerate(proof)]
    for probe in probes:
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old", "new", "expected"), [v for v in RFC_CONSISTENCY_PROOFS if v[2]])
def test_corrupted_consistency_proofs_are_refused(old, new, expected):
    proof = [bytes.fromhex(h) for h in expected]
    old_root, new_root = RFC_ROOTS[old - 1], RFC_ROOTS[new - 1]
    probes = [
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (old, new, EMPTY_ROOT, new_root, proof),
        (old, new, old_root, EMPTY_ROOT, proof),
        (old, new, new_root, old_root, proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, b""]),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
    ]
    probes += [
        (old, new, old_root, new_root, [*proof[:i], flip(p), *proof[i + 1 :]]) for i, p in enumerate(proof)
    ]
    for probe in probes:
        assert not verify_consistency(*probe), probe


def test_trivial_consistency_needs_an_empty_proof():
    root = RFC_ROOTS[3]
    assert verify_consistency(4, 4, root, root, [])
    assert not verify_consistency(4, 4, root, RFC_ROOTS[4], [])
    assert not verify_consistency(4, 4, root, root, [root])
    assert verify_consistency(0, 4, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 4, root, root, [])
    assert not verify_consistency(5, 4, root, root, [])


def test_proof_nodes_name_perfect_subtrees():
    assert inclusion_proof_nodes(5, 8) == [((0, 4),), ((1, 3),), ((2, 0),)]
    # [4, 7) is not perfect: it is named by its parts [4, 6) and [6, 7), folded right to left.
    assert inclusion_proof_nodes(0, 7) == [((0, 1),), ((1, 1),), ((1, 2), (0, 6))]
    assert consistency_proof_nodes(6, 8) == [((1, 2),), ((1, 3),), ((2, 0),)]
    assert consistency_proof_nodes(4, 7) == [((1, 2), (0, 6))]
    assert consistency_proof_nodes(0, 7) == consistency_proof_nodes(7, 7) == []
    with pytest.raises(ValueError):
        inclusion_proof_nodes(7, 7)
    with pytest.raises(ValueError):
        consistency_proof_nodes(8, 7)


def test_frontier_root_matches_the_reference_for_every_size_up_to_300():
    hashes = [leaf_hash(b"entry %d" % i) for i in range(300)]
    frontier = Frontier()
    assert frontier.root() == root_of([])
    for size in range(1, 301):
        frontier.append(hashes[size - 1])
        assert frontier.size == size
        assert frontier.root() == root_of(hashes[:size]), size


def test_append_reports_each_perfect_node_once_when_it_completes():
    hashes = [leaf_hash(b"entry %d" % i) for i in range(300)]
    frontier = Frontier()
    reported = {}
    for size in range(1, 301):
        for level, index, node in frontier.append(hashes[size - 1]):
            assert (level, index) not in reported
            # The node covering leaves [index * 2**level, (index + 1) * 2**level), now complete.
            assert (index + 1) << level == size
            assert node == root_of(hashes[index << level : (index + 1) << level])
            reported[(level, index)] = node
        assert len(reported) == size - size.bit_count()


def test_extend_leaves_agrees_with_append():
    leaves = [b"entry %d" % i for i in range(300)]
    one_by_one, in_batches = Frontier(), Frontier()
    for leaf in leaves:
        one_by_one.append(leaf_hash(leaf))
    for start in range(0, 300, 37):
        in_batches.extend_leaves(leaves[start : start + 37])
    assert in_batches == one_by_one


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 255, 256, 299])
def test_frontier_round_trips_through_bytes(size):
    hashes = [leaf_hash(b"entry %d" % i) for i in range(size + 5)]
    frontier = Frontier()
    for h in hashes[:size]:
        frontier.append(h)
    blob = frontier.to_bytes()
    assert len(blob) == 32 * size.bit_count()
    restored = Frontier.from_bytes(size, blob)
    assert restored == frontier
    assert restored.root() == frontier.root()
    for h in hashes[size:]:
        assert restored.append(h) == frontier.append(h)
    assert restored.root() == root_of(hashes)


def test_frontier_refuses_hashes_that_do_not_fit_its_size():
    with pytest.raises(ValueError):
        Frontier.from_bytes(3, b"\x00" * 32)
    with pytest.raises(ValueError):
        Frontier(2, [b"\x00" * 31])
    with pytest.raises(ValueError):
        Frontier().append(b"short")


@given(st.data())
def test_every_inclusion_proof_verifies(data):
    log = big_log()
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, log.get_nodes)
    assert verify_inclusion(log.leaf_hashes[index], index, size, proof, log.roots[size])


@given(st.data())
def test_tampered_inclusion_proof_fails(data):
    log = big_log()
    size = data.draw(st.integers(2, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, log.get_nodes)
    leaf, root = log.leaf_hashes[index], log.roots[size]
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
    assert not verify_inclusion(leaf, other, size, proof, root)
    assert not verify_inclusion(log.leaf_hashes[other], index, size, proof, root)
    assert not verify_inclusion(flip(leaf, data.draw(st.integers(0, 31))), index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, flip(root, data.draw(st.integers(0, 31))))
    i = data.draw(st.integers(0, len(proof) - 1), label="element")
    tampered = [*proof[:i], flip(proof[i], data.draw(st.integers(0, 31))), *proof[i + 1 :]]
    assert not verify_inclusion(leaf, index, size, tampered, root)


@given(st.data())
def test_every_consistency_proof_verifies(data):
    log = big_log()
    new = data.draw(st.integers(0, MAX_SIZE), label="new")
    old = data.draw(st.integers(0, new), label="old")
    proof = consistency_proof(old, new, log.get_nodes)
    assert verify_consistency(old, new, log.roots[old], log.roots[new], proof)


@given(st.data())
def test_tampered_consistency_proof_fails(data):
    log = big_log()
    new = data.draw(st.integers(2, MAX_SIZE), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")
    proof = consistency_proof(old, new, log.get_nodes)
    old_root, new_root = log.roots[old], log.roots[new]
    assert not verify_consistency(old, new, flip(old_root, data.draw(st.integers(0, 31))), new_root, proof)
    assert not verify_consistency(old, new, old_root, flip(new_root, data.draw(st.integers(0, 31))), proof)
    i = data.draw(st.integers(0, len(proof) - 1), label="element")
    tampered = [*proof[:i], flip(proof[i], data.draw(st.integers(0, 31))), *proof[i + 1 :]]
    assert not verify_consistency(old, new, old_root, new_root, tampered)


@given(st.data())
def test_a_rewritten_history_is_not_consistent(data):
    log = big_log()
    new = data.draw(st.integers(2, MAX_SIZE), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")
    changed = data.draw(st.integers(0, old - 1), label="changed leaf")
    forged = list(log.leaf_hashes[:old])
    forged[changed] = leaf_hash(b"something else")
    proof = consistency_proof(old, new, log.get_nodes)
    assert not verify_consistency(old, new, root_of(forged), log.roots[new], proof)


def test_proofs_at_a_million_leaves_fetch_few_nodes_in_one_batch():
    size = 1_000_000
    calls = []

    def get_nodes(wanted):
        calls.append(len(wanted))
        return {node: hashlib.sha256(repr(node).encode()).digest() for node in wanted}

    for index in (0, 1, 524_287, 524_288, 999_998, size - 1):
        calls.clear()
        assert len(inclusion_proof(index, size, get_nodes)) <= 20
        assert len(calls) == 1 and calls[0] <= 2 * size.bit_length()
    for old in (1, 3, 65_536, 999_999):
        calls.clear()
        consistency_proof(old, size, get_nodes)
        assert len(calls) == 1 and calls[0] <= 2 * size.bit_length()


def test_a_node_missing_from_the_store_is_an_error():
    log = rfc_log()
    del log.nodes[(1, 3)]
    with pytest.raises(LookupError):
        inclusion_proof(5, 8, log.get_nodes)
