"""统一社会信用代码 (unified social credit code), GB 32100-2015.

18 characters from a 31-symbol alphabet (digits and capitals without I, O, Z, S, V). Characters 3-8
are the administrative division code (digits); 9-17 the organisation code (GB 11714, with its own
check character in position 17); position 18 checks the first 17 with weights 3^i mod 31.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def _org_code_check(code8: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(code8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def problem(code: str) -> str | None:
    """None when ``code`` is valid, otherwise a short machine-readable reason."""
    if len(code) != 18:
        return "length"
    if any(c not in _VALUE for c in code):
        return "alphabet"
    if not code[2:8].isdigit():
        return "division_code"
    if _org_code_check(code[8:16]) != code[16]:
        return "organization_code_check"
    if check_character(code[:17]) != code[17]:
        return "check_character"
    return None


def normalize(code: str) -> str:
    return code.strip().upper()
