"""Read the GB/T 47678.5-2026 class tables and legacy code maps; validate class codes and ids.

The tables are CSV files in ``cityops/catalog/data`` (see its README for where each comes from
and how far to trust it). Nothing is read at import time: each table is read on first use and
cached for the life of the process. Public functions that return a ``dict`` return a fresh copy,
so a caller cannot change what the next caller sees.

Code shapes (GB/T 47678.5-2026, as transcribed in the standards notes):

- class code: 2-digit major class + 3-digit minor class = 5 ASCII digits, the same shape for
  components and matters;
- component id (管理部件标识码): 6-digit division code (GB/T 2260) + 5-digit component class
  code + 6-digit sequence = 17 digits;
- matter code (事项代码): 6-digit division code + 5-digit matter class code = 11 digits; it
  names a type of matter at a place, not one occurrence.

Validators raise :class:`~cityops.kernel.errors.ValidationFailed` naming the field and the
rule; lookups by code raise :class:`~cityops.kernel.errors.NotFound`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from cityops.catalog.model import (
    AbsentCode,
    ComponentClass,
    ComponentId,
    Kind,
    LegacyCode,
    MajorClass,
    MatterClass,
    MatterCode,
)
from cityops.kernel.errors import NotFound, ValidationFailed

STANDARD = "GB/T 47678.5-2026"
"""The standard and edition the class tables follow."""

CJT_214_2007 = "CJ/T 214-2007"
GBT_30428_2_2013 = "GB/T 30428.2-2013"
LEGACY_STANDARDS: tuple[str, ...] = (CJT_214_2007, GBT_30428_2_2013)
"""The legacy standards whose codes :func:`map_legacy` knows."""

COMPONENTS_FILE = "gbt47678.5-2026_components.csv"
MATTERS_FILE = "gbt47678.5-2026_matters.csv"
ABSENT_FILE = "gbt47678.5-2026_absent_codes.csv"
LEGACY_FILE = "legacy_codes.csv"

COMPONENT_COLUMNS = ("code", "major_code", "major_name", "name", "confidence", "note")
MATTER_COLUMNS = (
    "code",
    "major_code",
    "major_name",
    "name",
    "component_code",
    "confidence",
    "note",
)
ABSENT_COLUMNS = ("code", "kind", "note")
LEGACY_COLUMNS = (
    "legacy_standard",
    "legacy_code",
    "legacy_name",
    "kind",
    "code",
    "confidence",
    "basis",
)

_CLASS_CODE = re.compile(r"[0-9]{5}")
_DIVISION_CODE = re.compile(r"[0-9]{6}")
_COMPONENT_ID = re.compile(r"[0-9]{17}")
_MATTER_CODE = re.compile(r"[0-9]{11}")
_MAX_SEQUENCE = 999_999
_SHOWN = 40


# --------------------------------------------------------------------------- reading the files


def _read(name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Read one packaged CSV file, checking its header and the width of every row."""
    text = (files("cityops.catalog") / "data" / name).read_bytes().decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(next(reader, ()))
    if header != columns:
        raise ValueError(f"{name}: header {header!r} is not {columns!r}")
    rows: list[dict[str, str]] = []
    for row in reader:
        if len(row) != len(columns):
            raise ValueError(
                f"{name} line {reader.line_num}: {len(row)} columns, expected {len(columns)}"
            )
        rows.append(dict(zip(columns, row, strict=True)))
    return rows


@cache
def _components() -> Mapping[str, ComponentClass]:
    """Load the component classes once, keyed by code."""
    return MappingProxyType(
        {
            row["code"]: ComponentClass(
                code=row["code"],
                major_code=row["major_code"],
                major_name=row["major_name"],
                name=row["name"],
                confidence=row["confidence"],
                note=row["note"],
            )
            for row in _read(COMPONENTS_FILE, COMPONENT_COLUMNS)
        }
    )


@cache
def _matters() -> Mapping[str, MatterClass]:
    """Load the matter classes once, keyed by code."""
    return MappingProxyType(
        {
            row["code"]: MatterClass(
                code=row["code"],
                major_code=row["major_code"],
                major_name=row["major_name"],
                name=row["name"],
                component_code=row["component_code"] or None,
                confidence=row["confidence"],
                note=row["note"],
            )
            for row in _read(MATTERS_FILE, MATTER_COLUMNS)
        }
    )


@cache
def _absent() -> Mapping[tuple[Kind, str], AbsentCode]:
    """Load the absent codes once, keyed by (kind, code)."""
    entries = (
        AbsentCode(kind=Kind(row["kind"]), code=row["code"], note=row["note"])
        for row in _read(ABSENT_FILE, ABSENT_COLUMNS)
    )
    return MappingProxyType({(entry.kind, entry.code): entry for entry in entries})


@cache
def _legacy() -> Mapping[tuple[str, Kind, str], LegacyCode]:
    """Load the legacy mappings once, keyed by (standard, kind, legacy code)."""
    entries = (
        LegacyCode(
            legacy_standard=row["legacy_standard"],
            legacy_code=row["legacy_code"],
            legacy_name=row["legacy_name"],
            kind=Kind(row["kind"]),
            code=row["code"] or None,
            confidence=row["confidence"],
            basis=row["basis"],
        )
        for row in _read(LEGACY_FILE, LEGACY_COLUMNS)
    )
    return MappingProxyType(
        {(entry.legacy_standard, entry.kind, entry.legacy_code): entry for entry in entries}
    )


# --------------------------------------------------------------------------- the tables


def component_classes() -> dict[str, ComponentClass]:
    """Return the 153 component classes (管理部件) keyed by code, in code order."""
    return dict(_components())


def matter_classes() -> dict[str, MatterClass]:
    """Return the 250 matter classes (管理事项) keyed by code, in code order."""
    return dict(_matters())


def find_matter_class(code: str | None) -> MatterClass | None:
    """Return the matter class of ``code``, or None (no copy: for hot paths)."""
    return _matters().get(code) if code else None


def absent_codes() -> dict[tuple[Kind, str], AbsentCode]:
    """Return the codes missing from the transcribed tables, keyed by (kind, code)."""
    return dict(_absent())


def legacy_codes() -> dict[tuple[str, Kind, str], LegacyCode]:
    """Return the legacy code mappings keyed by (legacy standard, kind, legacy code)."""
    return dict(_legacy())


def major_classes(kind: Kind) -> tuple[MajorClass, ...]:
    """Return the major classes (大类) of one kind, in code order."""
    table: Mapping[str, ComponentClass] | Mapping[str, MatterClass]
    table = _components() if kind is Kind.COMPONENT else _matters()
    seen: dict[str, MajorClass] = {}
    for entry in table.values():
        if entry.major_code not in seen:
            seen[entry.major_code] = MajorClass(kind, entry.major_code, entry.major_name)
    return tuple(seen[code] for code in sorted(seen))


def _shown(value: object) -> str:
    """Return a short printable form of any input for an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _missing(kind: Kind, code: str) -> str:
    """Say why there is no class of this kind with this code."""
    if not isinstance(code, str) or not _CLASS_CODE.fullmatch(code):
        return f"{_shown(code)} is not a class code (5 ASCII digits: major 2 + minor 3)"
    absent = _absent().get((kind, code))
    if absent is not None:
        return (
            f"{STANDARD} has no {kind.value} class {code}: the code is absent from the "
            "transcribed table (a reserved or retired code, or an omission; to be verified)"
        )
    return f"{STANDARD} has no {kind.value} ({kind.label_zh}) class {code}"


def component_class(code: str) -> ComponentClass:
    """Return the component class with this code, or raise NotFound."""
    found = _components().get(code) if isinstance(code, str) else None
    if found is None:
        raise NotFound(_missing(Kind.COMPONENT, code))
    return found


def matter_class(code: str) -> MatterClass:
    """Return the matter class with this code, or raise NotFound."""
    found = _matters().get(code) if isinstance(code, str) else None
    if found is None:
        raise NotFound(_missing(Kind.MATTER, code))
    return found


def map_legacy(standard: str, legacy_code: str) -> MatterClass | None:
    """Return the GB/T 47678.5 matter class for a legacy event code, or None if it has none.

    ``standard`` is one of :data:`LEGACY_STANDARDS`; ``legacy_code`` is written as in
    ``legacy_codes.csv`` (``1-01`` for CJ/T 214-2007, ``01-01`` for GB/T 30428.2-2013). Every
    mapping is grade C (see the data README): show it to a person before relying on it.
    """
    if standard not in LEGACY_STANDARDS:
        raise ValidationFailed.single(
            "standard",
            "legacy_standard_known",
            f"{_shown(standard)} is not a known legacy standard; use one of "
            + ", ".join(LEGACY_STANDARDS),
        )
    entry = _legacy().get((standard, Kind.MATTER, legacy_code))
    if entry is None:
        raise ValidationFailed.single(
            "legacy_code",
            "legacy_code_known",
            f"{standard} has no event class {_shown(legacy_code)} in the legacy code table",
        )
    return None if entry.code is None else _matters()[entry.code]


# --------------------------------------------------------------------------- validators


def check_class_code(code: str, *, field: str = "class_code") -> str:
    """Return ``code`` if it is 5 ASCII digits; raise ValidationFailed (class_code_format)."""
    if not isinstance(code, str) or not _CLASS_CODE.fullmatch(code):
        raise ValidationFailed.single(
            field,
            "class_code_format",
            f"{_shown(code)} is not a class code; use 5 ASCII digits "
            "(2-digit major class + 3-digit minor class)",
        )
    return code


def check_component_class(code: str, *, field: str = "class_code") -> ComponentClass:
    """Return the component class ``code`` names; raise ValidationFailed if there is none.

    Rules: ``class_code_format``, ``component_class_known``.
    """
    check_class_code(code, field=field)
    found = _components().get(code)
    if found is None:
        raise ValidationFailed.single(
            field, "component_class_known", _missing(Kind.COMPONENT, code)
        )
    return found


def check_matter_class(code: str, *, field: str = "class_code") -> MatterClass:
    """Return the matter class ``code`` names; raise ValidationFailed if there is none.

    Rules: ``class_code_format``, ``matter_class_known``.
    """
    check_class_code(code, field=field)
    found = _matters().get(code)
    if found is None:
        raise ValidationFailed.single(field, "matter_class_known", _missing(Kind.MATTER, code))
    return found


def check_division_code(code: str, *, field: str = "division_code") -> str:
    """Return ``code`` if it is 6 ASCII digits (GB/T 2260); raise ValidationFailed otherwise.

    Rule: ``division_code_format``. Whether the division exists is for the geo package to say.
    """
    if not isinstance(code, str) or not _DIVISION_CODE.fullmatch(code):
        raise ValidationFailed.single(
            field,
            "division_code_format",
            f"{_shown(code)} is not a division code; use the 6 ASCII digits of GB/T 2260",
        )
    return code


def make_component_id(division_code: str, class_code: str, sequence: int) -> str:
    """Build a 17-digit component id (管理部件标识码) from its parts.

    Rules: ``division_code_format``, ``class_code_format``, ``component_class_known``,
    ``sequence_range`` (an integer from 0 to 999999).
    """
    check_division_code(division_code, field="division_code")
    check_component_class(class_code, field="class_code")
    if (
        not isinstance(sequence, int)
        or isinstance(sequence, bool)
        or not 0 <= sequence <= _MAX_SEQUENCE
    ):
        raise ValidationFailed.single(
            "sequence",
            "sequence_range",
            f"{_shown(sequence)} is not a sequence number; use an integer from 0 to 999999",
        )
    return f"{division_code}{class_code}{sequence:06d}"


def parse_component_id(text: str, *, field: str = "component_id") -> ComponentId:
    """Split a 17-digit component id into division code, class code and sequence.

    Rules: ``component_id_format`` (17 ASCII digits), ``component_class_known``.
    """
    if not isinstance(text, str) or not _COMPONENT_ID.fullmatch(text):
        raise ValidationFailed.single(
            field,
            "component_id_format",
            f"{_shown(text)} is not a component id; use 17 ASCII digits: division code (6) "
            "+ component class code (5) + sequence (6)",
        )
    check_component_class(text[6:11], field=field)
    return ComponentId(division_code=text[:6], class_code=text[6:11], sequence=int(text[11:]))


def make_matter_code(division_code: str, class_code: str) -> str:
    """Build an 11-digit matter code (事项代码) from a division code and a matter class code.

    Rules: ``division_code_format``, ``class_code_format``, ``matter_class_known``.
    """
    check_division_code(division_code, field="division_code")
    check_matter_class(class_code, field="class_code")
    return division_code + class_code


def parse_matter_code(text: str, *, field: str = "matter_code") -> MatterCode:
    """Split an 11-digit matter code into division code and matter class code.

    Rules: ``matter_code_format`` (11 ASCII digits), ``matter_class_known``.
    """
    if not isinstance(text, str) or not _MATTER_CODE.fullmatch(text):
        raise ValidationFailed.single(
            field,
            "matter_code_format",
            f"{_shown(text)} is not a matter code; use 11 ASCII digits: division code (6) "
            "+ matter class code (5)",
        )
    check_matter_class(text[6:], field=field)
    return MatterCode(division_code=text[:6], class_code=text[6:])
