"""The tree of a SensorThings API v1.1 ``$filter`` or ``$orderby`` expression (OGC 18-088).

STA borrows its expressions from OData 4.0 (18-088 §9.3.3.5 for ``$filter``, §9.3.3.1 for
``$orderby``). This module holds what the lexer, the parser and their users share: the frozen
dataclasses a parsed expression is made of (:data:`Node`), the built-in functions with their
arities (:data:`FUNCTIONS`, grouped as 18-088 Table 9.3.3.5.2 groups them), the operator
precedence, :class:`ParseError` with :func:`describe` to point at the offending character, and the
printer (:func:`to_text`, :func:`orderby_to_text`) that writes a tree back as text that parses to
an equal tree, so that ``@iot.nextLink`` (§9.3.3.6) can repeat a query.

The grammar itself is described, and parsed, in :mod:`cityops.sensing.sta_filter`; the literals
are read in :mod:`cityops.sensing.sta_lexer`.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from cityops.kernel.errors import ValidationFailed

MAX_DEPTH = 64
DEFAULT_SRID = 4326

LiteralKind = typing.Literal[
    "null",
    "bool",
    "int",
    "decimal",
    "string",
    "date",
    "datetime",
    "interval",
    "duration",
    "geography",
]
CompareOp = typing.Literal["eq", "ne", "gt", "ge", "lt", "le"]
LogicalOp = typing.Literal["and", "or"]
ArithmeticOp = typing.Literal["add", "sub", "mul", "div", "mod"]

Coordinates: typing.TypeAlias = "tuple[float, ...] | tuple[Coordinates, ...]"

# name → (fewest, most) arguments. Grouped as 18-088 Table 9.3.3.5.2 groups them.
FUNCTIONS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        # string
        "substringof": (2, 2),
        "endswith": (2, 2),
        "startswith": (2, 2),
        "contains": (2, 2),  # OData 4.0's name for substringof with the arguments swapped
        "length": (1, 1),
        "indexof": (2, 2),
        "substring": (2, 3),
        "tolower": (1, 1),
        "toupper": (1, 1),
        "trim": (1, 1),
        "concat": (2, 2),
        # date and time
        "year": (1, 1),
        "month": (1, 1),
        "day": (1, 1),
        "hour": (1, 1),
        "minute": (1, 1),
        "second": (1, 1),
        "fractionalseconds": (1, 1),
        "date": (1, 1),
        "time": (1, 1),
        "totaloffsetminutes": (1, 1),
        "now": (0, 0),
        "mindatetime": (0, 0),
        "maxdatetime": (0, 0),
        # math
        "round": (1, 1),
        "floor": (1, 1),
        "ceiling": (1, 1),
        # geospatial
        "geo.intersects": (2, 2),
        "geo.distance": (2, 2),
        "geo.length": (1, 1),
        # spatial relationships
        "st_equals": (2, 2),
        "st_disjoint": (2, 2),
        "st_touches": (2, 2),
        "st_within": (2, 2),
        "st_overlaps": (2, 2),
        "st_crosses": (2, 2),
        "st_intersects": (2, 2),
        "st_contains": (2, 2),
        "st_relate": (3, 3),
        # interval relations: an extension, not in 18-088
        "before": (2, 2),
        "after": (2, 2),
        "meets": (2, 2),
        "during": (2, 2),
        "overlaps": (2, 2),
        "starts": (2, 2),
        "finishes": (2, 2),
    }
)
TEMPORAL_RELATIONS = frozenset(
    {"before", "after", "meets", "during", "overlaps", "starts", "finishes"}
)

# How tightly each binary operator binds (OData 4.0 Part 2, "Operator Precedence"); the
# parser and the printer both go by it.
PRECEDENCE: Mapping[str, int] = MappingProxyType(
    {
        "or": 1,
        "and": 2,
        **dict.fromkeys(("eq", "ne"), 3),
        **dict.fromkeys(("gt", "ge", "lt", "le"), 4),
        **dict.fromkeys(("add", "sub"), 5),
        **dict.fromkeys(("mul", "div", "mod"), 6),
    }
)
_NOT_PRECEDENCE = 7
_ATOM_PRECEDENCE = 8
KEYWORDS = frozenset({*PRECEDENCE, "not", "true", "false", "null"})


@dataclass(frozen=True, slots=True)
class Geography:
    """A WKT geometry literal, ``geography'POINT(113.6 34.7)'``.

    ``wkt`` is the text as given (without an ``SRID=n;`` prefix), ``geometry_type`` its type in
    capitals, ``coordinates`` the positions nested as GeoJSON nests them (``None`` for a
    ``GEOMETRYCOLLECTION``, ``()`` for ``EMPTY``).
    """

    wkt: str
    geometry_type: str
    srid: int = DEFAULT_SRID
    coordinates: Coordinates | None = None


LiteralValue: typing.TypeAlias = (
    None
    | bool
    | int
    | Decimal
    | str
    | date
    | datetime
    | tuple[datetime, datetime]
    | timedelta
    | Geography
)


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant; ``kind`` says how it was written (``int`` and ``decimal`` stay apart)."""

    value: LiteralValue
    kind: LiteralKind


@dataclass(frozen=True, slots=True)
class Property:
    """A property path such as ``Datastream/ObservedProperty/name``."""

    path: tuple[str, ...]
    # Where the path starts in the parsed text, for errors found later against the schema.
    position: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` with one of ``eq ne gt ge lt le``."""

    op: CompareOp
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical:
    """``and`` or ``or`` over two or more operands."""

    op: LogicalOp
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``left op right`` with one of ``add sub mul div mod``."""

    op: ArithmeticOp
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Function:
    """A call of a built-in function: ``name(args…)``."""

    name: str
    args: tuple[Node, ...]


Node: typing.TypeAlias = Literal | Property | Compare | Logical | Not | Arithmetic | Function


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``$orderby`` key: an expression and its direction."""

    expression: Node
    descending: bool = False


class ParseError(Exception):
    """A rule broken at a known place in an option's text (``position``: 0-based offset)."""

    def __init__(self, rule: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.position = position

    def to_validation(self, option: str, text: str) -> ValidationFailed:
        """Return the error for the option whose value is ``text``."""
        where = "" if self.position is None else " " + describe(text, self.position)
        return ValidationFailed.single(option, self.rule, self.message + where)


def describe(text: str, position: int) -> str:
    """Say where ``position`` is in ``text``: its 1-based number and a caret under an excerpt."""
    position = max(0, min(position, len(text)))
    start, end = max(0, position - 40), min(len(text), position + 40)
    before = "…" if start else ""
    after = "…" if end < len(text) else ""
    # Control characters would break the two-line picture, so they print as spaces.
    excerpt = "".join(c if c.isprintable() else " " for c in text[start:end])
    caret = " " * (len(before) + position - start) + "^"
    return f"at character {position + 1}:\n  {before}{excerpt}{after}\n  {caret}"


# --- printing -------------------------------------------------------------------------------


def _precedence(node: Node) -> int:
    if isinstance(node, Logical | Compare | Arithmetic):
        return PRECEDENCE[node.op]
    if isinstance(node, Not):
        return _NOT_PRECEDENCE
    return _ATOM_PRECEDENCE


def _wrapped(node: Node, parenthesise: bool) -> str:
    text = to_text(node)
    return f"({text})" if parenthesise else text


def to_text(node: Node) -> str:
    """Print a tree as filter text that parses back to an equal tree."""
    match node:
        case Literal():
            return _literal_text(node)
        case Property():
            return "/".join(node.path)
        case Function():
            return f"{node.name}({','.join(to_text(arg) for arg in node.args)})"
        case Not():
            return "not " + _wrapped(node.operand, _precedence(node.operand) < _NOT_PRECEDENCE)
        case Logical():
            own = _precedence(node)
            # An operand of the same operator is parenthesised so it stays a separate node.
            return f" {node.op} ".join(_wrapped(o, _precedence(o) <= own) for o in node.operands)
        case Compare() | Arithmetic():
            own = _precedence(node)
            left = _wrapped(node.left, _precedence(node.left) < own)
            right = _wrapped(node.right, _precedence(node.right) <= own)
            return f"{left} {node.op} {right}"
    raise TypeError(f"not a filter node: {node!r}")  # pragma: no cover - exhaustive above


def orderby_to_text(items: tuple[OrderBy, ...]) -> str:
    """Print ``$orderby`` keys (``asc``, the default, is left out)."""
    return ",".join(to_text(i.expression) + (" desc" if i.descending else "") for i in items)


def _datetime_text(value: datetime) -> str:
    offset = value.utcoffset()
    if offset is None or offset % timedelta(minutes=1):
        raise ValueError(f"{value!r} needs a time zone in whole minutes")
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text}{'-' if offset < timedelta(0) else '+'}{hours:02d}:{minutes:02d}"


def _duration_text(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P{value.days}D" if value.days else f"{sign}P"
    time = f"{hours}H" if hours else ""
    time += f"{minutes}M" if minutes else ""
    if seconds or value.microseconds or not (value.days or time):
        fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        time += f"{seconds}{fraction}S"
    return f"duration'{text}{'T' + time if time else ''}'"


def _literal_text(literal: Literal) -> str:
    value = literal.value
    match literal.kind:
        case "null" if value is None:
            return "null"
        case "bool" if isinstance(value, bool):
            return "true" if value else "false"
        case "int" if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        case "decimal" if isinstance(value, Decimal) and value.is_finite():
            text = str(value)
            # Without a point or exponent it would read back as an integer.
            return text if any(c in text for c in ".eE") else text + ".0"
        case "string" if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        case "date" if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        case "datetime" if isinstance(value, datetime):
            return _datetime_text(value)
        case "interval" if isinstance(value, tuple):
            return f"{_datetime_text(value[0])}/{_datetime_text(value[1])}"
        case "duration" if isinstance(value, timedelta):
            return _duration_text(value)
        case "geography" if isinstance(value, Geography):
            prefix = "" if value.srid == DEFAULT_SRID else f"SRID={value.srid};"
            return "geography'" + (prefix + value.wkt).replace("'", "''") + "'"
    raise ValueError(f"a {literal.kind} literal cannot hold {value!r}")
