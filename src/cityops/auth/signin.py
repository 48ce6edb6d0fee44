"""Signing in and out, and turning a session token or an API key into a Principal."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal, User
from cityops.auth.ports import AccountsUnitOfWork
from cityops.auth.ratelimit import LoginRateLimiter
from cityops.auth.secrets import PasswordHasher, hash_token, new_token, split_api_key
from cityops.kernel.clock import Clock
from cityops.kernel.errors import AuthenticationFailed
from cityops.kernel.uow import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The result of a successful sign-in: the token to present and when it expires."""

    token: str
    expires_at: datetime
    user: User


class SignInService:
    """Password sign-in with rate limits, sessions, and API-key authentication."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[AccountsUnitOfWork],
        clock: Clock,
        hasher: PasswordHasher,
        limiter: LoginRateLimiter,
        session_ttl: timedelta,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._hasher = hasher
        self._limiter = limiter
        self._session_ttl = session_ttl

    def login(self, username: str, password: str, client_address: str | None) -> SignedIn:
        """Check the password and open a session; failures are counted and audited."""
        account = username.strip().lower()
        self._limiter.check(account, client_address)
        with self._unit_of_work() as uow:
            user = uow.users.get(account) if account else None
            valid = self._hasher.verify(user.password_hash if user else None, password)
            if user is None or not valid or not user.active:
                self._limiter.failed(account, client_address)
                uow.audit.append(
                    make_entry(
                        self._clock,
                        None,
                        None,
                        action="auth.login_failed",
                        object_type="user",
                        object_id=account[:64],
                        actor=account[:64],
                    )
                )
                uow.commit()
                raise AuthenticationFailed("invalid username or password")
            now = self._clock.now()
            token = new_token()
            expires_at = now + self._session_ttl
            uow.sessions.add(
                token_hash=hash_token(token),
                user_id=user.id,
                created_at=now,
                expires_at=expires_at,
                client_address=client_address,
            )
            if self._hasher.needs_rehash(user.password_hash):
                uow.users.set_password_hash(user.id, self._hasher.hash(password), now)
            uow.audit.append(
                make_entry(
                    self._clock,
                    Principal.for_user(user),
                    None,
                    action="auth.login",
                    object_type="user",
                    object_id=user.username,
                )
            )
            uow.commit()
        self._limiter.succeeded(account)
        return SignedIn(token=token, expires_at=expires_at, user=user)

    def logout(self, token: str) -> None:
        """End the session of ``token`` (a no-op for an unknown token)."""
        with self._unit_of_work() as uow:
            uow.sessions.delete(hash_token(token))
            uow.commit()

    def user_for_session(self, token: str) -> User | None:
        """Return the active user behind a session token that has not expired."""
        with self._unit_of_work(read_only=True) as uow:
            found = uow.sessions.get(hash_token(token))
            if found is None:
                return None
            user_id, expires_at = found
            if expires_at <= self._clock.now():
                return None
            user = uow.users.get_by_id(user_id)
            return user if user is not None and user.active else None

    def principal_for_session(self, token: str) -> Principal | None:
        """Return the principal of a valid session token."""
        found = self.session_principal(token)
        return found[0] if found else None

    def session_principal(self, token: str) -> tuple[Principal, datetime] | None:
        """Return the principal of a valid session token and when the session expires."""
        with self._unit_of_work(read_only=True) as uow:
            found = uow.sessions.get(hash_token(token))
            if found is None:
                return None
            user_id, expires_at = found
            if expires_at <= self._clock.now():
                return None
            user = uow.users.get_by_id(user_id)
        if user is None or not user.active:
            return None
        return Principal.for_user(user), expires_at

    def principal_for_api_key(self, full_key: str) -> Principal | None:
        """Return the principal of a valid, unrevoked, unexpired API key."""
        found = self.api_key_principal(full_key)
        return found[0] if found else None

    def api_key_principal(self, full_key: str) -> tuple[Principal, datetime | None] | None:
        """Return the principal of a valid, unrevoked, unexpired API key and its expiry."""
        prefix = split_api_key(full_key)
        if prefix is None:
            return None
        with self._unit_of_work(read_only=True) as uow:
            found = uow.api_keys.find(prefix)
        if found is None:
            return None
        key, secret_hash = found
        if not hmac.compare_digest(secret_hash, hash_token(full_key)):
            return None
        if not key.usable_at(self._clock.now()):
            return None
        return Principal.for_api_key(key), key.expires_at

    def purge_expired_sessions(self) -> int:
        """Delete expired sessions; return how many."""
        with self._unit_of_work() as uow:
            count = uow.sessions.purge_expired(self._clock.now())
            uow.commit()
        return count
