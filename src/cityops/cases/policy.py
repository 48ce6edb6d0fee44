"""A city's settings for the case loop, as the services read them (built from Settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from cityops.cases.deadlines import DeadlinePolicy

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """Limits, duplicate windows, auto-dispatch and deadline rules of one city."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    deadlines: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    default_limit_normal: str = "5 工作日"
    default_limit_urgent: str = "4 工作时"
    dedupe_metres: float = 50.0
    dedupe_hours: float = 72.0
    auto_dispatch: bool = False
    auto_dispatch_confidence: float = 0.8
    max_attachment_bytes: int = 10 * MIB

    def default_limit(self, urgent: bool) -> str:
        """Return the limit used when no matter rule names one."""
        return self.default_limit_urgent if urgent else self.default_limit_normal
