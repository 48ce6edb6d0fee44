"""The routing book: what it keeps, when it re-reads, what it never keeps (fakes: pure logic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cityops.cases import routing_book
from cityops.cases.routing_book import RoutingBook
from cityops.cases.rules import MatterRule


@dataclass
class FakeRules:
    rules: list[MatterRule]
    version: int = 0
    reads: int = 0

    def list(self) -> list[MatterRule]:
        self.reads += 1
        return list(self.rules)

    def revision(self) -> tuple[int, str]:
        return len(self.rules), str(self.version)


@dataclass
class FakeGrids:
    units: dict[str, dict[tuple[str, str], str]]
    workers: dict[str, list[str]] = field(default_factory=dict)
    version: int = 0
    reads: int = 0

    def units_and_workers(self, grid_code: str) -> tuple[dict[tuple[str, str], str], list[str]]:
        self.reads += 1
        return dict(self.units.get(grid_code, {})), list(self.workers.get(grid_code, []))

    def all_units(self) -> dict[tuple[str, str, str], str]:
        self.reads += 1
        return {(g, *k): u for g, units in self.units.items() for k, u in units.items()}

    def all_workers(self) -> set[tuple[str, str]]:
        return {(g, w) for g, workers in self.workers.items() for w in workers}

    def revision(self) -> tuple[int, str, int, str]:
        count = sum(map(len, self.workers.values())), sum(map(len, self.units.values()))
        return count[0], str(self.version), count[1], ""


@dataclass
class FakeUow:
    matter_rules: FakeRules
    grid_assignments: FakeGrids


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> tuple[Any, RoutingBook, Ticker]:
    uow = FakeUow(
        FakeRules([MatterRule("01002", department_code="SZ"), MatterRule("06010", "", "HWS")]),
        FakeGrids({"G1": {("matter", "01002"): "SZ2"}}, {"G1": ["pat1"]}),
    )
    ticker = Ticker()
    return uow, RoutingBook(recheck_seconds=2.0, monotonic=ticker), ticker


def test_rules_and_grids_are_read_once_while_the_store_does_not_change(world):
    uow, book, ticker = world
    for _ in range(5):
        assert [r.department_code for r in book.rules_for(uow, "01002")] == ["SZ"]
        assert book.rules_for(uow, "99999") == []
        assert book.grid(uow, "G1") == ({("matter", "01002"): "SZ2"}, ["pat1"])
        ticker.now += 1.0  # rechecks happen, but the revisions stay the same
    assert uow.matter_rules.reads == 1
    assert uow.grid_assignments.reads == 1


def test_another_process_s_change_is_seen_after_the_recheck_interval(world):
    uow, book, ticker = world
    book.rules_for(uow, "01002")
    book.grid(uow, "G1")
    uow.matter_rules.rules = [MatterRule("01002", department_code="CGJ")]
    uow.matter_rules.version += 1
    ticker.now += 1.9
    assert book.rules_for(uow, "01002")[0].department_code == "SZ"  # still trusted
    ticker.now += 0.2
    assert book.rules_for(uow, "01002")[0].department_code == "CGJ"
    assert uow.grid_assignments.reads == 1  # only the rules changed: grids are kept
    book.grid(uow, "G1")
    assert uow.grid_assignments.reads == 1
    uow.grid_assignments.workers["G1"] = ["pat2"]
    uow.grid_assignments.version += 1
    ticker.now += 2.1
    assert book.grid(uow, "G1")[1] == ["pat2"]
    assert uow.matter_rules.reads == 2  # and the rules are kept when only grids changed


def test_invalidate_is_seen_at_once(world):
    uow, book, _ = world
    book.rules_for(uow, "01002")
    uow.matter_rules.rules = [MatterRule("01002", department_code="CGJ")]
    book.invalidate()
    assert book.rules_for(uow, "01002")[0].department_code == "CGJ"


def test_what_was_read_before_an_invalidation_is_not_kept(world):
    uow, book, _ = world

    class Racing(FakeRules):
        def list(self) -> list[MatterRule]:
            found = super().list()
            book.invalidate()  # a change is committed while this read is in flight
            self.rules = [MatterRule("01002", department_code="CGJ")]
            return found

    uow.matter_rules = Racing(uow.matter_rules.rules)
    assert book.rules_for(uow, "01002")[0].department_code == "SZ"  # answers with what it read
    assert book.rules_for(uow, "01002")[0].department_code == "CGJ"  # but did not keep it


def test_every_grid_is_read_in_one_go_while_there_are_few_assignments(world):
    uow, book, _ = world
    uow.grid_assignments.workers["G2"] = ["pat9", "pat2"]
    assert book.grid(uow, "G2") == ({}, ["pat2", "pat9"])  # workers ordered by username
    assert book.grid(uow, "G1") == ({("matter", "01002"): "SZ2"}, ["pat1"])
    assert book.grid(uow, "G7") == ({}, [])  # no assignment at all: known without a read
    assert uow.grid_assignments.reads == 1


def test_with_many_assignments_grids_are_read_one_by_one_and_bounded(world, monkeypatch):
    uow, book, _ = world
    monkeypatch.setattr(routing_book, "PRELOAD_MAX_ASSIGNMENTS", 1)
    monkeypatch.setattr(routing_book, "MAX_GRIDS", 3)
    for code in ("G1", "G2", "G3", "G4"):
        book.grid(uow, code)
    assert uow.grid_assignments.reads == 4
    assert len(book._grids) <= 3
    assert book.grid(uow, "G1") == ({("matter", "01002"): "SZ2"}, ["pat1"])
    assert book.grid(uow, "G4") == ({}, [])
