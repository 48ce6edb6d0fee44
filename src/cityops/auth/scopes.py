"""Scopes: where a role grant or an API key applies.

``city`` covers everything. ``division:<code>`` covers a GB/T 2260 division and everything inside
it (a district 320102 covers its streets 320102001… and their grids); a province or city code
with trailing ``00`` pairs covers its children. ``department:<code>`` covers what a department
(or one of its sub-departments) owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cityops.kernel.errors import ValidationFailed

_DIVISION_CODE = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9A-Z]{15})$")
_DEPARTMENT_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """Where an object lives: its division code and its owning department chain."""

    division_code: str | None = None
    department_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """A scope of authority: kind is ``city``, ``division`` or ``department``."""

    kind: str
    code: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "city" else f"{self.kind}:{self.code}"

    @classmethod
    def city(cls) -> Scope:
        """Return the whole-city scope."""
        return cls("city", "")

    def covers(self, resource: ResourceScope | None) -> bool:
        """Tell whether an object with ``resource`` location/ownership falls in this scope.

        A resource of ``None`` means a city-wide object (a user list, the audit log): only the
        city scope covers it.
        """
        if self.kind == "city":
            return True
        if resource is None:
            return False
        if self.kind == "division":
            code = resource.division_code
            return code is not None and code.startswith(division_prefix(self.code))
        return self.code in resource.department_codes


def division_prefix(code: str) -> str:
    """Return the prefix that every division inside ``code`` starts with.

    GB/T 2260 pads province and city codes with ``00`` pairs (320000 is a province, 320100 a
    city), so those pairs are dropped; longer codes (street, community, grid) are used as is.
    """
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def parse_scope(text: str, *, field: str = "scope") -> Scope:
    """Parse ``city``, ``division:<code>`` or ``department:<code>``; raise ValidationFailed."""
    value = text.strip()
    if value == "city":
        return Scope.city()
    kind, sep, code = value.partition(":")
    if not sep or kind not in ("division", "department"):
        raise ValidationFailed.single(
            field,
            "scope_format",
            f"{text!r} is not a scope; use city, division:<code> or department:<code>",
        )
    if kind == "division" and not _DIVISION_CODE.fullmatch(code):
        raise ValidationFailed.single(
            field,
            "division_code",
            f"{code!r} is not a division code (6, 9 or 12 digits, or a 15-character grid id)",
        )
    if kind == "department" and not _DEPARTMENT_CODE.fullmatch(code):
        raise ValidationFailed.single(
            field,
            "department_code",
            f"{code!r} is not a department code (1–32 letters, digits, '_' or '-')",
        )
    return Scope(kind, code)


def is_department_code(code: str) -> bool:
    """Tell whether ``code`` is a well-formed department code."""
    return bool(_DEPARTMENT_CODE.fullmatch(code))
