"""Value objects of the catalog: class kinds, component and matter classes, legacy mappings.

GB/T 47678.5-2026 gives components (管理部件) and matters (管理事项) class codes of the same
shape, 2-digit major class + 3-digit minor class, so ``01001`` is both a component class
(供水井盖) and a matter class (供水井盖异常). Every key that can hold either therefore carries
the :class:`Kind` beside the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    """The two kinds of class in GB/T 47678.5: component (部件) and matter (事项)."""

    COMPONENT = "component"
    MATTER = "matter"

    @property
    def label_zh(self) -> str:
        """Return the Chinese term: 部件 or 事项."""
        return "部件" if self is Kind.COMPONENT else "事项"


@dataclass(frozen=True, slots=True)
class MajorClass:
    """A major class (大类): the first two digits of a class code, within one kind."""

    kind: Kind
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ComponentClass:
    """A management component class (管理部件), GB/T 47678.5-2026 附录 A 表 A.1."""

    code: str
    major_code: str
    major_name: str
    name: str
    confidence: str
    note: str = ""

    @property
    def kind(self) -> Kind:
        """Return :attr:`Kind.COMPONENT`."""
        return Kind.COMPONENT

    @property
    def minor_code(self) -> str:
        """Return the 3-digit minor class (小类) part of the code."""
        return self.code[2:]


@dataclass(frozen=True, slots=True)
class MatterClass:
    """A management matter class (管理事项), GB/T 47678.5-2026 附录 C 表 C.1.

    ``component_code`` names the component class the matter is about for the matters of major
    classes 01–05 (one "<部件名>异常" matter per component, same code); it is ``None`` for
    the other matters.
    """

    code: str
    major_code: str
    major_name: str
    name: str
    component_code: str | None
    confidence: str
    note: str = ""

    @property
    def kind(self) -> Kind:
        """Return :attr:`Kind.MATTER`."""
        return Kind.MATTER

    @property
    def minor_code(self) -> str:
        """Return the 3-digit minor class (小类) part of the code."""
        return self.code[2:]


@dataclass(frozen=True, slots=True)
class AbsentCode:
    """A class code missing from the transcription of a GB/T 47678.5 table, to be verified."""

    kind: Kind
    code: str
    note: str


@dataclass(frozen=True, slots=True)
class LegacyCode:
    """A class of a legacy standard (CJ/T 214-2007, GB/T 30428.2-2013) and its successor.

    ``kind`` is the kind of class on both sides (legacy 事件 event classes correspond to
    GB/T 47678.5 matters). ``code`` is the GB/T 47678.5 class code, or ``None`` where the
    notes give no counterpart; ``basis`` says why the mapping holds or why there is none.
    """

    legacy_standard: str
    legacy_code: str
    legacy_name: str
    kind: Kind
    code: str | None
    confidence: str
    basis: str


class ComponentId(NamedTuple):
    """The parts of a 17-digit component id (管理部件标识码)."""

    division_code: str
    class_code: str
    sequence: int


class MatterCode(NamedTuple):
    """The parts of an 11-digit matter code (事项代码): a matter type at a place."""

    division_code: str
    class_code: str
