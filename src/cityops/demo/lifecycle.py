"""How a demo case lives: the real loop (:func:`cityops.cases.advance.advance`) with human delays.

Each arrival is accepted, filed, dispatched to the department of its matter rule (or the grid's
unit, as intake routes it), started, reported, verified and, for citizens, evaluated. The steps
go through ``advance()``, so deadlines, lights, on-time flags and working times are exactly what
the live loop computes. Delays are drawn in working time; each department has its own pace
(sanitation quick, construction and water slow), and the side flows come at their usual rates:
不予立案, 作废, 自处理, 回退, 挂账, 延期, 返工 and 督办 on overdue cases.

A step that would happen after the load moment is not taken: recent cases stay open in
whatever state they reached, some of them overdue, so the queues and the lights are alive.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cityops.cases.advance import Step, advance
from cityops.cases.model import Case, Channel, HistoryEntry, Urgency
from cityops.cases.policy import CasePolicy
from cityops.cases.rules import MatterRule, most_specific
from cityops.cases.workflow import WITH_DEPARTMENT, Command, Status
from cityops.demo.casemix import CITIZEN_CHANNELS, Arrival
from cityops.kernel.worktime import WorkingCalendar, WorkingLimit


@dataclass(frozen=True, slots=True)
class Pace:
    """How a department works: handling time as a share of the limit, and its rework rate."""

    median_share: float  # median working time used, as a share of the limit
    spread: float  # log-normal sigma of that share
    rework: float  # chance that verification fails
    holds: float = 1.0  # multiplier of the hold rate (engineering works wait for permits)


PACE: dict[str, Pace] = {
    "HWS": Pace(0.35, 0.5, 0.02),
    "YJ": Pace(0.35, 0.5, 0.02),
    "SZ": Pace(0.45, 0.6, 0.03, 1.6),
    "JJ": Pace(0.5, 0.6, 0.025),
    "YL": Pace(0.5, 0.6, 0.03),
    "CGJ": Pace(0.55, 0.6, 0.03),
    "SCJG": Pace(0.6, 0.6, 0.03),
    "STHJ": Pace(0.6, 0.7, 0.035),
    "SW": Pace(0.85, 0.7, 0.045, 1.6),  # slow
    "ZJ": Pace(1.05, 0.7, 0.055, 2.0),  # slowest: many overdue
}
DEFAULT_PACE = Pace(0.6, 0.6, 0.03)
FALLBACK_DEPARTMENT = "CGJ"  # takes a case whose matter has no rule (城管 as the catch-all)
# A dispatcher's usual mistake, corrected after the department returns the case (回退).
WRONG_DEPARTMENT = {
    "SZ": "SW",
    "SW": "SZ",
    "HWS": "CGJ",
    "CGJ": "HWS",
    "JJ": "CGJ",
    "YL": "HWS",
    "ZJ": "CGJ",
    "STHJ": "CGJ",
    "SCJG": "CGJ",
    "YJ": "CGJ",
}
# Matters a patroller may fix on the spot (自处理).
SELF_HANDLED = frozenset(
    {"06010", "06036", "07001", "07002", "07007", "09010", "09011", "06012", "06019", "06007"}
    | {"09005", "09006", "09001", "06040", "09022", "09021", "06042", "06017"}
)
P_REJECT_CITIZEN = 0.045
P_REJECT_OTHER = 0.005
P_VOID_AT_INTAKE = 0.006
P_VOID_LATER = 0.004
P_SELF_HANDLE = 0.25
P_RETURN = 0.02
P_HOLD = 0.014
P_START = 0.85
P_EXTENSION_WHEN_LATE = 0.1
P_EXTENSION_APPROVED = 0.85
P_URGE = 0.5
P_EVALUATE_CITIZEN = 0.92
P_EVALUATE_ENTERPRISE = 0.6
SATISFACTION = (1, 2, 3, 4, 5)
SATISFIED_WEIGHTS = (2, 3, 8, 27, 60)
DISSATISFIED_WEIGHTS = (8, 10, 22, 32, 28)

REJECT_REASONS = (
    "不属于城市管理受理范围，已告知诉求人向相关部门反映",
    "诉求内容不明确，多次联系诉求人未果",
    "经核实问题不存在",
    "属于司法程序处理范围，不予立案",
)
VOID_REASONS = ("重复上报，与已受理案件为同一问题", "上报人撤回诉求", "测试数据，作废处理")
RETURN_REASONS = ("非本部门职责，请重新派遣", "权属不清，退回指挥中心重新派遣")
HOLD_REASONS = (
    "涉及产权单位协调，待确认权属后处置",
    "需办理占掘路许可，待审批后施工",
    "汛期暂缓施工，待汛期结束后处置",
    "需纳入年度维修计划统一实施",
)
EXTENSION_REASONS = (
    "需协调产权单位，申请延期",
    "维修材料需采购，申请延期",
    "涉及多部门联合处置，申请延期",
)
REWORK_REASONS = ("现场核查未整改到位", "问题反弹，现场仍有残留", "处置照片与现场不符")
REPORT_NOTES = ("已处置完毕，现场照片已上传", "已按要求整改到位", "已清理完毕", "已修复")
URGE_NOTE = "已超期，请抓紧处置并反馈"


class _Stop(Exception):
    """The case's life ends here: voided, or its next step would come after the load moment."""


def base_department(code: str | None) -> str:
    """Return the department a unit belongs to (HWS03 → HWS)."""
    if not code:
        return ""
    return code.rstrip("0123456789") or code


class Lifecycle:
    """Lives demo cases through the loop, up to the load moment."""

    def __init__(
        self,
        rng: random.Random,
        *,
        calendar: WorkingCalendar,
        policy: CasePolicy,
        rules: Mapping[str, Sequence[MatterRule]],
        end: datetime,
    ) -> None:
        self._rng = rng
        self._calendar = calendar
        self._policy = policy
        self._rules = rules
        self._end = end
        self._history: list[HistoryEntry] = []
        self._rule: MatterRule | None = None
        self._last = end

    def live(self, arrival: Arrival) -> tuple[Case, list[HistoryEntry]]:
        """Return the case made from ``arrival`` and its history, as of the load moment."""
        case = self._accept(arrival)
        with contextlib.suppress(_Stop):
            self._run(case, arrival)
        return case, self._history

    # -- the steps ---------------------------------------------------------------------------

    def _accept(self, arrival: Arrival) -> Case:
        grid = arrival.grid
        codes = [grid.code, grid.community_code, grid.street_code, grid.district_code]
        self._rule = most_specific(self._rules.get(arrival.matter_code, ()), codes)
        rule = self._rule
        unit = grid.units.get(("matter", arrival.matter_code))
        if unit is None and rule is not None and rule.department_code:
            unit = grid.units.get(("department", rule.department_code))
        actor, role = self._intake_actor(arrival)
        machine = arrival.channel in (Channel.SENSOR, Channel.AI_DETECTION)
        case = Case(
            id=0,
            channel=arrival.channel,
            description=arrival.description,
            accepted_at=arrival.accepted_at,
            accepted_by=actor,
            urgency=arrival.urgency,
            appeal_type=arrival.appeal_type,
            matter_code=arrival.matter_code,
            class_source="rule" if machine else "clerk",
            class_confidence=1.0,
            lon=arrival.lon,
            lat=arrival.lat,
            address=arrival.address,
            component_id=arrival.component_id,
            location_source="component" if arrival.component_id else "point",
            grid_code=grid.code,
            community_code=grid.community_code,
            street_code=grid.street_code,
            district_code=grid.district_code,
            reporter_name=arrival.reporter_name,
            reporter_phone=arrival.reporter_phone,
            department_code=unit or (rule.department_code if rule else None),
            grid_worker=grid.worker,
            updated_at=arrival.accepted_at,
        )
        data: dict[str, Any] = {
            "channel": arrival.channel.value,
            "suggestions": [],
            "duplicates": [],
            "department_code": case.department_code,
        }
        if arrival.device:
            data["device"] = arrival.device
        self._history = [
            HistoryEntry(
                case_id=0,
                at=arrival.accepted_at,
                actor=actor,
                role=role,
                command="accept",
                to_status=Status.ACCEPTED,
                data=data,
            )
        ]
        self._last = arrival.accepted_at
        return case

    def _intake_actor(self, arrival: Arrival) -> tuple[str, str]:
        channel = arrival.channel
        if channel in CITIZEN_CHANNELS:
            return "intake", "intake"
        if channel is Channel.PATROLLER:
            worker = arrival.grid.worker
            if worker and self._rng.random() < 0.85:
                return worker, "patroller"
            return "patroller", "patroller"
        names = {
            Channel.SENSOR: "system:iot",
            Channel.AI_DETECTION: "system:video-ai",
            Channel.ENTERPRISE: "system:enterprise",
        }
        return names.get(channel, "system:demo"), "system"

    def _run(self, case: Case, arrival: Arrival) -> None:
        rng = self._rng
        t = case.accepted_at
        citizen = case.channel in CITIZEN_CHANNELS
        urgent = case.urgency is Urgency.URGENT
        if rng.random() < (P_REJECT_CITIZEN if citizen else P_REJECT_OTHER):
            reason = rng.choice(REJECT_REASONS)
            self._do(case, self._after(t, rng.uniform(0.2, 3)), Command.REJECT, "intake", reason)
            return
        if rng.random() < P_VOID_AT_INTAKE:
            reason = VOID_REASONS[0]
            self._do(case, self._after(t, rng.uniform(0.1, 2)), Command.VOID, "dispatcher", reason)
            return
        if (
            case.channel is Channel.PATROLLER
            and case.matter_code in SELF_HANDLED
            and rng.random() < P_SELF_HANDLE
        ):
            self._self_handle(case)
            return
        filer = "intake" if citizen else "dispatcher"
        delay = rng.uniform(0.05, 1.2) if rng.random() < 0.9 else rng.uniform(2, 12)
        t = self._do(case, self._after(t, delay / (4 if urgent else 1)), Command.FILE, filer)
        if rng.random() < P_VOID_LATER:
            self._do(
                case,
                self._after(t, rng.uniform(0.1, 4)),
                Command.VOID,
                "dispatcher",
                "上报人撤回诉求",
            )
            return
        department = case.department_code or FALLBACK_DEPARTMENT
        returned = rng.random() < P_RETURN
        first = department
        if returned:
            wrong = WRONG_DEPARTMENT.get(base_department(department), "CGJ")
            first = arrival.grid.units.get(("department", wrong), wrong)
        delay = rng.uniform(0.05, 1.0) if rng.random() < 0.9 else rng.uniform(1.5, 10)
        delay /= 3 if urgent else 1
        t = self._do(case, self._after(t, delay), Command.DISPATCH, "dispatcher", department=first)
        if returned:
            t = self._do(
                case,
                self._after(t, rng.uniform(0.3, 4)),
                Command.RETURN,
                "handler",
                rng.choice(RETURN_REASONS),
            )
            t = self._do(
                case,
                self._after(t, rng.uniform(0.1, 2)),
                Command.DISPATCH,
                "dispatcher",
                department=department,
            )
        t = self._department(case, t)
        t = self._verify(case, t)
        self._evaluate(case, t)

    def _self_handle(self, case: Case) -> None:
        rng = self._rng
        at = case.accepted_at + timedelta(minutes=rng.uniform(5, 40))
        self._do(case, at, Command.SELF_HANDLE, case.accepted_by, "已现场自行处置")
        verifier = case.grid_worker or "patroller"
        self._do(case, self._after(at, rng.uniform(0.1, 3)), Command.VERIFY_PASS, verifier)

    def _department(self, case: Case, t: datetime) -> datetime:
        """From dispatch to the report: start, holds, extensions, urges; return the report time."""
        rng = self._rng
        pace = PACE.get(base_department(case.department_code), DEFAULT_PACE)
        limit_h = (case.limit_seconds or 3600) / 3600
        work = max(0.05, limit_h * math.exp(rng.gauss(math.log(pace.median_share), pace.spread)))
        events: list[tuple[float, str]] = []
        if rng.random() < P_START:
            events.append((work * rng.uniform(0.03, 0.3), "start"))
        if rng.random() < P_HOLD * pace.holds:
            events.append((work * rng.uniform(0.2, 0.7), "hold"))
        if rng.random() < P_VOID_LATER / 2:
            events.append((work * rng.uniform(0.1, 0.5), "void"))
        if work > 0.9 * limit_h and rng.random() < P_EXTENSION_WHEN_LATE:
            at = min(limit_h * rng.uniform(0.5, 0.85), work * 0.8)
            events.append((at, "extension"))
        events.sort()
        anchor, anchor_h = t, 0.0
        for h, kind in events:
            moment = self._after(anchor, max(h - anchor_h, 0.02))
            self._urge(case, moment)
            if kind == "start":
                self._do(case, moment, Command.START, "handler")
            elif kind == "void":
                self._do(case, moment, Command.VOID, "dispatcher", rng.choice(VOID_REASONS))
                raise _Stop  # nothing more happens to a voided case
            elif kind == "hold":
                self._do(case, moment, Command.HOLD, "dispatcher", rng.choice(HOLD_REASONS))
                days = min(rng.expovariate(1 / 9), 60.0) + 0.5
                resume = self._after(moment + timedelta(days=days), 0.1)
                self._do(case, resume, Command.RESUME, "dispatcher")
                moment = resume
            else:
                moment = self._extension(case, moment, work - h)
            anchor, anchor_h = moment, h
        report = self._after(anchor, max(work - anchor_h, 0.02))
        self._urge(case, report)
        return self._do(case, report, Command.REPORT, "handler", rng.choice(REPORT_NOTES))

    def _extension(self, case: Case, at: datetime, remaining_h: float) -> datetime:
        rng = self._rng
        needed = max(1.0, remaining_h * 1.2)  # enough to finish in time once approved
        in_days = "工作日" in (case.limit_text or "") and needed >= 3.5
        extra = (
            WorkingLimit(math.ceil(needed / 7), "days")
            if in_days
            else WorkingLimit(math.ceil(needed), "hours")
        )
        reason = rng.choice(EXTENSION_REASONS)
        self._do(case, at, Command.REQUEST_EXTENSION, "handler", reason, extension=extra)
        answer = self._after(at, rng.uniform(0.02, min(1.5, max(remaining_h * 0.5, 0.03))))
        if rng.random() < P_EXTENSION_APPROVED:
            return self._do(case, answer, Command.APPROVE_EXTENSION, "dispatcher", extension=extra)
        return self._do(
            case, answer, Command.REFUSE_EXTENSION, "dispatcher", "时限内应可完成，不同意延期"
        )

    def _urge(self, case: Case, before: datetime) -> None:
        """Urge (督办) an overdue case once in a while before its next step."""
        rng = self._rng
        due = case.due_at
        if case.status not in WITH_DEPARTMENT or due is None or due >= before:
            return
        if case.state.urges or rng.random() >= P_URGE:
            return
        at = max(self._after(due, rng.uniform(0.2, 3)), self._last + timedelta(minutes=1))
        if at < before:
            self._do(case, at, Command.URGE, "dispatcher", URGE_NOTE)
            second = self._after(at, rng.uniform(2, 10))
            if second < before and rng.random() < 0.3:
                self._do(case, second, Command.URGE, "commander", URGE_NOTE)

    def _verify(self, case: Case, t: datetime) -> datetime:
        rng = self._rng
        verifier = case.grid_worker or "patroller"
        pace = PACE.get(base_department(case.department_code), DEFAULT_PACE)
        late = case.handled_on_time is False
        delay = rng.uniform(0.2, 4) if rng.random() < 0.8 else rng.uniform(4, 14)
        t = self._after(t, delay)
        if rng.random() < pace.rework * (1.5 if late else 1.0):
            t = self._do(case, t, Command.VERIFY_FAIL, verifier, rng.choice(REWORK_REASONS))
            again = self._after(t, rng.uniform(0.5, 6) * pace.median_share * 2)
            self._urge(case, again)
            t = self._do(case, again, Command.REPORT, "handler", "已返工整改到位")
            t = self._after(t, rng.uniform(0.2, 4))
        return self._do(case, t, Command.VERIFY_PASS, verifier, "核查通过")

    def _evaluate(self, case: Case, t: datetime) -> None:
        rng = self._rng
        chance = {Channel.ENTERPRISE: P_EVALUATE_ENTERPRISE}.get(
            case.channel, P_EVALUATE_CITIZEN if case.channel in CITIZEN_CHANNELS else 0.0
        )
        if rng.random() >= chance:
            return
        unhappy = case.closed_on_time is False or case.state.reworks > 0
        weights = DISSATISFIED_WEIGHTS if unhappy else SATISFIED_WEIGHTS
        satisfaction = rng.choices(SATISFACTION, weights)[0]
        self._do(
            case,
            self._after(t, rng.uniform(0.5, 14)),
            Command.EVALUATE,
            "intake",
            satisfaction=satisfaction,
        )

    # -- helpers -----------------------------------------------------------------------------

    def _after(self, start: datetime, hours: float) -> datetime:
        """Return the moment ``hours`` of working time after ``start``."""
        return self._calendar.add(start, timedelta(hours=hours))

    def _do(
        self,
        case: Case,
        at: datetime,
        command: Command,
        actor: str,
        comment: str | None = None,
        *,
        department: str | None = None,
        extension: WorkingLimit | None = None,
        satisfaction: int | None = None,
    ) -> datetime:
        """Apply one command through advance() at ``at``, unless that is after the load moment."""
        if at >= self._end:
            raise _Stop
        at = max(at, self._last)
        step = Step(
            command,
            actor=actor,
            role=_ROLE_OF.get(actor, "patroller" if actor.startswith("gridworker") else None),
            comment=comment,
            satisfaction=satisfaction,
            department_code=department,
            extension=extension,
        )
        entry = advance(
            case, step, now=at, calendar=self._calendar, policy=self._policy, rule=self._rule
        )
        self._history.append(entry)
        self._last = at
        return at


_ROLE_OF = {
    "intake": "intake",
    "dispatcher": "dispatcher",
    "commander": "command_center",
    "handler": "department_handler",
    "patroller": "patroller",
}
