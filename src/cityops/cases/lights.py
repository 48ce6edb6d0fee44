"""Deadline lights (亮灯): green while a case is well within its time limit, yellow, red overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from cityops.kernel.errors import ValidationFailed


class Light(StrEnum):
    """The light a case shows."""

    GREEN = "green"  # 绿灯: elapsed ≤ yellow threshold × limit
    YELLOW = "yellow"  # 黄灯: elapsed ≤ limit
    RED = "red"  # 红灯: overdue


@dataclass(frozen=True, slots=True)
class LightThresholds:
    """When a case turns yellow (share of the limit used) and red (past the limit)."""

    yellow: float = 0.8
    red: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.yellow <= self.red:
            raise ValidationFailed.single(
                "light_thresholds", "order", "need 0 < yellow ≤ red (shares of the time limit)"
            )


def light(elapsed: timedelta, limit: timedelta, thresholds: LightThresholds | None = None) -> Light:
    """Return the light for ``elapsed`` working time against a ``limit`` of working time."""
    if limit <= timedelta():
        raise ValueError("a time limit must be positive")
    limits = thresholds or LightThresholds()
    used = elapsed / limit
    if used > limits.red:
        return Light.RED
    if used > limits.yellow:
        return Light.YELLOW
    return Light.GREEN


def used_share(elapsed: timedelta, limit: timedelta) -> float:
    """Return the share of the limit used (1.0 = due now), for progress bars and sorting."""
    if limit <= timedelta():
        raise ValueError("a time limit must be positive")
    return elapsed / limit
