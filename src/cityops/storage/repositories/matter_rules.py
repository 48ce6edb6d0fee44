"""A city's matter rules in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from cityops.cases.rules import MatterRule
from cityops.storage.schema import matter_rules

# Built once: intake reads it for every case.
_RULES_OF_MATTER = (
    select(matter_rules)
    .where(matter_rules.c.matter_code == bindparam("matter"))
    .order_by(matter_rules.c.division_code)
)


def _rule(row: Any) -> MatterRule:
    return MatterRule(
        matter_code=row["matter_code"],
        division_code=row["division_code"],
        department_code=row["department_code"],
        filing_condition=row["filing_condition"],
        closing_condition=row["closing_condition"],
        limit_normal=row["limit_normal"],
        limit_urgent=row["limit_urgent"],
        keywords=tuple(row["keywords"]),
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


class SqlMatterRuleRepository:
    """Matter rules by class and division."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, matter_code: str, division_code: str) -> MatterRule | None:
        """Return one rule."""
        row = (
            self._connection.execute(
                select(matter_rules).where(
                    matter_rules.c.matter_code == matter_code,
                    matter_rules.c.division_code == division_code,
                )
            )
            .mappings()
            .first()
        )
        return _rule(row) if row else None

    def for_matter(self, matter_code: str) -> list[MatterRule]:
        """Return the rules of one class."""
        rows = self._connection.execute(_RULES_OF_MATTER, {"matter": matter_code}).mappings()
        return [_rule(row) for row in rows]

    def list(self) -> list[MatterRule]:
        """Return every rule."""
        rows = self._connection.execute(
            select(matter_rules).order_by(matter_rules.c.matter_code, matter_rules.c.division_code)
        ).mappings()
        return [_rule(row) for row in rows]

    def put(self, rule: MatterRule) -> None:
        """Insert or replace a rule."""
        self.delete(rule.matter_code, rule.division_code)
        self._connection.execute(
            insert(matter_rules).values(
                matter_code=rule.matter_code,
                division_code=rule.division_code,
                department_code=rule.department_code,
                filing_condition=rule.filing_condition,
                closing_condition=rule.closing_condition,
                limit_normal=rule.limit_normal,
                limit_urgent=rule.limit_urgent,
                keywords=list(rule.keywords),
                updated_at=rule.updated_at,
                updated_by=rule.updated_by,
            )
        )

    def delete(self, matter_code: str, division_code: str) -> bool:
        """Delete a rule."""
        result = self._connection.execute(
            delete(matter_rules).where(
                matter_rules.c.matter_code == matter_code,
                matter_rules.c.division_code == division_code,
            )
        )
        return bool(result.rowcount)

    def revision(self) -> tuple[int, str]:
        """Return (count, newest change) — it changes whenever a rule is set or deleted."""
        count, newest = self._connection.execute(
            select(func.count(), func.max(matter_rules.c.updated_at))
        ).one()
        return int(count), str(newest)
