"""Take the README's screenshots: the command center and each workspace, on the demo city.

Run with ``make screenshots``. It loads the demo city (with ``--cases``, default 5,000) into a
temporary SQLite store, serves it on a free loopback port, signs in as the demo roles in
headless Debian Chromium (Playwright) and writes PNG files to ``docs/screenshots/``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from demo_process import CHROMIUM, CHROMIUM_ARGS, api_client, load_demo, passwords, serving  # noqa: E402, I001


def _until(page: Any, selector: str, attribute: str, value: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.get_attribute(selector, attribute) == value:
            return
        page.wait_for_timeout(200)
    raise SystemExit(f"{selector} never had {attribute}={value}")


def _sign_in(browser: Any, base: str, username: str, password: str, width: int, height: int) -> Any:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def _examples(base: str, password: str) -> tuple[dict[str, Any], str]:
    """Return a closed case with a long history, and the grid worker with most to verify."""
    with api_client(base, "admin", password) as client:
        closed = client.get("/api/v1/cases", params={"status": "closed", "limit": 50}).json()
        handled = client.get("/api/v1/cases", params={"status": "handled", "limit": 500}).json()
    with_point = [c for c in closed["items"] if c["location"]["lon"] is not None]
    case = max(with_point or closed["items"], key=lambda c: c["counts"]["reworks"])
    workers = Counter(c["grid_worker"] for c in handled["items"] if c["grid_worker"])
    return dict(case), workers.most_common(1)[0][0] if workers else "patroller"


def shoot(out: Path, cases: int) -> None:
    """Load the demo, serve it, and write one screenshot per page and role into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cityops-shots-") as tmp:
        root = Path(tmp)
        load_demo(root, cases)
        with serving(root) as base:
            accounts = passwords(root)
            case, worker = _examples(base, accounts["admin"])
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = _sign_in(browser, base, "commander", accounts["commander"], 1920, 1080)
                page.goto(f"{base}/command")
                _until(page, "#command", "data-state", "ready")
                page.select_option("#period", "month")  # the demo's history, not just today
                page.wait_for_timeout(500)
                _until(page, "#command", "data-state", "ready")
                page.wait_for_timeout(1500)  # let the charts finish their animation
                page.screenshot(path=str(out / "command-center.png"))

                page = _sign_in(browser, base, "dispatcher", accounts["dispatcher"], 1440, 900)
                page.goto(f"{base}/work?queue=dispatch")
                _until(page, "#work", "data-state", "ready")
                page.screenshot(path=str(out / "workspace-dispatcher.png"))
                page.goto(f"{base}/intake")
                page.fill("#description", "人行道上的污水井盖破损了，有人差点踩空")
                page.fill("#lon", str(case["location"]["lon"]))
                page.fill("#lat", str(case["location"]["lat"]))
                deadline = time.monotonic() + 20
                while (
                    not page.get_attribute("#intake", "data-grid") and time.monotonic() < deadline
                ):
                    page.wait_for_timeout(200)
                page.screenshot(path=str(out / "intake.png"), full_page=True)
                page.goto(f"{base}/cases/{case['number']}")
                _until(page, "#case", "data-state", "ready")
                page.screenshot(path=str(out / "case.png"), full_page=True)

                page = _sign_in(browser, base, "handler", accounts["handler"], 1440, 900)
                page.goto(f"{base}/work")
                _until(page, "#work", "data-state", "ready")
                page.screenshot(path=str(out / "workspace-department.png"))

                page = _sign_in(browser, base, worker, accounts[worker], 1440, 900)
                page.goto(f"{base}/work")
                _until(page, "#work", "data-state", "ready")
                page.screenshot(path=str(out / "workspace-patroller.png"))

                page = _sign_in(browser, base, "admin", accounts["admin"], 1440, 900)
                page.goto(f"{base}/admin/rules")
                page.wait_for_timeout(1500)
                page.screenshot(path=str(out / "admin-rules.png"))

                page = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
                page.goto(f"{base}/status?number={case['number']}")
                page.screenshot(path=str(out / "public-status.png"), full_page=True)
                browser.close()
    for path in sorted(out.glob("*.png")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KiB")


def main() -> None:
    """Parse the arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--cases", type=int, default=5000)
    args = parser.parse_args()
    shoot(args.out, args.cases)


if __name__ == "__main__":
    main()
