"""City indices from hand-made hourly series: AQI and validity, divisions, noise, water, traffic.

The time series and the device registry are fakes that answer from in-memory points, so each
expected figure can be worked out by hand (or with the pure analytics functions) from them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cityops.analytics import aqi as hj633
from cityops.analytics import noise as gb3096
from cityops.analytics import traffic as tpi
from cityops.analytics import water as gb3838
from cityops.auth.model import Principal
from cityops.kernel.clock import FrozenClock
from cityops.kernel.errors import PermissionDenied, ValidationFailed
from cityops.sensing import air_report
from cityops.sensing.devices import StreamStatus
from cityops.sensing.indices import CityIndexService
from cityops.sensing.metrics import metric
from cityops.sensing.model import Datastream, Placement, Thing
from cityops.sensing.timeseries import Selection

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 local
DAY = date(2026, 11, 19)
DAY_START = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # 2026-11-19 00:00 local
HOUR = timedelta(hours=1)
AIR = ("so2", "no2", "co", "o3", "pm10", "pm25")
SYSTEM = Principal.system("test")


class FakeDevices:
    """Things and datastreams in memory, filtered like DeviceService."""

    def __init__(self) -> None:
        self.things_: list[Thing] = []
        self.streams: list[Datastream] = []

    def add(
        self,
        key: str,
        metrics: Sequence[str],
        *,
        community: str | None = None,
        interval: int = 3600,
        properties: dict[str, Any] | None = None,
    ) -> Thing:
        grid = f"{community}00{len(self.things_) + 1}" if community else None
        thing = Thing(
            id=len(self.things_) + 1,
            key=key,
            name=key,
            description="",
            lon=113.5,
            lat=34.8,
            placement=Placement(grid, community, community[:9] if community else None, None),
            properties=properties or {},
            created_at=NOW,
            updated_at=NOW,
        )
        self.things_.append(thing)
        for name in metrics:
            found = metric(name)
            self.streams.append(
                Datastream(
                    id=len(self.streams) + 1,
                    key=f"{key}/{name}",
                    thing_id=thing.id,
                    metric=name,
                    name=name,
                    description="",
                    unit=found.unit,
                    minimum=found.minimum,
                    maximum=found.maximum,
                    interval_seconds=interval,
                    sensor="",
                    properties={},
                    created_at=NOW,
                )
            )
        return thing

    def things(self, principal: Principal, *, grid_prefix: str | None = None) -> list[Thing]:
        principal.require_somewhere("telemetry:read")
        return [
            t
            for t in self.things_
            if not grid_prefix or (t.placement.grid_code or "").startswith(grid_prefix)
        ]

    def datastreams(self, principal: Principal) -> list[StreamStatus]:
        principal.require_somewhere("telemetry:read")
        return [StreamStatus(s, None, False) for s in self.streams]


class FakeTimeseries:
    """Points (UTC time, value, readings) per datastream key, bucketed like the rollups."""

    def __init__(self) -> None:
        self.points: dict[str, list[tuple[datetime, float, int]]] = {}

    def put(
        self,
        key: str,
        start: datetime,
        values: Sequence[float | None],
        *,
        step: timedelta = HOUR,
        readings: int = 1,
    ) -> None:
        rows = self.points.setdefault(key, [])
        rows.extend(
            (start + i * step, float(v), readings) for i, v in enumerate(values) if v is not None
        )

    def query(
        self,
        principal: Principal,
        selection: Selection,
        *,
        start: datetime,
        end: datetime,
        interval: str,
        functions: Sequence[str],
        group_by: str = "datastream",
    ) -> dict[str, Any]:
        principal.require_somewhere("telemetry:read")
        step = {"1m": timedelta(minutes=1), "1h": HOUR, "1d": timedelta(days=1)}[interval]
        series = []
        for key in selection.datastreams:
            buckets: dict[datetime, list[tuple[float, int]]] = {}
            for time, value, readings in sorted(self.points.get(key, [])):
                if start <= time < end:
                    local = time.astimezone(ZONE)
                    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
                    bucket = (midnight + (local - midnight) // step * step).astimezone(UTC)
                    buckets.setdefault(bucket, []).append((value, readings))
            points = []
            for bucket, rows in sorted(buckets.items()):
                count = sum(n for _, n in rows)
                stats = {
                    "avg": math.fsum(v * n for v, n in rows) / count,
                    "count": count,
                    "last": rows[-1][0],
                }
                points.append({"time": bucket.isoformat(), **{f: stats[f] for f in functions}})
            series.append({"key": key, "points": points})
        return {"series": series}

    def latest(self, principal: Principal, selection: Selection) -> list[dict[str, Any]]:
        principal.require_somewhere("telemetry:read")
        rows = []
        for key in selection.datastreams:
            found = max(self.points.get(key, []), default=None)
            rows.append(
                {
                    "datastream": key,
                    "time": found[0].isoformat() if found else None,
                    "value": found[1] if found else None,
                }
            )
        return rows


@pytest.fixture
def devices() -> FakeDevices:
    return FakeDevices()


@pytest.fixture
def series() -> FakeTimeseries:
    return FakeTimeseries()


@pytest.fixture
def service(devices: FakeDevices, series: FakeTimeseries) -> CityIndexService:
    return CityIndexService(series, devices, FrozenClock(NOW), ZONE)  # type: ignore[arg-type]


def day_of(series: FakeTimeseries, key: str, values: Sequence[float | None] | float) -> None:
    """Give a station's metric hourly means over the local day DAY."""
    hourly = [values] * 24 if isinstance(values, int | float) else list(values)
    series.put(key, DAY_START, hourly)


def clean_day(series: FakeTimeseries, station: str, **overrides: Any) -> None:
    """A day of the notes' test vector (§2.4): PM2.5 80, PM10 130, SO₂ 100, NO₂ 85, CO 1.5."""
    given = {"pm25": 80, "pm10": 130, "so2": 100, "no2": 85, "co": 1.5, "o3": 50, **overrides}
    for name, values in given.items():
        day_of(series, f"{station}/{name}", values)


# ---------------------------------------------------------------------------- air, daily


def test_a_daily_report_uses_24_hour_means_and_the_o3_maximum_8_hour_mean(devices, series, service):
    devices.add("AQ-1", AIR)
    # PM2.5 alternates 70/90 (mean 80); O₃ is 200 from 12:00 to 20:00, 50 otherwise.
    o3 = [50.0] * 12 + [200.0] * 8 + [50.0] * 4
    clean_day(series, "AQ-1", pm25=[70.0, 90.0] * 12, o3=o3)
    answer = service.air(SYSTEM, report="daily", day=DAY)
    (item,) = answer["items"]
    assert item["concentrations"] == {
        "so2_24h": 100,
        "no2_24h": 85,
        "co_24h": 1.5,
        "o3_8h": 200,
        "pm10_24h": 130,
        "pm25_24h": 80,
    }
    expected = hj633.aqi(item["concentrations"], report="daily")
    assert item["aqi"] == expected.as_json()
    # O₃ 8h 200 → (150−100)/(215−160)·40+100 = 136.4 → 137, above PM2.5's 119.
    assert (item["aqi"]["aqi"], item["aqi"]["primary_pollutants"]) == (137, ["O3"])
    assert item["color"] == "#FF7E00"
    assert item["validity"]["pm25_24h"] == {"value": 80, "valid": True, "hours": 24, "required": 20}
    assert item["validity"]["o3_8h"]["windows"] == 17  # the 8 h means ending 08:00 … 24:00
    assert (answer["day"], answer["start"]) == ("2026-11-19", DAY_START.isoformat())


def test_the_notes_test_vector_gives_aqi_119_with_a_tie(devices, series, service):
    devices.add("AQ-1", AIR)
    clean_day(series, "AQ-1", o3=180)
    (item,) = service.air(SYSTEM, report="daily", day=DAY)["items"]
    assert item["aqi"]["aqi"] == 119
    assert item["aqi"]["primary_pollutants"] == ["O3", "PM2.5"]


def test_too_few_hours_make_a_24_hour_mean_invalid_and_the_aqi_na(devices, series, service):
    devices.add("AQ-1", AIR)
    low = {"pm10": 40, "so2": 10, "no2": 20, "co": 0.5, "o3": 60}
    clean_day(series, "AQ-1", pm25=[30.0] * 19 + [None] * 5, **low)
    (item,) = service.air(SYSTEM, report="daily", day=DAY)["items"]
    assert item["concentrations"]["pm25_24h"] is None
    assert item["validity"]["pm25_24h"] == {
        "value": None,
        "valid": False,
        "hours": 19,
        "required": 20,
    }
    # HJ 633—2026 5.3: incomplete and AQI ≤ 100 → NA; the IAQIs are still given.
    assert (item["aqi"]["aqi"], item["aqi"]["level"], item["color"]) == (None, None, None)
    assert item["aqi"]["missing"] == ["pm25_24h"]
    assert "pm10_24h" in item["aqi"]["iaqi"]


def test_twenty_hours_are_enough(devices, series, service):
    devices.add("AQ-1", AIR)
    clean_day(series, "AQ-1", pm25=[30.0] * 20 + [None] * 4)
    (item,) = service.air(SYSTEM, report="daily", day=DAY)["items"]
    assert item["concentrations"]["pm25_24h"] == 30


def test_an_hour_with_less_than_45_minutes_of_readings_is_not_a_valid_hour(devices, series):
    devices.add("AQ-1", ["pm25"], interval=600)  # one reading every 10 minutes
    series.put("AQ-1/pm25", DAY_START, [100.0] * 12, readings=5)  # 50 min: valid
    series.put("AQ-1/pm25", DAY_START + 12 * HOUR, [10.0] * 12, readings=4)  # 40 min: not
    service = CityIndexService(series, devices, FrozenClock(NOW), ZONE)  # type: ignore[arg-type]
    (item,) = service.air(SYSTEM, report="daily", day=DAY)["items"]
    assert item["validity"]["pm25_24h"]["hours"] == 12
    assert item["concentrations"]["pm25_24h"] is None


def test_the_o3_daily_maximum_needs_14_valid_8_hour_means_unless_it_exceeds_the_limit():
    morning: list[float | None] = [60.0] * 13 + [None] * 11  # 8 h means ending 08–15 h only
    low = air_report.o3_daily_max_8h(morning)
    assert (low.value, low.count, low.required) == (None, 8, 14)
    high = air_report.o3_daily_max_8h([300.0] * 13 + [None] * 11)
    assert (high.value, high.count) == (300.0, 8)  # above 160: more data could only raise it
    # An 8 h mean needs 6 of its hours: five valid hours make no mean at all.
    assert air_report.o3_daily_max_8h([100.0] * 5 + [None] * 19).count == 0


# ---------------------------------------------------------------------------- air, hourly


def test_an_hourly_report_uses_the_hour_ending_at_the_time(devices, series, service):
    devices.add("AQ-1", AIR)
    for name, value in {"pm25": 61, "pm10": 50, "so2": 900, "no2": 40, "co": 1, "o3": 100}.items():
        # 08:00–09:00 local reads 1; 09:00–10:00 reads the value, 10:00–11:00 reads 1 again.
        series.put(f"AQ-1/{name}", NOW - 2 * HOUR, [1.0, float(value), 1.0])
    answer = service.air(SYSTEM, at=NOW + timedelta(minutes=35))  # cut to 10:00 local
    (item,) = answer["items"]
    assert answer["at"] == NOW.isoformat()
    assert item["concentrations"] == {
        "so2_1h": 900,
        "no2_1h": 40,
        "co_1h": 1,
        "o3_1h": 100,
        "pm10_1h": 50,
        "pm25_1h": 61,
    }
    expected = hj633.aqi(item["concentrations"], report="hourly")
    assert item["aqi"] == expected.as_json()
    assert item["aqi"]["iaqi"]["so2_1h"] == 200  # 2026: SO₂ 1 h above 800 counts as 200


def test_the_2012_hourly_report_adds_the_moving_means(devices, series, service):
    devices.add("AQ-1", AIR)
    for name in AIR:
        series.put(f"AQ-1/{name}", NOW - 24 * HOUR, [float(h % 5 + 1) for h in range(24)])
    (item,) = service.air(SYSTEM, report="hourly", at=NOW, standard="HJ633-2012")["items"]
    hours = [float(h % 5 + 1) for h in range(24)]
    assert item["concentrations"]["o3_8h"] == pytest.approx(sum(hours[-8:]) / 8)
    assert item["concentrations"]["pm25_24h"] == pytest.approx(sum(hours) / 24)
    assert item["concentrations"]["so2_24h"] == pytest.approx(sum(hours) / 24)  # 800 rule
    assert item["aqi"]["standard"] == "HJ633-2012"


# ---------------------------------------------------------------------------- divisions


def test_a_division_uses_the_mean_of_its_stations_concentrations(devices, series, service):
    devices.add("AQ-1", AIR, community="410171001001")
    devices.add("AQ-2", AIR, community="410171001001")
    devices.add("AQ-3", AIR, community="410171001002")
    clean_day(series, "AQ-1", pm25=60)
    clean_day(series, "AQ-2", pm25=100, pm10=[None] * 24)  # no PM10 at all
    clean_day(series, "AQ-3", pm25=20)
    answer = service.air(SYSTEM, report="daily", day=DAY, group_by="community")
    first, second = answer["items"]
    assert (first["division"], first["level"]) == ("410171001001", "community")
    assert first["stations"] == ["AQ-1", "AQ-2"]
    assert first["concentrations"]["pm25_24h"] == 80
    assert first["concentrations"]["pm10_24h"] == 130  # AQ-2's invalid PM10 is left out
    assert first["validity"]["pm10_24h"]["stations"] == 1
    assert first["aqi"] == hj633.aqi(first["concentrations"], report="daily").as_json()
    assert second["stations"] == ["AQ-3"]
    assert second["concentrations"]["pm25_24h"] == 20


def test_a_division_filter_and_a_station_filter(devices, series, service):
    devices.add("AQ-1", AIR, community="410171001001")
    devices.add("AQ-2", AIR, community="410171001002")
    clean_day(series, "AQ-1")
    clean_day(series, "AQ-2")
    only = service.air(SYSTEM, report="daily", day=DAY, division="410171001002")
    assert [item["station"] for item in only["items"]] == ["AQ-2"]
    one = service.air(SYSTEM, report="daily", day=DAY, station="AQ-1")
    assert [item["station"] for item in one["items"]] == ["AQ-1"]
    with pytest.raises(ValidationFailed) as refused:
        service.air(SYSTEM, report="daily", day=DAY, station="AQ-9")
    assert refused.value.issues[0].rule == "known_station"


# ---------------------------------------------------------------------------- noise


def test_noise_ld_ln_and_exceedance_against_each_monitors_zone(devices, series, service):
    devices.add("NZ-1", ["noise_laeq"], properties={"noise_zone": "1"})
    devices.add("NZ-2", ["noise_laeq"])  # zone 2 by default
    # Night hours (00–06, 22–24) at 50 dB; day hours (06–22) half at 60 dB and half at 50.
    levels = [50.0] * 6 + [60.0] * 8 + [50.0] * 8 + [50.0] * 2
    day_of(series, "NZ-1/noise_laeq", levels)
    day_of(series, "NZ-2/noise_laeq", levels)
    first, second = service.noise(SYSTEM, day=DAY)["items"]
    ld = round(gb3096.leq([60.0, 50.0]), 1)  # 57.4
    assert (first["ld"], first["ln"]) == (ld, 50.0)
    assert first["hours"] == {"day": 16.0, "night": 8.0}
    # Zone 1: 55 by day, 45 at night: both exceeded.
    assert first["exceedance"] == {"day": pytest.approx(ld - 55), "night": 5.0}
    assert first["assessment"]["complies"] is False
    # Zone 2: 60 by day, 50 at night: both comply (50.0 ≤ 50).
    assert (second["zone"], second["exceedance"]) == ("2", {"day": 0.0, "night": 0.0})
    assert second["assessment"]["complies"] is True


def test_noise_without_night_readings_says_so(devices, series, service):
    devices.add("NZ-1", ["noise_laeq"], community="410171001001")
    day_of(series, "NZ-1/noise_laeq", [None] * 6 + [55.0] * 16 + [None] * 2)
    (item,) = service.noise(SYSTEM, day=DAY)["items"]
    assert (item["ld"], item["ln"], item["exceedance"]["night"]) == (55.0, None, None)
    assert item["reason"] == "no readings in the night period"
    (area,) = service.noise(SYSTEM, day=DAY, group_by="community")["items"]
    assert area["day"] == {"assessed": 1, "compliant": 1, "rate": 1.0}
    assert area["night"] == {"assessed": 0, "compliant": 0, "rate": None}


# ---------------------------------------------------------------------------- water


WATER = {"ph": 7.2, "do": 7.5, "codmn": 5.0, "nh3n": 0.4, "tp": 0.1, "turbidity": 12.0}


def test_water_classes_the_newest_readings_against_the_target(devices, series, service):
    devices.add("WQ-1", list(WATER), properties={"target_class": "II"})
    for name, value in WATER.items():
        series.put(f"WQ-1/{name}", NOW - 3 * HOUR, [value * 2, value])  # the newest counts
    (item,) = service.water(SYSTEM)["items"]
    expected = gb3838.assess(
        {k: v for k, v in WATER.items() if k != "turbidity"}, "river", "II"
    ).as_json()
    assert item["assessment"] == expected
    assert (item["assessment"]["class"], item["assessment"]["deciding"]) == ("III", ["codmn"])
    assert item["assessment"]["meets_target"] is False
    assert item["values"]["turbidity"]["value"] == 12.0  # shown, not classed
    assert item["color"] == gb3838.water_class("III").hex


def test_water_day_means_and_division_summary(devices, series, service):
    devices.add("WQ-1", ["do", "nh3n"], community="410171001001")
    devices.add("WQ-2", ["do"], community="410171001001", properties={"waterbody": "lake"})
    series.put("WQ-1/do", DAY_START, [8.0, 6.0])  # mean 7.0: II
    series.put("WQ-1/nh3n", DAY_START, [0.1, 0.2])  # mean 0.15: I
    series.put("WQ-2/do", DAY_START, [1.0])  # 劣V
    first, second = service.water(SYSTEM, day=DAY)["items"]
    assert first["values"]["do"]["value"] == pytest.approx(7.0)
    assert first["assessment"]["class"] == "II"
    assert second["assessment"]["waterbody"] == "lake"
    (area,) = service.water(SYSTEM, day=DAY, group_by="community")["items"]
    assert area["classes"]["II"] == 1
    assert area["classes"]["劣V"] == 1
    assert (area["good_share"], area["worst"]) == (0.5, "劣V")


# ---------------------------------------------------------------------------- traffic


def test_traffic_link_levels_and_the_network_index(devices, series, service):
    devices.add(
        "TR-1",
        ["traffic_speed"],
        interval=60,
        properties={"road_class": "主干路", "link_length_km": 2.0},
    )
    devices.add(
        "TR-2",
        ["traffic_speed"],
        interval=60,
        properties={"road_class": "expressway", "link_length_km": 3.0},
    )
    devices.add("TR-3", ["traffic_speed"], interval=60, properties={"road_class": "主干路"})
    minute = timedelta(minutes=1)
    series.put("TR-1/traffic_speed", NOW - 15 * minute, [10.0, 14.0] * 7 + [12.0], step=minute)
    series.put("TR-2/traffic_speed", NOW - 15 * minute, [70.0] * 15, step=minute)
    series.put("TR-3/traffic_speed", NOW - 15 * minute, [30.0] * 15, step=minute)
    series.put("TR-2/traffic_speed", NOW - 20 * minute, [5.0] * 5, step=minute)  # too early
    answer = service.traffic(SYSTEM, at=NOW)
    one, two, three = answer["links"]
    assert one["speed_kmh"] == pytest.approx(12.0)
    assert one["level"]["level"] == 5  # 主干路 ≤ 15 km/h: 严重拥堵
    assert (two["speed_kmh"], two["level"]["level"]) == (70.0, 1)
    assert three["level"] is None
    assert three["reason"] == "properties.link_length_km must be a number > 0"
    expected = tpi.network_index(
        [tpi.Link("主干路", 2.0, one["speed_kmh"]), tpi.Link("expressway", 3.0, 70.0)]
    )
    assert answer["network"] == expected.as_json()
    assert answer["network"]["ratio"] == pytest.approx(0.4)  # 2 of 5 km congested
    assert answer["verified"] is False


def test_traffic_without_readings_has_no_network_index(devices, service):
    devices.add("TR-1", ["traffic_speed"], properties={"road_class": "主干路", "link_length_km": 1})
    answer = service.traffic(SYSTEM)
    assert answer["network"] is None
    assert answer["reason"]
    assert answer["links"][0]["reason"] == "no speed reading in the window"


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("call", "field", "rule"),
    [
        (lambda s: s.air(SYSTEM, report="weekly"), "report", "one_of"),
        (lambda s: s.air(SYSTEM, standard="HJ633-1999"), "standard", "one_of"),
        (lambda s: s.air(SYSTEM, group_by="city"), "group_by", "one_of"),
        (lambda s: s.air(SYSTEM, report="hourly", day=DAY), "day", "daily_only"),
        (lambda s: s.air(SYSTEM, report="daily", day=date(2026, 11, 21)), "day", "range"),
        (lambda s: s.air(SYSTEM, at=datetime(1999, 12, 31, tzinfo=UTC)), "at", "range"),
        (lambda s: s.air(SYSTEM, at=datetime(2026, 11, 19, 8)), "at", "offset"),  # noqa: DTZ001
        (lambda s: s.water(SYSTEM, at=NOW, day=DAY), "day", "exclusive"),
        (lambda s: s.noise(SYSTEM, day=date(1999, 1, 1)), "day", "range"),
    ],
)
def test_bad_input_names_the_field_and_rule(service, call, field, rule):
    with pytest.raises(ValidationFailed) as refused:
        call(service)
    assert (refused.value.issues[0].field, refused.value.issues[0].rule) == (field, rule)


def test_reading_needs_telemetry_read(service):
    nobody = Principal("user", "nobody", ())
    for call in (service.air, service.noise, service.water, service.traffic):
        with pytest.raises(PermissionDenied):
            call(nobody)
