"""The query options of SensorThings API v1.1 (OGC 18-088 §9.3), parsed and checked, no I/O.

``/sta/v1.1/`` will answer ``GET`` requests whose options this module turns into a typed,
validated :class:`QueryOptions`; a storage layer translates that to SQL and the web edge renders
the answer. Keeping the parse pure lets every rule be tested without a database, and means the
storage layer only ever sees names that exist (a filter cannot smuggle in a column).

The options (each at most once; the caller has URL-decoded them):

* ``$filter`` (§9.3.3.5): an expression, see :mod:`cityops.sensing.sta_filter`;
* ``$orderby`` (§9.3.3.1): ``expr [asc|desc]`` keys separated by commas;
* ``$top`` (§9.3.3.2) and ``$skip`` (§9.3.3.3): whole numbers. ``$top`` above ``max_top`` is
  refused (rule ``range``) rather than silently cut, so a client never mistakes a short page for
  the end; without ``$top`` a collection gets ``default_top`` and ``@iot.nextLink`` (§9.3.3.6,
  :func:`next_link_params`) pages through the rest;
* ``$count`` (§9.3.3.4): ``true`` or ``false``;
* ``$select`` (§9.3.2.2): properties and navigation properties; ``@iot.id`` and ``id`` both mean
  the id;
* ``$expand`` (§9.3.2.1): navigation properties separated by commas, each optionally with
  options in parentheses separated by ``;`` (``Datastreams($top=1;$orderby=phenomenonTime
  desc)``). Nesting, written either way (``Datastreams/Observations`` or
  ``Datastreams($expand=Observations)``), is parsed to any depth up to ``max_expand_depth``
  (default 1, the level the storage layer serves; rule ``one_level``). A single-valued
  navigation property (``Datastream``) takes only ``$select`` and ``$expand``;
* ``$resultFormat=dataArray`` (the Data Array extension): on Observations only; the value is
  matched without regard to case, since 18-088 writes ``dataArray`` and FROST ``DataArray``.

Other ``$`` options are refused (rule ``unknown_option``); parameters without ``$`` are OData
custom options and are left to the caller. Names in ``$select``, ``$filter`` and ``$orderby``
are checked against a schema passed in as data and come back canonical (``@iot.id`` → ``id``),
see :mod:`cityops.sensing.sta_schema` (:data:`DEFAULT_SCHEMA` holds 18-088's data model, §8.2);
the options' text and simple values are read by :mod:`cityops.sensing.sta_values`. This module
re-exports the schema's public names. Every error is a
:class:`~cityops.kernel.errors.ValidationFailed` whose field is the option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.sta_filter import (
    Node,
    OrderBy,
    orderby_to_text,
    parse_expression,
    parse_orderby_items,
    to_text,
)
from cityops.sensing.sta_schema import (
    DEFAULT_SCHEMA,
    MULTI_DATASTREAM_SCHEMA,
    OPEN_PROPERTIES,
    EntitySchema,
    Navigation,
    Schema,
    entity_schema,
    read_select,
    resolve,
    validate_expression,
)
from cityops.sensing.sta_values import (
    Span,
    closing,
    parse_span,
    read_boolean,
    read_result_format,
    read_whole,
    split,
    unknown_option,
)

__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_TOP",
    "MAX_EXPAND_DEPTH",
    "MAX_TOP",
    "MULTI_DATASTREAM_SCHEMA",
    "OPEN_PROPERTIES",
    "OPTIONS",
    "EntitySchema",
    "Expand",
    "Navigation",
    "QueryOptions",
    "Schema",
    "entity_schema",
    "next_link_params",
    "parse_options",
    "to_params",
    "validate_expression",
]

DEFAULT_TOP = 100
MAX_TOP = 10_000
MAX_EXPAND_DEPTH = 8  # the most any configuration may allow
OPTIONS = ("$filter", "$orderby", "$top", "$skip", "$count", "$select", "$expand", "$resultFormat")
_NESTED_OPTIONS = frozenset(OPTIONS) - {"$resultFormat"}
_SINGLE_OPTIONS = frozenset({"$select", "$expand"})  # all a to-one navigation takes


@dataclass(frozen=True, slots=True)
class Expand:
    """One expanded navigation property and the options applied to what it leads to."""

    navigation: str
    options: QueryOptions


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """A request's options, checked against the schema of ``entity`` (an entity set).

    ``top`` is the page size in force (``default_top`` when the client gave none); it is
    ``None`` only inside the expansion of a single-valued navigation property.
    """

    entity: str
    filter: Node | None = None
    orderby: tuple[OrderBy, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    select: tuple[str, ...] = ()
    expand: tuple[Expand, ...] = ()
    result_format: str | None = None


@dataclass(frozen=True, slots=True)
class _Limits:
    schema: Schema
    default_top: int
    max_top: int
    max_expand_depth: int


@dataclass
class _RawExpand:
    """An ``$expand`` item before its options are parsed: items for one name merge first."""

    navigation: str
    target: str
    many: bool
    span: Span  # the $expand text, for errors
    at: int  # where the name is in it
    options: dict[str, Span] = field(default_factory=dict)
    children: list[_RawExpand] = field(default_factory=list)


# --- the entry points ---------------------------------------------------------------------------


def parse_options(
    params: Mapping[str, str],
    entity: str,
    *,
    schema: Schema = DEFAULT_SCHEMA,
    default_top: int = DEFAULT_TOP,
    max_top: int = MAX_TOP,
    max_expand_depth: int = 1,
) -> QueryOptions:
    """Parse and check the query options of a request on the entity set ``entity``.

    ``params`` maps each parameter to its URL-decoded value. Raises
    :class:`~cityops.kernel.errors.ValidationFailed` naming the option at fault.
    """
    if not 0 <= default_top <= max_top:
        raise ValueError(f"default_top {default_top} must lie within 0…max_top ({max_top})")
    if not 0 <= max_expand_depth <= MAX_EXPAND_DEPTH:
        raise ValueError(f"max_expand_depth must lie within 0…{MAX_EXPAND_DEPTH}")
    if entity not in schema:
        expected = ", ".join(schema)
        raise ValidationFailed.single(
            "entity", "unknown_entity", f"unknown entity set {entity!r}; expected one of {expected}"
        )
    limits = _Limits(schema, default_top, max_top, max_expand_depth)
    spans: dict[str, Span] = {}
    for name, value in params.items():
        if not name.startswith("$"):
            continue
        if name not in OPTIONS:
            unknown_option(Span(name, value, 0, len(value)), name, OPTIONS)
        spans[name] = Span(name, value, 0, len(value))
    result_format = None
    if "$resultFormat" in spans:
        result_format = read_result_format(spans.pop("$resultFormat"), entity)
    children = []
    if "$expand" in spans:
        children = _scan_expand(spans.pop("$expand"), entity, 1, limits)
    options = _build(entity, spans, children, True, limits)
    return replace(options, result_format=result_format)


def to_params(options: QueryOptions) -> dict[str, str]:
    """Print options back as query parameters that :func:`parse_options` reads to equal ones."""
    params: dict[str, str] = {}
    if options.filter is not None:
        params["$filter"] = to_text(options.filter)
    if options.orderby:
        params["$orderby"] = orderby_to_text(options.orderby)
    if options.top is not None:
        params["$top"] = str(options.top)
    if options.skip:
        params["$skip"] = str(options.skip)
    if options.count:
        params["$count"] = "true"
    if options.select:
        params["$select"] = ",".join(options.select)
    if options.expand:
        params["$expand"] = ",".join(_expand_text(item) for item in options.expand)
    if options.result_format is not None:
        params["$resultFormat"] = options.result_format
    return params


def next_link_params(
    options: QueryOptions, returned: int, total: int | None = None
) -> dict[str, str] | None:
    """Return the parameters of ``@iot.nextLink`` (§9.3.3.6), or None on the last page.

    ``returned`` is how many entities this page holds; ``total`` the count, when known. The next
    page repeats every option with ``$skip`` advanced by ``$top``. A page shorter than ``$top``
    is the last; so is one that reaches ``total``.
    """
    top = options.top
    if top is None or top == 0 or returned < top:
        return None
    skip = options.skip + top
    if total is not None and skip >= total:
        return None
    return to_params(replace(options, skip=skip))


# --- options ------------------------------------------------------------------------------------


def _build(
    entity: str,
    spans: Mapping[str, Span],
    children: list[_RawExpand],
    many: bool,
    limits: _Limits,
) -> QueryOptions:
    if not many:
        for name in sorted(spans.keys() - _SINGLE_OPTIONS):
            spans[name].fail(
                "not_collection",
                f"{name} applies to collections; this navigation property leads to one entity",
                spans[name].start,
            )
    schema = limits.schema
    found = None
    if "$filter" in spans:
        span = spans["$filter"]
        found = resolve(parse_span(span, parse_expression), entity, schema, span, True)
    orderby: tuple[OrderBy, ...] = ()
    if "$orderby" in spans:
        span = spans["$orderby"]
        orderby = tuple(
            OrderBy(resolve(item.expression, entity, schema, span, False), item.descending)
            for item in parse_span(span, parse_orderby_items)
        )
    top = limits.default_top if many else None
    if "$top" in spans:
        top = read_whole(spans["$top"], "$top", limits.max_top)
    skip = read_whole(spans["$skip"], "$skip", None) if "$skip" in spans else 0
    count = read_boolean(spans["$count"]) if "$count" in spans else False
    select = read_select(spans["$select"], entity, schema) if "$select" in spans else ()
    expand = tuple(
        Expand(
            item.navigation,
            _build(item.target, item.options, item.children, item.many, limits),
        )
        for item in _merge(children)
    )
    return QueryOptions(entity, found, orderby, top, skip, count, select, expand)


# --- $expand ------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _scan_expand(span: Span, entity: str, level: int, limits: _Limits) -> list[_RawExpand]:
    """Read ``nav[/nav…][(options)], …`` (``level``: how deep its items sit)."""
    items: list[_RawExpand] = []
    for part in split(span, ","):
        text, i, end = part.root, part.start, part.end
        if i == end:
            span.fail("syntax", "expected a navigation property", i)
        path: list[tuple[str, int]] = []
        while True:
            match = _NAME.match(text, i, end)
            if match is None:
                span.fail("syntax", "expected a navigation property name", i)
            path.append((match.group(), i))
            i = match.end()
            if i < end and text[i] == "/":
                i += 1
                continue
            break
        while i < end and text[i].isspace():
            i += 1
        options: dict[str, Span] = {}
        if i < end:
            if text[i] != "(":
                span.fail("syntax", "expected '(' with options, ',' or the end", i)
            close = closing(span, i, end)
            if close != end - 1:
                span.fail("syntax", "expected ',' or the end after ')'", close + 1)
            options = _expand_options(span, i + 1, close, "/".join(p for p, _ in path))
        items.append(_expand_path(span, entity, path, options, level, limits))
    return items


def _expand_options(span: Span, start: int, end: int, path: str) -> dict[str, Span]:
    inner = replace(span, start=start, end=end)
    options: dict[str, Span] = {}
    for part in split(inner, ";"):
        name_end = span.root.find("=", part.start, part.end)
        if part.start == part.end or name_end < 0:
            span.fail("syntax", f"expected $option=value inside {path}( … )", part.start)
        name = span.root[part.start : name_end].strip()
        value = replace(part, start=name_end + 1, context=f"{path}({name}): ")
        if name not in _NESTED_OPTIONS:
            allowed = sorted(_NESTED_OPTIONS)
            unknown_option(replace(value, start=part.start), name, allowed)
        if name in options:
            span.fail("duplicate", f"{name} is given twice inside {path}( … )", part.start)
        options[name] = value
    return options


def _expand_path(
    span: Span,
    entity: str,
    path: list[tuple[str, int]],
    options: dict[str, Span],
    level: int,
    limits: _Limits,
) -> _RawExpand:
    """Turn ``A/B(opts)`` into ``A($expand=B(opts))``, checking names and depth on the way."""
    chain: list[_RawExpand] = []
    current = entity
    for depth, (name, at) in enumerate(path, start=level):
        if depth > limits.max_expand_depth:
            if limits.max_expand_depth == 1:
                span.fail(
                    "one_level",
                    f"only one level of $expand is supported; {name!r} would be level {depth}",
                    at,
                )
            span.fail(
                "expand_depth",
                f"$expand goes at most {limits.max_expand_depth} levels deep; "
                f"{name!r} would be level {depth}",
                at,
            )
        known = limits.schema[current]
        navigation = known.navigation.get(name)
        if navigation is None:
            links = ", ".join(sorted(known.navigation)) or "none"
            span.fail(
                "unknown_property",
                f"{current} has no navigation property {name!r}; expected one of {links}",
                at,
            )
        chain.append(_RawExpand(name, navigation.target, navigation.many, span, at))
        current = navigation.target
    last = chain[-1]
    nested = options.pop("$expand", None)
    last.options = options
    if nested is not None:
        last.children = _scan_expand(nested, last.target, level + len(path), limits)
    for parent, child in zip(chain, chain[1:], strict=False):
        parent.children = [child]
    return chain[0]


def _merge(items: list[_RawExpand]) -> list[_RawExpand]:
    """Fold items naming the same navigation property into one (``A/B,A/C`` → ``A`` with both)."""
    merged: dict[str, _RawExpand] = {}
    for item in items:
        seen = merged.get(item.navigation)
        if seen is None:
            merged[item.navigation] = item
            continue
        if seen.options and item.options:
            item.span.fail(
                "duplicate", f"{item.navigation} is expanded twice with options", item.at
            )
        seen.options = seen.options or item.options
        seen.children = seen.children + item.children
    for item in merged.values():
        item.children = _merge(item.children)
    return list(merged.values())


def _expand_text(item: Expand) -> str:
    inner = ";".join(f"{name}={value}" for name, value in to_params(item.options).items())
    return f"{item.navigation}({inner})" if inner else item.navigation
