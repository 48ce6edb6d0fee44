"""The case loop as a state machine: 受理 → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案 → 评价.

Side flows: 不予立案 (reject), 返工 (verification fails: back to the department, counted), 延期
(extension requested, then approved or refused), 回退 (the department returns a case that is not
theirs: back to filing for re-dispatch, counted), 挂账/缓办 (hold and resume to where it was),
作废 (void), 督办 (urge: no move, counted) and 自处理 (a patroller fixes a small problem on the
spot: straight to reported, then verification).

Every command names the permission it needs; the service checks it against the actor's role and
scope. An illegal command is refused with the current state and the moves that are allowed.
This module is pure: no store, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from cityops.kernel.errors import Conflict, ValidationFailed


class Status(StrEnum):
    """Where a case is in the loop."""

    ACCEPTED = "accepted"  # 受理
    REJECTED = "rejected"  # 不予立案
    FILED = "filed"  # 立案
    DISPATCHED = "dispatched"  # 派遣
    IN_PROGRESS = "in_progress"  # 处置
    HANDLED = "handled"  # 反馈 (reported back, waiting for 核查)
    CLOSED = "closed"  # 结案
    EVALUATED = "evaluated"  # 回访/评价
    ON_HOLD = "on_hold"  # 挂账/缓办
    VOIDED = "voided"  # 作废


STATUS_LABELS_ZH: dict[Status, str] = {
    Status.ACCEPTED: "受理",
    Status.REJECTED: "不予立案",
    Status.FILED: "立案",
    Status.DISPATCHED: "派遣",
    Status.IN_PROGRESS: "处置",
    Status.HANDLED: "反馈",
    Status.CLOSED: "结案",
    Status.EVALUATED: "回访评价",
    Status.ON_HOLD: "挂账",
    Status.VOIDED: "作废",
}

OPEN = frozenset(
    {
        Status.ACCEPTED,
        Status.FILED,
        Status.DISPATCHED,
        Status.IN_PROGRESS,
        Status.HANDLED,
        Status.ON_HOLD,
    }
)
FINAL = frozenset({Status.REJECTED, Status.EVALUATED, Status.VOIDED})
# The clock of the handling time limit runs in these states (and stops on hold).
WITH_DEPARTMENT = frozenset({Status.DISPATCHED, Status.IN_PROGRESS})


class Command(StrEnum):
    """What an actor asks the case to do."""

    FILE = "file"  # 立案
    REJECT = "reject"  # 不予立案
    DISPATCH = "dispatch"  # 派遣
    START = "start"  # 签收/开始处置
    REPORT = "report"  # 反馈 (handled, with photos and a note)
    RETURN = "return"  # 回退
    VERIFY_PASS = "verify_pass"  # 核查通过 → 结案
    VERIFY_FAIL = "verify_fail"  # 核查不通过 → 返工
    EVALUATE = "evaluate"  # 回访/评价, satisfaction 1–5
    HOLD = "hold"  # 挂账/缓办
    RESUME = "resume"  # 恢复
    VOID = "void"  # 作废
    URGE = "urge"  # 督办
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"  # 同意延期
    REFUSE_EXTENSION = "refuse_extension"  # 不同意延期
    SELF_HANDLE = "self_handle"  # 自处理


@dataclass(frozen=True, slots=True)
class Rule:
    """When a command is allowed, where it leads, and what it needs."""

    sources: frozenset[Status]
    target: Status | None  # None: stay (or, for resume, go back to where the case was)
    permission: str
    needs_reason: bool = False


RULES: dict[Command, Rule] = {
    Command.FILE: Rule(frozenset({Status.ACCEPTED}), Status.FILED, "cases:file"),
    Command.REJECT: Rule(frozenset({Status.ACCEPTED}), Status.REJECTED, "cases:file", True),
    Command.DISPATCH: Rule(frozenset({Status.FILED}), Status.DISPATCHED, "cases:dispatch"),
    Command.START: Rule(frozenset({Status.DISPATCHED}), Status.IN_PROGRESS, "cases:handle"),
    Command.REPORT: Rule(
        frozenset({Status.DISPATCHED, Status.IN_PROGRESS}), Status.HANDLED, "cases:handle"
    ),
    Command.RETURN: Rule(
        frozenset({Status.DISPATCHED, Status.IN_PROGRESS}), Status.FILED, "cases:handle", True
    ),
    Command.VERIFY_PASS: Rule(frozenset({Status.HANDLED}), Status.CLOSED, "cases:verify"),
    Command.VERIFY_FAIL: Rule(frozenset({Status.HANDLED}), Status.DISPATCHED, "cases:verify", True),
    Command.EVALUATE: Rule(frozenset({Status.CLOSED}), Status.EVALUATED, "cases:create"),
    Command.HOLD: Rule(
        frozenset({Status.FILED, Status.DISPATCHED, Status.IN_PROGRESS}),
        Status.ON_HOLD,
        "cases:dispatch",
        True,
    ),
    Command.RESUME: Rule(frozenset({Status.ON_HOLD}), None, "cases:dispatch"),
    Command.VOID: Rule(
        frozenset(
            {Status.ACCEPTED, Status.FILED, Status.DISPATCHED, Status.IN_PROGRESS, Status.ON_HOLD}
        ),
        Status.VOIDED,
        "cases:dispatch",
        True,
    ),
    Command.URGE: Rule(
        frozenset(
            {Status.FILED, Status.DISPATCHED, Status.IN_PROGRESS, Status.HANDLED, Status.ON_HOLD}
        ),
        None,
        "cases:dispatch",
    ),
    Command.REQUEST_EXTENSION: Rule(WITH_DEPARTMENT, None, "cases:handle", True),
    Command.APPROVE_EXTENSION: Rule(WITH_DEPARTMENT, None, "cases:dispatch"),
    Command.REFUSE_EXTENSION: Rule(WITH_DEPARTMENT, None, "cases:dispatch", True),
    Command.SELF_HANDLE: Rule(frozenset({Status.ACCEPTED}), Status.HANDLED, "cases:verify"),
}


@dataclass(frozen=True, slots=True)
class CaseState:
    """The part of a case the state machine looks after."""

    status: Status = Status.ACCEPTED
    resume_to: Status | None = None
    extension_pending: bool = False
    reworks: int = 0
    returns: int = 0
    urges: int = 0
    extensions: int = 0
    holds: int = 0
    self_handled: bool = False
    satisfaction: int | None = None


class IllegalTransition(Conflict):
    """The command is not allowed in the case's current state."""

    def __init__(self, state: CaseState, command: Command, allowed: list[Command]) -> None:
        moves = ", ".join(c.value for c in allowed) or "none (the case is final)"
        super().__init__(
            f"cannot {command.value} a case that is {state.status.value} "
            f"({STATUS_LABELS_ZH[state.status]}); allowed: {moves}"
        )
        self.current = state.status  # not "status": that is the HTTP status of the error
        self.command = command
        self.allowed = allowed


def allowed(state: CaseState) -> list[Command]:
    """Return the commands that may be given to a case in ``state``, in a stable order."""
    return [command for command in Command if _permitted(state, command)]


def _permitted(state: CaseState, command: Command) -> bool:
    rule = RULES[command]
    if state.status not in rule.sources:
        return False
    if command is Command.REQUEST_EXTENSION:
        return not state.extension_pending
    if command in (Command.APPROVE_EXTENSION, Command.REFUSE_EXTENSION):
        return state.extension_pending
    return True


def apply(
    state: CaseState,
    command: Command,
    *,
    reason: str | None = None,
    satisfaction: int | None = None,
) -> CaseState:
    """Return the state after ``command``, or raise IllegalTransition / ValidationFailed."""
    if not _permitted(state, command):
        raise IllegalTransition(state, command, allowed(state))
    rule = RULES[command]
    if rule.needs_reason and not (reason and reason.strip()):
        raise ValidationFailed.single("reason", "required", f"{command.value} needs a reason")
    if command is Command.EVALUATE and (satisfaction is None or not 1 <= satisfaction <= 5):
        raise ValidationFailed.single("satisfaction", "range", "a whole number from 1 to 5")
    return _next(state, command, rule, satisfaction)


def _next(state: CaseState, command: Command, rule: Rule, satisfaction: int | None) -> CaseState:
    if command is Command.HOLD:
        return replace(
            state,
            status=Status.ON_HOLD,
            resume_to=state.status,
            holds=state.holds + 1,
            extension_pending=False,
        )
    if command is Command.RESUME:
        assert state.resume_to is not None
        return replace(state, status=state.resume_to, resume_to=None)
    if command is Command.URGE:
        return replace(state, urges=state.urges + 1)
    if command is Command.REQUEST_EXTENSION:
        return replace(state, extension_pending=True)
    if command is Command.APPROVE_EXTENSION:
        return replace(state, extension_pending=False, extensions=state.extensions + 1)
    if command is Command.REFUSE_EXTENSION:
        return replace(state, extension_pending=False)
    assert rule.target is not None
    moved = replace(state, status=rule.target, extension_pending=False, resume_to=None)
    if command is Command.VERIFY_FAIL:
        return replace(moved, reworks=state.reworks + 1)
    if command is Command.RETURN:
        return replace(moved, returns=state.returns + 1)
    if command is Command.SELF_HANDLE:
        return replace(moved, self_handled=True)
    if command is Command.EVALUATE:
        return replace(moved, satisfaction=satisfaction)
    return moved
