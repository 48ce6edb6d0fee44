"""SQLite without built-in math functions gets Python's (the raw minute reads use them)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from cityops.storage.engine import _ensure_math_functions


class _WithoutMath:
    """A real SQLite connection whose built-in math functions seem missing until registered."""

    def __init__(self) -> None:
        self.real = sqlite3.connect(":memory:")
        self.registered: list[str] = []

    def execute(self, sql: str) -> Any:
        if "power" in sql and "power" not in self.registered:
            raise sqlite3.OperationalError("no such function: power")
        return self.real.execute(sql)

    def create_function(self, name: str, arity: int, function: Any, *, deterministic: bool) -> None:
        self.registered.append(name)
        self.real.create_function(name, arity, function, deterministic=deterministic)


def test_a_build_without_math_functions_gets_pythons() -> None:
    connection = _WithoutMath()
    _ensure_math_functions(connection)
    assert sorted(connection.registered) == ["cos", "power", "radians", "sin"]
    got = connection.real.execute("SELECT power(10, 6.5), sin(radians(30)), cos(0)").fetchone()
    assert got == pytest.approx((10**6.5, 0.5, 1.0))


def test_the_functions_answer_on_this_build() -> None:
    connection = sqlite3.connect(":memory:")
    _ensure_math_functions(connection)
    got = connection.execute("SELECT power(2, 10), cos(radians(180))").fetchone()
    assert got == pytest.approx((1024.0, -1.0))
