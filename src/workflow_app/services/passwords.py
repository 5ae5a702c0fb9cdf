"""The password policy every new password meets, its hash and one-time passwords.

A new password (set by an administrator, after a reset, or on the 修改密码 page) has at least
MIN_LENGTH characters, is not the username and is not in the short list of common passwords
shipped in common_passwords.txt (both compared ignoring case). Hashes are werkzeug's scrypt
(n=2**15, r=8, p=1, a 16-character salt), named explicitly so that a change of werkzeug's default
never changes ours silently; older hashes (pbkdf2) still verify.
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from werkzeug.security import generate_password_hash

from .errors import InvalidInputError

MIN_LENGTH = 10
HASH_METHOD = "scrypt"
ONE_TIME_LENGTH = 14
ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/l/I: a one-time password is read out or copied by hand."""
COMMON_FILE = Path(__file__).with_name("common_passwords.txt")

REASONS = {
    "too_short": f"新密码至少 {MIN_LENGTH} 位",
    "is_username": "新密码不能与用户名相同",
    "too_common": "新密码过于常见，请换一个",
    "wrong_current": "当前密码不正确",
    "mismatch": "两次输入的新密码不一致",
    "unchanged": "新密码不能与当前密码相同",
}
"""What each refusal means (the web words it per language)."""


class PasswordRefused(InvalidInputError):
    """A password that was not set; `reason` (a key of REASONS) says why."""

    def __init__(self, reason: str):
        super().__init__(REASONS[reason])
        self.reason = reason


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_policy(username: str, password: str) -> None:
    """Raise PasswordRefused unless `password` may be `username`'s new password."""
    if len(password) < MIN_LENGTH:
        raise PasswordRefused("too_short")
    if password.casefold() == username.casefold():
        raise PasswordRefused("is_username")
    if password.lower() in common_passwords():
        raise PasswordRefused("too_common")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


def one_time_password() -> str:
    """A random password to hand over once (about 80 bits); it meets the policy by construction."""
    return "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(ONE_TIME_LENGTH))
