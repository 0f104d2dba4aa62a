"""统一社会信用代码 validation (GB 32100-2015), issue 2 item 4."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.credit_code import ALPHABET, check_character, problem
from demo.accounts import credit_code

# Codes of real, publicly listed companies and the standard's own example.
REAL = ["91350100M000100Y43", "91110000600037341L", "91440300708461136T", "91310000775785552L"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_accepted(code):
    assert problem(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("91350100M000100Y4I", "alphabet"),  # I, O, Z, S, V are not in the alphabet
        ("913501A0M000100Y43", "division_code"),
        ("91350100M000100Y44", "check_character"),
    ],
)
def test_malformed_codes_name_their_problem(code, reason):
    assert problem(code) == reason


@given(st.integers(min_value=0, max_value=99_999_999), st.sampled_from(["110108", "310115", "440305"]))
def test_any_single_character_change_is_caught(serial, division):
    code = credit_code(division, serial)
    assert problem(code) is None
    for pos in range(18):
        for replacement in "0A":
            if code[pos] == replacement:
                continue
            altered = code[:pos] + replacement + code[pos + 1 :]
            assert problem(altered) is not None, altered


def test_check_character_is_in_alphabet():
    assert check_character("91350100M000100Y4") in ALPHABET
