"""Load the whole demo: accounts, divisions, duty, components, places, rules, cases, sensors."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Protocol

from cityops.auth.accounts import AccountService
from cityops.auth.model import Principal
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.cases.policy import CasePolicy
from cityops.cases.rules import MatterRuleService, read_rules_csv
from cityops.catalog.components import ComponentService
from cityops.demo.accounts import DemoCredential, DemoUser, load_demo_accounts
from cityops.demo.cases import DEFAULT_CASES, CaseStore, load_demo_cases
from cityops.demo.city import generate
from cityops.demo.furniture import component_rows, place_rows
from cityops.demo.sensors import HISTORY_DAYS, demo_sensors, load_history, register_sensors
from cityops.geo.divisions import DivisionService
from cityops.geo.places import GazetteerService
from cityops.geo.responsibility import ResponsibilityService
from cityops.kernel.clock import Clock
from cityops.kernel.worktime import WorkingCalendar
from cityops.sensing.devices import DeviceService
from cityops.sensing.ingest import IngestService
from cityops.sensing.rollups import RollupFolder

# Matters a street's sanitation unit answers for (GB/T 47678.5 codes), besides its department.
SANITATION_MATTERS = ("06010", "06011", "06012", "06042", "03005")
RULES_FILE = "data/matter-rules-310101.csv"


class DemoServices(Protocol):
    """The services the loader uses (the composition root's Services has them all)."""

    accounts: AccountService
    divisions: DivisionService
    responsibility: ResponsibilityService
    components: ComponentService
    gazetteer: GazetteerService
    matter_rules: MatterRuleService
    clock: Clock
    calendar: WorkingCalendar
    case_policy: CasePolicy
    devices: DeviceService
    ingest: IngestService
    rollups: RollupFolder

    @property
    def store(self) -> CaseStore:
        """The store (the case loader writes in bulk through its units of work)."""
        ...


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
    rules: int
    cases: int
    cases_added: int
    sensors: int = 0
    datastreams: int = 0
    readings_added: int = 0


def demo_rules_csv() -> str:
    """Return the demo city's matter rules (CSV, columns of ``cityops.cases.rules``)."""
    return resources.files("cityops.demo").joinpath(RULES_FILE).read_text(encoding="utf-8")


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")  # stdout is the summary's: keep it parseable


def load_demo(
    services: DemoServices,
    credentials_file: Path,
    *,
    cases: int = DEFAULT_CASES,
    sensor_days: int = HISTORY_DAYS,
    progress: Callable[[str], None] = _to_stderr,
) -> DemoSummary:
    """Create the demo city with a year of cases and a month of sensor readings.

    ``cases`` cases are generated only into a store without cases, and ``sensor_days`` of
    readings only for sensors without readings: running it again changes nothing and keeps
    the passwords.
    """
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
    rows = component_rows(city)
    components = services.components.import_rows(system, rows)
    places = services.gazetteer.import_rows(system, place_rows(city))
    if not components.written or not places.written:
        raise RuntimeError("the demo components or places did not import")
    rules = services.matter_rules.put_many(system, read_rules_csv(demo_rules_csv()))
    loaded = load_demo_cases(services, city, rows, count=cases)

    # Sensors: the devices, then a month of simulated readings ending now.
    began = time.monotonic()
    specs = demo_sensors(city, rows)
    sensors = register_sensors(services, system, specs)
    end = services.clock.now()
    zone = services.case_policy.zone
    readings = load_history(services, system, end, zone, specs=specs, days=sensor_days)
    history = (
        f"{readings:,} readings of history since {end - timedelta(days=sensor_days):%Y-%m-%d}"
        if readings
        else "their history was there already"
    )
    progress(
        f"demo sensors: {sensors.things} devices, {sensors.datastreams} datastreams "
        f"({sensors.things_added} new), {history}, in {time.monotonic() - began:.1f} s"
    )
    return DemoSummary(
        credentials=credentials,
        divisions_created=len(report.created),
        divisions_unchanged=len(report.unchanged),
        grids=len(city.grids),
        assignments_added=added,
        components=len(components.created) + len(components.updated) + len(components.unchanged),
        places=places.stored + places.unchanged,
        rules=len(rules),
        cases=loaded.cases,
        cases_added=loaded.added,
        sensors=sensors.things,
        datastreams=sensors.datastreams,
        readings_added=readings,
    )
