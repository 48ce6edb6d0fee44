"""Observations selected by a SensorThings query tree, printed as SQL (same on both stores).

The tree (:class:`cityops.sensing.sta_ports.ObsQuery`) names only observation columns and holds
only numbers: numbers become bound parameters, datastream ids (the store's own, listed by the
domain) and page bounds are written as integer literals, so no client text reaches the SQL and no
id list meets a driver's parameter limit. A division by zero gives NULL (``NULLIF``) on both
stores, where PostgreSQL would otherwise fail the query. ``@iot.id`` is
``datastream_id * 2**42 + phenomenon_time``; its equality is split by the domain into the
primary key's two columns, so it uses the index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.ingest import KEY_SHIFT
from cityops.sensing.ports import Reading
from cityops.sensing.sta_ports import (
    Arith,
    BoolExpr,
    BoolOp,
    Cmp,
    Col,
    Const,
    InStreams,
    Negate,
    Num,
    ObsQuery,
    ValueExpr,
)

_COLUMNS = {
    "datastream_id": "datastream_id",
    "phenomenon_time": "phenomenon_time",
    "result": "result",
    "quality": "quality",
    "id": f"(CAST(datastream_id AS BIGINT) * {1 << KEY_SHIFT} + phenomenon_time)",
}
_GET = text(
    "SELECT datastream_id, phenomenon_time, result, quality FROM observations "
    "WHERE datastream_id = :stream AND phenomenon_time = :time"
)


class _Printer:
    """Prints one query's conditions, collecting its parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def condition(self, node: BoolExpr) -> str:
        match node:
            case Cmp():
                return f"{self.value(node.left)} {node.sign} {self.value(node.right)}"
            case InStreams():
                if not node.ids:
                    return "1 = 0"
                return f"datastream_id IN ({', '.join(str(int(i)) for i in node.ids)})"
            case Const():
                return "1 = 1" if node.value else "1 = 0"
            case BoolOp():
                joined = f" {node.op.upper()} ".join(self.condition(o) for o in node.operands)
                return f"({joined})"
            case Negate():
                return f"NOT ({self.condition(node.operand)})"
        raise TypeError(f"not a condition: {node!r}")  # pragma: no cover

    def value(self, node: ValueExpr) -> str:
        match node:
            case Col():
                return _COLUMNS[node.name]
            case Num():
                name = f"p{len(self.params)}"
                self.params[name] = node.value
                return f":{name}"
            case Arith():
                left, right = self.value(node.left), self.value(node.right)
                if node.sign == "/":
                    return f"({left} / NULLIF({right}, 0))"
                return f"({left} {node.sign} {right})"
        raise TypeError(f"not a value: {node!r}")  # pragma: no cover


class SqlStaObservationQueries:
    """Observation queries over one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def select(self, query: ObsQuery) -> list[Reading]:
        """Return the page of readings the query selects, in its order."""
        printer = _Printer()
        sql = "SELECT datastream_id, phenomenon_time, result, quality FROM observations"
        if query.where is not None:
            sql += " WHERE " + printer.condition(query.where)
        if query.order:
            keys = ", ".join(
                f"{_COLUMNS[k.column]} {'DESC' if k.descending else 'ASC'}" for k in query.order
            )
            sql += f" ORDER BY {keys}"
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        if query.offset:
            if query.limit is None and self._connection.dialect.name == "sqlite":
                sql += " LIMIT -1"  # SQLite takes OFFSET only after a LIMIT
            sql += f" OFFSET {int(query.offset)}"
        return [Reading(r[0], r[1], r[2], r[3]) for r in self._run(sql, printer.params)]

    def count(self, where: BoolExpr | None) -> int:
        """Return how many readings match."""
        printer = _Printer()
        sql = "SELECT count(*) FROM observations"
        if where is not None:
            sql += " WHERE " + printer.condition(where)
        return int(self._run(sql, printer.params)[0][0])

    def _run(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in self._connection.execute(text(sql), params)]
        except DataError:  # PostgreSQL: arithmetic beyond bigint or double precision
            raise ValidationFailed.single(
                "$filter", "range", "the filter's arithmetic goes beyond the numbers a store keeps"
            ) from None

    def get(self, stream_id: int, time: int) -> Reading | None:
        """Return one reading."""
        row = self._connection.execute(_GET, {"stream": stream_id, "time": time}).first()
        return None if row is None else Reading(*row)
