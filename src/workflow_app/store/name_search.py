"""What an organisation is found by besides its name: the first letters of its name's pinyin
(瑞丰化工有限公司 → rfhgyxgs), as people type on a phone to find one among hundreds."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

INITIALS_LENGTH = 60


def initials(name: str) -> str:
    """Lower-case pinyin initials of the Chinese characters in `name`; letters and digits kept as typed."""
    parts = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")
    return "".join(c for c in "".join(parts).lower() if c.isascii() and c.isalnum())[:INITIALS_LENGTH]
