"""Turn telemetry payloads into checked readings, item by item, keeping every refusal's reason.

Three shapes are accepted for an item (the HTTP batch, MQTT messages and SensorThings all end
here):

* ours: ``{"datastream": 12 | "AQ-0001/pm25", "time": "2026-11-23T08:00:00+08:00",
  "value": 35, "unit": "ug/m3", "quality": "good"}`` (``unit`` and ``quality`` optional);
* a device's several readings at one time: ``{"thing": "AQ-0001", "time": …, "values":
  {"pm25": 35, "pm10": 61}}``, each value going to the thing's datastream of that metric;
* a SensorThings Observation: ``{"phenomenonTime": …, "result": 35, "Datastream":
  {"@iot.id": 12}}`` (the datastream may also come from the MQTT topic or the URL);

and the compact CSV line ``datastream,time,value[,quality]``.

A reading is refused, with the field and the rule, when its datastream is unknown, its time is
not ISO 8601 or lies in the future beyond a tolerance or before 2000, its value is not a finite
number or is outside the datastream's valid range, or its unit cannot be converted. A time
without an offset is read in the city's time zone. Good readings go on: one bad item never
refuses its neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.model import (
    QUALITY_CODES,
    QUALITY_NAMES,
    Datastream,
    ItemError,
    ObservationBatch,
    to_millis,
)
from cityops.sensing.registry import StreamRegistry, StreamSnapshot

EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: older readings are typing errors
MAX_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class DecodeRules:
    """The checks' settings: the city's zone for times without offset, the future tolerance."""

    zone: tzinfo
    future_ms: int = 300_000


class _Refused(Exception):
    """One reading is refused (internal: becomes an ItemError)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


class Decoder:
    """Checks items against the registry's datastreams; safe to share between threads."""

    def __init__(self, registry: StreamRegistry, rules: DecodeRules) -> None:
        self._registry = registry
        self._rules = rules

    def decode(
        self,
        items: Sequence[Any],
        now_ms: int,
        *,
        prefix: str = "observations",
        datastream: int | str | None = None,
    ) -> tuple[ObservationBatch, list[ItemError]]:
        """Return the good readings of ``items`` and an error for each refused one.

        ``datastream`` is the stream of items that name none (an MQTT topic, a SensorThings
        URL); ``prefix`` starts the error fields (``observations[3].value``).
        """
        batch = ObservationBatch()
        errors: list[ItemError] = []
        snapshot = self._registry.snapshot()
        reloaded = False
        for index, item in enumerate(items):
            where = f"{prefix}[{index}]"
            try:
                try:
                    self._one(snapshot, item, now_ms, datastream, where, batch)
                except _UnknownStream:
                    if reloaded:
                        raise
                    snapshot, reloaded = self._registry.reload(), True
                    self._one(snapshot, item, now_ms, datastream, where, batch)
            except _Refused as refused:
                errors.append(ItemError(index, refused.field, refused.rule, refused.message))
        return batch, errors

    def _one(
        self,
        snapshot: StreamSnapshot,
        item: Any,
        now_ms: int,
        default_stream: int | str | None,
        where: str,
        batch: ObservationBatch,
    ) -> None:
        if not isinstance(item, Mapping):
            raise _Refused(where, "object", "each item must be a JSON object")
        values = item.get("values")
        if values is not None:
            self._device_readings(snapshot, item, values, now_ms, where, batch)
            return
        if "result" in item or "phenomenonTime" in item:  # a SensorThings Observation
            ref = _sta_datastream(item, default_stream, where)
            raw_time, raw_value = item.get("phenomenonTime"), item.get("result")
            time_field, value_field = "phenomenonTime", "result"
            quality = item.get("resultQuality")
        else:
            ref = item.get("datastream", default_stream)
            raw_time, raw_value = item.get("time"), item.get("value")
            time_field, value_field = "time", "value"
            quality = item.get("quality")
        stream = _stream(snapshot, ref, f"{where}.datastream")
        millis = self._time(raw_time, now_ms, f"{where}.{time_field}")
        value = self._value(stream, raw_value, item.get("unit"), f"{where}.{value_field}")
        batch.append(stream.id, millis, value, _quality(quality, f"{where}.quality"))

    def _device_readings(
        self,
        snapshot: StreamSnapshot,
        item: Mapping[str, Any],
        values: Any,
        now_ms: int,
        where: str,
        batch: ObservationBatch,
    ) -> None:
        thing = item.get("thing")
        if not isinstance(thing, str) or not thing:
            raise _Refused(f"{where}.thing", "required", "name the thing (device key)")
        if not isinstance(values, Mapping) or not values:
            raise _Refused(f"{where}.values", "object", "values must map metrics to numbers")
        millis = self._time(item.get("time"), now_ms, f"{where}.time")
        quality = _quality(item.get("quality"), f"{where}.quality")
        checked: list[tuple[int, float]] = []
        for metric_key, raw in values.items():
            stream = snapshot.by_thing_metric.get((thing, metric_key))
            if stream is None:
                if thing not in snapshot.thing_keys.values():
                    raise _UnknownStream(f"{where}.thing", "known_thing", f"no thing {thing!r}")
                raise _UnknownStream(
                    f"{where}.values.{metric_key}",
                    "known_datastream",
                    f"thing {thing!r} has no datastream of metric {metric_key!r}",
                )
            checked.append(
                (stream.id, self._value(stream, raw, None, f"{where}.values.{metric_key}"))
            )
        for stream_id, value in checked:  # all of the item's readings, or none of them
            batch.append(stream_id, millis, value, quality)

    def _time(self, raw: Any, now_ms: int, field: str) -> int:
        if not isinstance(raw, str):
            raise _Refused(field, "iso8601", "give the time as an ISO 8601 text")
        text = raw.strip()
        if "/" in text:  # a SensorThings interval: the reading is at its start
            text = text.split("/", 1)[0]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _Refused(field, "iso8601", f"{raw!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._rules.zone)
        millis = to_millis(moment)
        if millis > now_ms + self._rules.future_ms:
            raise _Refused(field, "not_future", f"{raw} is in the future")
        if millis < EARLIEST_MS:
            raise _Refused(field, "not_before_2000", f"{raw} is before 2000-01-01")
        return millis

    def _value(self, stream: Datastream, raw: Any, unit: Any, field: str) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _Refused(field, "number", "the value must be a number")
        try:
            value = float(raw)
        except OverflowError:  # an integer beyond a float's range
            value = math.inf
        if not math.isfinite(value):
            raise _Refused(field, "finite", "the value must be finite")
        if unit is not None and unit != stream.unit:
            if not isinstance(unit, str):
                raise _Refused(field.rsplit(".", 1)[0] + ".unit", "text", "the unit is a text")
            try:
                a, b = self._registry.unit_factor(stream.metric, unit)
            except ValidationFailed as error:
                issue = error.issues[0]
                raise _Refused(
                    field.rsplit(".", 1)[0] + ".unit", issue.rule, issue.message
                ) from None
            value = a * value + b
            if not math.isfinite(value):
                raise _Refused(field, "finite", "the value is not finite in the stored unit")
        if not stream.minimum <= value <= stream.maximum:
            raise _Refused(
                field,
                "in_range",
                f"{value:g} {stream.unit} is outside the valid range "
                f"{stream.minimum:g}–{stream.maximum:g} of {stream.key}",
            )
        return value


class _UnknownStream(_Refused):
    """The item names a datastream the snapshot does not know (reload once, then refuse)."""


def _stream(snapshot: StreamSnapshot, ref: Any, field: str) -> Datastream:
    if isinstance(ref, bool) or ref is None:
        raise _Refused(field, "required", "name the datastream (its id or key)")
    if isinstance(ref, int):
        found = snapshot.by_id.get(ref)
    elif isinstance(ref, str):
        found = snapshot.by_key.get(ref)
        if found is None and ref.isascii() and ref.isdigit():
            found = snapshot.by_id.get(int(ref))
    else:
        raise _Refused(field, "id_or_key", "the datastream is an id (number) or a key (text)")
    if found is None:
        raise _UnknownStream(field, "known_datastream", f"no datastream {ref!r}")
    return found


def _sta_datastream(item: Mapping[str, Any], default: int | str | None, where: str) -> Any:
    link = item.get("Datastream")
    if link is None:
        return default
    if not isinstance(link, Mapping) or "@iot.id" not in link:
        raise _Refused(f"{where}.Datastream", "iot_id", 'link the datastream as {"@iot.id": …}')
    return link["@iot.id"]


def _quality(raw: Any, field: str) -> int:
    if raw is None:
        return 0
    if isinstance(raw, str) and raw in QUALITY_CODES:
        return QUALITY_CODES[raw]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in QUALITY_NAMES:
        return raw
    raise _Refused(field, "one_of", f"quality is one of {', '.join(QUALITY_CODES)}")


def csv_items(text: str) -> list[dict[str, Any]]:
    """Return the items of compact CSV lines ``datastream,time,value[,quality]``.

    A line that does not split into 3 or 4 fields becomes an item that fails its check (so the
    error keeps the line's position); the value is read as a number when it looks like one.
    """
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) not in (3, 4):
            items.append({"datastream": None, "line": line})
            continue
        item: dict[str, Any] = {
            "datastream": parts[0],
            "time": parts[1],
            "value": _number(parts[2]),
        }
        if len(parts) == 4 and parts[3]:
            item["quality"] = parts[3]
        items.append(item)
    return items


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
