"""Password hashing (argon2id), password rules, and random tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cityops.kernel.errors import ValidationFailed

MIN_PASSWORD_LENGTH = 10


class PasswordHasher:
    """Hash and verify passwords with argon2id (the OWASP-recommended default)."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_cost)
        # Verified against when the account does not exist, so timing does not reveal that.
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Return an argon2id hash of ``password``."""
        return self._argon2.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Tell whether ``password`` matches; a missing hash costs the same time and fails."""
        try:
            return self._argon2.verify(password_hash or self._dummy_hash, password) and bool(
                password_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Tell whether the hash was made with older parameters."""
        return self._argon2.check_needs_rehash(password_hash)


def check_password_rules(password: str, username: str, *, field: str = "password") -> None:
    """Raise ValidationFailed when a new password is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.single(
            field, "min_length", f"must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(set(password)) < 4:
        raise ValidationFailed.single(field, "variety", "must use at least 4 different characters")
    if username and username.lower() in password.lower():
        raise ValidationFailed.single(field, "not_username", "must not contain the username")


def generate_password() -> str:
    """Return a random password that passes the rules (for demo accounts and resets)."""
    return secrets.token_urlsafe(12)


def new_token() -> str:
    """Return a fresh random bearer/session token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


API_KEY_PREFIX = "cok"


def new_api_key() -> tuple[str, str]:
    """Return ``(prefix, full_key)``: the prefix identifies the key, the rest is secret."""
    prefix = secrets.token_hex(4)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def split_api_key(full_key: str) -> str | None:
    """Return the prefix of a well-formed API key, or None."""
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1]
