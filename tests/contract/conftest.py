"""Fixtures of the store contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from cityops.storage.engine import create_store_engine


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A PostgreSQL engine with a one-connection pool (skips without a server)."""
    url: str = request.getfixturevalue("postgres_database")
    engine = create_store_engine(url, pool_size=1)
    yield engine
    engine.dispose()
