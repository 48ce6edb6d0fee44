"""A tiny city for the cases tests: two grids, three departments, rules, people in each role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely

from cityops.auth.model import Principal
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.cases.rules import MatterRule
from cityops.geo.model import DivisionInput

DISTRICT, STREET, COMMUNITY = "410171", "410171001", "410171001001"
G1, G2 = "410171001001001", "410171001001002"
IN_G1 = (113.545, 34.81)  # inside grid 1
IN_G2 = (113.555, 34.81)
MANHOLE = "01002"  # 污水井盖异常 → SZ
GARBAGE = "06010"  # 暴露垃圾 → HWS


@dataclass(frozen=True)
class City:
    """Headers of each role's user in the tiny city."""

    intake: dict[str, str]
    dispatcher: dict[str, str]
    handler_sz: dict[str, str]
    handler_hws: dict[str, str]
    patroller: dict[str, str]
    viewer: dict[str, str]
    admin: dict[str, str]
    accounts: dict[str, Any]

    def signed_in_again(self, client: Any, bearer: Any) -> City:
        """Sign everyone in again (after the clock moved past the sessions' lifetime)."""
        return signed_in(client, bearer, self.accounts)


def build_city(services: Any, system: Principal) -> None:
    """Create the divisions, departments, rules and grid worker (no users)."""
    whole = shapely.box(113.54, 34.80, 113.56, 34.82)
    services.divisions.import_divisions(
        system,
        [
            DivisionInput(0, DISTRICT, "高新区", None, whole),
            DivisionInput(1, STREET, "石佛街道", DISTRICT, whole),
            DivisionInput(2, COMMUNITY, "科学大道社区", STREET, whole),
            DivisionInput(3, G1, "第1网格", COMMUNITY, shapely.box(113.54, 34.80, 113.55, 34.82)),
            DivisionInput(4, G2, "第2网格", COMMUNITY, shapely.box(113.55, 34.80, 113.56, 34.82)),
        ],
    )
    for code, name in (("SZ", "市政"), ("HWS", "环卫"), ("CGJ", "城管")):
        services.accounts.create_department(system, code=code, name=name)
    services.matter_rules.put_many(
        system,
        [
            MatterRule(
                MANHOLE,
                department_code="SZ",
                filing_condition="井盖缺失、破损",
                closing_condition="井盖恢复完好",
                limit_normal="1 工作日",
                limit_urgent="2 工作时",
            ),
            MatterRule(GARBAGE, department_code="HWS", limit_normal="4 工作时"),
        ],
    )


def make_people(services: Any, system: Principal, make_user: Any, client: Any, bearer: Any) -> City:
    """Create one user per role and sign each in."""
    accounts = {
        "intake": make_user("clerk", Role.INTAKE),
        "dispatcher": make_user("disp", Role.DISPATCHER),
        "handler_sz": make_user("sz1", Role.DEPARTMENT_HANDLER, Scope("department", "SZ"), "SZ"),
        "handler_hws": make_user(
            "hws1", Role.DEPARTMENT_HANDLER, Scope("department", "HWS"), "HWS"
        ),
        "patroller": make_user("pat1", Role.PATROLLER, Scope("division", STREET)),
        "viewer": make_user("look", Role.VIEWER),
        "admin": make_user("boss", Role.ADMIN),
    }
    services.responsibility.assign_worker(system, G1, "pat1")
    return signed_in(client, bearer, accounts)


def signed_in(client: Any, bearer: Any, accounts: dict[str, Any]) -> City:
    """Return the headers of each account, freshly signed in."""
    headers = {role: bearer(client, account) for role, account in accounts.items()}
    return City(**headers, accounts=accounts)


def new_case(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Create a case through the API and return the response body (asserting 201)."""
    body = {
        "channel": "hotline",
        "description": "科学大道上有个污水井盖破了，很危险",
        "lon": IN_G1[0],
        "lat": IN_G1[1],
        "reporter_name": "张三丰",
        "reporter_phone": "13812345678",
        **fields,
    }
    response = client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def act(client: Any, headers: dict[str, str], case_id: int, command: str, **body: Any) -> Any:
    """Apply a command through the API and return the response."""
    return client.post(f"/api/v1/cases/{case_id}/actions/{command}", json=body, headers=headers)


def dispatched(client: Any, city: City, **fields: Any) -> int:
    """Create a case, file and dispatch it through the API; return its id."""
    case_id = new_case(client, city.intake, **fields)["case"]["id"]
    act(client, city.dispatcher, case_id, "file")
    assert act(client, city.dispatcher, case_id, "dispatch").status_code == 200
    return int(case_id)
