"""The city indices API on both stores: readings in through ingest, AQI, noise, water, traffic out.

Two air stations (one per grid of a tiny community), a noise monitor, a water station and two
traffic links are registered through the device service; a local day of hourly readings goes in
through the ingest service; the API's figures are checked against the pure analytics functions
applied by hand to the same means. The clock stands at 2026-11-20 10:00 local (02:00Z).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely

from cityops.analytics import aqi as hj633
from cityops.analytics import traffic as tpi
from cityops.analytics import water as gb3838
from cityops.auth.scopes import Scope
from cityops.geo.model import DivisionInput
from tests.web.problems import assert_problem, assert_rule

DISTRICT, STREET, COMMUNITY = "410171", "410171001", "410171001001"
G1, G2 = "410171001001001", "410171001001002"
IN_G1, IN_G2 = (113.545, 34.81), (113.555, 34.81)
DAY = "2026-11-19"
DAY_START = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # 2026-11-19 00:00 local
HOUR = timedelta(hours=1)
AIR = ("so2", "no2", "co", "o3", "pm10", "pm25")
WATER = {"ph": 7.2, "do": 7.5, "codmn": 5.0, "nh3n": 0.4, "tp": 0.1}


def _aq1(metric: str, hour: int) -> float | None:
    """AQ-1: the notes' test vector, PM2.5 alternating 70/90 and an O₃ afternoon at 200."""
    if metric == "pm25":
        return 70.0 + 20 * (hour % 2)
    if metric == "o3":
        return 200.0 if 12 <= hour < 20 else 50.0
    return {"pm10": 130.0, "so2": 100.0, "no2": 85.0, "co": 1.5}[metric]


def _aq2(metric: str, hour: int) -> float | None:
    """AQ-2: a clean station whose PM2.5 analyser was off for five hours."""
    if metric == "pm25":
        return None if hour >= 19 else 40.0
    return {"pm10": 60.0, "so2": 20.0, "no2": 30.0, "co": 0.8, "o3": 100.0}[metric]


def _register(services, system, key, point, metrics, interval, properties=None):
    services.devices.register_thing(
        system,
        {"key": key, "lon": point[0], "lat": point[1], "properties": properties or {}},
    )
    for metric in metrics:
        services.devices.add_datastream(
            system, key, {"metric": metric, "interval_seconds": interval}
        )


@pytest.fixture
def reader(services, system):
    _, secret = services.api_keys.issue(system, name="map", permissions=["telemetry:read"])
    return {"X-API-Key": secret}


@pytest.fixture
def city(services, system, clock):
    """The tiny community, its devices and a day of readings (plus the last hours')."""
    whole = shapely.box(113.54, 34.80, 113.56, 34.82)
    services.divisions.import_divisions(
        system,
        [
            DivisionInput(0, DISTRICT, "高新区", None, whole),
            DivisionInput(1, STREET, "石佛街道", DISTRICT, whole),
            DivisionInput(2, COMMUNITY, "科学大道社区", STREET, whole),
            DivisionInput(3, G1, "第1网格", COMMUNITY, shapely.box(113.54, 34.80, 113.55, 34.82)),
            DivisionInput(4, G2, "第2网格", COMMUNITY, shapely.box(113.55, 34.80, 113.56, 34.82)),
        ],
    )
    _register(services, system, "AQ-1", IN_G1, AIR, 3600)
    _register(services, system, "AQ-2", IN_G2, AIR, 3600)
    _register(services, system, "NZ-1", IN_G1, ["noise_laeq"], 3600, {"noise_zone": "1"})
    _register(services, system, "WQ-1", IN_G2, list(WATER), 3600, {"target_class": "II"})
    links = {"TR-1": ("主干路", 2.0, IN_G1), "TR-2": ("快速路", 3.0, IN_G2)}
    for key, (road, length, point) in links.items():
        properties = {"road_class": road, "link_length_km": length}
        _register(services, system, key, point, ["traffic_speed"], 60, properties)
    items = []
    for hour in range(24):
        at = (DAY_START + hour * HOUR + timedelta(minutes=30)).isoformat()
        for station, values in (("AQ-1", _aq1), ("AQ-2", _aq2)):
            for metric in AIR:
                value = values(metric, hour)
                if value is not None:
                    items.append({"datastream": f"{station}/{metric}", "time": at, "value": value})
        noise = 52.0 if 6 <= hour < 22 else 48.0
        items.append({"datastream": "NZ-1/noise_laeq", "time": at, "value": noise})
    for back, factor in ((2, 1.5), (1, 1.0)):  # the newer water readings are the ones to show
        at = (clock.now() - back * HOUR).isoformat()
        items.append(
            {"thing": "WQ-1", "time": at, "values": {k: v * factor for k, v in WATER.items()}}
        )
    for minute in range(1, 16):
        at = (clock.now() - timedelta(minutes=minute)).isoformat()
        items.append({"datastream": "TR-1/traffic_speed", "time": at, "value": 12.0})
        items.append({"datastream": "TR-2/traffic_speed", "time": at, "value": 70.0})
    report = services.ingest.ingest(system, items)
    assert report.rejected == 0, report.errors[:3]


def _daily_means(values) -> dict[str, float]:
    hours = {m: [values(m, h) for h in range(24)] for m in AIR}
    found = {
        f"{m}_24h": sum(v for v in hours[m] if v is not None) / 24
        for m in AIR
        if m != "o3" and None not in hours[m]
    }
    o3 = hours["o3"]
    found["o3_8h"] = max(sum(o3[end - 8 : end]) / 8 for end in range(8, 25))
    return found


def _get(client, headers, path, **params):
    answer = client.get(f"/api/v1/indices/{path}", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_daily_aqi_per_station_matches_the_standard_by_hand(client, reader, city):
    answer = _get(client, reader, "air", report="daily", day=DAY)
    one, two = answer["items"]
    assert (one["station"], one["grid"], two["station"], two["grid"]) == ("AQ-1", G1, "AQ-2", G2)
    means = _daily_means(_aq1)
    assert means == {
        "so2_24h": 100.0,
        "no2_24h": 85.0,
        "co_24h": 1.5,
        "pm10_24h": 130.0,
        "pm25_24h": 80.0,
        "o3_8h": 200.0,
    }
    expected = hj633.aqi(means, report="daily")
    assert one["aqi"] == expected.as_json()
    assert (one["aqi"]["aqi"], one["aqi"]["level"]) == (137, 3)
    assert (one["color"], one["aqi"]["primary_pollutants"]) == ("#FF7E00", ["O3"])
    # AQ-2: 19 hours of PM2.5 are too few; the rest is good, so the AQI is NA (HJ 633 5.3).
    assert two["validity"]["pm25_24h"]["hours"] == 19
    assert two["concentrations"]["pm25_24h"] is None
    assert two["aqi"] == hj633.aqi(_daily_means(_aq2), report="daily").as_json()
    assert (two["aqi"]["aqi"], two["aqi"]["missing"]) == (None, ["pm25_24h"])


def test_the_daily_aqi_of_a_community_uses_the_mean_of_its_stations(client, reader, city):
    answer = _get(client, reader, "air", report="daily", day=DAY, group_by="community")
    (area,) = answer["items"]
    assert (area["division"], area["stations"]) == (COMMUNITY, ["AQ-1", "AQ-2"])
    one, two = _daily_means(_aq1), _daily_means(_aq2)
    means = {name: (one[name] + two[name]) / 2 for name in two}
    means["pm25_24h"] = one["pm25_24h"]  # AQ-2's PM2.5 is not valid that day
    assert area["concentrations"] == pytest.approx(means)
    assert area["aqi"] == hj633.aqi(means, report="daily").as_json()
    assert area["validity"]["pm25_24h"]["stations"] == 1


def test_the_hourly_aqi_reads_the_hour_ending_at_the_time(client, reader, city):
    answer = _get(client, reader, "air", report="hourly", at="2026-11-20T00:00:00+08:00")
    one = answer["items"][0]
    means = {f"{m}_1h": _aq1(m, 23) for m in AIR}
    assert one["concentrations"] == means
    assert one["aqi"] == hj633.aqi(means, report="hourly").as_json()
    assert answer["at"] == "2026-11-19T16:00:00+00:00"


def test_a_caller_scoped_to_one_grid_sees_its_station_only(client, services, system, city):
    _, secret = services.api_keys.issue(
        system, name="g1", permissions=["telemetry:read"], scope=Scope("division", G1)
    )
    answer = _get(client, {"X-API-Key": secret}, "air", report="daily", day=DAY)
    assert [item["station"] for item in answer["items"]] == ["AQ-1"]


def test_noise_levels_against_the_monitors_zone(client, reader, city):
    (item,) = _get(client, reader, "noise", day=DAY)["items"]
    assert (item["station"], item["zone"], item["ld"], item["ln"]) == ("NZ-1", "1", 52.0, 48.0)
    assert item["exceedance"] == {"day": 0.0, "night": 3.0}  # zone 1: 55 by day, 45 at night
    assert item["assessment"]["complies"] is False


def test_water_class_of_the_newest_readings(client, reader, city):
    (item,) = _get(client, reader, "water")["items"]
    assert item["assessment"] == gb3838.assess(WATER, "river", "II").as_json()
    assert (item["assessment"]["class"], item["assessment"]["meets_target"]) == ("III", False)
    (area,) = _get(client, reader, "water", group_by="grid")["items"]
    assert (area["division"], area["worst"]) == (G2, "III")


def test_traffic_levels_and_network_index(client, reader, city):
    answer = _get(client, reader, "traffic")
    one, two = answer["links"]
    assert (one["speed_kmh"], one["level"]["level"]) == (12.0, 5)
    assert (two["speed_kmh"], two["level"]["level"]) == (70.0, 1)
    expected = tpi.network_index([tpi.Link("主干路", 2.0, 12.0), tpi.Link("快速路", 3.0, 70.0)])
    assert answer["network"] == expected.as_json()
    assert answer["verified"] is False


def test_bad_parameters_name_the_rule(client, reader, city):
    assert_rule(
        client.get("/api/v1/indices/air", params={"group_by": "city"}, headers=reader),
        "group_by",
        "one_of",
    )
    naive = client.get("/api/v1/indices/air", params={"at": "2026-11-19T08:00"}, headers=reader)
    assert_rule(naive, "at", "offset")
    future = client.get("/api/v1/indices/noise", params={"day": "2030-01-01"}, headers=reader)
    assert_rule(future, "day", "range")


def test_indices_need_telemetry_read(client, services, system):
    _, writer = services.api_keys.issue(system, name="w", permissions=["telemetry:write"])
    for path in ("air", "noise", "water", "traffic"):
        assert_problem(client.get(f"/api/v1/indices/{path}"), 401)
        assert_problem(client.get(f"/api/v1/indices/{path}", headers={"X-API-Key": writer}), 403)
