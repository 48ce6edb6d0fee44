"""Evaluate ``$filter`` and ``$orderby`` expressions on entities' JSON, in Python.

The small entity sets (Things, Locations, HistoricalLocations, Datastreams, Sensors,
ObservedProperties, FeaturesOfInterest) are filtered and sorted here, after the store returned
them; Observations go to SQL instead (:mod:`cityops.sensing.sta_obs_plan`). The rules are OData's
(which 18-088 takes):

* null: ``x eq null`` is true only for null; any other comparison with null is false, arithmetic
  and functions give null (boolean functions false), ``not`` of false is true;
* a path through a to-many navigation property (``Datastreams/name`` of a Thing) means "some
  related entity": the comparison holds when it holds for one of them. A path reached through
  ``Observations`` is refused (rule ``unsupported``): it would read every reading;
* a text compared with a time is read as ISO 8601 (entity times are texts in JSON); numbers
  compare across int and decimal; values that do not compare (a text with a number) are unequal
  and never ordered, so the comparison is false rather than an error.

``navigate(entity_set, entity, name)`` gives the related entities' JSON for a navigation
property; the caller (the service) knows where they come from.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import product
from typing import Any

from cityops.kernel.errors import ValidationFailed
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
)
from cityops.sensing.sta_functions import BOOLEAN_FUNCTIONS, as_datetime, call, number
from cityops.sensing.sta_query import DEFAULT_SCHEMA

Navigator = Callable[[str, Mapping[str, Any], str], Sequence[Mapping[str, Any]]]
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


class Evaluator:
    """Evaluates expressions on one entity set's JSON."""

    def __init__(self, entity_set: str, navigate: Navigator, now: datetime) -> None:
        self._entity_set = entity_set
        self._navigate = navigate
        self._now = now

    def matches(self, node: Node, entity: Mapping[str, Any]) -> bool:
        """Tell whether the filter holds for the entity."""
        return True in self._eval(node, entity)

    def select(self, node: Node | None, entities: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Return the entities the filter keeps (all when it is None)."""
        if node is None:
            return list(entities)
        return [e for e in entities if self.matches(node, e)]

    def sort(
        self, entities: list[Mapping[str, Any]], orderby: Sequence[OrderBy]
    ) -> list[Mapping[str, Any]]:
        """Return the entities sorted by the keys (then by id), nulls first."""
        ordered = sorted(entities, key=lambda e: _sort_key(e.get("@iot.id")))
        for item in reversed(orderby):
            ordered.sort(key=self._key(item.expression), reverse=item.descending)
        return ordered

    def _key(self, node: Node) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
        return lambda entity: _sort_key(self._first(node, entity))

    def _first(self, node: Node, entity: Mapping[str, Any]) -> Any:
        found = self._eval(node, entity)
        return found[0] if found else None

    def _eval(self, node: Node, entity: Mapping[str, Any]) -> list[Any]:
        """Return the node's candidate values (several through to-many paths)."""
        match node:
            case Literal():
                value = node.value
                return [float(value) if isinstance(value, Decimal) else value]
            case Property():
                return self._property(node.path, self._entity_set, [entity])
            case Compare():
                left, right = self._eval(node.left, entity), self._eval(node.right, entity)
                return [any(_compare(node.op, a, b) for a, b in product(left, right))]
            case Logical():
                if node.op == "and":
                    return [all(True in self._eval(o, entity) for o in node.operands)]
                return [any(True in self._eval(o, entity) for o in node.operands)]
            case Not():
                return [True not in self._eval(node.operand, entity)]
            case Arithmetic():
                left, right = self._eval(node.left, entity), self._eval(node.right, entity)
                return [_safe_arithmetic(node.op, a, b) for a, b in product(left, right)]
            case Function():
                lists = [self._eval(arg, entity) for arg in node.args]
                values = [call(node.name, args, self._now) for args in product(*lists)]
                if node.name in BOOLEAN_FUNCTIONS:
                    return [True in values]
                return values or [None]
        raise TypeError(f"not a filter node: {node!r}")  # pragma: no cover

    def _property(
        self, path: tuple[str, ...], entity_set: str, entities: Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        schema = DEFAULT_SCHEMA[entity_set]
        head, rest = path[0], path[1:]
        navigation = schema.navigation.get(head)
        if navigation is not None:
            if navigation.target == "Observations":
                raise ValidationFailed.single(
                    "$filter",
                    "unsupported",
                    f"filtering {entity_set} through {head} ('{'/'.join(path)}') would read "
                    "every observation; filter the Observations instead",
                )
            related = [r for e in entities for r in self._navigate(entity_set, e, head)]
            if not related:
                return [None]
            return self._property(rest, navigation.target, related) if rest else related
        values = [e.get("@iot.id" if head == "id" else head) for e in entities]
        for name in rest:
            values = [v.get(name) if isinstance(v, Mapping) else None for v in values]
        return values or [None]


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return not (left is None and right is None)
        return False
    left, right = _comparable(left, right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    try:
        return bool(_ORDER[op](left, right))
    except TypeError:
        return False


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring two values to one type where OData would (texts to times, numbers to numbers)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, datetime | date) or isinstance(right, datetime | date):
        as_left, as_right = as_datetime(left), as_datetime(right)
        if as_left is not None and as_right is not None:
            return as_left, as_right
        return left, right
    if number(left) is not None and number(right) is not None:
        return number(left), number(right)
    return left, right


def _safe_arithmetic(op: str, left: Any, right: Any) -> Any:
    """Return ``left op right``, null where the result cannot be represented."""
    try:
        return _arithmetic(op, left, right)
    except (OverflowError, ValueError):
        return None


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if isinstance(left, datetime | date | str) and isinstance(right, timedelta):
        moment = as_datetime(left)
        if moment is None or op not in ("add", "sub"):
            return None
        return moment + right if op == "add" else moment - right
    if isinstance(left, datetime) and isinstance(right, datetime) and op == "sub":
        return left - right
    if isinstance(left, timedelta) and isinstance(right, timedelta) and op in ("add", "sub"):
        return left + right if op == "add" else left - right
    a, b = number(left), number(right)
    if a is None or b is None:
        return None
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if b == 0:
        return None
    if op == "div":
        if isinstance(a, int) and isinstance(b, int):
            return int(a / b)  # OData: whole numbers divide to a whole number, toward zero
        return a / b
    return a - b * int(a / b)  # mod, with the sign of the dividend


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    found = number(value)
    if found is not None:
        return (2, found)
    moment = as_datetime(value) if isinstance(value, datetime | date) else None
    if moment is not None:
        return (3, moment.timestamp())
    if isinstance(value, str):
        return (4, value)
    return (5, str(value))
