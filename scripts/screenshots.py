"""Take the README's screenshots: the command center and each workspace, on the demo city.

Run with ``make screenshots``. It loads the demo city (with ``--cases``, default 5,000) into a
temporary SQLite store, serves it on a free loopback port, signs in as the demo roles in
headless Debian Chromium (Playwright) and writes PNG files to ``docs/screenshots/``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    env.update(
        CITYOPS_DATABASE_URL=f"sqlite:///{root / 'cityops.db'}",
        CITYOPS_DATA_DIR=str(root / "var"),
        CITYOPS_LANGUAGE="zh-CN",
        **extra,
    )
    return env


def _passwords(root: Path) -> dict[str, str]:
    found = {}
    for line in (root / "var" / "demo-credentials.txt").read_text("utf-8").splitlines():
        fields = line.split()
        if len(fields) == 3 and not line.startswith("#"):
            found[fields[0]] = fields[2]
    return found


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


def _a_case(base: str, password: str) -> dict[str, Any]:
    """Return a closed demo case with a long history (for the case page and the status page)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": password}
        ).json()["access_token"]
        found = client.get(
            "/api/v1/cases",
            params={"status": "closed", "limit": 50},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["items"]
        with_point = [c for c in found if c["location"]["lon"] is not None]
        return dict(max(with_point or found, key=lambda c: c["counts"]["reworks"]))


def shoot(out: Path, cases: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cityops-shots-") as tmp:
        root = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "cityops", "demo", "load", "--cases", str(cases)],
            cwd=root,
            env=_env(root, CITYOPS_MODE="demo"),
            check=True,
        )
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "cityops", "serve", "--port", str(port)],
            cwd=root,
            env=_env(root, CITYOPS_MODE="dev", CITYOPS_HOST="127.0.0.1"),
        )
        try:
            for _ in range(150):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            passwords = _passwords(root)
            case = _a_case(base, passwords["admin"])
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = _sign_in(browser, base, "commander", passwords["commander"], 1920, 1080)
                page.goto(f"{base}/command")
                _until(page, "#command", "data-state", "ready")
                page.select_option("#period", "month")  # the demo's history, not just today
                page.wait_for_timeout(500)
                _until(page, "#command", "data-state", "ready")
                page.wait_for_timeout(1500)  # let the charts finish their animation
                page.screenshot(path=str(out / "command-center.png"))

                page = _sign_in(browser, base, "dispatcher", passwords["dispatcher"], 1440, 900)
                page.goto(f"{base}/work?queue=dispatch")
                _until(page, "#work", "data-state", "ready")
                page.screenshot(path=str(out / "workspace-dispatcher.png"))
                page.goto(f"{base}/intake")
                page.fill("#description", "人行道上的污水井盖破损了，有人差点踩空")
                page.fill("#lon", str(case["location"]["lon"]))
                page.fill("#lat", str(case["location"]["lat"]))
                deadline = time.monotonic() + 20
                while not page.get_attribute("#intake", "data-grid") and time.monotonic() < deadline:
                    page.wait_for_timeout(200)
                page.screenshot(path=str(out / "intake.png"), full_page=True)
                page.goto(f"{base}/cases/{case['number']}")
                _until(page, "#case", "data-state", "ready")
                page.screenshot(path=str(out / "case.png"), full_page=True)

                page = _sign_in(browser, base, "handler", passwords["handler"], 1440, 900)
                page.goto(f"{base}/work")
                _until(page, "#work", "data-state", "ready")
                page.screenshot(path=str(out / "workspace-department.png"))

                page = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
                page.goto(f"{base}/status?number={case['number']}")
                page.screenshot(path=str(out / "public-status.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    for path in sorted(out.glob("*.png")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--cases", type=int, default=5000)
    args = parser.parse_args()
    shoot(args.out, args.cases)


if __name__ == "__main__":
    main()
