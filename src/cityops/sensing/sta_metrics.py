"""Which catalogue metric a SensorThings ObservedProperty stands for, and in which unit.

Every ObservedProperty names one metric of the catalogue (:mod:`cityops.sensing.metrics`):
``properties.metric``, else its ``name`` or ``definition`` (the last path segment of a URI)
matched against the metrics' keys, names and abbreviations, without regard to case, spaces,
dots, dashes or subscripts (``PM2.5`` → ``pm25``, ``NO₂`` → ``no2``, ``Air temperature`` →
``temperature``). A Datastream's unit must be its metric's canonical one (:func:`check_unit`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.metrics import metric, metrics, normalise_unit

_FOLD = str.maketrans({"₂": "2", "₃": "3", "₄": "4", "ₓ": "x"})
_NOISE = re.compile(r"[\s._\-·()]+")


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@cache
def _labels() -> dict[str, str]:
    found: dict[str, str] = {}
    for m in metrics():
        names = {m.key, m.name_zh, m.name_en, *m.name_zh.split(" ")}
        names.update(re.findall(r"\(([^)]+)\)", m.name_en))
        for name in names:
            found.setdefault(fold(name), m.key)
    return found


def fold(name: str) -> str:
    """Return a name folded for matching (case, spaces, dots, dashes, subscripts)."""
    return _NOISE.sub("", name.translate(_FOLD).lower())


def find_metric(data: Mapping[str, Any], prefix: str) -> str:
    """Return the metric an ObservedProperty stands for, or refuse (rule ``known_metric``)."""
    properties = data.get("properties")
    if isinstance(properties, Mapping) and properties.get("metric") is not None:
        given = properties["metric"]
        if not isinstance(given, str):
            raise ValidationFailed.single(
                _at(prefix, "properties.metric"), "known_metric", "metric is a catalogue key"
            )
        try:
            return metric(given).key
        except ValidationFailed as error:
            issue = error.issues[0]
            raise ValidationFailed.single(
                _at(prefix, "properties.metric"), issue.rule, issue.message
            ) from None
    for name in ("name", "definition"):
        value = data.get(name)
        if not isinstance(value, str):
            continue
        candidates = [value, re.split(r"[/#]", value.rstrip("/#"))[-1]]
        for candidate in candidates:
            found = _labels().get(fold(candidate))
            if found is not None:
                return found
    keys = ", ".join(m.key for m in metrics())
    raise ValidationFailed.single(
        _at(prefix, "name"),
        "known_metric",
        f"{data.get('name')!r} names no metric of the catalogue; give one of {keys} as the "
        "name or as properties.metric",
    )


def check_unit(unit: Mapping[str, Any] | None, metric_key: str, field: str) -> None:
    """Refuse a unitOfMeasurement other than the metric's canonical unit.

    Readings are stored in the canonical unit only; a datastream declaring another unit would
    have its readings stored unconverted by the doors that do not read the declaration (MQTT,
    the batch), so it is refused (rule ``canonical_unit``) rather than half-honoured.
    """
    if unit is None:
        return
    found = metric(metric_key)
    symbol, definition = unit.get("symbol"), unit.get("definition")
    if definition == found.definition:
        return
    if isinstance(symbol, str) and (symbol == found.symbol or normalise_unit(symbol) == found.unit):
        return
    others = ", ".join(u for u in found.units if u != found.symbol) or "none"
    raise ValidationFailed.single(
        _at(field, "unitOfMeasurement"),
        "canonical_unit",
        f"{metric_key} readings are stored in {found.symbol} ({found.definition}); declare that "
        f"unit and convert on the device, or send readings in {others} with a unit through "
        "POST /api/v1/observations",
    )
