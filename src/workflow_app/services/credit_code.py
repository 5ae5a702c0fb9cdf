"""The unified social credit code (统一社会信用代码) of GB 32100-2015: 18 characters from a
31-character alphabet (no I, O, S, V, Z), the last one a checksum of the first seventeen."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""3^(i-1) mod 31 for positions 1…17, as the standard tabulates them."""


def normalised(code: str) -> str:
    """A code as typed (spaces, lower case, full-width letters and digits) in its stored form."""
    half_width = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in code)
    return "".join(half_width.split()).upper()


def check_character(first_seventeen: str) -> str:
    """The 18th character that completes `first_seventeen` (all from ALPHABET)."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first_seventeen, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why `code` (normalised) is not a valid credit code, in the words shown to the user; None if it is."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，此处为 {len(code)} 位"
    wrong = sorted({c for c in code if c not in ALPHABET})
    if wrong:
        return f"统一社会信用代码含有不允许的字符：{''.join(wrong)}（不使用 I、O、S、V、Z）"
    if check_character(code[:17]) != code[17]:
        return f"统一社会信用代码校验位不符（第 18 位应为 {check_character(code[:17])}）"
    return None
