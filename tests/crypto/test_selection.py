"""crypto.selection (R-E2): the DRBG is deterministic and unbiased, the shuffle uniform, a proof re-runs."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import struct
from collections import Counter

import pytest

from crypto import selection


def chi_square(counts: Counter, cells: int, total: int) -> float:
    expected = total / cells
    return sum((counts.get(k, 0) - expected) ** 2 / expected for k in range(cells))


def test_stream_is_hmac_sha256_in_counter_mode():
    key = bytes(range(32))
    block = hmac.digest(key, b"sunbid-draw-v1\x0001\x00" + struct.pack(">Q", 0), hashlib.sha256)
    stream = selection.Stream(key, "01")
    assert [stream.word() for _ in range(8)] == list(struct.unpack(">8I", block))


def test_same_seed_same_order_other_seed_other_order():
    items = [f"e{k:03d}" for k in range(200)]
    one = selection.shuffle(items, selection.Stream(b"s" * 32, "01"))
    assert one == selection.shuffle(items, selection.Stream(b"s" * 32, "01"))
    assert one != selection.shuffle(items, selection.Stream(b"t" * 32, "01"))
    assert one != selection.shuffle(items, selection.Stream(b"s" * 32, "02"))  # per specialty
    assert sorted(one) == items


def test_below_rejects_instead_of_folding():
    """n = 3 masks to 2 bits; the value 3 must be rejected, not mapped onto 0 (modulo bias)."""

    class Fixed(selection.Stream):
        def __init__(self, words):
            self._fixed = iter(words)

        def word(self):
            return next(self._fixed)

    assert Fixed([3, 3, 2]).below(3) == 2
    assert Fixed([7, 1]).below(5) == 1  # 7 & 7 = 7 >= 5: rejected


@pytest.mark.parametrize("n", [3, 5, 6, 7, 10])
def test_below_is_uniform(n):
    """Chi-square sanity check on 60,000 draws; the bound is far above the 99.9% quantile for <= 9 df."""
    stream = selection.Stream(b"k" * 32, f"uniform-{n}")
    total = 60_000
    counts = Counter(stream.below(n) for _ in range(total))
    assert set(counts) == set(range(n))
    assert chi_square(counts, n, total) < 30


def test_shuffle_gives_every_permutation_equally_often():
    items = ["a", "b", "c", "d"]
    perms = {p: k for k, p in enumerate(itertools.permutations(items))}
    total = 48_000
    counts = Counter(
        perms[tuple(selection.shuffle(items, selection.Stream(k.to_bytes(4, "big"), "perm")))]
        for k in range(total)
    )
    assert len(counts) == 24
    assert chi_square(counts, 24, total) < 60  # 23 df: 99.9% quantile is about 49


def test_first_place_is_fair_across_seeds():
    items = [f"x{k}" for k in range(10)]
    total = 20_000
    counts = Counter(
        selection.shuffle(items, selection.Stream(k.to_bytes(4, "big"), "first"))[0] for k in range(total)
    )
    index = {x: k for k, x in enumerate(items)}
    assert chi_square(Counter({index[x]: c for x, c in counts.items()}), 10, total) < 30


def test_select_takes_nobody_twice_and_spares_what_a_later_specialty_needs():
    for k in range(50):
        seed = k.to_bytes(4, "big")
        _, chosen = selection.select(seed, {"01": ["x", "y", "z"], "02": ["x"]}, {"01": 1, "02": 1})
        assert chosen["02"] == ["x"] and chosen["01"] in (["y"], ["z"])
        _, chosen = selection.select(seed, {"01": ["a", "b", "c"], "02": ["b", "d"]}, {"01": 2, "02": 2})
        assert sorted(chosen["01"]) == ["a", "c"] and sorted(chosen["02"]) == ["b", "d"]


def test_only_the_part_of_the_order_used_is_revealed():
    pool = {"01": [f"e{k:04d}" for k in range(5000)]}
    orders, chosen = selection.select(b"q" * 32, pool, {"01": 7})
    assert orders["01"] == chosen["01"] and len(orders["01"]) == 7
    whole = selection.shuffle(pool["01"], selection.Stream(b"q" * 32, "01"))
    assert whole[:7] == orders["01"]  # the prefix of the full shuffle


def test_run_and_verify_round_trip():
    pool = {"01": [f"e{k:02d}" for k in range(30)], "02": [f"f{k}" for k in range(10)]}
    exclusions = {"expert:on_leave": [selection.expert_hash("d1", "zz")], "organization:bidder": ["91X"]}
    secret = b"\x01" * 32
    result = selection.run(
        draw_id="d1",
        secret=secret,
        agency=b"\x02" * 32,
        supervisor=b"\x03" * 32,
        pool=pool,
        exclusions=exclusions,
        wanted={"01": 4, "02": 2},
    )
    proof = {
        "version": 1,
        "draw_id": "d1",
        "secret": secret.hex(),
        "agency_contribution": "02" * 32,
        "supervisor_contribution": "03" * 32,
        "pool": pool,
        "exclusions": exclusions,
        "wanted": {"01": 4, "02": 2},
        **{
            k: result[k] for k in ("commitment", "pool_root", "exclusions_root", "seed", "orders", "selected")
        },
    }
    assert selection.verify(proof)["selected"] == result["selected"]
    # An excluded expert slipped into the pool (with roots recomputed to match) is caught.
    proof["pool"] = {**pool, "02": [*pool["02"], "zz"]}
    proof["pool_root"] = selection.pool_root(proof["pool"])
    with pytest.raises(selection.ProofError) as caught:
        selection.verify(proof)
    assert caught.value.code == "draw_excluded_in_pool"


def test_pool_root_is_the_canonical_json_hash_fast_or_not():
    from crypto.canonical import canonical_json

    for pool in (
        {"02": ["b", "c"], "01": ["a"]},
        {"01": []},
        {"01": ['quote"inside']},
        {"01": ["back\\slash"]},
        {"01": ["tab\t", "bell\x07"]},
        {'co"de': ["a"]},
        {"01": ["中文", "a"]},
    ):
        assert selection.pool_root(pool) == hashlib.sha256(canonical_json(pool)).hexdigest()


def test_expert_hash_is_the_documented_sha256():
    expected = hashlib.sha256(b"sunbid-draw-exclusion:d1:abc").hexdigest()
    assert selection.expert_hash("d1", "abc") == expected
