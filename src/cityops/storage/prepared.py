"""Hot-path writes: statements compiled once per dialect, run with ``exec_driver_sql``.

SQLAlchemy Core pays for a cache-key walk, an execution context and its parameter handling on
every ``execute``: about half the cost of a one-row insert on SQLite. The intake path writes
several rows per case, so here an insert is compiled once per dialect and set of columns, and its
parameters go through the very bind processors Core would apply (values are stored exactly as
Core stores them). Errors are still wrapped by SQLAlchemy (``IntegrityError`` and so on). On
PostgreSQL the statement goes through the connection, so the engine's events fire. On SQLite
(the standard library's driver, which runs in this process) even ``exec_driver_sql`` costs more
than the insert itself, so the statement goes straight to the driver connection, inside the
transaction SQLAlchemy began; cursor events do not fire for these writes. (Reads stay on Core:
there a statement's result metadata is cached, which ``exec_driver_sql`` rebuilds every call.)

An insert leaves out the columns whose value is None when that is what NULL would be anyway (no
default, and a type that does not store None as something else, as JSON does): fewer parameters
keep PostgreSQL statements short enough for psycopg to cache and prepare them.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Dialect, Table, insert, literal_column
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

_MAX_STATEMENTS = 512  # per dialect; inserts vary by column set, a bounded handful in practice

Processor = Callable[[Any], Any]


class PreparedStatement:
    """One statement's SQL text for a dialect, with its parameter processing."""

    __slots__ = ("_direct", "_named", "_order", "_plan", "sql")

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        column_keys: Sequence[str] = (),
        *,
        for_executemany: bool = False,
    ) -> None:
        # for_executemany: no implicit RETURNING of the primary key nobody reads.
        compiled = statement.compile(
            dialect=dialect,
            column_keys=list(column_keys) or None,
            for_executemany=for_executemany,
        )
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("expanding or literal-execute parameters cannot be prepared")
        self.sql: str = compiled.string
        order = compiled.positiontup
        self._named = order is None
        self._order: tuple[str, ...] = tuple(order) if order is not None else tuple(compiled.binds)
        # Per parameter: its name, the value when none is given, and its bind processor.
        plan: list[tuple[str, Any, Processor | None]] = []
        for name in self._order:
            bind = compiled.binds.get(name)
            default = None if bind is None or bind.required else bind.effective_value
            processor = (
                None if bind is None else bind.type.dialect_impl(dialect).bind_processor(dialect)
            )
            plan.append((name, default, processor))
        self._plan = tuple(plan)
        self._direct = dialect.name == "sqlite" and dialect.driver == "pysqlite"

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """Return the driver's parameters for ``values`` (missing names take their defaults)."""
        get = values.get
        out = [
            get(name, default) if processor is None else processor(get(name, default))
            for name, default, processor in self._plan
        ]
        if self._named:
            return dict(zip(self._order, out, strict=True))
        return tuple(out)

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Run the statement once; return its result (``scalar_one()`` reads a RETURNING value)."""
        params = self.parameters(values)
        if self._direct:
            return DirectResult(self._run_direct(connection, params, many=False))
        return connection.exec_driver_sql(self.sql, params)

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row, as one driver ``executemany``."""
        params = [self.parameters(row) for row in rows]
        if self._direct:
            self._run_direct(connection, params, many=True)
            return
        connection.exec_driver_sql(self.sql, params)

    def _run_direct(self, connection: Connection, params: Any, *, many: bool) -> list[Any]:
        """Run the statement on the driver connection; return the rows it gave back."""
        if not connection.in_transaction():
            connection.begin()  # what exec_driver_sql's autobegin would do: never autocommit
        driver = connection.connection.driver_connection
        assert driver is not None
        try:
            cursor = (
                driver.executemany(self.sql, params) if many else driver.execute(self.sql, params)
            )
            try:
                rows: list[Any] = cursor.fetchall()  # RETURNING ends only when read to the end
                return rows
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                self.sql, params, error, sqlite3.Error, dialect=connection.dialect
            ) from error


class DirectResult:
    """The rows a statement run on the driver connection gave back."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def scalar_one(self) -> Any:
        """Return the one row's first column (as SQLAlchemy's ``Result.scalar_one``)."""
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]


_registry: weakref.WeakKeyDictionary[Dialect, dict[Hashable, PreparedStatement]] = (
    weakref.WeakKeyDictionary()
)
_registry_lock = threading.Lock()


def prepared(
    connection: Connection,
    key: Hashable,
    build: Callable[[], ClauseElement],
    column_keys: Sequence[str] = (),
    *,
    for_executemany: bool = False,
) -> PreparedStatement:
    """Return the statement ``build()`` compiled for this connection's dialect (cached by key)."""
    dialect = connection.dialect
    cache = _registry.get(dialect)
    if cache is None:
        with _registry_lock:
            cache = _registry.setdefault(dialect, {})
    found = cache.get(key)
    if found is None:
        found = PreparedStatement(build(), dialect, column_keys, for_executemany=for_executemany)
        if len(cache) >= _MAX_STATEMENTS:
            cache.clear()
        cache[key] = found
    return found


def constant_in(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """Return ``column IN ('a', 'b', …)`` with the constants in the SQL text (no parameters)."""
    quoted = ["'" + value.replace("'", "''") + "'" for value in sorted(values)]
    return column.in_([literal_column(q) for q in quoted])


def _null_is_default(column: Column[Any]) -> bool:
    """Return True when leaving the column out of an insert stores what None would."""
    return (
        column.default is None
        and column.server_default is None
        and not column.type.should_evaluate_none
    )


_OMITTABLE: dict[Table, frozenset[str]] = {}


def _omittable(table: Table) -> frozenset[str]:
    found = _OMITTABLE.get(table)
    if found is None:
        found = frozenset(c.key for c in table.columns if _null_is_default(c))
        _OMITTABLE[table] = found
    return found


def omit_nulls(table: Table, row: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the keys of ``row`` to insert: None values are left out where that changes nothing."""
    omittable = _omittable(table)
    return tuple(k for k, v in row.items() if v is not None or k not in omittable)


def insert_row(
    connection: Connection,
    table: Table,
    row: Mapping[str, Any],
    returning: Column[Any] | None = None,
) -> Any:
    """Insert one row (None values left out where that changes nothing); return the result."""
    keys = omit_nulls(table, row)
    statement = prepared(
        connection,
        ("insert", table.name, keys, returning is not None),
        lambda: insert(table) if returning is None else insert(table).returning(returning),
        keys,
        for_executemany=returning is None,
    )
    return statement.execute(connection, row)


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows that all have the same keys, in one driver call."""
    if not rows:
        return
    if len(rows) == 1:
        insert_row(connection, table, rows[0])
        return
    keys = tuple(rows[0])
    statement = prepared(
        connection,
        ("insert", table.name, keys, False),
        lambda: insert(table),
        keys,
        for_executemany=True,
    )
    statement.execute_many(connection, rows)
