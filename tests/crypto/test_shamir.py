"""crypto.shamir: k-of-n sharing over GF(2^8), checked against an independent table-based field."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import shamir
from crypto.shamir import (
    DuplicateShareError,
    InconsistentSharesError,
    MalformedShareError,
    NotEnoughSharesError,
    ShamirError,
    Share,
    combine,
    split,
)

# ------------------------------------------------------------------------- reference field (log/exp)

# A second, deliberately different implementation of GF(2^8) mod x^8+x^4+x^3+x+1: log/exp tables
# over the generator 0x03, so the module's shift-and-mask arithmetic is not checked against itself.
EXP = [0] * 510
LOG = [0] * 256
_value = 1
for _power in range(255):
    EXP[_power] = _value
    LOG[_value] = _power
    _value ^= (_value << 1) ^ (0x11B if _value & 0x80 else 0)  # times 0x03 = times x, plus itself
for _power in range(255, 510):
    EXP[_power] = EXP[_power - 255]


def ref_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def ref_inv(a: int) -> int:
    return EXP[255 - LOG[a]]


def poly_eval(coefficients: list[int], x: int) -> int:
    """Horner; coefficients from the constant term up."""
    value = 0
    for coefficient in reversed(coefficients):
        value = ref_mul(value, x) ^ coefficient
    return value


def poly_mul(p: list[int], q: list[int]) -> list[int]:
    product = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            product[i + j] ^= ref_mul(a, b)
    return product


def interpolating_polynomial(points: list[tuple[int, int]]) -> list[int]:
    """Coefficients of the polynomial of degree < len(points) through ``points`` (Lagrange, expanded)."""
    result = [0] * len(points)
    for i, (xi, yi) in enumerate(points):
        basis, denominator = [1], 1
        for j, (xj, _) in enumerate(points):
            if j != i:
                basis = poly_mul(basis, [xj, 1])  # (x - xj) = (x + xj) in characteristic 2
                denominator = ref_mul(denominator, xi ^ xj)
        scale = ref_mul(yi, ref_inv(denominator))
        for power, coefficient in enumerate(basis):
            result[power] ^= ref_mul(coefficient, scale)
    return result


# ------------------------------------------------------------------------------------------ strategies


@st.composite
def splits(draw: st.DrawFn, max_n: int = 10) -> tuple[bytes, int, int]:
    secret = draw(st.binary(min_size=0, max_size=64))
    n = draw(st.integers(min_value=2, max_value=max_n))
    k = draw(st.integers(min_value=2, max_value=n))
    return secret, k, n


# ------------------------------------------------------------------------------------------ arithmetic


def test_field_matches_fips197_examples() -> None:
    # FIPS-197 section 4.2: {57}*{83} = {c1}, {57}*{13} = {fe}; section 5.1.1: the inverse of {53} is {ca}.
    assert shamir._gf_mul(0x57, 0x83) == 0xC1
    assert shamir._gf_mul(0x57, 0x13) == 0xFE
    assert shamir._gf_inv(0x53) == 0xCA


def test_field_matches_reference_tables_everywhere() -> None:
    assert len(set(EXP[:255])) == 255  # 0x03 generates the whole multiplicative group
    for a in range(256):
        for b in range(256):
            assert shamir._gf_mul(a, b) == ref_mul(a, b)
    for a in range(1, 256):
        assert shamir._gf_inv(a) == ref_inv(a)
    with pytest.raises(ZeroDivisionError):
        shamir._gf_inv(0)


# ----------------------------------------------------------------------------------- reconstruction


@settings(max_examples=150, deadline=None)
@given(splits(), st.data())
def test_every_k_subset_reconstructs(params: tuple[bytes, int, int], data: st.DataObject) -> None:
    secret, k, n = params
    shares = split(secret, k, n)
    assert [s.x for s in shares] == list(range(1, n + 1))
    assert all(s.k == k and len(s.data) == len(secret) for s in shares)
    subsets = list(itertools.combinations(shares, k))
    for subset in data.draw(st.lists(st.sampled_from(subsets), min_size=1, max_size=6)):
        order = data.draw(st.permutations(subset))
        assert combine(order) == secret
    more = data.draw(st.lists(st.sampled_from(shares), min_size=k, max_size=n, unique_by=lambda s: s.x))
    assert combine(more) == secret


@settings(max_examples=100, deadline=None)
@given(splits())
def test_shares_lie_on_polynomials_of_degree_below_k(params: tuple[bytes, int, int]) -> None:
    """Checked with the reference field: k shares fix a polynomial whose other values are the other shares."""
    secret, k, n = params
    shares = split(secret, k, n)
    for position in range(len(secret)):
        polynomial = interpolating_polynomial([(s.x, s.data[position]) for s in shares[:k]])
        assert poly_eval(polynomial, 0) == secret[position]
        assert all(poly_eval(polynomial, s.x) == s.data[position] for s in shares)


@settings(max_examples=60, deadline=None)
@given(splits(), st.data())
def test_r_b4_fewer_than_k_shares_reveal_nothing(params: tuple[bytes, int, int], data: st.DataObject) -> None:
    """R-B4: k-1 shares are consistent with every value of a secret byte, so no k-1 custodians can open.

    For each candidate v in 0..255 the polynomial through the k-1 shares and (0, v) is built by
    interpolation: it has degree at most k-1 (so the dealer could have drawn it) and passes through
    every one of the shares. By contrast, the k-th share leaves exactly one candidate, the secret.
    """
    secret, k, n = params
    if not secret:
        secret = b"\x00"
    shares = split(secret, k, n)
    position = data.draw(st.integers(min_value=0, max_value=len(secret) - 1))
    known = data.draw(st.permutations(shares))[: k - 1]
    points = [(s.x, s.data[position]) for s in known]
    for v in range(256):
        polynomial = interpolating_polynomial([(0, v), *points])
        assert len(polynomial) <= k  # degree at most k-1
        assert poly_eval(polynomial, 0) == v
        assert all(poly_eval(polynomial, x) == y for x, y in points)

    extra = next(s for s in shares if s not in known)
    fitting = [
        v
        for v in range(256)
        if poly_eval(interpolating_polynomial([(0, v), *points]), extra.x) == extra.data[position]
    ]
    assert fitting == [secret[position]]


def test_splits_are_randomised() -> None:
    secret = bytes(range(32))
    first, second = split(secret, 2, 3), split(secret, 2, 3)
    assert [s.data for s in first] != [s.data for s in second]
    assert all(s.data != secret for s in first)


def test_limits_of_split() -> None:
    shares = split(b"\x2a" * 4, 255, 255)
    assert combine(shares) == b"\x2a" * 4
    assert combine(split(b"", 2, 3)) == b""
    for k, n in [(1, 3), (0, 0), (4, 3), (2, 256), (256, 256)]:
        with pytest.raises(ValueError):
            split(b"secret", k, n)
    with pytest.raises(TypeError):
        split(b"secret", True, 3)
    with pytest.raises(TypeError):
        split("secret", 2, 3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- refusals


def test_too_few_shares_refused() -> None:
    shares = split(b"opening key", 3, 5)
    with pytest.raises(NotEnoughSharesError) as caught:
        combine(shares[:2])
    assert caught.value.code == "not_enough_shares"
    with pytest.raises(NotEnoughSharesError):
        combine([])


def test_duplicate_shares_refused() -> None:
    shares = split(b"opening key", 2, 3)
    with pytest.raises(DuplicateShareError) as caught:
        combine([shares[0], shares[0]])
    assert caught.value.code == "duplicate_share"
    # Same index, different data: still the same point twice, never averaged or picked.
    forged = Share(x=1, k=2, data=bytes(len(shares[0].data)))
    with pytest.raises(DuplicateShareError):
        combine([shares[0], forged, shares[1]])


def test_mixed_thresholds_refused() -> None:
    a = split(b"opening key", 2, 3)
    b = split(b"opening key", 3, 3)
    with pytest.raises(InconsistentSharesError) as caught:
        combine([a[0], b[1], b[2]])
    assert caught.value.code == "inconsistent_shares"


def test_mixed_lengths_refused() -> None:
    a = split(b"opening key", 2, 3)
    b = split(b"other", 2, 3)
    with pytest.raises(InconsistentSharesError):
        combine([a[0], b[1]])


def test_extra_share_from_another_split_refused() -> None:
    """With more than k shares a foreign or corrupted one is caught instead of silently used."""
    a = split(b"opening key", 2, 3)
    b = split(b"opening key", 2, 3)
    with pytest.raises(InconsistentSharesError):
        combine([a[0], a[1], b[2]])
    corrupted = Share(x=3, k=2, data=bytes([a[2].data[0] ^ 1]) + a[2].data[1:])
    with pytest.raises(InconsistentSharesError):
        combine([a[0], a[1], corrupted])


def test_non_shares_refused() -> None:
    share = split(b"x", 2, 2)[0]
    with pytest.raises(MalformedShareError) as caught:
        combine([share, share.encode()])  # type: ignore[list-item]
    assert caught.value.code == "malformed_share"


@pytest.mark.parametrize(
    ("x", "k", "data"),
    [(0, 2, b""), (256, 2, b""), (1, 1, b""), (1, 256, b""), (True, 2, b""), (1, 2, "text"), ("1", 2, b"")],
)
def test_invalid_share_fields_refused(x: object, k: object, data: object) -> None:
    with pytest.raises(MalformedShareError):
        Share(x=x, k=k, data=data)  # type: ignore[arg-type]


def test_error_codes_are_distinct_and_stable() -> None:
    errors = [NotEnoughSharesError, DuplicateShareError, InconsistentSharesError, MalformedShareError]
    assert [e.code for e in errors] == [
        "not_enough_shares",
        "duplicate_share",
        "inconsistent_shares",
        "malformed_share",
    ]
    assert all(issubclass(e, ShamirError) and issubclass(e, ValueError) for e in errors)


def test_repr_hides_share_data() -> None:
    share = Share(x=1, k=2, data=b"\xde\xad\xbe\xef")
    assert repr(share) == "Share(x=1, k=2)"


# ------------------------------------------------------------------------------------------- encoding


@given(
    st.integers(min_value=1, max_value=255),
    st.integers(min_value=2, max_value=255),
    st.binary(max_size=80),
)
def test_encode_decode_round_trip(x: int, k: int, data: bytes) -> None:
    share = Share(x=x, k=k, data=data)
    text = share.encode()
    assert text.startswith(f"sunbid-share-v1:{k}:{x}:")
    assert text.isascii()
    assert Share.decode(text) == share


def test_known_encoding() -> None:
    assert Share(x=3, k=2, data=b"\x00\xff\x10").encode() == "sunbid-share-v1:2:3:AP8Q"
    assert Share.decode("sunbid-share-v1:2:1:") == Share(x=1, k=2, data=b"")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sunbid-share-v1",
        "sunbid-share-v1:2:1",
        "sunbid-share-v2:2:1:AP8Q",
        "SUNBID-SHARE-V1:2:1:AP8Q",
        "sunbid-share-v1:1:1:AP8Q",  # k = 1 is no sharing
        "sunbid-share-v1:256:1:AP8Q",
        "sunbid-share-v1:2:0:AP8Q",
        "sunbid-share-v1:2:256:AP8Q",
        "sunbid-share-v1:02:1:AP8Q",  # leading zero: a second spelling
        "sunbid-share-v1:2:01:AP8Q",
        "sunbid-share-v1:+2:1:AP8Q",
        "sunbid-share-v1:\u0662:1:AP8Q",  # ARABIC-INDIC DIGIT TWO
        "sunbid-share-v1:2:1:AP8",  # missing padding
        "sunbid-share-v1:2:1:AB==",  # non-zero padding bits: non-canonical
        "sunbid-share-v1:2:1:A===",
        "sunbid-share-v1:2:1:AP-Q",  # URL-safe alphabet
        "sunbid-share-v1:2:1:AP8Q:",
        "sunbid-share-v1:2:1:AP 8Q",
        " sunbid-share-v1:2:1:AP8Q",
        "sunbid-share-v1:2:1:AP8Q\n",
    ],
)
def test_malformed_text_refused(text: str) -> None:
    with pytest.raises(MalformedShareError) as caught:
        Share.decode(text)
    assert caught.value.code == "malformed_share"


def test_decode_takes_text_only() -> None:
    with pytest.raises(MalformedShareError):
        Share.decode(b"sunbid-share-v1:2:3:AP8Q")  # type: ignore[arg-type]
