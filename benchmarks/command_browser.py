"""Benchmark the command center in a real browser (issue 6): first meaningful paint and drill-down.

Loads the demo city with its year of cases (default 50,000, as ``make demo``) into a SQLite store,
serves it with ``cityops serve`` on loopback, signs in as the commander in headless Debian
Chromium (Playwright) and measures, over several runs:

* **first contentful paint** (the browser's own ``first-contentful-paint`` entry);
* **first meaningful paint**: from navigation start until the page reports ``data-state=ready``
  (cards filled, the map's divisions shaded, every chart drawn), recorded in the page by a
  MutationObserver installed before any of the page's scripts run;
* **drill-down**: from the click on the district to ``ready`` again (cards, map and charts of
  the district), and from a street back up the breadcrumb;

each on a cold browser (a new context: no HTTP cache) and a warm one (a reload). Next to them,
measured in the same run: the engine's limit — the same API calls the page makes, by a bare HTTP
client with the same session, one after another and in parallel. Targets (issue 6): first
meaningful paint < 2 s with the 50,000-case demo, drill-down < 500 ms.

    .venv/bin/python benchmarks/command_browser.py [--cases N] [--runs 7] [--workdir DIR --reuse]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_process import CHROMIUM, CHROMIUM_ARGS, api_client, load_demo, passwords, serving  # noqa: E402

TARGET_PAINT_MS = 2000.0
TARGET_DRILL_MS = 500.0
READY_OBSERVER = """
window.__cityopsReady = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    const node = change.target;
    if (node.id === "command" && node.dataset.state === "ready") {
      window.__cityopsReady.push(performance.now());
    }
  }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-state"] });
"""


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1/5 min)"


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    worst = ordered[-1]
    return (
        f"median {statistics.median(ordered):7.0f} ms   best {ordered[0]:7.0f}   "
        f"worst {worst:7.0f}   (n={len(ordered)})"
    )


def _wait_ready(page: Any, count: int, seconds: float = 60) -> float:
    """Wait until the page has reported ``ready`` ``count`` times; return the last time (ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        times = page.evaluate("() => window.__cityopsReady || []")
        if len(times) >= count:
            return float(times[count - 1])
        time.sleep(0.01)
    raise SystemExit("the command center never became ready")


def _sign_in(context: Any, base: str, password: str) -> None:
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", "commander")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.close()


def _paint(page: Any, base: str) -> tuple[float, float]:
    page.goto(f"{base}/command")
    ready = _wait_ready(page, 1)
    fcp = page.evaluate(
        "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
    )
    return float(fcp or 0.0), ready


def _drill(page: Any, selector: str, count: int) -> float:
    started = float(page.evaluate("() => performance.now()"))
    page.locator(selector).first.dispatch_event("click")
    return _wait_ready(page, count) - started


def browser_part(base: str, password: str, runs: int) -> dict[str, list[float]]:
    """Time paints and drill-downs in the browser; return the samples (ms) by measure."""
    found: dict[str, list[float]] = {
        k: [] for k in ("fcp_cold", "ready_cold", "fcp_warm", "ready_warm", "down", "down2", "up")
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            context.add_init_script(READY_OBSERVER)
            _sign_in(context, base, password)
            page = context.new_page()
            fcp, ready = _paint(page, base)
            found["fcp_cold"].append(fcp)
            found["ready_cold"].append(ready)
            fcp, ready = _paint(page, base)  # the same browser again: scripts and styles cached
            found["fcp_warm"].append(fcp)
            found["ready_warm"].append(ready)
            found["down"].append(_drill(page, "#command-map path.leaflet-interactive", 2))
            found["down2"].append(_drill(page, "#command-map path.leaflet-interactive", 3))
            found["up"].append(_drill(page, "#trail button", 4))
            context.close()
        browser.close()
    return found


def api_part(base: str, password: str, runs: int) -> dict[str, list[float]]:
    """Time the API calls of a first paint by a bare HTTP client, one by one and in parallel."""
    with api_client(base, "commander", password) as client:
        calls = [
            "/api/v1/situation?period=day",
            "/api/v1/situation/charts?period=day",
            "/api/v1/geo/divisions?level=district",
        ]
        found: dict[str, list[float]] = {path: [] for path in calls}
        found["all, in parallel"] = []

        def timed(path: str) -> Callable[[], float]:
            def call() -> float:
                started = time.perf_counter()
                response = client.get(path)
                response.raise_for_status()
                return (time.perf_counter() - started) * 1000

            return call

        for _ in range(runs):
            for path in calls:
                found[path].append(timed(path)())
            started = time.perf_counter()
            with ThreadPoolExecutor(len(calls)) as pool:
                list(pool.map(lambda path: timed(path)(), calls))
            found["all, in parallel"].append((time.perf_counter() - started) * 1000)
    return found


def main() -> None:
    """Load the demo, serve it, time the browser and the bare API, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded workdir")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="cityops-bench-ui-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, CPython {sys.version.split()[0]}; {_load()}")
    if not (args.reuse and (root / "cityops.db").exists()):
        started = time.perf_counter()
        load_demo(root, args.cases)
        print(f"demo loaded with {args.cases:,} cases in {time.perf_counter() - started:.1f} s")
    password = passwords(root)["commander"]
    with serving(root) as base:
        print(f"serving {base}; timing {args.runs} runs … {_load()}")
        ui = browser_part(base, password, args.runs)
        api = api_part(base, password, args.runs)
    print(f"\n== The command center in headless Chromium (1920×1080), {_load()} ==")
    labels = {
        "fcp_cold": "first contentful paint, cold browser",
        "ready_cold": "first meaningful paint (ready), cold",
        "fcp_warm": "first contentful paint, warm",
        "ready_warm": "first meaningful paint (ready), warm",
        "down": "drill-down: city → district",
        "down2": "drill-down: district → street",
        "up": "breadcrumb: back to the city",
    }
    for key, label in labels.items():
        print(f"  {label:<42} {_stats(ui[key])}")
    print("\n== The engine's limit: the page's API calls by a bare HTTP client ==")
    for path, samples in api.items():
        print(f"  {path:<42} {_stats(samples)}")
    paint = statistics.median(ui["ready_cold"])
    drill = max(statistics.median(ui[k]) for k in ("down", "down2", "up"))
    paint_ok = "pass" if paint < TARGET_PAINT_MS else "MISS"
    drill_ok = "pass" if drill < TARGET_DRILL_MS else "MISS"
    print(
        f"\nfirst meaningful paint (cold, median) {paint:.0f} ms, target < {TARGET_PAINT_MS:.0f}: "
        f"{paint_ok}; slowest drill-down median {drill:.0f} ms, target < {TARGET_DRILL_MS:.0f}: "
        f"{drill_ok}"
    )


if __name__ == "__main__":
    main()
