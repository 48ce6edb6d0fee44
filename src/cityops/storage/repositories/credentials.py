"""API keys and sign-in sessions in SQL (secrets only as hashes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from cityops.auth.model import ApiKey
from cityops.auth.scopes import Scope, parse_scope
from cityops.storage.schema import api_keys, auth_sessions


class SqlApiKeyRepository:
    """API keys."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        *,
        prefix: str,
        secret_hash: str,
        name: str,
        permissions: frozenset[str],
        scope: Scope,
        created_by: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> ApiKey:
        """Insert a key."""
        result = self._connection.execute(
            insert(api_keys).values(
                prefix=prefix,
                secret_hash=secret_hash,
                name=name,
                permissions=sorted(permissions),
                scope=str(scope),
                created_by=created_by,
                created_at=created_at,
                expires_at=expires_at,
            )
        )
        assert result.inserted_primary_key is not None
        return ApiKey(
            id=int(result.inserted_primary_key[0]),
            prefix=prefix,
            name=name,
            permissions=permissions,
            scope=scope,
            created_by=created_by,
            created_at=created_at,
            expires_at=expires_at,
        )

    def find(self, prefix: str) -> tuple[ApiKey, str] | None:
        """Return a key and its secret hash by prefix."""
        row = (
            self._connection.execute(select(api_keys).where(api_keys.c.prefix == prefix))
            .mappings()
            .first()
        )
        return (_api_key(row), row["secret_hash"]) if row is not None else None

    def get(self, key_id: int) -> ApiKey | None:
        """Return a key by id."""
        row = (
            self._connection.execute(select(api_keys).where(api_keys.c.id == key_id))
            .mappings()
            .first()
        )
        return _api_key(row) if row is not None else None

    def list(self) -> list[ApiKey]:
        """Return every key, newest first."""
        rows = self._connection.execute(select(api_keys).order_by(api_keys.c.id.desc()))
        return [_api_key(row) for row in rows.mappings()]

    def revoke(self, key_id: int, at: datetime) -> None:
        """Mark a key revoked."""
        self._connection.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=at)
        )


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        prefix=row["prefix"],
        name=row["name"],
        permissions=frozenset(row["permissions"]),
        scope=parse_scope(row["scope"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


class SqlSessionRepository:
    """Sign-in sessions."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        *,
        token_hash: str,
        user_id: int,
        created_at: datetime,
        expires_at: datetime,
        client_address: str | None,
    ) -> None:
        """Insert a session."""
        self._connection.execute(
            insert(auth_sessions).values(
                token_hash=token_hash,
                user_id=user_id,
                created_at=created_at,
                expires_at=expires_at,
                client_address=client_address,
            )
        )

    def get(self, token_hash: str) -> tuple[int, datetime] | None:
        """Return the session's user id and expiry."""
        row = self._connection.execute(
            select(auth_sessions.c.user_id, auth_sessions.c.expires_at).where(
                auth_sessions.c.token_hash == token_hash
            )
        ).first()
        return (int(row[0]), row[1]) if row is not None else None

    def delete(self, token_hash: str) -> None:
        """End one session."""
        self._connection.execute(
            delete(auth_sessions).where(auth_sessions.c.token_hash == token_hash)
        )

    def delete_for_user(self, user_id: int) -> int:
        """End all of a user's sessions."""
        result = self._connection.execute(
            delete(auth_sessions).where(auth_sessions.c.user_id == user_id)
        )
        return int(result.rowcount)

    def purge_expired(self, now: datetime) -> int:
        """Delete expired sessions."""
        result = self._connection.execute(
            delete(auth_sessions).where(auth_sessions.c.expires_at <= now)
        )
        return int(result.rowcount)
