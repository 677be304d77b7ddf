"""Password policy and hashing: argon2id, a length rule and a list of passwords everyone guesses.

Hashing costs tens of milliseconds of CPU by design; async code calls these functions through
``asyncio.to_thread`` so the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import Invalid
from .messages import Message, msg, nmsg

MIN_LENGTH = 10
MAX_LENGTH = 128
# OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane): affordable on an old clinic server.
MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)


def _normalise(password: str) -> str:
    # Vietnamese keyboards send composed or decomposed diacritics; both must match.
    return unicodedata.normalize("NFC", password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The refused passwords, lower-cased."""
    text = resources.files("records").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def validate_new_password(password: str, *, username: str) -> None:
    """Refuse a password that is too short, too long, common or the username itself."""
    password = _normalise(password)
    problem: Message | None = None
    if len(password) < MIN_LENGTH:
        problem = nmsg(
            "Mật khẩu phải có ít nhất %(num)d ký tự",
            "Mật khẩu phải có ít nhất %(num)d ký tự",
            MIN_LENGTH,
        )
    elif len(password) > MAX_LENGTH:
        problem = nmsg(
            "Mật khẩu dài tối đa %(num)d ký tự", "Mật khẩu dài tối đa %(num)d ký tự", MAX_LENGTH
        )
    elif password.strip() == "":
        problem = msg("Mật khẩu không được chỉ gồm khoảng trắng")
    else:
        lowered = password.lower()
        if username and lowered == username.strip().lower():
            problem = msg("Mật khẩu không được trùng với tên đăng nhập")
        elif lowered in common_passwords():
            problem = msg("Mật khẩu này quá phổ biến, dễ bị đoán. Vui lòng chọn mật khẩu khác")
        elif len(set(lowered)) == 1:
            problem = msg("Mật khẩu không được chỉ lặp lại một ký tự")
    if problem is not None:
        raise Invalid(problem, fields={"password": problem})


def hash_password(password: str) -> str:
    """The argon2id hash of a password (CPU-heavy: call it in a thread from async code)."""
    return _hasher.hash(_normalise(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, _normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("telemed-dummy-password-for-timing")


def dummy_verify(password: str) -> None:
    """Spend the time of a real verification, so unknown usernames answer as slowly as known."""
    verify_password(_dummy_hash(), password)


def new_secret() -> str:
    """A fresh random secret of 256 bits, URL-safe (session ids, bearer and join tokens)."""
    return secrets.token_urlsafe(32)


def secret_hash(value: str) -> str:
    """The SHA-256 (hex) under which a secret is stored."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
