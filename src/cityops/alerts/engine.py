"""Evaluate alert rules over readings as they are stored; pure, with state kept in memory.

For each rule and subject (a datastream; a device for AQI rules) the engine keeps a small state:
since when the condition holds (``breach_since``) or has cleared (``clear_since``), whether an
alert is open, when the last one was resolved (for suppression), and a short window of recent
readings (for rates, 1 h means and night noise). :meth:`AlertEngine.process` takes a stored
batch and returns transitions — ``raise``, ``update`` (an open alert breached again) and
``clear`` — which the alert service writes. Readings older than the newest one the engine has
seen for a subject are skipped: rules judge the present, rollups take care of the past.

The state is rebuilt from open alerts at start (:meth:`AlertEngine.restore`); a breach that was
building up when the process stopped starts counting again from the next reading.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from cityops.alerts.model import Rule
from cityops.analytics import aqi as aqi_index
from cityops.analytics import noise as noise_index

MINUTE_MS = 60_000
AIR_POLLUTANTS = {"pm25": "pm25_1h", "pm10": "pm10_1h", "so2": "so2_1h", "no2": "no2_1h",
                  "o3": "o3_1h", "co": "co_1h"}  # fmt: skip

Baseline = Callable[[int, int], tuple[float, float, int] | None]  # stream, ms → median, MAD, n


@dataclass(frozen=True, slots=True)
class Subject:
    """What a rule watches: a datastream with its device and place."""

    stream_id: int
    stream_key: str
    metric: str
    thing_id: int
    thing_key: str
    grid_code: str | None
    properties: Mapping[str, object] = field(default_factory=dict)
    lon: float | None = None
    lat: float | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """What happened to one rule on one subject."""

    kind: str  # raise, update, clear
    rule: Rule
    subject: Subject
    device_level: bool  # True: the subject is the device (AQI rules)
    at: int  # epoch ms
    value: float | None
    message: str

    @property
    def subject_key(self) -> str:
        """The alert's subject: the datastream key, or the device key."""
        return self.subject.thing_key if self.device_level else self.subject.stream_key


@dataclass(slots=True)
class _State:
    breach_since: int | None = None
    clear_since: int | None = None
    active: bool = False
    resolved_at: int | None = None
    newest: int = -1
    window: deque[tuple[int, float]] = field(default_factory=deque)


class AlertEngine:
    """Rules and their per-subject state; not thread-safe (one caller at a time)."""

    def __init__(self, zone: ZoneInfo, baseline: Baseline | None = None) -> None:
        self._zone = zone
        self._baseline = baseline
        self._rules: dict[str, Rule] = {}
        self._state: dict[tuple[str, str], _State] = {}
        self._air: dict[tuple[str, str], dict[str, float]] = {}  # (rule, thing) → 1 h means
        self._windows: dict[tuple[str, int], _State] = {}  # (rule, stream) → recent readings

    # ---------------------------------------------------------------- rules and state

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules; state of rules that remain is kept."""
        self._rules = {r.key: r for r in rules if r.enabled}
        self._state = {k: v for k, v in self._state.items() if k[0] in self._rules}

    @property
    def rules(self) -> list[Rule]:
        """The enabled rules."""
        return list(self._rules.values())

    def restore(self, open_alerts: Iterable[tuple[str, str]]) -> None:
        """Mark (rule key, subject key) pairs whose alerts are open (after a restart)."""
        for key in open_alerts:
            self._state.setdefault(key, _State()).active = True

    def closed(self, rule_key: str, subject: str, at: int) -> None:
        """Note that an alert was resolved by hand (a new breach may raise a new one)."""
        state = self._state.setdefault((rule_key, subject), _State())
        state.active = False
        state.breach_since = None
        state.resolved_at = at

    def applies(self, rule: Rule, subject: Subject) -> bool:
        """Tell whether a rule watches a subject."""
        if rule.kind == "aqi":
            if subject.metric not in AIR_POLLUTANTS:
                return False
        elif subject.metric != rule.metric:
            return False
        if rule.things and subject.thing_key not in rule.things:
            return False
        return not rule.division or (subject.grid_code or "").startswith(rule.division)

    # ---------------------------------------------------------------- readings

    def process(self, readings: Sequence[tuple[Subject, int, float]]) -> list[Transition]:
        """Evaluate the rules over readings (subject, epoch ms, value); return transitions."""
        out: list[Transition] = []
        ordered = sorted(readings, key=lambda r: (r[0].stream_id, r[1]))
        for rule in self._rules.values():
            if rule.kind == "missing":
                continue
            for subject, at, value in ordered:
                if self.applies(rule, subject):
                    out.extend(self._one(rule, subject, at, value))
        return out

    def sweep_missing(
        self, subjects: Iterable[Subject], newest: Mapping[int, int], now: int
    ) -> list[Transition]:
        """Raise or clear ``missing`` rules from each datastream's newest reading time."""
        out: list[Transition] = []
        for rule in self._rules.values():
            if rule.kind != "missing":
                continue
            limit = rule.condition["after_minutes"] * MINUTE_MS
            for subject in subjects:
                if not self.applies(rule, subject):
                    continue
                last = newest.get(subject.stream_id)
                silent = last is None or now - last >= limit
                state = self._state.setdefault((rule.key, subject.stream_key), _State())
                minutes = "never" if last is None else f"{(now - last) / MINUTE_MS:.0f} min"
                message = f"{subject.stream_key} silent ({minutes} without a reading)"
                out.extend(self._decide(rule, subject, state, now, silent, None, message, False))
        return out

    def _one(self, rule: Rule, subject: Subject, at: int, value: float) -> list[Transition]:
        device_level = rule.kind == "aqi"
        key = (rule.key, subject.thing_key if device_level else subject.stream_key)
        state = self._state.setdefault(key, _State())
        if not device_level:
            if at <= state.newest:
                return []
            state.newest = at
        kind = rule.kind
        c = rule.condition
        if kind == "threshold":
            breach, message = self._threshold(rule, subject, state, value)
            return self._decide(rule, subject, state, at, breach, value, message, False)
        if kind == "rate":
            return self._rate(rule, subject, state, at, value)
        if kind == "anomaly":
            return self._anomaly(rule, subject, state, at, value)
        if kind == "aqi":
            return self._aqi(rule, subject, state, at, value)
        if kind == "noise_night":
            zone = str(subject.properties.get("noise_zone", "2"))
            limit = noise_index.limits(zone).night
            moment = datetime.fromtimestamp(at / 1000, tz=UTC).astimezone(self._zone)
            night = noise_index.period_of(moment) == "night"
            breach = night and value > limit
            message = f"{subject.stream_key}: {value:.1f} dB(A) at night, zone {zone} limit {limit}"
            held = {"for_minutes": c.get("for_minutes", 30.0)}
            return self._decide(rule, subject, state, at, breach, value, message, False, held)
        return []

    # ---------------------------------------------------------------- kinds

    @staticmethod
    def _threshold(rule: Rule, subject: Subject, state: _State, value: float) -> tuple[bool, str]:
        c = rule.condition
        if "above" in c:
            limit, clear = c["above"], c.get("clear", c["above"])
            breach = value > (clear if state.active else limit)
            words = f"above {limit:g}"
        else:
            limit, clear = c["below"], c.get("clear", c["below"])
            breach = value < (clear if state.active else limit)
            words = f"below {limit:g}"
        return breach, f"{subject.stream_key} = {value:g}, {words}"

    def _rate(
        self, rule: Rule, subject: Subject, state: _State, at: int, value: float
    ) -> list[Transition]:
        c = rule.condition
        window = c.get("window_minutes", 10.0) * MINUTE_MS
        state.window.append((at, value))
        while state.window and state.window[0][0] < at - window:
            state.window.popleft()
        oldest = state.window[0][1]
        change = value - oldest
        amount = c.get("rise", c.get("fall", 0.0))
        breach = change >= amount if "rise" in c else -change >= amount
        minutes = c.get("window_minutes", 10.0)
        message = f"{subject.stream_key} changed {change:+g} within {minutes:g} min"
        return self._decide(rule, subject, state, at, breach, value, message, False)

    def _anomaly(
        self, rule: Rule, subject: Subject, state: _State, at: int, value: float
    ) -> list[Transition]:
        if self._baseline is None:
            return []
        found = self._baseline(subject.stream_id, at)
        if found is None:
            return []
        median, mad, n = found
        if n < rule.condition.get("min_samples", 3):
            return []
        spread = 1.4826 * mad if mad > 0 else max(abs(median) * 0.05, 1e-9)
        z = (value - median) / spread
        breach = abs(z) > rule.condition["z"]
        message = f"{subject.stream_key} = {value:g}, robust z {z:+.1f} against {median:g}"
        return self._decide(rule, subject, state, at, breach, value, message, False)

    def _aqi(
        self, rule: Rule, subject: Subject, state: _State, at: int, value: float
    ) -> list[Transition]:
        # A 1 h mean per pollutant from the device's recent readings of it.
        key = (rule.key, subject.thing_key)
        stream_state = self._windows.setdefault((rule.key, subject.stream_id), _State())
        if at <= stream_state.newest:
            return []
        stream_state.newest = at
        stream_state.window.append((at, value))
        while stream_state.window and stream_state.window[0][0] <= at - 60 * MINUTE_MS:
            stream_state.window.popleft()
        mean = sum(v for _, v in stream_state.window) / len(stream_state.window)
        means = self._air.setdefault(key, {})
        means[AIR_POLLUTANTS[subject.metric]] = mean
        result = aqi_index.aqi(
            {k: Decimal(repr(round(v, 3))) for k, v in means.items()}, report="hourly"
        )
        scores = result.iaqi
        index = max(scores.values()) if scores else 0
        level = aqi_index.level_of(max(index, 1)).level
        breach = level >= rule.condition["level_at_least"]
        primary = ", ".join(sorted(k for k, v in scores.items() if v == index))
        message = f"{subject.thing_key} AQI {index} (level {level}), primary {primary}"
        return self._decide(rule, subject, state, at, breach, float(index), message, True)

    # ---------------------------------------------------------------- raise / clear

    def _decide(
        self,
        rule: Rule,
        subject: Subject,
        state: _State,
        at: int,
        breach: bool,
        value: float | None,
        message: str,
        device_level: bool,
        held: Mapping[str, float] | None = None,
    ) -> list[Transition]:
        c = held if held is not None else rule.condition
        hold = c.get("for_minutes", 0.0) * MINUTE_MS
        clear_hold = rule.condition.get("clear_minutes", 0.0) * MINUTE_MS
        if breach:
            state.clear_since = None
            if state.breach_since is None:
                state.breach_since = at
            if state.active:
                return [Transition("update", rule, subject, device_level, at, value, message)]
            if at - state.breach_since < hold:
                return []
            suppress = rule.suppress_minutes * MINUTE_MS
            if state.resolved_at is not None and at - state.resolved_at < suppress:
                return []
            state.active = True
            return [Transition("raise", rule, subject, device_level, at, value, message)]
        state.breach_since = None
        if not state.active:
            return []
        if state.clear_since is None:
            state.clear_since = at
        if at - state.clear_since < clear_hold:
            return []
        state.active = False
        state.resolved_at = at
        state.clear_since = None
        return [Transition("clear", rule, subject, device_level, at, value, message)]
