"""Credit codes are checked as GB 32100 defines them, with a message that says what is wrong."""

from __future__ import annotations

import pytest

from workflow_app.services.credit_code import check_character, normalised, problem


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L", "9111 0000 6000 3734 1l",
                                  "９１１１００００６０００３７３４１Ｌ"])
def test_published_codes_pass_however_they_were_typed(code: str) -> None:
    assert problem(normalised(code)) is None


def test_one_changed_character_is_caught_and_the_right_check_character_named() -> None:
    assert problem("91350100M000100Y44") == "统一社会信用代码校验位不符（第 18 位应为 3）"
    assert problem("91350100M000101Y43") is not None  # a typo in the body moves the checksum
    assert check_character("91350100M000100Y4") == "3"


def test_length_and_alphabet_are_named() -> None:
    assert problem("91350100M000100Y4") == "统一社会信用代码应为 18 位，此处为 17 位"
    assert "O" in (problem("91350100MO00100Y43") or "")
