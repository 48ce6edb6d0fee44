"""The lexer of SensorThings API v1.1 ``$filter`` and ``$orderby`` expressions (OGC 18-088).

:func:`tokenize` cuts an expression's text into names, punctuation and literals, and reads each
literal into its value here, so the parser in :mod:`cityops.sensing.sta_filter` sees only
finished :class:`~cityops.sensing.sta_ast.Literal` nodes. The literal forms are OData 4.0's, as
18-088 §9.3.3.5 uses them: integers (64-bit) and exact decimals; single-quoted strings; dates,
date-times with a time zone, and ``start/end`` intervals of two date-times; ISO 8601 durations
(``duration'P1DT2H'``); and ``geography'…'`` well-known text, which :func:`parse_wkt` reads into a
:class:`~cityops.sensing.sta_ast.Geography` with its type and coordinates. Every mistake is a
:class:`~cityops.sensing.sta_ast.ParseError` at the offset of the character at fault.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from cityops.sensing.sta_ast import DEFAULT_SRID, Coordinates, Geography, Literal, ParseError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_IDENT = re.compile(r"@?[^\W\d][\w.]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?")
_OFFSET = re.compile(r"Z|([+-])([0-9]{2}):([0-9]{2})")
_DURATION = re.compile(
    r"(-)?P(?:([0-9]+)D)?(?:(T)(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)(?:\.([0-9]+))?S)?)?",
    re.IGNORECASE,
)
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\r\n")
_PUNCTUATION = frozenset("(),/")
_MAX_NUMBER_DIGITS = 19  # int64 has 19; longer ones never reach int() (capped at 4300)


@dataclass(frozen=True, slots=True)
class Token:
    """One token; ``literal`` holds the value of a literal, already read."""

    kind: str  # "ident", "literal", "(", ")", ",", "/" or "end"
    text: str
    position: int
    literal: Literal | None = None


def tokenize(text: str) -> list[Token]:
    """Cut ``text`` into tokens, ending with one of kind ``end``; literals come read."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
        elif c in _PUNCTUATION:
            tokens.append(Token(c, c, i))
            i += 1
        elif c == "'":
            value, end = _quoted(text, i)
            tokens.append(Token("literal", text[i:end], i, Literal(value, "string")))
            i = end
        elif c in _DIGITS or (c == "-" and text[i + 1 : i + 2] in _DIGITS):
            literal, end = _number_or_time(text, i)
            tokens.append(Token("literal", text[i:end], i, literal))
            i = end
        elif match := _IDENT.match(text, i):
            word, end = match.group(), match.end()
            if word in ("duration", "geography") and text[end : end + 1] == "'":
                body, close = _quoted(text, end)
                literal = _duration(body, end + 1) if word == "duration" else _geography(body, end)
                tokens.append(Token("literal", text[i:close], i, literal))
                i = close
            else:
                tokens.append(Token("ident", word, i))
                i = end
        else:
            raise ParseError("syntax", f"unexpected character {c!r}", i)
    tokens.append(Token("end", "", n))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted string at ``start``; return its value and the offset after it."""
    parts: list[str] = []
    i = start + 1
    while True:
        close = text.find("'", i)
        if close < 0:
            raise ParseError("syntax", "unterminated string: a ' has no closing '", start)
        parts.append(text[i:close])
        if text[close + 1 : close + 2] != "'":
            return "'".join(parts), close + 1
        i = close + 2


def _bounded_int(digits: str, position: int) -> int:
    if len(digits.lstrip("0")) > _MAX_NUMBER_DIGITS:
        shown = digits if len(digits) <= 24 else digits[:20] + "…"
        raise ParseError("range", f"the number {shown} is too large", position)
    return int(digits)


def _number_or_time(text: str, start: int) -> tuple[Literal, int]:
    if date_match := _DATE.match(text, start):
        if text[date_match.end() : date_match.end() + 1] == "T":
            begin, end = _datetime_at(text, start)
            if text[end : end + 1] == "/" and text[end + 1 : end + 2] in _DIGITS:
                finish, end = _datetime_at(text, end + 1)
                if finish < begin:
                    raise ParseError("interval", "the interval ends before it starts", start)
                return _checked_end(Literal((begin, finish), "interval"), text, end)
            return _checked_end(Literal(begin, "datetime"), text, end)
        year, month, day = (int(g) for g in date_match.groups())
        try:
            return _checked_end(Literal(date(year, month, day), "date"), text, date_match.end())
        except ValueError:
            raise ParseError("syntax", f"{date_match.group()} is not a valid date", start) from None
    match = _NUMBER.match(text, start)
    if match is None:  # the lexer only comes here at a digit, or a '-' before one
        raise ParseError("syntax", "expected a number", start)
    number = match.group()
    if match.group().lstrip("-").isdigit():
        value = _bounded_int(number.lstrip("-"), start) * (-1 if number[0] == "-" else 1)
        if not INT64_MIN <= value <= INT64_MAX:
            raise ParseError("range", f"{number} is outside the 64-bit integer range", start)
        return _checked_end(Literal(value, "int"), text, match.end())
    try:
        decimal = Decimal(number)
    except (InvalidOperation, ValueError, OverflowError):  # an exponent beyond Decimal's
        raise ParseError("range", f"{number[:20]} is not a usable number", start) from None
    if not decimal.is_finite() or abs(decimal.adjusted()) > 10_000:
        raise ParseError("range", f"{number[:20]} is out of range", start)
    return _checked_end(Literal(decimal, "decimal"), text, match.end())


def _checked_end(literal: Literal, text: str, end: int) -> tuple[Literal, int]:
    """Refuse a literal glued to what follows (``5eq``, ``1.2.3``, ``…Zabc``)."""
    following = text[end : end + 1]
    if following and (following in ".'@" or following in _DIGITS or _IDENT.match(following)):
        raise ParseError("syntax", f"unexpected {following!r} right after a literal", end)
    return literal, end


def _datetime_at(text: str, start: int) -> tuple[datetime, int]:
    date_match = _DATE.match(text, start)
    if date_match is None:
        raise ParseError("syntax", "expected a date-time (yyyy-mm-ddThh:mm:ssZ)", start)
    time_match = _TIME.match(text, date_match.end())
    if time_match is None:
        raise ParseError("syntax", "expected a time after 'T' (hh:mm[:ss[.fff]])", date_match.end())
    offset = _OFFSET.match(text, time_match.end())
    if offset is None:
        raise ParseError(
            "timezone", "a date-time needs a time zone: add Z or ±hh:mm", time_match.end()
        )
    hour, minute = int(time_match.group(1)), int(time_match.group(2))
    second = int(time_match.group(3) or 0)
    fraction = time_match.group(4) or ""
    if len(fraction) > 9:
        raise ParseError("syntax", "more than 9 digits of fractional seconds", time_match.end())
    zone = UTC
    if offset.group() != "Z":
        hours, minutes = int(offset.group(2)), int(offset.group(3))
        if hours > 23 or minutes > 59:
            raise ParseError("timezone", f"{offset.group()} is not a valid offset", offset.start())
        sign = -1 if offset.group(1) == "-" else 1
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    year, month, day = (int(g) for g in date_match.groups())
    try:
        # Microseconds are all a datetime (and PostgreSQL) holds; finer digits are cut.
        value = datetime(
            year, month, day, hour, minute, second, int(fraction[:6].ljust(6, "0")), tzinfo=zone
        )
    except ValueError:
        shown = text[start : offset.end()]
        raise ParseError("syntax", f"{shown} is not a valid date and time", start) from None
    return value, offset.end()


def _duration(body: str, position: int) -> Literal:
    match = _DURATION.fullmatch(body)
    if match is None:
        raise ParseError("syntax", f"{body!r} is not an ISO 8601 duration like P1DT2H", position)
    sign, days, time, hours, minutes, seconds, fraction = match.groups()
    clock = hours or minutes or seconds
    if not (days or clock) or (time and not clock):
        raise ParseError("syntax", f"{body!r} is not an ISO 8601 duration like P1DT2H", position)
    try:
        value = timedelta(
            days=_bounded_int(days or "0", position),
            hours=_bounded_int(hours or "0", position),
            minutes=_bounded_int(minutes or "0", position),
            seconds=_bounded_int(seconds or "0", position),
            microseconds=int((fraction or "")[:6].ljust(6, "0")),
        )
    except OverflowError:
        raise ParseError("range", f"the duration {body!r} is too long", position) from None
    return Literal(-value if sign else value, "duration")


# --- well-known text --------------------------------------------------------------------------

_WKT_HEAD = re.compile(
    r"\s*(?:SRID=([0-9]{1,9});)?\s*([A-Za-z]+)(?:\s+(ZM|Z|M)(?![A-Za-z]))?\s*", re.IGNORECASE
)
_WKT_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# type → how many parentheses deep its positions sit
_WKT_LEVELS = MappingProxyType(
    {
        "POINT": 1,
        "LINESTRING": 1,
        "POLYGON": 2,
        "MULTIPOINT": 1,
        "MULTILINESTRING": 2,
        "MULTIPOLYGON": 3,
        "GEOMETRYCOLLECTION": 0,
    }
)


def parse_wkt(text: str, offset: int = 0) -> Geography:
    """Parse well-known text; ``offset`` is where ``text`` starts in the filter, for errors."""
    head = _WKT_HEAD.match(text)
    if head is None or head.group(2).upper() not in _WKT_LEVELS:
        kinds = ", ".join(_WKT_LEVELS)
        raise ParseError("geometry", f"expected WKT starting with one of {kinds}", offset)
    srid = int(head.group(1)) if head.group(1) else DEFAULT_SRID
    kind = head.group(2).upper()
    wkt = text[text.index(";") + 1 :].strip() if head.group(1) else text.strip()
    i = head.end()
    rest = text[i:].rstrip()
    if rest.upper() == "EMPTY":
        return Geography(wkt, kind, srid, ())
    if not rest.startswith("("):
        raise ParseError("geometry", f"expected '(' or EMPTY after {kind}", offset + i)
    if kind == "GEOMETRYCOLLECTION":
        _balanced(text, i, offset)
        return Geography(wkt, kind, srid, None)
    group, level, end = _wkt_group(text, i, 1, offset)
    if text[end:].strip():
        raise ParseError("geometry", "unexpected text after the geometry", offset + end)
    return Geography(wkt, kind, srid, _wkt_shape(kind, group, level, offset + i))


def _balanced(text: str, start: int, offset: int) -> None:
    depth = 0
    for j in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            if text[j + 1 :].strip():
                raise ParseError("geometry", "unexpected text after the geometry", offset + j + 1)
            return
    raise ParseError("geometry", "unbalanced parentheses in the geometry", offset + start)


def _wkt_group(text: str, start: int, depth: int, offset: int) -> tuple[Any, int, int]:
    """Read ``( … )`` at ``start``; return it, how deep its positions sit, and the offset after."""
    if depth > 4:  # MULTIPOLYGON, the deepest type, needs three
        raise ParseError("geometry", "parentheses nested too deep", offset + start)
    items: list[Any] = []
    levels: set[int] = set()
    i = start + 1
    while True:
        while text[i : i + 1].isspace():
            i += 1
        if text[i : i + 1] == "(":
            item, level, i = _wkt_group(text, i, depth + 1, offset)
            items.append(item)
            levels.add(level)
        else:
            numbers: list[float] = []
            while match := _WKT_NUMBER.match(text, i):
                value = float(match.group())
                if not math.isfinite(value):
                    raise ParseError("geometry", f"{match.group()} is not finite", offset + i)
                numbers.append(value)
                i = match.end()
                while text[i : i + 1].isspace():
                    i += 1
            if not 2 <= len(numbers) <= 4:
                raise ParseError("geometry", "a position needs 2 to 4 numbers", offset + i)
            items.append(tuple(numbers))
            levels.add(0)
        while text[i : i + 1].isspace():
            i += 1
        if len(levels) > 1:
            raise ParseError("geometry", "positions and rings mixed in one list", offset + i)
        if text[i : i + 1] == ")":
            return tuple(items), levels.pop() + 1, i + 1
        if text[i : i + 1] != ",":
            raise ParseError("geometry", "expected ',' or ')' in the geometry", offset + i)
        i += 1


def _wkt_shape(kind: str, group: Any, level: int, position: int) -> Coordinates:
    """Check the nesting and sizes a type needs; return GeoJSON-style coordinates."""

    def fail(message: str) -> ParseError:
        return ParseError("geometry", f"{kind}: {message}", position)

    if kind == "MULTIPOINT" and level == 2:  # MULTIPOINT((1 2),(3 4)) is MULTIPOINT(1 2,3 4)
        if any(len(point) != 1 for point in group):
            raise fail("each parenthesised point holds one position")
        group, level = tuple(point[0] for point in group), 1
    if level != _WKT_LEVELS[kind]:
        raise fail(f"expected positions {_WKT_LEVELS[kind]} parentheses deep, found {level}")
    lists = [group]  # the innermost lists, whose items are positions
    for _ in range(level - 1):
        lists = [child for item in lists for child in item]
    if len({len(p) for positions in lists for p in positions}) > 1:
        raise fail("all positions need the same number of coordinates")
    if kind == "POINT":
        if len(group) != 1:
            raise fail("a point has exactly one position")
        point: Coordinates = group[0]
        return point
    if kind in ("LINESTRING", "MULTILINESTRING") and any(len(line) < 2 for line in lists):
        raise fail("a line string needs at least two positions")
    if kind in ("POLYGON", "MULTIPOLYGON") and any(
        len(ring) < 4 or ring[0] != ring[-1] for ring in lists
    ):
        raise fail("a ring needs at least four positions and must end where it starts")
    shaped: Coordinates = group
    return shaped


def _geography(body: str, quote: int) -> Literal:
    return Literal(parse_wkt(body, quote + 1), "geography")
