"""What every command shares: settings and services built on first use, and error handling."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from cityops.auth.model import Principal
from cityops.bootstrap import Services, bootstrap
from cityops.kernel.errors import CityOpsError
from cityops.settings import Settings, SettingsError, load_settings
from cityops.storage import migrate

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    """Lazily built settings and services, so ``--help`` needs no store."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        """The settings from the environment."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def services(self, *, require_migrated: bool = True) -> Services:
        """Return the services; by default refuse a store that is not migrated."""
        if self._services is None:
            self._services = bootstrap(self.settings)
        if require_migrated:
            engine = self._services.store.engine
            current, head = migrate.current_revision(engine), migrate.head_revision()
            if current != head:
                raise click.ClickException(
                    f"the store is at revision {current or 'none'}, the code needs {head}; "
                    "run `cityops db upgrade` first"
                )
        return self._services

    def close(self) -> None:
        """Release the store."""
        if self._services is not None:
            self._services.close()


def operator() -> Principal:
    """Return the principal of a person at the server's shell (trusted like an admin)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal.system(f"cli:{name}")


def handle_errors(func: F) -> F:
    """Turn domain and settings errors into one line on stderr and exit code 2."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (CityOpsError, SettingsError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else "unreachable"
            click.echo(f"error: cannot use the store: {reason}", err=True)
            sys.exit(1)

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


pass_app = click.make_pass_decorator(AppContext, ensure=True)
