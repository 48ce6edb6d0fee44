"""Load the whole demo: accounts, the district's divisions and grids, duty, components, places."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cityops.auth.accounts import AccountService
from cityops.auth.model import Principal
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.catalog.components import ComponentService
from cityops.demo.accounts import DemoCredential, DemoUser, load_demo_accounts
from cityops.demo.city import generate
from cityops.demo.furniture import component_rows, place_rows
from cityops.geo.divisions import DivisionService
from cityops.geo.places import GazetteerService
from cityops.geo.responsibility import ResponsibilityService

# Matters a street's sanitation unit answers for (GB/T 47678.5 codes), besides its department.
SANITATION_MATTERS = ("06010", "06011", "06012", "06042", "03005")


class DemoServices(Protocol):
    """The services the loader uses (the composition root's Services has them all)."""

    accounts: AccountService
    divisions: DivisionService
    responsibility: ResponsibilityService
    components: ComponentService
    gazetteer: GazetteerService


@dataclass(frozen=True)
class DemoSummary:
    """What the loader created (or found already there)."""

    credentials: list[DemoCredential]
    divisions_created: int
    divisions_unchanged: int
    grids: int
    assignments_added: int
    components: int
    places: int


def load_demo(services: DemoServices, credentials_file: Path) -> DemoSummary:
    """Create the demo city; running it again changes nothing and keeps the passwords."""
    system = Principal.system("demo-loader")
    city = generate()
    streets = sorted(city.streets, key=lambda s: s.code)
    workers: list[DemoUser] = [
        (
            f"gridworker{i:02d}",
            Role.PATROLLER,
            "CGJ",
            Scope("division", street.code),
            f"{street.name}网格员",
        )
        for i, street in enumerate(streets, start=1)
    ]
    units = [(f"HWS{i:02d}", f"{street.name}环卫所", "HWS") for i, street in enumerate(streets, 1)]
    credentials = load_demo_accounts(services.accounts, credentials_file, workers, units)
    report = services.divisions.import_divisions(system, city.divisions())
    if not report.written:
        raise RuntimeError(f"the demo city did not import: {report.issues[:3]}")
    worker_of = {street.code: f"gridworker{i:02d}" for i, street in enumerate(streets, 1)}
    unit_of = {street.code: f"HWS{i:02d}" for i, street in enumerate(streets, 1)}
    street_of_community = {c.code: c.parent_code for c in city.communities}
    grid_workers, grid_units = [], []
    for grid in city.grids:
        assert grid.parent_code is not None
        street = street_of_community[grid.parent_code]
        assert street is not None
        grid_workers.append((grid.code, worker_of[street]))
        grid_units.append((grid.code, "department", "HWS", unit_of[street]))
        grid_units.extend((grid.code, "matter", m, unit_of[street]) for m in SANITATION_MATTERS)
    added = services.responsibility.bulk_assign(system, workers=grid_workers, units=grid_units)
    components = services.components.import_rows(system, component_rows(city))
    places = services.gazetteer.import_rows(system, place_rows(city))
    if not components.written or not places.written:
        raise RuntimeError("the demo components or places did not import")
    return DemoSummary(
        credentials=credentials,
        divisions_created=len(report.created),
        divisions_unchanged=len(report.unchanged),
        grids=len(city.grids),
        assignments_added=added,
        components=len(components.created) + len(components.updated) + len(components.unchanged),
        places=places.stored + places.unchanged,
    )
