"""The case state machine: the main loop, the side flows, and random command sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.cases.workflow import (
    FINAL,
    RULES,
    CaseState,
    Command,
    IllegalTransition,
    Status,
    allowed,
    apply,
)
from cityops.kernel.errors import ValidationFailed

REASONS = {c: "理由" for c, rule in RULES.items() if rule.needs_reason}


def run(*commands: Command, state: CaseState | None = None, **kwargs) -> CaseState:
    current = state or CaseState()
    for command in commands:
        current = apply(current, command, reason=REASONS.get(command), **kwargs)
    return current


def test_the_main_loop_from_appeal_to_evaluation():
    state = run(Command.FILE, Command.DISPATCH, Command.START, Command.REPORT, Command.VERIFY_PASS)
    assert state.status is Status.CLOSED
    state = apply(state, Command.EVALUATE, satisfaction=5)
    assert state.status is Status.EVALUATED
    assert state.satisfaction == 5
    assert allowed(state) == []


def test_a_failed_verification_is_rework_back_with_the_department():
    state = run(Command.FILE, Command.DISPATCH, Command.REPORT, Command.VERIFY_FAIL)
    assert state.status is Status.DISPATCHED
    assert state.reworks == 1
    state = run(
        Command.REPORT, Command.VERIFY_FAIL, Command.REPORT, Command.VERIFY_PASS, state=state
    )
    assert (state.status, state.reworks) == (Status.CLOSED, 2)


def test_a_return_goes_back_to_filing_for_redispatch():
    state = run(Command.FILE, Command.DISPATCH, Command.START, Command.RETURN)
    assert (state.status, state.returns) == (Status.FILED, 1)
    assert Command.DISPATCH in allowed(state)


def test_hold_resumes_where_the_case_was():
    state = run(Command.FILE, Command.DISPATCH, Command.START, Command.HOLD)
    assert (state.status, state.resume_to, state.holds) == (Status.ON_HOLD, Status.IN_PROGRESS, 1)
    state = apply(state, Command.RESUME)
    assert (state.status, state.resume_to) == (Status.IN_PROGRESS, None)


def test_extensions_are_requested_then_approved_or_refused():
    state = run(Command.FILE, Command.DISPATCH, Command.REQUEST_EXTENSION)
    assert state.extension_pending
    assert Command.REQUEST_EXTENSION not in allowed(state)
    approved = apply(state, Command.APPROVE_EXTENSION)
    assert (approved.extension_pending, approved.extensions) == (False, 1)
    refused = apply(state, Command.REFUSE_EXTENSION, reason="时限充足")
    assert (refused.extension_pending, refused.extensions) == (False, 0)
    with pytest.raises(IllegalTransition):
        apply(approved, Command.APPROVE_EXTENSION)


def test_urge_counts_without_moving_and_self_handling_goes_to_verification():
    state = run(Command.FILE, Command.URGE, Command.URGE)
    assert (state.status, state.urges) == (Status.FILED, 2)
    fixed = apply(CaseState(), Command.SELF_HANDLE)
    assert (fixed.status, fixed.self_handled) == (Status.HANDLED, True)
    assert apply(fixed, Command.VERIFY_PASS).status is Status.CLOSED


def test_reject_and_void_are_final_and_need_a_reason():
    with pytest.raises(ValidationFailed) as caught:
        apply(CaseState(), Command.REJECT, reason="  ")
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == ("reason", "required")
    assert run(Command.REJECT).status in FINAL
    assert run(Command.FILE, Command.VOID).status in FINAL


def test_an_illegal_command_names_the_state_and_the_allowed_moves():
    with pytest.raises(IllegalTransition) as caught:
        apply(CaseState(), Command.DISPATCH)
    error = caught.value
    assert error.current is Status.ACCEPTED
    assert error.status == 409
    assert error.allowed == [Command.FILE, Command.REJECT, Command.VOID, Command.SELF_HANDLE]
    assert "accepted (受理)" in str(error)
    assert "allowed: file, reject, void, self_handle" in str(error)


def test_satisfaction_is_one_to_five():
    closed = apply(run(Command.FILE, Command.DISPATCH, Command.REPORT), Command.VERIFY_PASS)
    for bad in (None, 0, 6):
        with pytest.raises(ValidationFailed):
            apply(closed, Command.EVALUATE, satisfaction=bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Command)), max_size=40))
def test_random_commands_never_reach_an_invalid_state(commands):
    state = CaseState()
    for command in commands:
        before = allowed(state)
        if command not in before:
            with pytest.raises(IllegalTransition) as caught:
                apply(state, command, reason="理由", satisfaction=3)
            assert caught.value.allowed == before
            continue
        state = apply(state, command, reason="理由", satisfaction=3)
        # Invariants of every reachable state.
        assert (state.resume_to is not None) == (state.status is Status.ON_HOLD)
        assert state.resume_to not in (Status.ON_HOLD, Status.ACCEPTED, Status.HANDLED)
        if state.extension_pending:
            assert state.status in (Status.DISPATCHED, Status.IN_PROGRESS)
        assert (state.satisfaction is not None) == (state.status is Status.EVALUATED)
        assert min(state.reworks, state.returns, state.urges, state.extensions) >= 0
        if state.status in FINAL:
            assert allowed(state) == []
