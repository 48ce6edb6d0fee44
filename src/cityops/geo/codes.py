"""Division codes and levels: province → city → district → street → community → unit grid.

GB/T 2260 gives 6-digit codes for provinces (``xx0000``), cities (``xxxx00``) and districts or
counties. The statistical division codes extend a district with 3 digits for a street or town
and 3 more for a community or village. Unit grid ids are 15 characters (GB/T 47678.3; checked as
``[0-9A-Z]{15}``) built, following Beijing DB11 (grade C in the standards notes), as community
code + 3-character sequence. Every level's code starts with its parent's code.
"""

from __future__ import annotations

import re
from enum import StrEnum

from cityops.kernel.errors import ValidationFailed


class Level(StrEnum):
    """The levels of the division hierarchy, from the top."""

    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"  # 街道 / 镇 / 乡
    COMMUNITY = "community"  # 社区 / 村
    GRID = "grid"  # 单元网格

    @property
    def depth(self) -> int:
        """Return 0 for a province … 5 for a grid."""
        return list(Level).index(self)


LEVEL_LABELS_ZH: dict[Level, str] = {
    Level.PROVINCE: "省级",
    Level.CITY: "市级",
    Level.DISTRICT: "区县",
    Level.STREET: "街道/乡镇",
    Level.COMMUNITY: "社区/村",
    Level.GRID: "单元网格",
}

_DIGITS = re.compile(r"^[0-9]+$")
_GRID = re.compile(r"^[0-9A-Z]{15}$")


def level_of(code: str, *, field: str = "code") -> Level:
    """Return the level a well-formed code denotes, or raise ValidationFailed naming the rule."""
    if len(code) == 15:
        if not _GRID.fullmatch(code):
            raise ValidationFailed.single(
                field, "code_charset", "a 15-character grid id uses only 0-9 and A-Z"
            )
        if not _DIGITS.fullmatch(code[:12]):
            raise ValidationFailed.single(
                field, "code_charset", "a grid id starts with its 12-digit community code"
            )
        return Level.GRID
    if len(code) not in (6, 9, 12):
        raise ValidationFailed.single(
            field,
            "code_length",
            f"{code!r} has {len(code)} characters; division codes have 6 (province, city, "
            "district), 9 (street), 12 (community) or 15 (grid)",
        )
    if not _DIGITS.fullmatch(code):
        raise ValidationFailed.single(field, "code_charset", "division codes are ASCII digits")
    if len(code) == 9:
        return Level.STREET
    if len(code) == 12:
        return Level.COMMUNITY
    if code[2:] == "0000":
        return Level.PROVINCE
    if code[4:] == "00":
        return Level.CITY
    return Level.DISTRICT


def implied_parents(code: str) -> tuple[str, ...]:
    """Return the codes that may be the parent of ``code`` (none for a province).

    A district's parent is its city (``xxxx00``) or, for the few counties directly under a
    province, the province (``xx0000``).
    """
    level = level_of(code)
    if level is Level.PROVINCE:
        return ()
    if level is Level.CITY:
        return (code[:2] + "0000",)
    if level is Level.DISTRICT:
        return (code[:4] + "00", code[:2] + "0000")
    return (code[: {Level.STREET: 6, Level.COMMUNITY: 9, Level.GRID: 12}[level]],)


def check_code(
    code: str,
    *,
    level: Level | None = None,
    parent_code: str | None = None,
    field: str = "code",
) -> Level:
    """Validate a code, its expected level and its parent; return the level.

    Rules (each error names one): ``code_length``, ``code_charset``, ``code_level`` (the code
    is not of the expected level), ``parent_required``, ``parent_prefix`` (the code does not
    start with its parent's code).
    """
    found = level_of(code, field=field)
    if level is not None and found is not level:
        raise ValidationFailed.single(
            field, "code_level", f"{code} is a {found.value} code, not a {level.value} code"
        )
    candidates = implied_parents(code)
    if parent_code is None:
        if found not in (Level.PROVINCE, Level.CITY, Level.DISTRICT):
            raise ValidationFailed.single(
                "parent_code", "parent_required", f"a {found.value} needs its parent's code"
            )
        return found
    if parent_code not in candidates:
        expected = " or ".join(candidates) or "no parent"
        raise ValidationFailed.single(
            "parent_code",
            "parent_prefix",
            f"the parent of {code} must be {expected}, not {parent_code}",
        )
    return found


def children_level(level: Level) -> Level | None:
    """Return the level just below ``level`` (None under a grid)."""
    levels = list(Level)
    return levels[level.depth + 1] if level.depth + 1 < len(levels) else None
