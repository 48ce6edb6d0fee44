"""Turn an Observations ``$filter``/``$orderby`` into the store's query tree, or refuse it.

The observations table holds millions of rows, so its filters run in SQL, never in Python. What
translates (everything else is refused with rule ``unsupported``, naming the part):

* comparisons ``eq ne gt ge lt le`` and ``and``, ``or``, ``not`` over ``result`` (a number),
  ``phenomenonTime`` and ``resultTime`` (the same instant here; compared with date-times, dates
  — midnight UTC — and ``now()``, shifted by ``duration'…'`` with ``add``/``sub``),
  ``resultQuality`` (``eq``/``ne`` a quality name), ``@iot.id`` and ``Datastream/@iot.id``;
* ``add sub mul div`` over numbers (a division by zero matches nothing);
* any sub-expression whose every path goes through ``Datastream/…`` (or
  ``FeatureOfInterest/…``), such as ``Datastream/ObservedProperty/name eq 'PM2.5'``: the caller
  evaluates it on the datastreams (a small set) and it becomes "datastream in (ids)";
* ``null``: every column is non-null, so ``result eq null`` is false and ``ne null`` true.

``$orderby`` takes ``phenomenonTime``, ``resultTime``, ``result``, ``resultQuality``,
``@iot.id`` and ``Datastream/@iot.id``; ties are broken by datastream and time, so pages are
stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NoReturn

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.ingest import KEY_SHIFT
from cityops.sensing.model import QUALITY_CODES, to_millis
from cityops.sensing.sta_filter import (
    Arithmetic,
    Compare,
    Function,
    Literal,
    Logical,
    Node,
    Not,
    OrderBy,
    Property,
    to_text,
)
from cityops.sensing.sta_ports import (
    Arith,
    ArithmeticSign,
    BoolExpr,
    BoolOp,
    Cmp,
    Col,
    CompareSign,
    Const,
    InStreams,
    Negate,
    Num,
    ObsColumn,
    ObsOrder,
    ValueExpr,
)

# (navigation property, expression relative to it) → ids of the datastreams it holds for
StreamsWhere = Callable[[str, Node], tuple[int, ...]]
_LINKED = ("Datastream", "FeatureOfInterest")
_SIGNS: dict[str, CompareSign] = {
    "eq": "=",
    "ne": "<>",
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
}
_ARITHMETIC: dict[str, ArithmeticSign] = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_COLUMNS: dict[tuple[str, ...], tuple[ObsColumn, str]] = {
    ("result",): ("result", "number"),
    ("phenomenonTime",): ("phenomenon_time", "time"),
    ("resultTime",): ("phenomenon_time", "time"),
    ("resultQuality",): ("quality", "quality"),
    ("id",): ("id", "number"),
    ("Datastream", "id"): ("datastream_id", "number"),
}
_MASK = (1 << KEY_SHIFT) - 1
SUPPORTED = (
    "comparisons, and/or/not and add/sub/mul/div over result, phenomenonTime, resultTime, "
    "resultQuality, @iot.id and Datastream/@iot.id, date-times and now(); expressions on "
    "Datastream/… or FeatureOfInterest/… alone"
)

Typed = tuple[ValueExpr | None, str, str | None]  # expression (None: null), type, text value


def _unsupported(option: str, node: Node | str, why: str = "") -> NoReturn:
    text = node if isinstance(node, str) else to_text(node)
    raise ValidationFailed.single(
        option,
        "unsupported",
        f"'{text}' cannot be evaluated on Observations{why}; supported: {SUPPORTED}",
    )


def _paths(node: Node) -> list[tuple[str, ...]]:
    match node:
        case Property():
            return [node.path]
        case Compare() | Arithmetic():
            return _paths(node.left) + _paths(node.right)
        case Logical():
            return [p for o in node.operands for p in _paths(o)]
        case Not():
            return _paths(node.operand)
        case Function():
            return [p for a in node.args for p in _paths(a)]
    return []


def _strip(node: Node) -> Node:
    """Return the node with each path's first step (Datastream/…) removed."""
    match node:
        case Property():
            return Property(node.path[1:], node.position)
        case Compare():
            return Compare(node.op, _strip(node.left), _strip(node.right))
        case Arithmetic():
            return Arithmetic(node.op, _strip(node.left), _strip(node.right))
        case Logical():
            return Logical(node.op, tuple(_strip(o) for o in node.operands))
        case Not():
            return Not(_strip(node.operand))
        case Function():
            return Function(node.name, tuple(_strip(a) for a in node.args))
    return node


class ObservationPlanner:
    """Builds the query tree of one request."""

    def __init__(self, now: datetime, streams_where: StreamsWhere) -> None:
        self._now_ms = to_millis(now)
        self._streams_where = streams_where

    def where(self, node: Node | None) -> BoolExpr | None:
        """Return the filter as a query tree (None for no filter)."""
        return None if node is None else self._bool(node)

    def order(self, orderby: Sequence[OrderBy]) -> tuple[ObsOrder, ...]:
        """Return the sort keys, ending with datastream and time."""
        keys: list[ObsOrder] = []
        for item in orderby:
            expression = item.expression
            found = _COLUMNS.get(expression.path) if isinstance(expression, Property) else None
            if found is None:
                _unsupported("$orderby", expression, " as a sort key")
            if found[0] == "id":
                keys.append(ObsOrder("datastream_id", item.descending))
                keys.append(ObsOrder("phenomenon_time", item.descending))
            else:
                keys.append(ObsOrder(found[0], item.descending))
        named = {k.column for k in keys}
        keys.extend(ObsOrder(c) for c in ("datastream_id", "phenomenon_time") if c not in named)
        return tuple(keys)

    def _bool(self, node: Node) -> BoolExpr:
        linked = self._linked(node)
        if linked is not None:
            return linked
        match node:
            case Logical():
                return BoolOp(node.op, tuple(self._bool(o) for o in node.operands))
            case Not():
                return Negate(self._bool(node.operand))
            case Compare():
                return self._compare(node)
            case Literal() if isinstance(node.value, bool):
                return Const(node.value)
        _unsupported("$filter", node, " as a condition")

    def _linked(self, node: Node) -> BoolExpr | None:
        """Return "datastream in (…)" for an expression on one linked entity alone."""
        paths = _paths(node)
        heads = {p[0] for p in paths}
        if not paths or len(heads) != 1 or next(iter(heads)) not in _LINKED:
            return None
        if all(p == ("Datastream", "id") for p in paths) and isinstance(node, Compare):
            return None  # translated directly, no need to list the datastreams
        if any(len(p) < 2 for p in paths):
            return None
        return InStreams(self._streams_where(next(iter(heads)), _strip(node)))

    def _compare(self, node: Compare) -> BoolExpr:
        left, left_type, left_text = self._value(node.left)
        right, right_type, right_text = self._value(node.right)
        if left is None or right is None:  # null: every column is non-null
            both = left is None and right is None
            if node.op == "eq":
                return Const(both)
            return Const(not both) if node.op == "ne" else Const(False)
        if {left_type, right_type} == {"quality", "string"}:
            return self._quality(node, left, right, left_text or right_text)
        if left_type != right_type:
            raise ValidationFailed.single(
                "$filter",
                "type",
                f"'{to_text(node)}' compares a {left_type} with a {right_type}",
            )
        if node.op == "eq" and isinstance(right, Num) and left == Col("id"):
            ident = int(right.value)
            if ident == right.value:
                return BoolOp(
                    "and",
                    (
                        Cmp("=", Col("datastream_id"), Num(ident >> KEY_SHIFT)),
                        Cmp("=", Col("phenomenon_time"), Num(ident & _MASK)),
                    ),
                )
        return Cmp(_SIGNS[node.op], left, right)

    def _quality(
        self, node: Compare, left: ValueExpr, right: ValueExpr, name: str | None
    ) -> BoolExpr:
        if node.op not in ("eq", "ne") or name is None:
            raise ValidationFailed.single(
                "$filter",
                "type",
                f"'{to_text(node)}': resultQuality compares (eq, ne) with a quality name",
            )
        if name not in QUALITY_CODES:
            raise ValidationFailed.single(
                "$filter", "one_of", f"resultQuality is one of {', '.join(QUALITY_CODES)}"
            )
        column = left if isinstance(left, Col) else right
        return Cmp(_SIGNS[node.op], column, Num(QUALITY_CODES[name]))

    def _value(self, node: Node) -> Typed:
        match node:
            case Property():
                found = _COLUMNS.get(node.path)
                if found is None:
                    _unsupported("$filter", node)
                return Col(found[0]), found[1], None
            case Literal():
                return self._literal(node)
            case Function() if node.name == "now" and not node.args:
                return Num(self._now_ms), "time", None
            case Arithmetic():
                return self._arithmetic(node)
        _unsupported("$filter", node)

    def _literal(self, node: Literal) -> Typed:
        value = node.value
        if value is None:
            return None, "null", None
        if isinstance(value, bool):
            _unsupported("$filter", node, " as a value")
        if isinstance(value, int):
            return Num(value), "number", None
        if isinstance(value, Decimal):
            return Num(float(value)), "number", None
        if isinstance(value, datetime):
            return Num(to_millis(value)), "time", None
        if isinstance(value, date):
            return (
                Num(to_millis(datetime(value.year, value.month, value.day, tzinfo=UTC))),
                ("time"),
                None,
            )
        if isinstance(value, timedelta):
            return Num(value // timedelta(milliseconds=1)), "duration", None
        if isinstance(value, str):
            return Num(0), "string", value
        _unsupported("$filter", node, " as a value")

    def _arithmetic(self, node: Arithmetic) -> Typed:
        left, left_type, _ = self._value(node.left)
        right, right_type, _ = self._value(node.right)
        sign = _ARITHMETIC.get(node.op)
        if sign is None:
            _unsupported("$filter", node, f" ({node.op} is not translated)")
        if left is None or right is None:
            return None, "null", None
        types = (left_type, right_type)
        result_type = {
            ("number", "number"): "number",
            ("time", "duration"): "time",
            ("duration", "duration"): "duration",
            ("time", "time"): "duration",
        }.get(types)
        plain = node.op in ("add", "sub") or types == ("number", "number")
        if result_type is None or not plain or (types == ("time", "time") and sign != "-"):
            raise ValidationFailed.single(
                "$filter",
                "type",
                f"'{to_text(node)}' cannot {node.op} a {right_type} to a {left_type}",
            )
        return Arith(sign, left, right), result_type, None
