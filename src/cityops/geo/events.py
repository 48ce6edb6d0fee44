"""Events of the geography domain."""

from __future__ import annotations

from dataclasses import dataclass

from cityops.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class DivisionsImported(DomainEvent):
    """A batch of divisions or grids was created or changed."""

    aggregate_type = "division"
    batch: str
    created: int
    changed: int


@dataclass(frozen=True, kw_only=True)
class GridAssignmentChanged(DomainEvent):
    """A grid's workers or responsible units changed."""

    aggregate_type = "grid"
    grid_code: str
    change: str
