"""A city's matter rules (事项规则): for each matter class, who handles it and within what time.

A rule names the responsible department, the filing condition (立案条件), the closing condition
(结案条件), the handling time limit for normal (一般) and urgent (紧急) cases in 工作日 or
工作时, and keywords that classify a text to the class whenever they appear. A rule applies to
the whole city (``division_code`` "") or to one division and everything inside it; the most
precise rule wins. Every change is audited.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.auth.scopes import ResourceScope, division_prefix, is_department_code
from cityops.cases.model import Urgency, check_text
from cityops.catalog.reference import check_matter_class
from cityops.kernel.clock import Clock
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.kernel.worktime import WorkingLimit, parse_limit

if TYPE_CHECKING:
    from cityops.cases.ports import CasesUnitOfWork

CSV_COLUMNS = (
    "matter_code",
    "division_code",
    "department_code",
    "filing_condition",
    "closing_condition",
    "limit_normal",
    "limit_urgent",
    "keywords",
)
_TEXT_LIMIT = 500
_DIVISION = re.compile(r"^[0-9A-Z]{6,15}$")


@dataclass(frozen=True, slots=True)
class MatterRule:
    """How a city handles one matter class, city-wide or within a division."""

    matter_code: str
    division_code: str = ""
    department_code: str | None = None
    filing_condition: str | None = None
    closing_condition: str | None = None
    limit_normal: str | None = None
    limit_urgent: str | None = None
    keywords: tuple[str, ...] = ()
    updated_at: datetime | None = None
    updated_by: str = ""

    def limit_for(self, urgency: Urgency) -> str | None:
        """Return the time limit text for an urgency."""
        return self.limit_urgent if urgency is Urgency.URGENT else self.limit_normal

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        data = asdict(self)
        data["keywords"] = list(self.keywords)
        data["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return data


def most_specific(rules: Iterable[MatterRule], division_codes: Sequence[str]) -> MatterRule | None:
    """Return the rule of the most precise division containing the case (or the city's)."""
    best: MatterRule | None = None
    for rule in rules:
        if rule.division_code and not any(
            code.startswith(division_prefix(rule.division_code)) for code in division_codes if code
        ):
            continue
        if best is None or len(rule.division_code) > len(best.division_code):
            best = rule
    return best


def check_rule(rule: MatterRule) -> MatterRule:
    """Validate a rule's fields; return it with keywords cleaned."""
    check_matter_class(rule.matter_code, field="matter_code")
    if rule.division_code and not _DIVISION.fullmatch(rule.division_code):
        raise ValidationFailed.single(
            "division_code", "division_code", "a 6–15 character division or grid code"
        )
    if rule.department_code and not is_department_code(rule.department_code):
        raise ValidationFailed.single(
            "department_code", "department_code", "1–32 letters, digits, '_' or '-'"
        )
    for name in ("limit_normal", "limit_urgent"):
        value = getattr(rule, name)
        if value is not None:
            parse_limit(value, field=name)
    filing = check_text(rule.filing_condition, "filing_condition", _TEXT_LIMIT)
    closing = check_text(rule.closing_condition, "closing_condition", _TEXT_LIMIT)
    keywords = tuple(
        dict.fromkeys(
            k for k in (check_text(k, "keywords", 30) for k in rule.keywords) if k is not None
        )
    )
    if len(keywords) > 50:
        raise ValidationFailed.single("keywords", "max_items", "at most 50 keywords")
    return replace(rule, keywords=keywords, filing_condition=filing, closing_condition=closing)


def limit_of(rule: MatterRule | None, urgency: Urgency, default: str) -> WorkingLimit:
    """Return the time limit for a case: the rule's, else the city's default."""
    text = rule.limit_for(urgency) if rule else None
    return parse_limit(text or default, field="limit")


class MatterRuleService:
    """Read and change matter rules; writes need ``cases:admin`` where the rule applies."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._on_change = on_change

    def list_rules(self, principal: Principal, matter_code: str | None = None) -> list[MatterRule]:
        """Return all rules (or those of one class)."""
        principal.require_somewhere("cases:read")
        with self._unit_of_work(read_only=True) as uow:
            if matter_code:
                return uow.matter_rules.for_matter(matter_code)
            return uow.matter_rules.list()

    def get(self, principal: Principal, matter_code: str, division_code: str = "") -> MatterRule:
        """Return one rule or raise NotFound."""
        principal.require_somewhere("cases:read")
        with self._unit_of_work(read_only=True) as uow:
            rule = uow.matter_rules.get(matter_code, division_code)
        if rule is None:
            where = f" in {division_code}" if division_code else ""
            raise NotFound(f"no rule for matter class {matter_code}{where}")
        return rule

    def put(self, principal: Principal, rule: MatterRule) -> MatterRule:
        """Create or replace a rule."""
        return self.put_many(principal, [rule])[0]

    def put_many(self, principal: Principal, rules: Sequence[MatterRule]) -> list[MatterRule]:
        """Create or replace rules atomically; one audit entry per changed rule."""
        checked = [check_rule(rule) for rule in rules]
        now = self._clock.now()
        saved: list[MatterRule] = []
        with self._unit_of_work() as uow:
            for rule in checked:
                grant = principal.authorize(
                    "cases:admin", ResourceScope(division_code=rule.division_code or None)
                )
                if rule.department_code and uow.departments.get(rule.department_code) is None:
                    raise ValidationFailed.single(
                        "department_code",
                        "department_exists",
                        f"no department {rule.department_code}",
                    )
                before = uow.matter_rules.get(rule.matter_code, rule.division_code)
                stored = replace(rule, updated_at=now, updated_by=principal.name)
                if before is not None and replace(
                    before, updated_at=None, updated_by=""
                ) == replace(stored, updated_at=None, updated_by=""):
                    saved.append(before)
                    continue
                uow.matter_rules.put(stored)
                uow.audit.append(
                    make_entry(
                        self._clock,
                        principal,
                        grant,
                        action="cases.rule_set",
                        object_type="matter_rule",
                        object_id=_rule_id(rule),
                        before=before.as_json() if before else None,
                        after=stored.as_json(),
                    )
                )
                saved.append(stored)
            uow.commit()
        if self._on_change is not None:
            self._on_change()
        return saved

    def delete(self, principal: Principal, matter_code: str, division_code: str = "") -> None:
        """Delete a rule."""
        with self._unit_of_work() as uow:
            grant = principal.authorize(
                "cases:admin", ResourceScope(division_code=division_code or None)
            )
            before = uow.matter_rules.get(matter_code, division_code)
            if before is None or not uow.matter_rules.delete(matter_code, division_code):
                raise NotFound(f"no rule for matter class {matter_code} {division_code}".rstrip())
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="cases.rule_delete",
                    object_type="matter_rule",
                    object_id=_rule_id(before),
                    before=before.as_json(),
                )
            )
            uow.commit()
        if self._on_change is not None:
            self._on_change()


def _rule_id(rule: MatterRule) -> str:
    return f"{rule.matter_code}@{rule.division_code or 'city'}"


def rule_from_mapping(data: Mapping[str, Any], *, row: int | None = None) -> MatterRule:
    """Build a rule from API/CSV fields; keywords may be a list or a '|'-separated string."""
    where = f"rows[{row}]." if row is not None else ""
    code = str(data.get("matter_code") or "").strip()
    if not code:
        raise ValidationFailed.single(f"{where}matter_code", "required", "matter_code is needed")
    keywords = data.get("keywords") or ()
    if isinstance(keywords, str):
        keywords = [k for k in keywords.replace("，", "|").replace(",", "|").split("|")]
    if not isinstance(keywords, list | tuple) or not all(isinstance(k, str) for k in keywords):
        raise ValidationFailed.single(f"{where}keywords", "strings", "a list of strings")

    def text(name: str) -> str | None:
        value = data.get(name)
        return str(value).strip() or None if value is not None else None

    rule = MatterRule(
        matter_code=code,
        division_code=text("division_code") or "",
        department_code=text("department_code"),
        filing_condition=text("filing_condition"),
        closing_condition=text("closing_condition"),
        limit_normal=text("limit_normal"),
        limit_urgent=text("limit_urgent"),
        keywords=tuple(keywords),
    )
    try:
        return check_rule(rule)
    except ValidationFailed as error:
        if row is None:
            raise
        issue = error.issues[0]
        raise ValidationFailed.single(f"{where}{issue.field}", issue.rule, issue.message) from None


def read_rules_csv(text: str) -> list[MatterRule]:
    """Parse a rules CSV (columns :data:`CSV_COLUMNS`); errors name the row and field."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("matter_code",) if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed.single("header", "columns", f"missing column {missing[0]}")
    return [rule_from_mapping(row, row=index) for index, row in enumerate(reader, start=1)]


def write_rules_csv(rules: Iterable[MatterRule]) -> str:
    """Return rules as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rule in rules:
        writer.writerow(
            [
                rule.matter_code,
                rule.division_code,
                rule.department_code or "",
                rule.filing_condition or "",
                rule.closing_condition or "",
                rule.limit_normal or "",
                rule.limit_urgent or "",
                "|".join(rule.keywords),
            ]
        )
    return out.getvalue()
