"""The SensorThings API v1.1 (OGC 18-088) over the sensing store: reads, and the entry points.

``StaService`` answers the web edge: :meth:`read` resolves a resource path
(:mod:`cityops.sensing.sta_paths`), parses the query options
(:func:`cityops.sensing.sta_query.parse_options`), and builds the answer — a collection with
``@iot.count`` and ``@iot.nextLink``, one entity, a property (``$value``) or links (``$ref``),
with ``$select`` and one level of ``$expand``. The small entity sets are filtered and sorted in
Python (:mod:`cityops.sensing.sta_eval`); Observations in SQL
(:mod:`cityops.sensing.sta_obs_plan`). Creates and updates are :mod:`cityops.sensing.sta_writes`.

Datastreams registered through ``/api/v1`` have no Sensor or ObservedProperty, and things placed
there no Location; before a read that involves them, :class:`~cityops.sensing.sta_writes.StaWriter`
links them (once, in a short write).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any
from urllib.parse import urlencode

from cityops.auth.model import Principal
from cityops.kernel.clock import Clock
from cityops.kernel.errors import NotFound
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing import sta_commands as commands
from cityops.sensing.devices import Placer
from cityops.sensing.ingest import IngestService
from cityops.sensing.sta_entities import (
    observation_json,
    select_fields,
    self_link,
    service_root,
    split_observation_id,
)
from cityops.sensing.sta_eval import Evaluator
from cityops.sensing.sta_filter import Node
from cityops.sensing.sta_graph import Graph, Json
from cityops.sensing.sta_obs_plan import ObservationPlanner
from cityops.sensing.sta_observation_writes import StaObservationWriter
from cityops.sensing.sta_paths import MethodNotAllowed, ResourcePath, parse_path
from cityops.sensing.sta_ports import BoolExpr, BoolOp, InStreams, ObsQuery, StaUnitOfWork
from cityops.sensing.sta_query import (
    DEFAULT_SCHEMA,
    QueryOptions,
    next_link_params,
    parse_options,
)
from cityops.sensing.sta_writes import StaWriter

_DIRECTION = re.compile(r"(?<=\s)(ASC|DESC|Asc|Desc)(?=\s*([,;)]|$))")
_NAVIGATION_WORDS = ("Datastream", "Sensor", "ObservedPropert", "Thing", "Location", "Feature")


@dataclass(frozen=True, slots=True)
class StaAnswer:
    """A read's answer: JSON, or a raw text (``$value``)."""

    body: Any
    raw: str | None = None


def lowercase_directions(orderby: str) -> str:
    """Return ``$orderby`` (or ``$expand``) with ``ASC``/``DESC`` in lowercase.

    FROST's client sends ``DESC`` by default, which the parser would refuse; a text with a
    quoted string is left alone rather than risk changing a literal.
    """
    if "'" in orderby:
        return orderby
    return _DIRECTION.sub(lambda m: m.group(1).lower(), orderby)


class StaService:
    """Reads, creates and updates SensorThings entities."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[StaUnitOfWork],
        clock: Clock,
        writer: StaWriter,
        observations: StaObservationWriter,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self.writer = writer
        self._observations = observations

    def root(self, base: str) -> Json:
        """Return the service root document."""
        return service_root(base)

    def create(self, principal: Principal, path: str, body: Any, base: str) -> tuple[str, Json]:
        """Answer a POST: return the new entity's selfLink and JSON."""
        principal.require_somewhere("telemetry:write")
        resource = parse_path(path)
        if resource is None:
            raise MethodNotAllowed("POST to an entity set, such as /Things")
        if len(resource.steps) > 1:  # the entity it is created under must exist and be visible
            self.read(principal, ResourcePath(resource.steps[:-1]).text(), {}, base)
        entity_set, ident = commands.create(
            self.writer, self._observations, principal, resource, body
        )
        return self._entity(principal, entity_set, ident, base)

    def update(
        self, principal: Principal, path: str, body: Any, base: str, *, json_patch: bool
    ) -> Json:
        """Answer a PATCH or PUT: return the entity's new JSON."""
        principal.require_somewhere("telemetry:write")
        resource = parse_path(path)
        if resource is None:
            raise MethodNotAllowed("PATCH one entity, such as /Things(1)")
        current: Json = {}
        if len(resource.steps) == 1 and resource.last.id is not None:
            current = self.read(principal, resource.text(), {}, base).body
        entity_set, ident = commands.update(
            self.writer, principal, resource, body, current, json_patch=json_patch
        )
        return self._entity(principal, entity_set, ident, base)[1]

    def create_observations(self, principal: Principal, body: Any, base: str) -> list[str]:
        """Answer ``CreateObservations``: a selfLink or an error text per dataArray row."""
        return self._observations.create_many(principal, body, base)

    def _entity(
        self, principal: Principal, entity_set: str, ident: int, base: str
    ) -> tuple[str, Json]:
        link = self_link(base, entity_set, ident)
        return link, self.read(principal, f"{entity_set}({ident})", {}, base).body

    def read(
        self, principal: Principal, path: str, params: Mapping[str, str], base: str
    ) -> StaAnswer:
        """Answer a GET below the service root."""
        principal.require_somewhere("telemetry:read")
        resource = parse_path(path)
        if resource is None:
            return StaAnswer(self.root(base))
        params = dict(params)
        for option in ("$orderby", "$expand"):
            if option in params:
                params[option] = lowercase_directions(params[option])
        options = parse_options(params, resource.last.target)
        mentions = " ".join([resource.last.target, *params.values()])
        self.writer.link_missing(
            datastreams=any(w in mentions for w in _NAVIGATION_WORDS[:3]),
            things=any(w in mentions for w in _NAVIGATION_WORDS[3:]),
        )
        with self._unit_of_work(read_only=True) as uow:
            graph = Graph(uow, principal, base)
            return _Reader(graph, uow, self._clock).answer(resource, options, path)


class _Reader:
    """One read over an open unit of work."""

    def __init__(self, graph: Graph, uow: StaUnitOfWork, clock: Clock) -> None:
        self._graph = graph
        self._uow = uow
        self._now = clock.now()

    def answer(self, resource: ResourcePath, options: QueryOptions, path: str) -> StaAnswer:
        if resource.is_collection:
            page = self._collection_of(resource, options, resource.text())
            if resource.ref:
                links = [{"@iot.selfLink": e["@iot.selfLink"]} for e in page["value"]]
                page = {**page, "value": links}
            return StaAnswer(page)
        target, ident = self._resolve(resource)
        entity = self._graph.entity(target, ident)
        if entity is None:
            raise NotFound(f"no {target} ({ident}) at {path!r}")
        if resource.ref:
            return StaAnswer({"@iot.selfLink": entity["@iot.selfLink"]})
        if resource.prop is not None:
            value = entity.get(resource.prop)
            if resource.raw_value:
                return StaAnswer(None, "" if value is None else _raw(value))
            return StaAnswer({resource.prop: value})
        return StaAnswer(self._shape(target, entity, options))

    # --- resolving a path -------------------------------------------------------------------

    def _resolve(self, resource: ResourcePath) -> tuple[str, int]:
        """Return the entity a path names (its set and id)."""
        current: tuple[str, int] | None = None
        for step in resource.steps:
            if current is None:
                assert step.id is not None
                current = (step.target, step.id)
                if self._graph.entity(*current) is None:
                    raise NotFound(f"no {step.target}({step.id})")
                continue
            found = self._related_ids(current[0], current[1], step.name)
            if step.id is not None:
                if step.id not in found:
                    raise NotFound(f"{step.name}({step.id}) is not linked to {current[0]}")
                current = (step.target, step.id)
            elif not found:
                raise NotFound(f"{current[0]}({current[1]}) has no {step.name}")
            else:
                current = (step.target, found[0])
        assert current is not None
        return current

    def _related_ids(self, entity_set: str, ident: int, navigation: str) -> list[int]:
        if DEFAULT_SCHEMA[entity_set].navigation[navigation].target == "Observations":
            raise NotFound("pick Observations by id from /Observations(id)")
        return self._graph.related(entity_set, ident, navigation)

    def _collection_of(self, resource: ResourcePath, options: QueryOptions, where: str) -> Json:
        steps = resource.steps
        base = f"{self._graph.base}/{where}"
        if len(steps) == 1:
            if steps[0].target == "Observations":
                return self.observations(None, options, base)
            return self.collection(steps[0].target, self._graph.ids(steps[0].target), options, base)
        parent = ResourcePath(steps[:-1])
        entity_set, ident = self._resolve(parent)
        last = steps[-1]
        if last.target == "Observations":
            return self.observations(self._streams_of(entity_set, ident), options, base)
        return self.collection(
            last.target, self._graph.related(entity_set, ident, last.name), options, base
        )

    def _streams_of(self, entity_set: str, ident: int) -> tuple[int, ...]:
        if entity_set == "Datastreams":
            return (ident,)
        return self._graph.streams_at([ident])

    # --- collections ------------------------------------------------------------------------

    def collection(
        self, entity_set: str, ids: Sequence[int], options: QueryOptions, base: str
    ) -> Json:
        """Return a page of a small entity set."""
        graph = self._graph
        evaluator = Evaluator(entity_set, graph.navigate, self._now)
        entities = [e for e in (graph.entity(entity_set, i) for i in ids) if e is not None]
        kept = evaluator.select(options.filter, entities)
        ordered = evaluator.sort(kept, options.orderby)
        end = None if options.top is None else options.skip + options.top
        page = ordered[options.skip : end]
        body: Json = {}
        if options.count:
            body["@iot.count"] = len(ordered)
        body["value"] = [self._shape(entity_set, dict(e), options) for e in page]
        self._next_link(body, options, len(page), len(ordered), base)
        return body

    def observations(
        self, streams: tuple[int, ...] | None, options: QueryOptions, base: str
    ) -> Json:
        """Return a page of Observations (``streams``: of these datastreams only)."""
        graph = self._graph
        planner = ObservationPlanner(self._now, self._streams_where)
        conditions: list[BoolExpr] = []
        if streams is not None:
            conditions.append(InStreams(tuple(s for s in streams if s in graph.datastreams)))
        elif not graph.everything:
            conditions.append(InStreams(tuple(graph.datastreams)))
        found = planner.where(options.filter)
        if found is not None:
            conditions.append(found)
        where: BoolExpr | None = None
        if conditions:
            where = conditions[0] if len(conditions) == 1 else BoolOp("and", tuple(conditions))
        query = ObsQuery(where, planner.order(options.orderby), options.top, options.skip)
        readings = self._uow.sta_observations.select(query)
        total = self._uow.sta_observations.count(where) if options.count else None
        body: Json = {}
        if total is not None:
            body["@iot.count"] = total
        entities = [observation_json(graph.base, r) for r in readings]
        if options.result_format == "dataArray":
            body["value"] = _data_array(graph.base, entities, options.select)
        else:
            body["value"] = [self._shape("Observations", e, options) for e in entities]
        self._next_link(body, options, len(readings), total, base)
        return body

    def _streams_where(self, navigation: str, node: Node) -> tuple[int, ...]:
        graph = self._graph
        entity_set = "Datastreams" if navigation == "Datastream" else "FeaturesOfInterest"
        evaluator = Evaluator(entity_set, graph.navigate, self._now)
        entities = [graph.entity(entity_set, i) for i in graph.ids(entity_set)]
        ids = [e["@iot.id"] for e in evaluator.select(node, [e for e in entities if e])]
        return tuple(ids) if entity_set == "Datastreams" else graph.streams_at(ids)

    @staticmethod
    def _next_link(
        body: Json, options: QueryOptions, returned: int, total: int | None, base: str
    ) -> None:
        params = next_link_params(options, returned, total)
        if params is not None:
            body["@iot.nextLink"] = f"{base}?{urlencode(params)}"

    # --- one entity: $expand and $select ----------------------------------------------------

    def _shape(self, entity_set: str, entity: Json, options: QueryOptions) -> Json:
        shaped = select_fields(entity, options.select)
        for item in options.expand:
            navigation = DEFAULT_SCHEMA[entity_set].navigation[item.navigation]
            link = f"{entity['@iot.selfLink']}/{item.navigation}"
            ident = entity["@iot.id"]
            if navigation.target == "Observations":
                inner = replace(item.options, result_format=None)
                page = self.observations(self._streams_of(entity_set, ident), inner, link)
                _attach(shaped, item.navigation, page)
                continue
            ids = self._graph.related(entity_set, ident, item.navigation)
            if navigation.many:
                page = self.collection(navigation.target, ids, item.options, link)
                _attach(shaped, item.navigation, page)
                continue
            found = self._graph.entity(navigation.target, ids[0]) if ids else None
            shaped[item.navigation] = (
                None if found is None else self._shape(navigation.target, found, item.options)
            )
        return shaped


def _attach(shaped: Json, navigation: str, page: Json) -> None:
    shaped[navigation] = page["value"]
    if "@iot.count" in page:
        shaped[f"{navigation}@iot.count"] = page["@iot.count"]
    if "@iot.nextLink" in page:
        shaped[f"{navigation}@iot.nextLink"] = page["@iot.nextLink"]


def _data_array(base: str, entities: list[Json], select: tuple[str, ...]) -> list[Json]:
    """Group Observations per datastream as the Data Array extension writes them (§14.2)."""
    components = [c for c in select if c in _COMPONENTS] or ["id", "phenomenonTime", "result"]
    groups: dict[str, Json] = {}
    for entity in entities:
        stream_link = f"{base}/Datastreams({split_observation_id(entity['@iot.id'])[0]})"
        group = groups.setdefault(
            stream_link,
            {
                "Datastream@iot.navigationLink": stream_link,
                "components": components,
                "dataArray": [],
            },
        )
        group["dataArray"].append(
            [entity["@iot.id"] if c == "id" else entity.get(c) for c in components]
        )
    for group in groups.values():
        group["dataArray@iot.count"] = len(group["dataArray"])
    return list(groups.values())


_COMPONENTS = ("id", "phenomenonTime", "resultTime", "result", "resultQuality")


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def build_sta(
    unit_of_work: UnitOfWorkFactory[StaUnitOfWork],
    clock: Clock,
    ingest: IngestService,
    place: Placer,
    zone: tzinfo,
    *,
    on_change: Callable[[], None] = lambda: None,
) -> StaService:
    """Return the SensorThings service (what the composition root calls)."""
    writer = StaWriter(unit_of_work, clock, place, on_change=on_change)
    return StaService(unit_of_work, clock, writer, StaObservationWriter(ingest, clock, zone))
