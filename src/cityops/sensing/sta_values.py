"""The text of SensorThings API v1.1 query options (OGC 18-088 §9.3), and its simple values.

A query option arrives as text in the URL; every error about it should name the option and put a
caret under the character at fault, even for an option nested inside ``$expand`` (§9.3.2.1). A
:class:`Span` is a slice of an option's text that remembers where it came from, so the helpers
here (:func:`split`, :func:`closing`) can cut the text apart and :meth:`Span.fail` can still point
into the whole value. The readers of the simple options sit here too: ``$top`` (§9.3.3.2) and
``$skip`` (§9.3.3.3) as whole numbers (:func:`read_whole`), ``$count`` (§9.3.3.4)
(:func:`read_boolean`), ``$resultFormat`` (the Data Array extension, :func:`read_result_format`),
and :func:`parse_span`, which runs an expression parser over a span and moves its error offsets
into the whole value. Every error is a :class:`~cityops.kernel.errors.ValidationFailed`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NoReturn, TypeVar

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.sta_ast import ParseError, describe

_T = TypeVar("_T")

_MAX_WHOLE_DIGITS = 18


@dataclass(frozen=True, slots=True)
class Span:
    """A slice ``start:end`` of the value ``root`` of the query parameter ``option``."""

    option: str  # the query parameter named in errors
    root: str  # that parameter's whole value; offsets below are into it
    start: int
    end: int
    context: str = ""  # "Datastreams($top): " for an option inside $expand

    @property
    def text(self) -> str:
        """Return the slice's text."""
        return self.root[self.start : self.end]

    def fail(self, rule: str, message: str, at: int | None = None) -> NoReturn:
        """Raise the error; ``at`` is an offset into ``root``."""
        where = "" if at is None else " " + describe(self.root, at)
        raise ValidationFailed.single(self.option, rule, f"{self.context}{message}{where}")

    def stripped(self) -> Span:
        """Return the slice without the white space at either end."""
        start, end = self.start, self.end
        while start < end and self.root[start].isspace():
            start += 1
        while end > start and self.root[end - 1].isspace():
            end -= 1
        return replace(self, start=start, end=end)


def unknown_option(span: Span, name: str, allowed: Iterable[str]) -> NoReturn:
    """Refuse the option ``name``, suggesting the closest of ``allowed``."""
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    close = close or [o for o in allowed if o.lower() == name.lower()]
    hint = f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(allowed)}"
    if span.context:
        span.fail("unknown_option", f"unknown option {name!r}{hint}", span.start)
    raise ValidationFailed.single(name, "unknown_option", f"unknown option {name!r}{hint}")


def split(span: Span, separator: str) -> list[Span]:
    """Split at ``separator`` outside quotes and parentheses; each part stripped."""
    parts: list[Span] = []
    depth, quoted, start = 0, False, span.start
    for i in range(span.start, span.end):
        c = span.root[i]
        if quoted:
            quoted = c != "'"  # a doubled '' closes and reopens: the same to a splitter
        elif c == "'":
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == separator and depth == 0:
            parts.append(replace(span, start=start, end=i).stripped())
            start = i + 1
    parts.append(replace(span, start=start, end=span.end).stripped())
    return parts


def closing(span: Span, opening: int, end: int) -> int:
    """Return where the ')' closing the '(' at ``opening`` is, skipping quoted text."""
    depth, quoted = 0, False
    for i in range(opening, end):
        c = span.root[i]
        if quoted:
            quoted = c != "'"
        elif c == "'":
            quoted = True
        elif c in "()":
            depth += 1 if c == "(" else -1
            if depth == 0:
                return i
    span.fail("syntax", "this '(' is never closed", opening)


def parse_span(span: Span, parse: Callable[[str], _T]) -> _T:
    """Run ``parse`` over the stripped text; its errors point into the whole value."""
    text = span.stripped()
    try:
        return parse(text.text)
    except ParseError as error:
        at = None if error.position is None else text.start + error.position
        span.fail(error.rule, error.message, at)


def read_whole(span: Span, name: str, maximum: int | None) -> int:
    """Read a whole number ≥ 0 (``$top``, ``$skip``), at most ``maximum`` if given."""
    text = span.stripped()
    digits = text.text
    if not re.fullmatch(r"[0-9]+", digits):
        span.fail("syntax", f"expected a whole number ≥ 0, got {digits!r}", text.start)
    if len(digits.lstrip("0")) > _MAX_WHOLE_DIGITS:
        span.fail("range", f"{digits[:20]}… is too large", text.start)
    value = int(digits)
    if maximum is not None and value > maximum:
        span.fail(
            "range",
            f"{name} may be at most {maximum}, got "
            f"{value}; page through more with $skip or @iot.nextLink",
            text.start,
        )
    return value


def read_boolean(span: Span) -> bool:
    """Read ``true`` or ``false`` (``$count``)."""
    text = span.stripped()
    if text.text not in ("true", "false"):
        span.fail("one_of", f"expected true or false, got {text.text!r}", text.start)
    return text.text == "true"


def read_result_format(span: Span, entity: str) -> str:
    """Read ``$resultFormat``: ``dataArray`` in any case, on Observations only."""
    text = span.stripped()
    if text.text.lower() != "dataarray":
        span.fail("one_of", f"expected dataArray, got {text.text!r}", text.start)
    if entity != "Observations":
        span.fail("unsupported", f"dataArray applies to Observations only, not to {entity}")
    return "dataArray"
