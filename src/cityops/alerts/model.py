"""Alert rules as data, alerts and their lifecycle, warning levels I–IV.

A rule watches the datastreams of one metric (optionally under a division or on listed devices)
and raises an alert of a warning level (突发事件应对法: 一级 红 highest … 四级 蓝) owned by a
department. Kinds of rule (``kind``):

* ``threshold``: the value is ``above`` (or ``below``) a limit for ``for_minutes``; it clears when
  it is back past ``clear`` (hysteresis; default the limit) for ``clear_minutes``;
* ``rate``: the value rose (``rise``) or fell (``fall``) by at least an amount within
  ``window_minutes`` (a manhole's water level rising);
* ``missing``: no reading for ``after_minutes`` (the device is silent);
* ``anomaly``: a robust z-score (median and MAD) against the same hour of the past ``weeks``
  weeks above ``z``;
* ``aqi``: a station's real-time AQI level (HJ 633—2026, from its pollutants' 1 h means) at least
  ``level_at_least`` (四级 = 4);
* ``noise_night``: a noise monitor over its zone's night limit (GB 3096-2008, the zone from the
  device's ``noise_zone`` property) for ``for_minutes`` during the night period.

Lifecycle: raised → acknowledged → resolved (by hand, or automatically when the condition
clears). While an alert is open, further breaches update it (dedupe: one open alert per rule and
subject); after it is resolved, a new breach within ``suppress_minutes`` is not raised again.
A rule may carry a case policy: the matter class and text of the case an alert opens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cityops.kernel.errors import ValidationFailed

KINDS = ("threshold", "rate", "missing", "anomaly", "aqi", "noise_night")
STATUSES = ("raised", "acknowledged", "resolved")
OPEN = ("raised", "acknowledged")
RULE_KEY = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")


@dataclass(frozen=True, slots=True)
class WarningLevel:
    """A warning level: I (一级, red, highest) to IV (四级, blue)."""

    code: str
    rank: int
    name: str
    color: str
    color_name: str


LEVELS = {
    "I": WarningLevel("I", 1, "一级", "#FF0000", "红色"),
    "II": WarningLevel("II", 2, "二级", "#FF7E00", "橙色"),
    "III": WarningLevel("III", 3, "三级", "#FFFF00", "黄色"),
    "IV": WarningLevel("IV", 4, "四级", "#0070C0", "蓝色"),
}


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """The case an alert of the rule opens: its matter class, text and urgency."""

    matter_code: str
    text: str
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """An alert rule (stored as data; see the module docstring for the kinds)."""

    key: str
    name: str
    kind: str
    metric: str
    level: str
    condition: Mapping[str, float]
    department: str | None = None
    division: str | None = None
    things: tuple[str, ...] = ()
    suppress_minutes: float = 0.0
    case: CasePolicy | None = None
    enabled: bool = True

    def as_json(self) -> dict[str, Any]:
        """Return the rule as data (what :func:`parse_rule` reads)."""
        data: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "kind": self.kind,
            "metric": self.metric,
            "level": self.level,
            "condition": dict(self.condition),
            "department": self.department,
            "division": self.division,
            "things": list(self.things),
            "suppress_minutes": self.suppress_minutes,
            "enabled": self.enabled,
            "case": None,
        }
        if self.case is not None:
            data["case"] = {
                "matter_code": self.case.matter_code,
                "text": self.case.text,
                "urgent": self.case.urgent,
            }
        return data


_CONDITIONS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required one of / all, optional)
    "threshold": ({"above", "below"}, {"for_minutes", "clear", "clear_minutes"}),
    "rate": ({"rise", "fall"}, {"window_minutes"}),
    "missing": ({"after_minutes"}, set()),
    "anomaly": ({"z"}, {"weeks", "min_samples"}),
    "aqi": ({"level_at_least"}, set()),
    "noise_night": (set(), {"for_minutes"}),
}
_EXCLUSIVE = {"threshold": ("above", "below"), "rate": ("rise", "fall")}


def _number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed.single(field_name, "number", f"{field_name} is a number")
    return float(value)


def parse_condition(kind: str, raw: Any) -> dict[str, float]:
    """Check a rule's condition for its kind; return it with numbers as floats."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed.single("condition", "object", "condition is an object")
    required, optional = _CONDITIONS[kind]
    unknown = set(raw) - required - optional
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ValidationFailed.single(
            f"condition.{sorted(unknown)[0]}", "known_field", f"{kind} rules take {allowed}"
        )
    condition = {name: _number(value, f"condition.{name}") for name, value in raw.items()}
    if kind in _EXCLUSIVE:
        given = [name for name in _EXCLUSIVE[kind] if name in condition]
        if len(given) != 1:
            first, second = _EXCLUSIVE[kind]
            raise ValidationFailed.single(
                "condition", "one_of", f"a {kind} rule needs exactly one of {first} or {second}"
            )
    else:
        missing = required - set(condition)
        if missing:
            raise ValidationFailed.single(
                f"condition.{sorted(missing)[0]}", "required", f"{kind} rules need it"
            )
    for name, value in condition.items():
        if name.endswith("_minutes") and not 0 <= value <= 7 * 24 * 60:
            raise ValidationFailed.single(f"condition.{name}", "range", "0 to 10080 minutes")
    if kind == "aqi" and not 1 <= condition["level_at_least"] <= 6:
        raise ValidationFailed.single("condition.level_at_least", "range", "an AQI level 1–6")
    if kind == "anomaly" and condition["z"] <= 0:
        raise ValidationFailed.single("condition.z", "positive", "z must be positive")
    return condition


def parse_rule(data: Mapping[str, Any], known_metrics: set[str]) -> Rule:
    """Check a rule given as data (YAML or JSON); errors name the field and the rule."""
    key = data.get("key")
    if not isinstance(key, str) or not RULE_KEY.fullmatch(key):
        raise ValidationFailed.single(
            "key", "pattern", "lower-case letters, digits and . _ - (at most 64)"
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValidationFailed.single("kind", "one_of", f"one of {', '.join(KINDS)}")
    metric = data.get("metric")
    if kind == "aqi":
        metric = metric or "pm25"
    if metric not in known_metrics:
        raise ValidationFailed.single(
            "metric", "known_metric", f"{metric!r} is not in the catalogue"
        )
    level = data.get("level", "III")
    if level not in LEVELS:
        raise ValidationFailed.single("level", "one_of", "a warning level: I, II, III or IV")
    name = data.get("name", key)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValidationFailed.single("name", "text", "name is a text of at most 100 characters")
    things = data.get("things") or []
    if not isinstance(things, list) or not all(isinstance(t, str) for t in things):
        raise ValidationFailed.single("things", "array", "things is a list of device keys")
    for optional in ("department", "division"):
        value = data.get(optional)
        if value is not None and not isinstance(value, str):
            raise ValidationFailed.single(optional, "text", f"{optional} is a code")
    case = data.get("case")
    policy = None
    if case is not None:
        if not isinstance(case, Mapping) or not isinstance(case.get("matter_code"), str):
            raise ValidationFailed.single("case.matter_code", "required", "the case's matter class")
        text = case.get("text") or name
        if not isinstance(text, str):
            raise ValidationFailed.single("case.text", "text", "the case's description")
        policy = CasePolicy(case["matter_code"], text, bool(case.get("urgent", False)))
    suppress = _number(data.get("suppress_minutes", 0), "suppress_minutes")
    return Rule(
        key=key,
        name=name.strip(),
        kind=kind,
        metric=str(metric),
        level=level,
        condition=parse_condition(kind, data.get("condition", {})),
        department=data.get("department"),
        division=data.get("division"),
        things=tuple(things),
        suppress_minutes=suppress,
        case=policy,
        enabled=bool(data.get("enabled", True)),
    )


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a rule's breach on one subject (a datastream or, for AQI, a device)."""

    id: int
    rule_key: str
    level: str
    status: str
    subject: str  # the datastream key, or the thing key for device-level rules
    datastream_id: int | None
    thing_id: int | None
    grid_code: str | None
    department_code: str | None
    message: str
    value: float | None
    raised_at: datetime
    last_seen_at: datetime
    occurrences: int = 1
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None  # "auto" or "manual"
    case_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data (with the level's name and colour)."""
        level = LEVELS[self.level]

        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "rule": self.rule_key,
            "level": self.level,
            "level_name": level.name,
            "color": level.color,
            "color_name": level.color_name,
            "status": self.status,
            "subject": self.subject,
            "datastream_id": self.datastream_id,
            "thing_id": self.thing_id,
            "grid_code": self.grid_code,
            "department_code": self.department_code,
            "message": self.message,
            "value": self.value,
            "raised_at": moment(self.raised_at),
            "last_seen_at": moment(self.last_seen_at),
            "occurrences": self.occurrences,
            "acknowledged_at": moment(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": moment(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
            "case_id": self.case_id,
            "extra": dict(self.extra),
        }
