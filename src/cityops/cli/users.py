"""``cityops users`` and ``cityops departments``."""

from __future__ import annotations

import json
import sys

import click

from cityops.auth.model import RoleGrant, User
from cityops.auth.permissions import parse_role
from cityops.auth.scopes import parse_scope
from cityops.auth.secrets import generate_password
from cityops.cli.context import AppContext, handle_errors, operator, pass_app


def _read_password(from_stdin: bool, username: str) -> tuple[str, bool]:
    """Return (password, generated): from stdin, a hidden prompt, or a fresh random one."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        entered: str = click.prompt(
            f"password for {username}", hide_input=True, confirmation_prompt=True
        )
        return entered, False
    return generate_password(), True


def _user_json(user: User) -> dict[str, object]:
    return {**user.public(), "created_at": user.created_at.isoformat()}


@click.group()
def users() -> None:
    """Manage user accounts and their role grants."""


@users.command("create")
@click.argument("username")
@click.option("--display-name", help="Name shown in the UI (default: the username).")
@click.option("--department", "department_code", help="Department code.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    help="ROLE or ROLE@SCOPE (scope: city, division:<code>, department:<code>); repeatable.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
@handle_errors
def create_user(
    app: AppContext,
    username: str,
    display_name: str | None,
    department_code: str | None,
    roles: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Create a user; without --password-stdin or a terminal, a random password is printed."""
    grants = []
    for i, text in enumerate(roles):
        role_text, _, scope_text = text.partition("@")
        grants.append(
            RoleGrant(
                parse_role(role_text, field=f"--role[{i}]"),
                parse_scope(scope_text or "city", field=f"--role[{i}]"),
            )
        )
    password, generated = _read_password(password_stdin, username)
    user = app.services().accounts.create_user(
        operator(),
        username=username,
        password=password,
        display_name=display_name,
        department_code=department_code,
        grants=grants,
    )
    click.echo(f"created {user.username} ({', '.join(str(g) for g in user.grants) or 'no roles'})")
    if generated:
        click.echo(f"password: {password}  (shown once; change it after the first sign-in)")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_users(app: AppContext, as_json: bool) -> None:
    """List users with their roles."""
    found = app.services().accounts.list_users(operator())
    if as_json:
        click.echo(json.dumps([_user_json(u) for u in found], ensure_ascii=False, indent=2))
        return
    for user in found:
        state = "" if user.active else "  [disabled]"
        grants = ", ".join(str(g) for g in user.grants) or "-"
        click.echo(f"{user.username:<20} {user.department_code or '-':<10} {grants}{state}")


@users.command("disable")
@click.argument("username")
@pass_app
@handle_errors
def disable_user(app: AppContext, username: str) -> None:
    """Disable a user and end their sessions."""
    app.services().accounts.update_user(operator(), username, active=False)
    click.echo(f"disabled {username}")


@users.command("enable")
@click.argument("username")
@pass_app
@handle_errors
def enable_user(app: AppContext, username: str) -> None:
    """Enable a disabled user."""
    app.services().accounts.update_user(operator(), username, active=True)
    click.echo(f"enabled {username}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
@handle_errors
def set_password(app: AppContext, username: str, password_stdin: bool) -> None:
    """Set a user's password (their sessions end)."""
    password, generated = _read_password(password_stdin, username)
    app.services().accounts.set_password(operator(), username, password)
    click.echo(f"password set for {username}")
    if generated:
        click.echo(f"password: {password}  (shown once)")


@users.command("grant")
@click.argument("username")
@click.argument("role")
@click.option("--scope", default="city", show_default=True, help="city, division:<code> …")
@pass_app
@handle_errors
def grant(app: AppContext, username: str, role: str, scope: str) -> None:
    """Grant ROLE to USERNAME within a scope."""
    user = app.services().accounts.grant_role(
        operator(), username, parse_role(role), parse_scope(scope, field="--scope")
    )
    click.echo(f"{user.username}: {', '.join(str(g) for g in user.grants)}")


@users.command("revoke")
@click.argument("username")
@click.argument("role")
@click.option("--scope", default="city", show_default=True)
@pass_app
@handle_errors
def revoke(app: AppContext, username: str, role: str, scope: str) -> None:
    """Remove ROLE within a scope from USERNAME."""
    user = app.services().accounts.revoke_role(
        operator(), username, parse_role(role), parse_scope(scope, field="--scope")
    )
    click.echo(f"{user.username}: {', '.join(str(g) for g in user.grants) or 'no roles'}")


@click.group()
def departments() -> None:
    """Manage departments."""


@departments.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--parent", "parent_code", help="Parent department code.")
@pass_app
@handle_errors
def create_department(app: AppContext, code: str, name: str, parent_code: str | None) -> None:
    """Create a department with CODE and NAME."""
    department = app.services().accounts.create_department(
        operator(), code=code, name=name, parent_code=parent_code
    )
    click.echo(f"created {department.code} {department.name}")


@departments.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_departments(app: AppContext, as_json: bool) -> None:
    """List departments."""
    found = app.services().accounts.list_departments(operator())
    if as_json:
        rows = [
            {"code": d.code, "name": d.name, "parent_code": d.parent_code, "active": d.active}
            for d in found
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for d in found:
        click.echo(f"{d.code:<12} {d.parent_code or '-':<12} {d.name}")
