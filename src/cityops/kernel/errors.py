"""Domain errors that every edge (HTTP, CLI) knows how to present.

Each error carries enough structure for a clear message: the field, the rule that was broken
and a human sentence. The web edge turns them into ``application/problem+json``; the CLI into
one line on stderr and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One broken rule on one input field."""

    field: str
    rule: str
    message: str


class CityOpsError(Exception):
    """Base class of every error the domain raises on purpose."""

    title = "Error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(CityOpsError):
    """Input broke one or more rules; nothing was written."""

    title = "Validation failed"
    status = 422

    def __init__(self, issues: list[FieldIssue] | FieldIssue) -> None:
        self.issues = [issues] if isinstance(issues, FieldIssue) else list(issues)
        if not self.issues:
            raise ValueError("ValidationFailed needs at least one issue")
        first = self.issues[0]
        super().__init__(f"{first.field}: {first.message} (rule: {first.rule})")

    @classmethod
    def single(cls, field: str, rule: str, message: str) -> ValidationFailed:
        """Build the error for one field and one rule."""
        return cls(FieldIssue(field=field, rule=rule, message=message))


class NotFound(CityOpsError):
    """The named object does not exist (or is invisible to the caller)."""

    title = "Not found"
    status = 404


class Conflict(CityOpsError):
    """The change clashes with what is already stored (a duplicate key, a stale state)."""

    title = "Conflict"
    status = 409


class AuthenticationFailed(CityOpsError):
    """The caller could not be identified (bad password, unknown or expired token)."""

    title = "Authentication failed"
    status = 401


class PermissionDenied(CityOpsError):
    """The caller is known but lacks the permission in the needed scope."""

    title = "Permission denied"
    status = 403


class RateLimited(CityOpsError):
    """Too many attempts; try again after ``retry_after`` seconds."""

    title = "Too many attempts"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
