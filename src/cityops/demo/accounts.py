"""Demo departments and one demo user per role, with random passwords written to a file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cityops.auth.accounts import AccountService
from cityops.auth.model import Principal, RoleGrant
from cityops.auth.permissions import ROLE_LABELS_ZH, Role
from cityops.auth.scopes import Scope
from cityops.auth.secrets import generate_password
from cityops.kernel.errors import NotFound

ROOT_DEPARTMENT = ("GOV", "区城市运行管理服务中心")
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("ZHZX", "城市运行指挥中心"),
    ("CGJ", "城市管理局（城管执法）"),
    ("HWS", "环境卫生管理处（环卫）"),
    ("SZ", "市政设施管理处（市政）"),
    ("YL", "园林绿化局（园林）"),
    ("JJ", "公安交通警察大队（交警）"),
    ("STHJ", "生态环境分局"),
    ("SW", "水务局"),
    ("ZJ", "住房和城乡建设局"),
    ("YJ", "应急管理局"),
    ("SCJG", "市场监督管理局"),
)

# username, role, department, scope of the grant
DEMO_USERS: tuple[tuple[str, Role, str, Scope], ...] = (
    ("admin", Role.ADMIN, "ZHZX", Scope.city()),
    ("commander", Role.COMMAND_CENTER, "ZHZX", Scope.city()),
    ("dispatcher", Role.DISPATCHER, "ZHZX", Scope.city()),
    ("intake", Role.INTAKE, "ZHZX", Scope.city()),
    ("handler", Role.DEPARTMENT_HANDLER, "SZ", Scope("department", "SZ")),
    ("patroller", Role.PATROLLER, "CGJ", Scope.city()),
    ("analyst", Role.ANALYST, "ZHZX", Scope.city()),
    ("dataofficer", Role.DATA_OFFICER, "STHJ", Scope("department", "STHJ")),
    ("viewer", Role.VIEWER, "GOV", Scope.city()),
)


@dataclass(frozen=True, slots=True)
class DemoCredential:
    """A demo account and its password."""

    username: str
    role: Role
    password: str


DemoUser = tuple[str, Role, str, Scope, str]  # username, role, department, scope, display name


def load_demo_accounts(
    accounts: AccountService,
    credentials_file: Path,
    extra_users: Sequence[DemoUser] = (),
    extra_departments: Sequence[tuple[str, str, str]] = (),
) -> list[DemoCredential]:
    """Create the demo departments and users if missing; return every demo credential.

    Idempotent: passwords already written to ``credentials_file`` are kept; an account whose
    password is unknown (no file, or not in it) gets a fresh random one.
    """
    system = Principal.system("demo-loader")
    existing = {d.code for d in accounts.list_departments(system)}
    if ROOT_DEPARTMENT[0] not in existing:
        accounts.create_department(system, code=ROOT_DEPARTMENT[0], name=ROOT_DEPARTMENT[1])
    for code, name in DEPARTMENTS:
        if code not in existing:
            accounts.create_department(system, code=code, name=name, parent_code="GOV")
    for code, name, parent in extra_departments:
        if code not in existing:
            accounts.create_department(system, code=code, name=name, parent_code=parent)
    known = _read_credentials(credentials_file)
    credentials: list[DemoCredential] = []
    users = [(u, r, d, s, f"演示{ROLE_LABELS_ZH[r]}") for u, r, d, s in DEMO_USERS]
    for username, role, department, scope, display_name in [*users, *extra_users]:
        password = known.get(username)
        try:
            accounts.get_user(system, username)
            if password is None:
                password = generate_password()
                accounts.set_password(system, username, password)
        except NotFound:
            password = generate_password()
            accounts.create_user(
                system,
                username=username,
                password=password,
                display_name=display_name,
                department_code=department,
                grants=[RoleGrant(role, scope)],
            )
        credentials.append(DemoCredential(username, role, password))
    _write_credentials(credentials_file, credentials)
    return credentials


def _read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split()
        if len(parts) >= 3:
            found[parts[0]] = parts[2]
    return found


def _write_credentials(path: Path, credentials: list[DemoCredential]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# cityops demo accounts — demo mode only; never use these outside a demo.",
        "# username  role  password",
        *(f"{c.username}  {c.role.value}  {c.password}" for c in credentials),
    ]
    # Created 0600 from the first byte: the passwords are never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
