"""SensorThings Observations in: ``POST …/Observations`` and ``CreateObservations`` (dataArray).

Both end in :meth:`cityops.sensing.ingest.IngestService.ingest`, the door every reading takes,
so a reading sent here is checked (datastream, time, number, range, quality) and stored exactly
as one sent over HTTP or MQTT, and a repeated one is a no-op. What this module adds is the
SensorThings shape:

* an Observation's time is its ``phenomenonTime`` (an interval's start; the server's now when
  absent, as 18-088 says); ``resultTime`` is not stored (it reads back as the phenomenon time)
  and a ``FeatureOfInterest`` is ignored (it is derived from the thing's location); a
  ``validTime`` or ``parameters`` is refused (rule ``unsupported``): it could not be kept;
* ``CreateObservations`` (§14.3) takes ``[{"Datastream": {"@iot.id": n}, "components": […],
  "dataArray": [[…], …]}, …]`` and answers, per row in order, the new Observation's selfLink or
  ``"error: <field>: <message> (rule: <rule>)"``; good rows are stored even when others fail.

An Observation's id is ``(datastream << 42) | time ms``, so its selfLink is known from the row
itself; the time is normalised here (a time without offset is read in the city's zone, as the
decoder reads it) before the ingest service checks it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from cityops.auth.model import Principal
from cityops.kernel.clock import Clock
from cityops.kernel.errors import FieldIssue, ValidationFailed
from cityops.sensing.ingest import IngestService
from cityops.sensing.model import ItemError, to_millis
from cityops.sensing.sta_bodies import Link, link_or_object
from cityops.sensing.sta_entities import iso, observation_id, self_link

_FIELDS = {"phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters"}
_LINKS = {"Datastream", "FeatureOfInterest"}
_COMPONENTS = {"id", "phenomenonTime", "result", "resultTime", "resultQuality"}
_COMPONENTS |= {"validTime", "parameters", "FeatureOfInterest/id"}
_RENAMED = {"datastream": "Datastream", "quality": "resultQuality", "unit": "unitOfMeasurement"}


class _RowError(Exception):
    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.issue = FieldIssue(field, rule, message)


class StaObservationWriter:
    """Turns SensorThings Observations into ingest items and answers in SensorThings terms."""

    def __init__(self, ingest: IngestService, clock: Clock, zone: tzinfo) -> None:
        self._ingest = ingest
        self._clock = clock
        self._zone = zone

    def create(self, principal: Principal, body: Any, stream: int | None) -> int:
        """Store one Observation (``stream``: the datastream the URL names); return its id."""
        if not isinstance(body, Mapping):
            raise ValidationFailed.single("body", "object", "an Observation is a JSON object")
        for key in body:
            known = key.startswith("@iot.") or key.endswith("@iot.navigationLink")
            if not known and key not in _FIELDS | _LINKS:
                expected = ", ".join(sorted(_FIELDS | _LINKS))
                raise ValidationFailed.single(
                    key, "unknown_property", f"Observations have no {key!r}; {expected}"
                )
        try:
            linked = self._linked_stream(body.get("Datastream"), stream, "Datastream")
            item, millis = self._item(dict(body), linked)
        except _RowError as error:
            raise ValidationFailed(error.issue) from None
        report = self._ingest.ingest(principal, [item], prefix="Observation")
        if report.errors:
            raise ValidationFailed([_issue(e) for e in report.errors])
        return observation_id(linked, millis)

    def create_many(self, principal: Principal, body: Any, base: str) -> list[str]:
        """Store the rows of ``CreateObservations``; return a selfLink or an error per row."""
        if not isinstance(body, list):
            raise ValidationFailed.single(
                "body", "array", "CreateObservations takes a JSON array of dataArray groups"
            )
        answers: list[str | None] = []
        items: list[Any] = []
        positions: list[tuple[int, int]] = []  # (answer index, observation id) per item
        for g, group in enumerate(body):
            stream, components, rows = self._group(group, g)
            for row in rows:
                try:
                    if not isinstance(row, list) or len(row) != len(components):
                        raise _RowError(
                            "dataArray", "components", f"a row has {len(components)} values"
                        )
                    item, millis = self._item(dict(zip(components, row, strict=True)), stream)
                except _RowError as error:
                    answers.append(_error_text(error.issue))
                    continue
                positions.append((len(answers), observation_id(stream, millis)))
                answers.append(None)
                items.append(item)
        report = self._ingest.ingest(principal, items, prefix="dataArray")
        for refused in report.errors:
            answers[positions[refused.index][0]] = _error_text(_issue(refused))
        for index, ident in positions:
            if answers[index] is None:
                answers[index] = self_link(base, "Observations", ident)
        return [a or "error" for a in answers]

    def _group(self, group: Any, g: int) -> tuple[int, list[str], list[Any]]:
        where = f"[{g}]"
        if not isinstance(group, Mapping):
            raise ValidationFailed.single(where, "object", "each group is a JSON object")
        stream = self._linked_stream(group.get("Datastream"), None, f"{where}.Datastream")
        components = group.get("components")
        if (
            not isinstance(components, list)
            or not components
            or not all(isinstance(c, str) and c in _COMPONENTS for c in components)
            or len(set(components)) != len(components)
        ):
            raise ValidationFailed.single(
                f"{where}.components",
                "one_of",
                f"components are distinct names of {', '.join(sorted(_COMPONENTS))}",
            )
        if "result" not in components:
            raise ValidationFailed.single(f"{where}.components", "required", "name the result")
        rows = group.get("dataArray")
        if not isinstance(rows, list):
            raise ValidationFailed.single(f"{where}.dataArray", "array", "dataArray is an array")
        count = group.get("dataArray@iot.count")
        if count is not None and count != len(rows):
            raise ValidationFailed.single(
                f"{where}.dataArray@iot.count", "count", f"the dataArray has {len(rows)} rows"
            )
        return stream, components, rows

    @staticmethod
    def _linked_stream(value: Any, stream: int | None, field: str) -> int:
        if value is None:
            if stream is None:
                raise _as_error(field, "required", 'link the Datastream as {"@iot.id": n}')
            return stream
        try:
            found = link_or_object(value, field)
        except ValidationFailed as error:
            issue = error.issues[0]
            raise _as_error(issue.field, issue.rule, issue.message) from None
        if not isinstance(found, Link):
            raise _as_error(field, "link", 'link the Datastream as {"@iot.id": n}')
        if stream is not None and found.id != stream:
            raise _as_error(field, "conflict", f"the URL names Datastreams({stream})")
        return found.id

    def _item(self, values: dict[str, Any], stream: int) -> tuple[dict[str, Any], int]:
        """Return the ingest item of an Observation and its time in ms."""
        for name in ("validTime", "parameters"):
            if values.get(name) not in (None, {}, ""):
                raise _RowError(name, "unsupported", f"{name} is not kept by this server")
        raw = values.get("phenomenonTime")
        millis = to_millis(self._clock.now()) if raw is None else self._millis(raw)
        item: dict[str, Any] = {
            "phenomenonTime": raw if millis is None else iso(millis),
            "result": values.get("result"),
            "Datastream": {"@iot.id": stream},
        }
        if values.get("resultQuality") is not None:
            item["resultQuality"] = values["resultQuality"]
        return item, millis or 0

    def _millis(self, raw: Any) -> int | None:
        """Return a time as the decoder reads it (None: it refuses it, with the reason)."""
        if not isinstance(raw, str):
            return None
        text = raw.strip().split("/", 1)[0]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
        return to_millis(moment)


def _as_error(field: str, rule: str, message: str) -> Exception:
    """Return the error for a request-level problem (a group's link, the URL's datastream)."""
    if field.startswith("["):
        return ValidationFailed.single(field, rule, message)
    return _RowError(field, rule, message)


def _issue(error: ItemError) -> FieldIssue:
    """Return an ingest refusal with the field named as SensorThings names it."""
    field = error.field.split("].", 1)[1] if "]." in error.field else error.field
    return FieldIssue(_RENAMED.get(field, field), error.rule, error.message)


def _error_text(issue: FieldIssue) -> str:
    return f"error: {issue.field}: {issue.message} (rule: {issue.rule})"
