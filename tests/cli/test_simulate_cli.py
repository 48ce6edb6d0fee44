"""``cityops simulate``: the demo sensors registered, their readings stored directly or via MQTT."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import shapely

from cityops.adapters.mqtt_ingest import MqttIngestWorker, MqttOptions
from cityops.analytics.traffic import road_class_of
from cityops.bootstrap import bootstrap
from cityops.cli.simulate import parse_duration
from cityops.demo.city import generate
from cityops.demo.furniture import component_rows
from cityops.demo.sensors import demo_sensors
from cityops.sensing.model import to_millis
from cityops.settings import Settings
from tests.cli.conftest import Cli, error_line
from tests.conftest import TEST_SECRET

FAST = ("--speed", "100000")


def _streams_with_readings(cli: Cli) -> tuple[int, int]:
    statuses = cli.json("things", "list")
    return len(statuses), sum(1 for s in statuses if s["latest"] is not None)


def test_the_demo_inventory_stands_inside_the_district_on_real_components() -> None:
    city = generate()
    rows = component_rows(city)
    specs = demo_sensors(city, rows)
    kinds = [s.key.split("-")[0] for s in specs]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "AQ": 12,
        "NZ": 15,
        "WQ": 6,
        "MH": 40,
        "TR": 20,
        "WX": 2,
        "MT": 6,
    }
    assert len({s.key for s in specs}) == len(specs)
    assert demo_sensors(city, rows) == specs  # deterministic
    grids = shapely.STRtree([g.geometry for g in city.grids])
    for spec in specs:
        assert len(grids.query(shapely.Point(spec.lon, spec.lat), "intersects")) >= 1, spec
        assert spec.area.startswith("310101")
    covers = {r["id"]: r["name"] for r in rows}
    for spec in specs:
        if spec.kind == "manhole":
            assert covers[spec.properties["component_id"]].endswith("井盖")
        if spec.kind == "noise":
            assert spec.properties["noise_zone"] in ("1", "2", "4a")
        if spec.kind == "traffic":
            road_class = spec.properties["road_class"]
            assert road_class_of(road_class) == road_class
            assert 0 < spec.properties["link_length_km"] < 2
        if spec.kind == "water":
            assert spec.properties["target_class"] == "III"


def test_simulate_direct_registers_the_sensors_and_stores_readings(run_cli: Cli) -> None:
    result = run_cli.ok("simulate", "--direct", *FAST, "--duration", "30m")
    lines = result.stdout.splitlines()
    assert lines[0] == "demo sensors: 101 devices, 293 datastreams (101 and 293 new)"
    assert lines[1].startswith("simulating 101 devices from ")
    done = re.search(r"done: ([\d,]+) readings sent, ([\d,]+) stored", lines[-1])
    assert done is not None, lines[-1]
    sent, stored = (int(n.replace(",", "")) for n in done.groups())
    assert sent == stored > 5000  # 30 simulated minutes of ~290 datastreams, a few missing
    assert "0 refused" in lines[-1]
    total, reporting = _streams_with_readings(run_cli)
    assert total == 293
    assert reporting >= 280

    again = run_cli.ok("simulate", *FAST, "--duration", "10m", "--scenario", "flooding@5m")
    assert again.stdout.splitlines()[0].endswith("(0 and 0 new)")  # registering is idempotent
    assert "flooding at " in again.stdout


def test_simulate_refuses_bad_options(run_cli: Cli) -> None:
    result = run_cli("simulate", "--duration", "an hour")
    assert result.exit_code == 2
    assert "duration" in error_line(result)
    result = run_cli("simulate", "--scenario", "earthquake")
    assert result.exit_code == 2
    assert "earthquake" in error_line(result)
    result = run_cli("simulate", "--direct", "--http", "http://127.0.0.1:9")
    assert result.exit_code == 2


def test_simulate_over_mqtt_reaches_an_ingest_worker(
    run_cli: Cli, database_url: str, mqtt_broker: str, tmp_path
) -> None:
    prefix = f"t{uuid4().hex[:10]}"
    services = bootstrap(
        Settings(
            mode="dev",
            database_url=database_url,
            data_dir=tmp_path / "var",
            secret_key=TEST_SECRET,  # type: ignore[arg-type]
        )
    )
    options = MqttOptions(
        url=mqtt_broker,
        topics=(f"{prefix}/telemetry/#",),
        group=prefix,
        client_id=f"{prefix}-w",
        error_topic=f"{prefix}/errors",
        max_wait=0.05,
    )
    worker = MqttIngestWorker(
        services.ingest, services.decoder, options, lambda: to_millis(datetime.now(UTC))
    )
    worker.start()
    try:
        assert worker.wait_connected()
        time.sleep(0.3)  # the SUBACK
        result = run_cli.ok(
            "simulate",
            "--mqtt",
            mqtt_broker,
            "--topic-prefix",
            f"{prefix}/telemetry",
            *FAST,
            "--duration",
            "10m",
            "--scenario",
            "congestion",
        )
        done = re.search(r"done: ([\d,]+) readings sent in ([\d,]+) messages", result.stdout)
        assert done is not None, result.stdout
        readings, messages = (int(n.replace(",", "")) for n in done.groups())
        assert messages > 500
        deadline = time.monotonic() + 20
        while worker.stats.messages < messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.stats.messages == messages
        assert worker.stats.refused == 0, worker.stats.errors
        assert worker.stats.stored == readings
    finally:
        worker.stop()
        services.close()
    total, reporting = _streams_with_readings(run_cli)
    assert total == 293
    assert reporting >= 250


@pytest.mark.parametrize("text", ["1h", "30m", "1h30m", "2d", "90s"])
def test_durations_read_as_expected(text: str) -> None:
    seconds = {"1h": 3600, "30m": 1800, "1h30m": 5400, "2d": 172800, "90s": 90}[text]
    assert parse_duration(text).total_seconds() == seconds
