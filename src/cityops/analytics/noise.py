"""Environmental noise index under GB 3096—2008 《声环境质量标准》.

The standard's numbers live in a versioned data file (``data/gb3096-2008.json``): the functional
zone classes 0, 1, 2, 3, 4a, 4b (第4章) with the day (昼间) and night (夜间) limits of the
equivalent sound level L_Aeq in 表1 (5.1), the railway notes (5.2, 5.3), the night-time maximum
rule (5.4) and the day/night periods (第3章: 06:00–22:00 and 22:00–06:00, which local government
may redefine, so callers can pass their own :class:`Periods`). What is computed here:

* :func:`leq`: the energy (time-weighted) mean 10·lg(Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ), which is how
  shorter L_Aeq values combine into a longer one;
* :func:`day_night`: Ld (昼间等效声级) and Ln (夜间等效声级) from timed samples, split at the
  period boundaries, and Ldn (昼夜等效声级) = 10·lg((Td·10^(Ld/10) + Tn·10^((Ln+10)/10)) / 24),
  with Td and Tn the lengths of the configured periods (16 h and 8 h by default). GB 3096—2008
  judges Ld and Ln separately against 表1; Ldn is the textbook day–night level with a 10 dB night
  penalty, given for trends and comparison, not for compliance;
* :func:`assess`: per period the limit, the measured value, the amount over (超标量) and whether
  it complies (达标), plus the 5.4 rule: at night L_max may exceed the night limit by at most
  15 dB(A).

Rounding (a choice, stated because the standard does not fix it): monitoring reports give L_Aeq
to one decimal, so every published level is rounded to 0.1 dB half to even (GB/T 8170, as
``aqi.py`` rounds concentrations) and compliance is judged on the rounded value: 55.04 at a
55 dB(A) limit complies, 55.05 rounds to 55.0 and complies, 55.06 does not. Ldn is computed
from the unrounded Ld and Ln. Times are read as wall-clock local time: convert UTC readings to
the city's zone (Asia/Shanghai) before calling.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

from cityops.kernel.errors import ValidationFailed

STANDARDS = {"GB3096-2008": "gb3096-2008.json"}
DEFAULT_STANDARD = "GB3096-2008"
NIGHT_PENALTY_DB = 10  # the day–night level's weighting of night noise, not a GB 3096 number
STEP = Decimal("0.1")
DAY = timedelta(hours=24)

Period = Literal["day", "night"]
Number = Decimal | float | int | str


@dataclass(frozen=True)
class Limits:
    """The 表1 limits of one functional zone, in dB(A)."""

    zone: str
    name: str
    description: str
    day: int
    night: int
    lmax_night: int  # 5.4: the night limit plus 15 dB(A)


@dataclass(frozen=True)
class Periods:
    """Day (昼间) runs from ``day_start`` to ``night_start``, night (夜间) back; may cross 0:00."""

    day_start: time
    night_start: time

    def __post_init__(self) -> None:
        if _of_day(self.day_start) == _of_day(self.night_start):
            raise ValidationFailed.single(
                "periods", "distinct", "day and night must start at different times"
            )

    @classmethod
    def of(cls, day_start: str | time, night_start: str | time) -> Periods:
        """Build periods from ``HH:MM`` strings or times (a local government's division)."""
        return cls(_clock("day_start", day_start), _clock("night_start", night_start))

    @property
    def day_length(self) -> timedelta:
        """How long the day period lasts."""
        return (_of_day(self.night_start) - _of_day(self.day_start)) % DAY

    @property
    def night_length(self) -> timedelta:
        """How long the night period lasts."""
        return DAY - self.day_length


@dataclass(frozen=True)
class Sample:
    """One measured L_Aeq: its local start time and, optionally, the interval it covers."""

    at: datetime
    level: float
    duration: timedelta | None = None


@dataclass(frozen=True)
class DayNight:
    """Ld, Ln and Ldn rounded to 0.1 dB; None where a period had no samples (see ``missing``)."""

    ld: Decimal | None
    ln: Decimal | None
    ldn: Decimal | None
    missing: tuple[Period, ...]
    counts: dict[str, int]  # samples (or parts of samples) that fell in each period
    hours: dict[str, float] | None  # hours covered per period; None when no durations were given

    def as_json(self) -> dict[str, Any]:
        """Return the levels as JSON-ready values."""
        levels = {"ld": self.ld, "ln": self.ln, "ldn": self.ldn}
        found = {name: None if value is None else float(value) for name, value in levels.items()}
        hours = dict(self.hours) if self.hours is not None else None
        return {**found, "missing": list(self.missing), "counts": dict(self.counts), "hours": hours}


@dataclass(frozen=True)
class Check:
    """One comparison with a limit: the measured value, the 超标量 and whether it is 达标."""

    period: str  # day, night or lmax_night
    name: str
    limit: int
    measured: Decimal
    over: Decimal  # 超标量: how far above the limit, 0.0 when it complies
    complies: bool

    def as_json(self) -> dict[str, Any]:
        """Return the check as JSON-ready values."""
        return {k: float(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class NoiseAssessment:
    """A zone's levels against 表1 and the 5.4 rule."""

    standard: str
    zone: str
    zone_name: str
    day: Check | None
    night: Check | None
    lmax_night: Check | None

    @property
    def complies(self) -> bool | None:
        """Whether every given level complies; None when no level was given."""
        checks = [check for check in self.checks.values() if check is not None]
        return all(check.complies for check in checks) if checks else None

    @property
    def checks(self) -> dict[str, Check | None]:
        """The three checks by period: ``day``, ``night``, ``lmax_night``."""
        return {"day": self.day, "night": self.night, "lmax_night": self.lmax_night}

    def as_json(self) -> dict[str, Any]:
        """Return the assessment as JSON-ready values."""
        return {
            "standard": self.standard,
            "zone": self.zone,
            "zone_name": self.zone_name,
            "complies": self.complies,
            **{name: check.as_json() if check else None for name, check in self.checks.items()},
        }


@cache
def table(standard: str = DEFAULT_STANDARD) -> dict[str, Any]:
    """Return a standard's tables (the parsed data file)."""
    if standard not in STANDARDS:
        raise ValidationFailed.single(
            "standard", "one_of", f"unknown {standard!r}; expected one of {', '.join(STANDARDS)}"
        )
    text = resources.files("cityops.analytics").joinpath("data", STANDARDS[standard])
    return dict(json.loads(text.read_text(encoding="utf-8")))


def zones(standard: str = DEFAULT_STANDARD) -> tuple[str, ...]:
    """Return the functional zone classes: ``0``, ``1``, ``2``, ``3``, ``4a``, ``4b``."""
    return tuple(item["zone"] for item in table(standard)["zones"])


def limits(zone: str | int, standard: str = DEFAULT_STANDARD) -> Limits:
    """Return a zone's day and night limits; ``"4A"``, ``"4a类"`` and ``1`` are understood."""
    key = str(zone).strip().lower().removesuffix("类")
    rules = table(standard)
    for item in rules["zones"]:
        if item["zone"] == key:
            lmax = item["night"] + rules["night_maximum"]["above_night_limit"]
            return Limits(key, item["name"], item["description"], item["day"], item["night"], lmax)
    hint = " (class 4 is split: say 4a or 4b)" if key == "4" else ""
    raise ValidationFailed.single(
        "zone", "one_of", f"unknown {zone!r}{hint}; expected one of {', '.join(zones(standard))}"
    )


def default_periods(standard: str = DEFAULT_STANDARD) -> Periods:
    """Return the standard's periods: 昼间 06:00–22:00, 夜间 22:00–06:00."""
    spans = table(standard)["periods"]
    return Periods.of(spans["day"]["start"], spans["night"]["start"])


def period_of(when: datetime | time, periods: Periods | None = None) -> Period:
    """Return ``day`` or ``night`` for a local wall-clock time (start inclusive, end exclusive)."""
    return _position(when, periods or default_periods())[0]


def published(field: str, value: Number) -> Decimal:
    """Round a level as it is reported: 0.1 dB, half to even."""
    _finite(field, value)
    # From the text, not the float, so that "55.05" is rounded as written.
    return Decimal(str(value)).quantize(STEP, rounding=ROUND_HALF_EVEN)


def leq(levels: Sequence[float | Decimal], durations: Sequence[float] | None = None) -> float:
    """Return the energy mean of L_Aeq values, weighted by durations (equal by default).

    Durations may be in any one unit; zero-length ones count for nothing.
    """
    values = [_finite(f"levels[{i}]", level) for i, level in enumerate(levels)]
    if not values:
        raise ValidationFailed.single("levels", "non_empty", "need at least one level")
    if durations is None:
        weights = [1.0] * len(values)
    elif len(durations) != len(values):
        raise ValidationFailed.single(
            "durations", "same_length", f"{len(durations)} durations for {len(values)} levels"
        )
    else:
        weights = [_finite(f"durations[{i}]", d, minimum=0) for i, d in enumerate(durations)]
    used = [(v, w) for v, w in zip(values, weights, strict=True) if w > 0]
    if not used:
        raise ValidationFailed.single("durations", "positive_total", "the durations sum to 0")
    # Factor out the loudest level so that 10^(L/10) cannot overflow for any finite input.
    top = max(v for v, _ in used)
    low = min(v for v, _ in used)
    energy = math.fsum(w * 10 ** ((v - top) / 10) for v, w in used)
    mean = top + 10 * math.log10(energy / math.fsum(w for _, w in used))
    # An energy mean lies between its extremes; the clamp only removes float error.
    return min(max(mean, low), top)


def ldn(ld: float, ln: float, periods: Periods | None = None) -> float:
    """Return the day–night level: Ld and Ln + 10 dB, energy-averaged over the periods' hours."""
    spans = periods or default_periods()
    hours = [spans.day_length / timedelta(hours=1), spans.night_length / timedelta(hours=1)]
    return leq([_finite("ld", ld), _finite("ln", ln) + NIGHT_PENALTY_DB], hours)


def day_night(
    samples: Iterable[Sample | tuple[datetime, float] | tuple[datetime, float, timedelta]],
    periods: Periods | None = None,
) -> DayNight:
    """Return Ld, Ln and Ldn from L_Aeq samples ``(local start, level[, duration])``.

    Without durations each sample weighs the same and belongs to the period of its start; with
    durations (all or none) a sample that crosses a period boundary is split there, at its level.
    A period with no samples gives None and is listed in ``missing``, and then so is Ldn.
    Samples are pooled per period, whatever their date: pass one day's (or one campaign's).
    """
    spans = periods or default_periods()
    items = [_sample(i, item) for i, item in enumerate(samples)]
    timed = {item.duration is not None for item in items}
    if len(timed) > 1:
        raise ValidationFailed.single(
            "durations", "all_or_none", "give every sample a duration, or none"
        )
    levels: dict[Period, list[float]] = {"day": [], "night": []}
    weights: dict[Period, list[float]] = {"day": [], "night": []}
    for item in items:
        if item.duration is None:
            parts = [(period_of(item.at, spans), 1.0)]
        else:
            parts = _split(item.at, item.duration, spans)
        for name, weight in parts:
            levels[name].append(item.level)
            weights[name].append(weight)
    found = {name: leq(levels[name], weights[name]) for name in levels if levels[name]}
    missing = tuple(name for name in levels if name not in found)
    both = "day" in found and "night" in found
    return DayNight(
        ld=_rounded(found.get("day")),
        ln=_rounded(found.get("night")),
        ldn=_rounded(ldn(found["day"], found["night"], spans) if both else None),
        missing=missing,
        counts={name: len(levels[name]) for name in levels},
        hours={n: math.fsum(w) / 3600 for n, w in weights.items()} if timed == {True} else None,
    )


def assess(
    zone: str | int,
    ld: Number | None = None,
    ln: Number | None = None,
    lmax_night: Number | None = None,
    *,
    standard: str = DEFAULT_STANDARD,
) -> NoiseAssessment:
    """Compare Ld and Ln with a zone's 表1 limits and the night L_max with 5.4's."""
    found = limits(zone, standard)
    periods = table(standard)["periods"]
    lmax_name = f"{periods['night']['name']}突发噪声最大声级"
    return NoiseAssessment(
        standard=table(standard)["standard"],
        zone=found.zone,
        zone_name=found.name,
        day=_check("ld", "day", periods["day"]["name"], found.day, ld),
        night=_check("ln", "night", periods["night"]["name"], found.night, ln),
        lmax_night=_check("lmax_night", "lmax_night", lmax_name, found.lmax_night, lmax_night),
    )


def _check(field: str, period: str, name: str, limit: int, value: Number | None) -> Check | None:
    if value is None:
        return None
    measured = published(field, value)
    over = max(measured - limit, Decimal(0)).quantize(STEP)
    return Check(period, name, limit, measured, over, measured <= limit)


def _finite(field: str, value: Number, minimum: float | None = None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed.single(field, "number", f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValidationFailed.single(field, "finite", f"must be a finite number, got {value}")
    if minimum is not None and number < minimum:
        raise ValidationFailed.single(field, "non_negative", f"must be ≥ {minimum}, got {value}")
    return number


def _sample(index: int, item: Sample | tuple[Any, ...]) -> Sample:
    sample = item if isinstance(item, Sample) else Sample(*item)
    field = f"samples[{index}]"
    if not isinstance(sample.at, datetime):
        raise ValidationFailed.single(f"{field}.at", "datetime", f"not a datetime: {sample.at!r}")
    level = _finite(f"{field}.level", sample.level)
    if sample.duration is not None and sample.duration <= timedelta(0):
        raise ValidationFailed.single(f"{field}.duration", "positive", "must be longer than 0")
    return Sample(sample.at, level, sample.duration)


def _split(start: datetime, length: timedelta, spans: Periods) -> list[tuple[Period, float]]:
    # Walk from boundary to boundary so that a long interval (even over several days) is shared
    # out exactly; timedelta arithmetic is exact to the microsecond.
    parts: list[tuple[Period, float]] = []
    at, left = start, length
    while left > timedelta(0):
        name, until_end = _position(at, spans)
        step = min(left, until_end)
        parts.append((name, step.total_seconds()))
        at, left = at + step, left - step
    return parts


def _position(when: datetime | time, spans: Periods) -> tuple[Period, timedelta]:
    clock = when.time() if isinstance(when, datetime) else when
    since_day_start = (_of_day(clock) - _of_day(spans.day_start)) % DAY
    if since_day_start < spans.day_length:
        return "day", spans.day_length - since_day_start
    return "night", DAY - since_day_start


def _of_day(clock: time) -> timedelta:
    return timedelta(
        hours=clock.hour, minutes=clock.minute, seconds=clock.second, microseconds=clock.microsecond
    )


def _clock(field: str, value: str | time) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed.single(field, "time", f"expected HH:MM, got {value!r}") from None


def _rounded(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value)).quantize(STEP, ROUND_HALF_EVEN)
