"""The entity schema SensorThings API v1.1 queries are checked against (OGC 18-088 §8.2).

The names a query may use, in ``$select`` (§9.3.2.2) and in the property paths of ``$filter``
(§9.3.3.5) and ``$orderby`` (§9.3.3.1), are those of the data model: each entity set's properties
and navigation properties. The schema is data (:class:`EntitySchema` per entity set, built with
:func:`entity_schema`), so a deployment can pass its own; :data:`DEFAULT_SCHEMA` is 18-088's
Sensing core and :data:`MULTI_DATASTREAM_SCHEMA` adds its MultiDatastream extension.

Checked names come back canonical (``@iot.id`` → ``id``). A path may cross navigation properties
(``Datastream/ObservedProperty/name``, meaning "some related entity" through a to-many one in a
filter, refused in a sort key) and go inside JSON-valued properties (:data:`OPEN_PROPERTIES`, as
in ``properties/owner``). Checking names against the schema is what keeps a filter from
smuggling a column into the storage layer's SQL.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.sta_ast import Arithmetic, Compare, Function, Logical, Node, Not, Property
from cityops.sensing.sta_values import Span, split

# Properties holding JSON: a path may continue inside them (properties/owner).
OPEN_PROPERTIES = frozenset(
    {
        "properties",
        "parameters",
        "unitOfMeasurement",
        "unitOfMeasurements",
        "result",
        "resultQuality",
    }
)


@dataclass(frozen=True, slots=True)
class Navigation:
    """A navigation property: the entity set it leads to, and whether it leads to many."""

    target: str
    many: bool


@dataclass(frozen=True, slots=True)
class EntitySchema:
    """What an entity set offers: its properties and its navigation properties."""

    properties: frozenset[str]
    navigation: Mapping[str, Navigation]
    open_properties: frozenset[str] = frozenset()

    def names(self) -> list[str]:
        """Return every name, sorted, for messages."""
        return sorted({*self.properties, *self.navigation})


Schema = Mapping[str, EntitySchema]


def entity_schema(properties: Iterable[str], navigation: Mapping[str, str]) -> EntitySchema:
    """Build an entity's schema; a navigation target ending in ``*`` leads to many."""
    names = frozenset(properties) | {"id"}
    links = {
        name: Navigation(target.rstrip("*"), target.endswith("*"))
        for name, target in navigation.items()
    }
    return EntitySchema(names, MappingProxyType(links), names & OPEN_PROPERTIES)


def _schema(entities: Mapping[str, EntitySchema]) -> Schema:
    for name, entity in entities.items():
        for link, navigation in entity.navigation.items():
            if navigation.target not in entities:
                raise ValueError(f"{name}/{link} leads to {navigation.target}, not in the schema")
    return MappingProxyType(dict(entities))


_CORE = {
    "Things": entity_schema(
        ("name", "description", "properties"),
        {"Locations": "Locations*", "HistoricalLocations": "HistoricalLocations*"}
        | {"Datastreams": "Datastreams*"},
    ),
    "Locations": entity_schema(
        ("name", "description", "encodingType", "location", "properties"),
        {"Things": "Things*", "HistoricalLocations": "HistoricalLocations*"},
    ),
    "HistoricalLocations": entity_schema(("time",), {"Thing": "Things", "Locations": "Locations*"}),
    "Datastreams": entity_schema(
        ("name", "description", "unitOfMeasurement", "observationType", "observedArea")
        + ("phenomenonTime", "resultTime", "properties"),
        {"Thing": "Things", "Sensor": "Sensors", "ObservedProperty": "ObservedProperties"}
        | {"Observations": "Observations*"},
    ),
    "Sensors": entity_schema(
        ("name", "description", "encodingType", "metadata", "properties"),
        {"Datastreams": "Datastreams*"},
    ),
    "ObservedProperties": entity_schema(
        ("name", "definition", "description", "properties"), {"Datastreams": "Datastreams*"}
    ),
    "Observations": entity_schema(
        ("phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters"),
        {"Datastream": "Datastreams", "FeatureOfInterest": "FeaturesOfInterest"},
    ),
    "FeaturesOfInterest": entity_schema(
        ("name", "description", "encodingType", "feature", "properties"),
        {"Observations": "Observations*"},
    ),
}

# 18-088 §8.2, the Sensing core; the id is "id" (written @iot.id in JSON).
DEFAULT_SCHEMA: Schema = _schema(_CORE)


def _with_multi_datastreams(core: Mapping[str, EntitySchema]) -> Schema:
    entities = dict(core)
    for name, link in (
        ("Things", "MultiDatastreams*"),
        ("Sensors", "MultiDatastreams*"),
        ("ObservedProperties", "MultiDatastreams*"),
        ("Observations", "MultiDatastreams"),
    ):
        entity = entities[name]
        links = {k: v.target + ("*" if v.many else "") for k, v in entity.navigation.items()}
        key = "MultiDatastream" if link == "MultiDatastreams" else "MultiDatastreams"
        entities[name] = entity_schema(entity.properties, links | {key: link})
    entities["MultiDatastreams"] = entity_schema(
        ("name", "description", "unitOfMeasurements", "observationType")
        + ("multiObservationDataTypes", "observedArea", "phenomenonTime", "resultTime")
        + ("properties",),
        {"Thing": "Things", "Sensor": "Sensors", "ObservedProperties": "ObservedProperties*"}
        | {"Observations": "Observations*"},
    )
    return _schema(entities)


# The core plus the MultiDatastream extension of 18-088.
MULTI_DATASTREAM_SCHEMA: Schema = _with_multi_datastreams(_CORE)


# --- checking names against the schema ----------------------------------------------------------


def validate_expression(
    node: Node,
    entity: str,
    *,
    schema: Schema = DEFAULT_SCHEMA,
    option: str = "$filter",
    allow_many: bool = True,
) -> Node:
    """Check every property path of a tree against ``entity``; return it with canonical names.

    ``allow_many=False`` refuses paths through to-many navigation properties (an ``$orderby``
    key must have one value per entity).
    """
    if entity not in schema:
        raise ValidationFailed.single("entity", "unknown_entity", f"unknown entity {entity!r}")
    return resolve(node, entity, schema, Span(option, "", 0, 0), allow_many, with_excerpt=False)


def read_select(span: Span, entity: str, schema: Schema) -> tuple[str, ...]:
    """Check ``$select`` names against ``entity``; return them canonical, each once."""
    names: list[str] = []
    known = schema[entity]
    for item in split(span, ","):
        if item.start == item.end:
            span.fail("syntax", "expected a property name", item.start)
        name = "id" if item.text == "@iot.id" else item.text
        if name not in known.properties and name not in known.navigation:
            span.fail("unknown_property", _unknown_name(item.text, entity, known), item.start)
        if name not in names:
            names.append(name)
    return tuple(names)


def resolve(
    node: Node,
    entity: str,
    schema: Schema,
    span: Span,
    allow_many: bool,
    *,
    with_excerpt: bool = True,
) -> Node:
    """Check every property path of ``node``; errors name ``span``'s option.

    ``with_excerpt`` puts a caret under the path in the option's text.
    """

    def walk(node: Node) -> Node:
        match node:
            case Property():
                at = None
                if with_excerpt and node.position is not None:
                    at = span.stripped().start + node.position
                path = _resolve_path(node.path, entity, schema, span, allow_many, at)
                return Property(path, node.position)
            case Compare():
                return Compare(node.op, walk(node.left), walk(node.right))
            case Arithmetic():
                return Arithmetic(node.op, walk(node.left), walk(node.right))
            case Logical():
                return Logical(node.op, tuple(walk(operand) for operand in node.operands))
            case Not():
                return Not(walk(node.operand))
            case Function():
                return Function(node.name, tuple(walk(arg) for arg in node.args))
        return node

    return walk(node)


def _resolve_path(
    path: tuple[str, ...],
    entity: str,
    schema: Schema,
    span: Span,
    allow_many: bool,
    at: int | None,
) -> tuple[str, ...]:
    current = entity
    resolved: list[str] = []
    shown = "/".join(path)
    for index, segment in enumerate(path):
        known = schema[current]
        name = "id" if segment == "@iot.id" else segment
        navigation = known.navigation.get(name)
        if navigation is not None:
            if navigation.many and not allow_many:
                span.fail(
                    "many_valued",
                    f"{shown!r} goes through {name!r}, which leads to many {navigation.target}; "
                    "a sort key needs one value per entity",
                    at,
                )
            resolved.append(name)
            current = navigation.target
            continue
        if name not in known.properties:
            message = _unknown_name(segment, current, known)
            if index:
                message = f"in {shown!r}, {message}"
            span.fail("unknown_property", message, at)
        resolved.append(name)
        rest = path[index + 1 :]
        if rest and name not in known.open_properties:
            span.fail(
                "unknown_property",
                f"in {shown!r}, {name!r} of {current} has no sub-properties",
                at,
            )
        return (*resolved, *rest)
    span.fail(
        "navigation_property",
        f"{shown!r} ends at a navigation property; name one of its properties, "
        f"such as '{shown}/id'",
        at,
    )


def _unknown_name(name: str, entity: str, known: EntitySchema) -> str:
    close = difflib.get_close_matches(name, known.names(), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known.names())}"
    return f"{entity} has no property {name!r}; {hint}"
