"""SensorThings resource paths (OGC 18-088 §9.2): ``Things(1)/Datastreams``, ``…/name/$value``.

A path below the service root is an entity set, optionally with an id, then navigation
properties (to-many ones optionally with an id), then at most one property (optionally
``$value``) or ``$ref``. Names are checked against the data model (``DEFAULT_SCHEMA``); an
unknown one is a 404 that says what would have been valid. Ids are whole numbers, written
``(5)`` or ``('5')``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cityops.kernel.errors import CityOpsError, NotFound
from cityops.sensing.sta_query import DEFAULT_SCHEMA

CREATE_OBSERVATIONS = "CreateObservations"
ENTITY_SETS = (
    "Things",
    "Locations",
    "HistoricalLocations",
    "Datastreams",
    "Sensors",
    "ObservedProperties",
    "Observations",
    "FeaturesOfInterest",
)


class MethodNotAllowed(CityOpsError):
    """The resource exists but does not take this method (a read-only entity set)."""

    title = "Method not allowed"
    status = 405


_SEGMENT = re.compile(r"([A-Za-z]+)(?:\((?:([0-9]{1,19})|'([0-9]{1,19})')\))?")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Step:
    """One step: an entity set or a navigation property (``target``), with an optional id."""

    name: str
    target: str  # the entity set it leads to
    many: bool  # a collection, until an id picks one
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ResourcePath:
    """A parsed path: the steps, then a property (``$value``: its raw value) or ``$ref``."""

    steps: tuple[Step, ...]
    prop: str | None = None
    raw_value: bool = False
    ref: bool = False

    @property
    def last(self) -> Step:
        """Return the last step (what the path names)."""
        return self.steps[-1]

    @property
    def is_collection(self) -> bool:
        """Tell whether the path names a collection (a to-many step without an id)."""
        return self.last.many and self.last.id is None and self.prop is None

    def text(self) -> str:
        """Print the steps back (``Things(1)/Datastreams``), without property or ``$ref``."""
        return "/".join(s.name + ("" if s.id is None else f"({s.id})") for s in self.steps)


def parse_path(path: str) -> ResourcePath | None:
    """Parse a path below the service root; None for the root itself.

    Raises NotFound for anything that is not a resource of the data model.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        return None
    steps: list[Step] = []
    prop: str | None = None
    raw_value = ref = False
    for index, part in enumerate(parts):
        rest = len(parts) - index - 1
        if part == "$ref":
            if rest or prop is not None or not steps:
                raise NotFound(f"$ref ends a path to entities: {path!r}")
            ref = True
            continue
        if part == "$value":
            if rest or prop is None or raw_value:
                raise NotFound(f"$value follows a property at the end of the path: {path!r}")
            raw_value = True
            continue
        if prop is not None:
            raise NotFound(f"nothing follows the property {prop!r} but $value: {path!r}")
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise NotFound(f"{part!r} is not an entity set, navigation property or property")
        name, digits = match.group(1), match.group(2) or match.group(3)
        ident = int(digits) if digits is not None else None
        if ident is not None and ident > _MAX_ID:
            raise NotFound(f"no entity with id {ident}")
        if not steps:
            steps.append(_root_step(name, ident, path))
            continue
        step = _next_step(steps[-1], name, ident, path)
        if step is None:
            prop = name
        else:
            steps.append(step)
    return ResourcePath(tuple(steps), prop, raw_value, ref)


def _root_step(name: str, ident: int | None, path: str) -> Step:
    if name not in ENTITY_SETS:
        raise NotFound(
            f"no entity set {name!r} in {path!r}; expected one of {', '.join(ENTITY_SETS)}"
        )
    return Step(name, name, True, ident)


def _next_step(previous: Step, name: str, ident: int | None, path: str) -> Step | None:
    """Return the navigation step ``name`` after ``previous``, or None for a property."""
    if previous.many and previous.id is None:
        raise NotFound(f"pick one of the {previous.name} by id before {name!r} in {path!r}")
    entity = DEFAULT_SCHEMA[previous.target]
    navigation = entity.navigation.get(name)
    if navigation is not None:
        if ident is not None and not navigation.many:
            raise NotFound(f"{name} leads to one entity; it takes no id in {path!r}")
        return Step(name, navigation.target, navigation.many, ident)
    if ident is None and name in entity.properties and name != "id":
        return None
    known = ", ".join(entity.names())
    raise NotFound(f"{previous.target} has no property {name!r}; expected one of {known}")
