"""Alert rules and alerts in SQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update

from cityops.alerts.model import OPEN, Alert
from cityops.alerts.ports import AlertFilter, NewAlert
from cityops.storage.schema_sensing import alert_rules, alerts

_LEVEL_ORDER = case({"I": 1, "II": 2, "III": 3, "IV": 4}, value=alerts.c.level, else_=5)
_STATUS_ORDER = case({"raised": 1, "acknowledged": 2, "resolved": 3}, value=alerts.c.status)


def _alert(row: Any) -> Alert:
    return Alert(
        id=row["id"],
        rule_key=row["rule_key"],
        level=row["level"],
        status=row["status"],
        subject=row["subject"],
        datastream_id=row["datastream_id"],
        thing_id=row["thing_id"],
        grid_code=row["grid_code"],
        department_code=row["department_code"],
        message=row["message"],
        value=row["value"],
        raised_at=row["raised_at"],
        last_seen_at=row["last_seen_at"],
        occurrences=row["occurrences"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
        case_id=row["case_id"],
        extra=dict(row["extra"] or {}),
    )


class SqlAlertRuleRepository:
    """Rules by key."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def all(self) -> list[dict[str, Any]]:
        """Return every rule's data, by key."""
        rows = self._connection.execute(
            select(alert_rules.c.definition).order_by(alert_rules.c.key)
        )
        return [dict(row.definition) for row in rows]

    def put(self, key: str, data: Mapping[str, Any], at: datetime) -> bool:
        """Insert or replace a rule; return True when it was new."""
        changed = self._connection.execute(
            update(alert_rules)
            .where(alert_rules.c.key == key)
            .values(definition=dict(data), updated_at=at)
        ).rowcount
        if changed:
            return False
        self._connection.execute(
            insert(alert_rules).values(key=key, definition=dict(data), updated_at=at)
        )
        return True

    def delete(self, key: str) -> bool:
        """Delete a rule; return True when it existed."""
        return bool(
            self._connection.execute(delete(alert_rules).where(alert_rules.c.key == key)).rowcount
        )


class SqlAlertRepository:
    """Alerts by id, subject and status."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, alert: NewAlert) -> int:
        """Insert an alert and return its id."""
        result = self._connection.execute(
            insert(alerts)
            .values(
                rule_key=alert.rule_key,
                level=alert.level,
                status="raised",
                subject=alert.subject,
                datastream_id=alert.datastream_id,
                thing_id=alert.thing_id,
                grid_code=alert.grid_code,
                department_code=alert.department_code,
                message=alert.message[:500],
                value=alert.value,
                raised_at=alert.raised_at,
                last_seen_at=alert.raised_at,
                occurrences=1,
                extra=dict(alert.extra),
            )
            .returning(alerts.c.id)
        )
        return int(result.scalar_one())

    def get(self, alert_id: int) -> Alert | None:
        """Return an alert by id."""
        row = self._connection.execute(select(alerts).where(alerts.c.id == alert_id)).mappings()
        found = row.first()
        return _alert(found) if found else None

    def open_for(self, rule_key: str, subject: str) -> Alert | None:
        """Return the open alert of a rule on a subject."""
        rows = self._connection.execute(
            select(alerts)
            .where(
                alerts.c.rule_key == rule_key,
                alerts.c.subject == subject,
                alerts.c.status.in_(OPEN),
            )
            .order_by(alerts.c.id.desc())
            .limit(1)
        ).mappings()
        found = rows.first()
        return _alert(found) if found else None

    def open_keys(self) -> list[tuple[str, str]]:
        """Return (rule key, subject) of every open alert."""
        rows = self._connection.execute(
            select(alerts.c.rule_key, alerts.c.subject).where(alerts.c.status.in_(OPEN))
        )
        return [(row.rule_key, row.subject) for row in rows]

    def seen(self, alert_id: int, at: datetime, value: float | None, message: str) -> None:
        """Record another breach of an open alert."""
        self._connection.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(
                last_seen_at=at,
                value=value,
                message=message[:500],
                occurrences=alerts.c.occurrences + 1,
            )
        )

    def acknowledge(self, alert_id: int, at: datetime, by: str) -> None:
        """Mark an alert acknowledged."""
        self._connection.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(status="acknowledged", acknowledged_at=at, acknowledged_by=by)
        )

    def resolve(self, alert_id: int, at: datetime, by: str | None, resolution: str) -> None:
        """Mark an alert resolved."""
        self._connection.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(status="resolved", resolved_at=at, resolved_by=by, resolution=resolution)
        )

    def link_case(self, alert_id: int, case_id: int) -> None:
        """Record the case an alert opened."""
        self._connection.execute(
            update(alerts).where(alerts.c.id == alert_id).values(case_id=case_id)
        )

    def list(self, alert_filter: AlertFilter) -> list[Alert]:
        """Return alerts: open first, most severe, newest."""
        statement = select(alerts)
        if alert_filter.statuses:
            statement = statement.where(alerts.c.status.in_(alert_filter.statuses))
        if alert_filter.level:
            statement = statement.where(alerts.c.level == alert_filter.level)
        if alert_filter.rule_key:
            statement = statement.where(alerts.c.rule_key == alert_filter.rule_key)
        if alert_filter.department_code:
            statement = statement.where(alerts.c.department_code == alert_filter.department_code)
        if alert_filter.grid_prefix:
            statement = statement.where(
                alerts.c.grid_code.startswith(alert_filter.grid_prefix, autoescape=True)
            )
        statement = statement.order_by(
            _STATUS_ORDER, _LEVEL_ORDER, alerts.c.raised_at.desc(), alerts.c.id.desc()
        ).limit(alert_filter.limit)
        return [_alert(row) for row in self._connection.execute(statement).mappings()]

    def counts(self) -> dict[tuple[str, str], int]:
        """Return the number of alerts by (status, level)."""
        rows = self._connection.execute(
            select(alerts.c.status, alerts.c.level, func.count()).group_by(
                alerts.c.status, alerts.c.level
            )
        )
        return {(row[0], row[1]): int(row[2]) for row in rows}
