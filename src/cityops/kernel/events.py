"""Domain events: small, frozen, past-tense facts written to the outbox with the change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base class of every domain event; subclasses name the fact in the past tense."""

    aggregate_type: ClassVar[str] = ""

    def event_type(self) -> str:
        """Return the stable type name stored in the outbox (the class name)."""
        return type(self).__name__

    def aggregate_id(self) -> str:
        """Return the id of the object the event is about (first field by default)."""
        fields = dataclasses.fields(self)
        return str(getattr(self, fields[0].name)) if fields else ""

    def payload(self) -> dict[str, Any]:
        """Return the event's fields as JSON-ready data."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list | frozenset | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the outbox, with its position in the global order."""

    id: int
    type: str
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    occurred_at: datetime
