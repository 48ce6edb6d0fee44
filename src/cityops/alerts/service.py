"""The alert service: rules as data, evaluation as readings are stored, the alert lifecycle.

Readings reach :meth:`AlertService.on_stored` right after the transaction that stored them
commits (the ingest service's hook), so an alert is raised, written and announced (an
``AlertRaised`` event on the outbox, which the live feed and the webhooks read) within the same
call: well under a second after the reading arrived. ``missing`` rules are judged by
:meth:`AlertService.sweep`, which the server runs every minute.

Raised alerts are acknowledged and resolved by people with ``alerts:manage`` in the alert's grid;
clearing conditions resolve them automatically. A rule's case policy opens a case through the
intake service right after the alert is written (a failure is retried by the next sweep), with
the alert's id as the case's external reference so it never opens two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cityops.alerts.engine import AlertEngine, Subject, Transition
from cityops.alerts.events import AlertAcknowledged, AlertCaseOpened, AlertRaised, AlertResolved
from cityops.alerts.model import OPEN, Alert, Rule, parse_rule
from cityops.alerts.ports import AlertFilter, AlertsUnitOfWork, NewAlert
from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.auth.scopes import ResourceScope
from cityops.kernel.clock import Clock
from cityops.kernel.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

SubjectLoader = Callable[[], dict[int, Subject]]
CaseOpener = Callable[[Alert, Rule, Subject | None], tuple[int, str] | None]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)


def _at(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)


class AlertService:
    """Rules, evaluation and the alert lifecycle; safe to call from several threads."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[AlertsUnitOfWork],
        clock: Clock,
        engine: AlertEngine,
        subjects: SubjectLoader,
        known_metrics: set[str],
        *,
        open_case: CaseOpener | None = None,
        subjects_max_age: float = 30.0,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._engine = engine
        self._load_subjects = subjects
        self._known_metrics = known_metrics
        self._max_age = subjects_max_age
        self._subjects: dict[int, Subject] = {}
        self._subjects_at = -1e9
        self._loaded = False
        self._lock = threading.RLock()
        self._open = open_case

    # ---------------------------------------------------------------- rules

    def rules(self, principal: Principal) -> list[Rule]:
        """Return every rule (enabled or not)."""
        principal.require_somewhere("alerts:read")
        with self._unit_of_work(read_only=True) as uow:
            return [parse_rule(d, self._known_metrics) for d in uow.alert_rules.all()]

    def put_rules(self, principal: Principal, items: Sequence[Mapping[str, Any]]) -> list[Rule]:
        """Create or replace rules, all or none (every refusal names ``rules[i].field``)."""
        grant = principal.authorize("alerts:manage")
        parsed: list[Rule] = []
        issues: list[FieldIssue] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, Mapping):
                    raise ValidationFailed.single("rule", "object", "each rule is an object")
                parsed.append(parse_rule(item, self._known_metrics))
            except ValidationFailed as error:
                issues.extend(
                    FieldIssue(f"rules[{index}].{i.field}", i.rule, i.message) for i in error.issues
                )
        if issues:
            raise ValidationFailed(issues)
        keys = [r.key for r in parsed]
        if len(set(keys)) != len(keys):
            raise ValidationFailed.single("rules", "unique_keys", "two rules share a key")
        with self._lock, self._unit_of_work() as uow:
            for rule in parsed:
                created = uow.alert_rules.put(rule.key, rule.as_json(), self._clock.now())
                uow.audit.append(
                    make_entry(
                        self._clock,
                        principal,
                        grant,
                        action="alert_rule.create" if created else "alert_rule.replace",
                        object_type="alert_rule",
                        object_id=rule.key,
                        after=rule.as_json(),
                    )
                )
            uow.commit()
            self._loaded = False
        return parsed

    def delete_rule(self, principal: Principal, key: str) -> None:
        """Delete a rule (its alerts stay)."""
        grant = principal.authorize("alerts:manage")
        with self._lock, self._unit_of_work() as uow:
            if not uow.alert_rules.delete(key):
                raise NotFound(f"no alert rule {key!r}")
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="alert_rule.delete",
                    object_type="alert_rule",
                    object_id=key,
                )
            )
            uow.commit()
            self._loaded = False

    # ---------------------------------------------------------------- evaluation

    def on_stored(
        self,
        streams: Sequence[int],
        times: Sequence[int],
        values: Sequence[float],
        qualities: Sequence[int],
    ) -> list[Alert]:
        """Evaluate the rules over freshly stored readings; return alerts raised or resolved."""
        with self._lock:
            self._ensure_loaded()
            if not self._engine.rules:
                return []
            subjects = self._subjects_for(streams)
            readings = [
                (subjects[s], t, v)
                for s, t, v, q in zip(streams, times, values, qualities, strict=True)
                if q != 3 and s in subjects
            ]
            changed = self._apply(self._engine.process(readings))
            self._open_cases(changed)
            return changed

    def sweep(self, newest: Mapping[int, int]) -> list[Alert]:
        """Judge ``missing`` rules from each datastream's newest reading (epoch ms)."""
        with self._lock:
            self._ensure_loaded()
            now = int((self._clock.now() - EPOCH) / timedelta(milliseconds=1))
            subjects = self._subjects_for(())
            changed = self._apply(self._engine.sweep_missing(subjects.values(), newest, now))
            with self._unit_of_work(read_only=True) as uow:
                waiting = uow.alerts.list(AlertFilter(statuses=OPEN, limit=1000))
            self._open_cases(changed + [a for a in waiting if a.case_id is None])
            return changed

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._unit_of_work(read_only=True) as uow:
            rules = [parse_rule(d, self._known_metrics) for d in uow.alert_rules.all()]
            open_keys = uow.alerts.open_keys()
        self._engine.set_rules(rules)
        self._engine.restore(open_keys)
        self._loaded = True

    def _subjects_for(self, streams: Sequence[int]) -> dict[int, Subject]:
        stale = time.monotonic() - self._subjects_at > self._max_age
        if stale or any(s not in self._subjects for s in set(streams)):
            self._subjects = self._load_subjects()
            self._subjects_at = time.monotonic()
        return self._subjects

    def _apply(self, transitions: Sequence[Transition]) -> list[Alert]:
        if not transitions:
            return []
        changed: list[int] = []
        with self._unit_of_work() as uow:
            for t in transitions:
                at = _at(t.at)
                current = uow.alerts.open_for(t.rule.key, t.subject_key)
                if t.kind == "raise" and current is None:
                    alert_id = uow.alerts.add(
                        NewAlert(
                            rule_key=t.rule.key,
                            level=t.rule.level,
                            subject=t.subject_key,
                            datastream_id=None if t.device_level else t.subject.stream_id,
                            thing_id=t.subject.thing_id,
                            grid_code=t.subject.grid_code,
                            department_code=t.rule.department,
                            message=t.message,
                            value=t.value,
                            raised_at=at,
                            extra={"rule_name": t.rule.name, "kind": t.rule.kind},
                        )
                    )
                    uow.record(
                        AlertRaised(
                            alert_id=alert_id,
                            rule=t.rule.key,
                            level=t.rule.level,
                            subject=t.subject_key,
                            grid_code=t.subject.grid_code,
                            department_code=t.rule.department,
                            message=t.message,
                            value=t.value,
                        )
                    )
                    changed.append(alert_id)
                elif t.kind in ("raise", "update") and current is not None:
                    uow.alerts.seen(current.id, at, t.value, t.message)
                elif t.kind == "clear" and current is not None:
                    uow.alerts.resolve(current.id, at, None, "auto")
                    uow.record(AlertResolved(alert_id=current.id, resolution="auto", by=None))
                    changed.append(current.id)
            uow.commit()
        with self._unit_of_work(read_only=True) as uow:
            found = [uow.alerts.get(i) for i in changed]
        return [a for a in found if a is not None]

    # ---------------------------------------------------------------- people

    def queue(self, principal: Principal, alert_filter: AlertFilter) -> list[Alert]:
        """Return alerts the principal may read, most severe and newest first."""
        principal.require_somewhere("alerts:read")
        with self._unit_of_work(read_only=True) as uow:
            found = uow.alerts.list(alert_filter)
        return [a for a in found if principal.can("alerts:read", ResourceScope(a.grid_code))]

    def get(self, principal: Principal, alert_id: int) -> Alert:
        """Return one alert."""
        with self._unit_of_work(read_only=True) as uow:
            alert = uow.alerts.get(alert_id)
        if alert is None or not principal.can("alerts:read", ResourceScope(alert.grid_code)):
            raise NotFound(f"no alert {alert_id}")
        return alert

    def acknowledge(self, principal: Principal, alert_id: int) -> Alert:
        """Take charge of a raised alert."""
        return self._act(principal, alert_id, "acknowledge")

    def resolve(self, principal: Principal, alert_id: int) -> Alert:
        """Close an open alert by hand."""
        return self._act(principal, alert_id, "resolve")

    def _act(self, principal: Principal, alert_id: int, action: str) -> Alert:
        with self._lock, self._unit_of_work() as uow:
            alert = uow.alerts.get(alert_id)
            if alert is None:
                raise NotFound(f"no alert {alert_id}")
            grant = principal.authorize("alerts:manage", ResourceScope(alert.grid_code))
            allowed = ("raised",) if action == "acknowledge" else OPEN
            if alert.status not in allowed:
                raise Conflict(
                    f"alert {alert_id} is {alert.status}; {action} needs {' or '.join(allowed)}"
                )
            now = self._clock.now()
            if action == "acknowledge":
                uow.alerts.acknowledge(alert_id, now, principal.name)
                uow.record(AlertAcknowledged(alert_id=alert_id, by=principal.name))
            else:
                uow.alerts.resolve(alert_id, now, principal.name, "manual")
                uow.record(AlertResolved(alert_id=alert_id, resolution="manual", by=principal.name))
                self._engine.closed(
                    alert.rule_key, alert.subject, int((now - EPOCH) / timedelta(milliseconds=1))
                )
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action=f"alert.{action}",
                    object_type="alert",
                    object_id=str(alert_id),
                    before={"status": alert.status},
                )
            )
            uow.commit()
        return self.get(principal, alert_id)

    def counts(self, principal: Principal) -> dict[str, Any]:
        """Return open alerts by level and the totals by status (for the dashboard)."""
        principal.require_somewhere("alerts:read")
        with self._unit_of_work(read_only=True) as uow:
            counts = uow.alerts.counts()
        by_level = {level: 0 for level in ("I", "II", "III", "IV")}
        by_status = {status: 0 for status in ("raised", "acknowledged", "resolved")}
        for (status, level), n in counts.items():
            by_status[status] = by_status.get(status, 0) + n
            if status in OPEN:
                by_level[level] = by_level.get(level, 0) + n
        return {"open_by_level": by_level, "by_status": by_status}

    # ---------------------------------------------------------------- alert → case

    def _open_cases(self, alerts: Sequence[Alert]) -> None:
        """Open the case of each new alert whose rule has a case policy (once per alert)."""
        if self._open is None:
            return
        rules = {r.key: r for r in self._engine.rules}
        for alert in alerts:
            rule = rules.get(alert.rule_key)
            if rule is None or rule.case is None or alert.case_id is not None:
                continue
            if alert.status not in OPEN:
                continue
            subject = self._subjects.get(alert.datastream_id or -1) or next(
                (s for s in self._subjects.values() if s.thing_id == alert.thing_id), None
            )
            try:
                opened = self._open(alert, rule, subject)
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.exception("opening the case of alert %s failed; will retry", alert.id)
                continue
            if opened is None:
                continue
            case_id, number = opened
            with self._unit_of_work() as uow:
                uow.alerts.link_case(alert.id, case_id)
                uow.record(AlertCaseOpened(alert_id=alert.id, case_id=case_id, number=number))
                uow.commit()
