"""The ``$filter`` and ``$orderby`` expression grammar of SensorThings API v1.1 (OGC 18-088).

STA borrows its expressions from OData 4.0: §9.3.3.5.1 lists the operators, §9.3.3.5.2 the
built-in functions, §9.3.3.1 lets ``$orderby`` sort by the same expressions. This module turns
the text of one expression into a typed tree of frozen dataclasses that a storage layer can
translate to SQL, and prints a tree back (:func:`to_text`) so that ``@iot.nextLink`` can repeat a
query. It knows nothing of entities: which names are properties is checked afterwards, against a
schema, by :mod:`cityops.sensing.sta_query`.

What the grammar accepts, and the choices it makes:

* operators, tightest first, as in the "Operator Precedence" table of OData 4.0 Part 2: grouping
  and function calls; ``not``; ``mul div mod``; ``add sub``; ``gt ge lt le``; ``eq ne``; ``and``;
  ``or``. Binary operators are left-associative. So ``not a eq 1`` is ``(not a) eq 1`` (write
  ``not (a eq 1)``) and ``a eq b gt c`` is ``a eq (b gt c)``. A run of ``and`` (or of ``or``)
  becomes one n-ary :class:`Logical`; a parenthesised one stays a child;
* keywords and function names are lowercase and case-sensitive, as OData says. ``AND`` or
  ``True`` is refused with a hint to write it in lowercase rather than guessed at;
* ``-`` is part of a number (``result sub -5``); OData's subtraction is ``sub``;
* literals: ``null``, ``true``, ``false``; integers (64-bit) and decimals (exact
  :class:`~decimal.Decimal`, with an exponent if given); strings in single quotes, ``''`` for a
  quote; dates (``2026-11-01``); date-times with a time zone (``Z`` or ``±hh:mm``; a naive one is
  refused, rule ``timezone``, because the server cannot know which zone was meant), fractions of
  a second beyond microseconds are cut; intervals ``start/end`` of two date-times;
  ``duration'P1DT2H'`` (OData's days-to-seconds form, designators in either case);
  ``geography'POINT(113.6 34.7)'``, optionally ``SRID=n;``-prefixed WKT, kept as text with its type
  and, except for collections, its coordinates;
* property paths ``Datastream/ObservedProperty/name``, ``properties/any.key``, ``@iot.id``,
  written without spaces around ``/``;
* the functions of :data:`FUNCTIONS` with their arities. The interval relations (``before``,
  ``after``, ``meets``, ``during``, ``overlaps``, ``starts``, ``finishes``) are an extension:
  neither 18-088 nor OData 4.0 defines them. ``any``/``all`` lambdas and ``in`` are not supported;
* nesting (parentheses, calls, ``not``) and the tree's depth are capped at :data:`MAX_DEPTH`, so a
  hostile filter gets a ``depth`` error instead of exhausting the stack.

The tree's classes, the function table and the printer live in :mod:`cityops.sensing.sta_ast`,
the lexer and the literal readers in :mod:`cityops.sensing.sta_lexer`; this module is the parser
and re-exports their public names, so callers import everything from here.

Errors are :class:`ParseError` (rule, message, character offset); :func:`parse_filter` turns them
into :class:`~cityops.kernel.errors.ValidationFailed` with a caret under the offending character.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cityops.sensing.sta_ast import (
    DEFAULT_SRID,
    FUNCTIONS,
    KEYWORDS,
    MAX_DEPTH,
    PRECEDENCE,
    TEMPORAL_RELATIONS,
    Arithmetic,
    ArithmeticOp,
    Compare,
    CompareOp,
    Coordinates,
    Function,
    Geography,
    Literal,
    LiteralKind,
    LiteralValue,
    Logical,
    LogicalOp,
    Node,
    Not,
    OrderBy,
    ParseError,
    Property,
    describe,
    orderby_to_text,
    to_text,
)
from cityops.sensing.sta_lexer import INT64_MAX, INT64_MIN, Token, parse_wkt, tokenize

__all__ = [
    "DEFAULT_SRID",
    "FUNCTIONS",
    "INT64_MAX",
    "INT64_MIN",
    "KEYWORDS",
    "MAX_DEPTH",
    "TEMPORAL_RELATIONS",
    "Arithmetic",
    "ArithmeticOp",
    "Compare",
    "CompareOp",
    "Coordinates",
    "Function",
    "Geography",
    "Literal",
    "LiteralKind",
    "LiteralValue",
    "Logical",
    "LogicalOp",
    "Node",
    "Not",
    "OrderBy",
    "ParseError",
    "Property",
    "describe",
    "orderby_to_text",
    "parse_expression",
    "parse_filter",
    "parse_orderby_items",
    "parse_wkt",
    "to_text",
]

_LOGICAL: Mapping[str, LogicalOp] = MappingProxyType({"and": "and", "or": "or"})
_COMPARE: Mapping[str, CompareOp] = MappingProxyType(
    {"eq": "eq", "ne": "ne", "gt": "gt", "ge": "ge", "lt": "lt", "le": "le"}
)
_ARITHMETIC: Mapping[str, ArithmeticOp] = MappingProxyType(
    {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "mod": "mod"}
)


@dataclass(frozen=True, slots=True)
class _Parsed:
    node: Node
    depth: int


@dataclass(slots=True)
class _Run:
    """An and/or run being read: ``a or b or c`` gathers here, then becomes one node.

    A parenthesised and/or arrives closed (a :class:`_Parsed`), so it stays a child.
    """

    op: LogicalOp
    operands: list[Node]
    depth: int

    def close(self) -> _Parsed:
        return _Parsed(Logical(self.op, tuple(self.operands)), self.depth)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self) -> Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def enter(self, token: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ParseError("depth", f"nested more than {MAX_DEPTH} levels deep", token.position)

    def expect(self, kind: str, what: str) -> Token:
        if self.token.kind != kind:
            raise ParseError("syntax", f"expected {what}, found {_shown(self.token)}", self._at())
        return self.advance()

    def _at(self) -> int:
        return self.token.position

    def expression(self) -> _Parsed:
        """Read operands and binary operators with a stack: nesting costs frames, length not."""
        operands: list[_Parsed | _Run] = [self.unary()]
        operators: list[Token] = []
        while True:
            token = self.token
            precedence = PRECEDENCE.get(token.text, 0) if token.kind == "ident" else 0
            if precedence == 0:
                break
            # Left-associative: what binds as tightly or tighter is combined first.
            while operators and PRECEDENCE[operators[-1].text] >= precedence:
                _reduce(operands, operators)
            operators.append(self.advance())
            operands.append(self.unary())
        while operators:
            _reduce(operands, operators)
        return _closed(operands[0])

    def unary(self) -> _Parsed:
        nots: list[Token] = []
        while self.token.kind == "ident" and self.token.text == "not":
            nots.append(self.advance())
        parsed = self.primary()
        for token in reversed(nots):
            parsed = _Parsed(Not(parsed.node), parsed.depth + 1)
            if parsed.depth > MAX_DEPTH:
                raise ParseError("depth", f"deeper than {MAX_DEPTH} levels", token.position)
        return parsed

    def primary(self) -> _Parsed:
        token = self.token
        if token.kind == "literal" and token.literal is not None:
            self.advance()
            return _Parsed(token.literal, 1)
        if token.kind == "(":
            self.enter(token)
            self.advance()
            inner = self.expression()
            self.expect(")", f"')' to close the '(' at character {token.position + 1}")
            self.nesting -= 1
            return inner
        if token.kind != "ident":
            raise ParseError("syntax", f"expected a value, found {_shown(token)}", token.position)
        word = token.text
        if word in ("true", "false"):
            self.advance()
            return _Parsed(Literal(word == "true", "bool"), 1)
        if word == "null":
            self.advance()
            return _Parsed(Literal(None, "null"), 1)
        if word in PRECEDENCE:
            raise ParseError(
                "syntax", f"expected a value, found the operator {word!r}", token.position
            )
        if self.peek().kind == "(":
            return self.call()
        if word.lower() in KEYWORDS and self.peek().kind != "/":
            raise ParseError(
                "syntax", f"keywords are lowercase: write {word.lower()!r}", token.position
            )
        return self.path()

    def call(self) -> _Parsed:
        name = self.advance()
        opening = self.advance()
        arity = FUNCTIONS.get(name.text)
        if arity is None:
            raise ParseError("unknown_function", _unknown_function(name.text), name.position)
        self.enter(opening)
        args: list[Node] = []
        depth = 0
        if self.token.kind != ")":
            while True:
                arg = self.expression()
                args.append(arg.node)
                depth = max(depth, arg.depth)
                if self.token.kind != ",":
                    break
                self.advance()
        self.expect(")", f"',' or ')' in the arguments of {name.text}()")
        self.nesting -= 1
        low, high = arity
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} or {high}"
            raise ParseError(
                "arity",
                f"{name.text}() takes {wanted} argument{'s' if high != 1 else ''}, got {len(args)}",
                name.position,
            )
        return _Parsed(Function(name.text, tuple(args)), depth + 1)

    def path(self) -> _Parsed:
        first = self.advance()
        segments = [first.text]
        end = first.position + len(first.text)
        # A path is written without spaces, so "Datastream/ eq 1" cannot take "eq" as a name.
        while self.token.kind == "/" and self.token.position == end:
            self.advance()
            segment = self.token
            if segment.kind != "ident" or segment.position != end + 1:
                raise ParseError(
                    "syntax", "expected a property name right after '/'", segment.position
                )
            self.advance()
            segments.append(segment.text)
            end = segment.position + len(segment.text)
        if self.token.kind == "(":
            what = segments[-1]
            hint = "lambda operators (any, all) are" if what in ("any", "all") else "this is"
            raise ParseError(
                "syntax", f"'{'/'.join(segments)}(…)': {hint} not supported", self.token.position
            )
        return _Parsed(Property(tuple(segments), first.position), 1)

    def finish(self) -> None:
        token = self.token
        if token.kind == "end":
            return
        if token.kind == "ident" and token.text.lower() in (*PRECEDENCE, "not"):
            message = f"operators are lowercase: write {token.text.lower()!r}"
        elif token.kind == ")":
            message = "this ')' has no matching '('"
        else:
            message = f"expected an operator (eq, and, add, …) or the end, found {_shown(token)}"
        raise ParseError("syntax", message, token.position)


def _shown(token: Token) -> str:
    return "the end of the text" if token.kind == "end" else repr(token.text)


def _unknown_function(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), FUNCTIONS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "see 18-088 §9.3.3.5.2 for the functions"
    return f"unknown function {name!r}; {hint}"


def _closed(item: _Parsed | _Run) -> _Parsed:
    return item.close() if isinstance(item, _Run) else item


def _reduce(operands: list[_Parsed | _Run], operators: list[Token]) -> None:
    """Combine the top operator with its two operands."""
    token = operators.pop()
    right = _closed(operands.pop())
    left = operands.pop()
    if token.text not in _LOGICAL:
        operands.append(_binary(token, _closed(left), right))
        return
    op = _LOGICAL[token.text]
    if isinstance(left, _Run) and left.op == op:
        run = left
    else:
        first = _closed(left)
        run = _Run(op, [first.node], first.depth + 1)
    run.operands.append(right.node)
    run.depth = max(run.depth, right.depth + 1)
    if run.depth > MAX_DEPTH:
        raise ParseError("depth", f"deeper than {MAX_DEPTH} levels", token.position)
    operands.append(run)


def _binary(token: Token, left: _Parsed, right: _Parsed) -> _Parsed:
    depth = max(left.depth, right.depth) + 1
    if depth > MAX_DEPTH:
        raise ParseError("depth", f"deeper than {MAX_DEPTH} levels", token.position)
    if token.text in _COMPARE:
        return _Parsed(Compare(_COMPARE[token.text], left.node, right.node), depth)
    return _Parsed(Arithmetic(_ARITHMETIC[token.text], left.node, right.node), depth)


def parse_expression(text: str) -> Node:
    """Parse one expression; raise :class:`ParseError` (offsets into ``text``)."""
    parser = _Parser(text)
    if parser.token.kind == "end":
        raise ParseError("syntax", "the expression is empty", 0)
    parsed = parser.expression()
    parser.finish()
    return parsed.node


def parse_orderby_items(text: str) -> tuple[OrderBy, ...]:
    """Parse ``expr [asc|desc], …``; raise :class:`ParseError` (offsets into ``text``)."""
    parser = _Parser(text)
    items: list[OrderBy] = []
    while True:
        if parser.token.kind in ("end", ","):
            raise ParseError(
                "syntax", "expected a property or expression to order by", parser.token.position
            )
        expression = parser.expression().node
        descending = False
        token = parser.token
        if token.kind == "ident" and token.text in ("asc", "desc"):
            descending = parser.advance().text == "desc"
        elif token.kind == "ident" and token.text.lower() in ("asc", "desc"):
            raise ParseError("syntax", f"write {token.text.lower()!r} in lowercase", token.position)
        items.append(OrderBy(expression, descending))
        if parser.token.kind == "end":
            return tuple(items)
        parser.expect(",", "',', 'asc', 'desc' or the end")


def parse_filter(text: str, *, option: str = "$filter") -> Node:
    """Parse a ``$filter`` value (already URL-decoded) into a tree; no schema check.

    Raises :class:`~cityops.kernel.errors.ValidationFailed` naming ``option``.
    """
    try:
        return parse_expression(text)
    except ParseError as error:
        raise error.to_validation(option, text) from None
