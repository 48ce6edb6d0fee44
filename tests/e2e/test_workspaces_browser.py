"""The workspaces in a real browser: one case from intake to closure, entirely through the UI.

Each demo role signs in in its own browser context: the intake clerk types the appeal (the
preview suggests a class and finds the grid) and accepts it; the dispatcher files and dispatches
it to 市政 (SZ) from the dispatch queue; the SZ handler starts it and reports with a photo; the
patroller fails the verification (rework); the handler reports again; the patroller passes it
(closed). Meanwhile the commander's command center shows the case arrive in the live feed and the
"new" card move. Finally the case page switches to English. No request leaves the origin.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_command_browser import _card, _inside, _until

MANHOLE_TEXT = "人行道上的污水井盖破损了，有人差点踩空"


def _png(path: Path) -> Path:
    """Write a valid 1×1 PNG (photos are checked against their bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


class Person:
    """One role's browser context, signed in."""

    def __init__(self, browser: Any, server: Server, username: str, outside: list[str]) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.page.on(
            "request",
            lambda r: None if r.url.startswith(server.base_url) else outside.append(r.url),
        )
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.goto(f"{server.base_url}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", server.password(username))
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{server.base_url}/")

    def open_case(self, number: str) -> None:
        self.page.goto(f"{self.server.base_url}/cases/{number}")
        _until(self.page, lambda: self.page.get_attribute("#case", "data-state") == "ready")

    def act(
        self, command: str, *, comment: str = "", photo: Path | None = None, **fields: str
    ) -> None:
        before = self.page.get_attribute("#case", "data-status")
        self.page.click(f"#case-actions button[data-command={command}]")
        self.page.wait_for_selector("#action-form:not([hidden])")
        for selector, value in fields.items():
            node = f"#action-{selector}"
            self.page.wait_for_selector(node)  # dispatch fills its list of departments first
            if self.page.eval_on_selector(node, "n => n.tagName") == "SELECT":
                self.page.select_option(node, value)
            else:
                self.page.fill(node, value)
        if comment:
            self.page.fill("#action-comment", comment)
        if photo is not None:
            self.page.set_input_files("#action-photo", str(photo))
        self.page.click("#action-submit")
        _until(
            self.page,
            lambda: (
                self.page.get_attribute("#case", "data-status") != before
                or bool(self.page.text_content("#action-error"))
            ),
        )
        assert not self.page.text_content("#action-error"), self.page.text_content("#action-error")

    def status(self) -> str:
        return str(self.page.get_attribute("#case", "data-status"))

    def close(self) -> None:
        assert self.problems == [], self.problems
        self.context.close()


def _grid_point(person: Person) -> tuple[float, float]:
    grids = person.page.evaluate(
        "() => fetch('/api/v1/geo/divisions?level=grid&limit=1').then(r => r.json())"
    )
    return _inside(grids["features"][0]["geometry"])


@pytest.mark.slow
def test_a_case_goes_from_intake_to_closure_through_the_ui(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    outside: list[str] = []
    photo = _png(tmp_path / "fixed.png")
    commander = Person(browser, server, "commander", outside)
    commander.page.goto(f"{server.base_url}/command")
    _until(
        commander.page, lambda: commander.page.get_attribute("#command", "data-state") == "ready"
    )
    new_before = _card(commander.page, "accepted")

    # 受理: the clerk types; the preview suggests the class and places the point in a grid.
    clerk = Person(browser, server, "intake", outside)
    clerk.page.goto(f"{server.base_url}/intake")
    lon, lat = _grid_point(clerk)
    clerk.page.select_option("#channel", "hotline")
    clerk.page.fill("#description", MANHOLE_TEXT)
    clerk.page.fill("#lon", f"{lon:.6f}")
    clerk.page.fill("#lat", f"{lat:.6f}")
    clerk.page.fill("#reporter_phone", "13812345678")
    _until(clerk.page, lambda: clerk.page.get_attribute("#intake", "data-grid") not in (None, ""))
    suggested = clerk.page.get_attribute("#classes input[name=matter]:checked", "value")
    assert suggested is not None
    assert len(suggested) == 5
    assert clerk.page.locator("#classes input[name=matter]").count() == 3
    clerk.page.click("#accept")
    _until(clerk.page, lambda: bool(clerk.page.get_attribute("#intake", "data-created")))
    number = str(clerk.page.get_attribute("#intake", "data-created"))
    clerk.page.click("#created-case")
    _until(clerk.page, lambda: clerk.page.get_attribute("#case", "data-state") == "ready")
    assert clerk.status() == "accepted"

    # The command center sees it arrive.
    _until(commander.page, lambda: number in (commander.page.text_content("#feed") or ""))
    _until(commander.page, lambda: _card(commander.page, "accepted") != new_before)

    # 立案 and 派遣 from the dispatcher's queue.
    dispatcher = Person(browser, server, "dispatcher", outside)
    dispatcher.page.goto(f"{server.base_url}/work?queue=dispatch")
    _until(dispatcher.page, lambda: dispatcher.page.get_attribute("#work", "data-state") == "ready")
    assert dispatcher.page.get_attribute("#tab-dispatch", "aria-selected") == "true"
    dispatcher.open_case(number)
    dispatcher.act("file")
    assert dispatcher.status() == "filed"
    dispatcher.act("dispatch", department="SZ", comment="请市政尽快处置")
    assert dispatcher.status() == "dispatched"

    # The SZ handler finds it in the department queue, starts and reports with a photo.
    handler = Person(browser, server, "handler", outside)
    handler.page.goto(f"{server.base_url}/work")
    _until(handler.page, lambda: handler.page.get_attribute("#work", "data-state") == "ready")
    assert handler.page.get_attribute("#tab-department", "aria-selected") == "true"
    handler.open_case(number)
    handler.act("start")
    handler.act("report", comment="已更换井盖", photo=photo)
    assert handler.status() == "handled"

    # The patroller fails the verification: rework goes back to the department.
    patroller = Person(browser, server, "patroller", outside)
    patroller.open_case(number)
    patroller.act("verify_fail", comment="井盖未固定，仍有晃动", photo=photo)
    assert patroller.status() in ("dispatched", "in_progress")
    handler.open_case(number)
    if handler.status() == "dispatched":
        handler.act("start")
    handler.act("report", comment="已加固井盖")
    patroller.open_case(number)
    patroller.act("verify_pass", comment="复核合格")
    assert patroller.status() == "closed"

    # The timeline tells the whole story, newest first; the photos are shown.
    commands = patroller.page.eval_on_selector_all(
        "#case-timeline li", "items => items.map(i => i.dataset.command)"
    )
    assert commands[0] == "verify_pass"
    assert commands[-1] == "accept"
    assert commands.count("report") == 2
    assert "verify_fail" in commands
    assert patroller.page.locator("#case-photos img").count() >= 2
    _until(commander.page, lambda: commander.page.locator("#feed li").count() >= 5)

    # Language switch: the same page in English.
    patroller.page.click("a.lang")
    _until(patroller.page, lambda: patroller.page.get_attribute("#case", "data-state") == "ready")
    assert "Timeline" in (patroller.page.text_content("#timeline-heading") or "")
    assert "Closed" in (patroller.page.text_content("#case-status") or "")

    for person in (commander, clerk, dispatcher, handler, patroller):
        person.close()
    assert outside == []


@pytest.mark.slow
def test_the_intake_form_merges_a_duplicate_and_rejects_in_one_step(
    browser: Any, server: Server
) -> None:
    outside: list[str] = []
    dispatcher = Person(browser, server, "dispatcher", outside)
    page = dispatcher.page
    page.goto(f"{server.base_url}/intake")
    lon, lat = _grid_point(dispatcher)

    def fill(text: str) -> None:
        page.fill("#description", text)
        page.fill("#lon", f"{lon:.6f}")
        page.fill("#lat", f"{lat:.6f}")
        _until(page, lambda: bool(page.get_attribute("#intake", "data-grid")))

    def created() -> str:
        _until(page, lambda: bool(page.get_attribute("#intake", "data-created")))
        number = str(page.get_attribute("#intake", "data-created"))
        page.evaluate("() => { delete document.getElementById('intake').dataset.created; }")
        return number

    fill("小区门口有暴露垃圾，臭味很大")
    page.click("#accept-file")
    first = created()
    # The same problem at the same place: the preview lists the first case as a duplicate.
    fill("小区门口暴露垃圾没人清理")
    _until(page, lambda: page.locator(f'#duplicates [data-duplicate="{first}"]').count() == 1)
    assert page.is_enabled("#accept-merge")
    page.click("#accept-merge")
    second = created()
    assert "合并" in (page.text_content("#intake-result") or "")
    # Rejecting needs a reason, named before anything is written.
    fill("咨询公积金提取流程")
    page.click("#accept-reject")
    _until(page, lambda: bool(page.text_content("#intake-error")))
    page.fill("#reject-reason", "不属于城市管理事项，已转12345咨询")
    page.click("#accept-reject")
    third = created()

    read = "n => fetch('/api/v1/cases/' + n).then(r => r.json())"
    cases = {number: page.evaluate(read, number) for number in (first, second, third)}
    assert cases[first]["status"] == "filed"
    assert cases[second]["status"] == "voided"
    assert cases[second]["merged_into"] == cases[first]["id"]
    assert cases[third]["status"] == "rejected"
    dispatcher.close()
    assert outside == []
