"""The telemetry simulator: deterministic, in range, shaped like a city's days, with episodes."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.analytics.noise import limits as noise_limits
from cityops.analytics.traffic import link_level
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.metrics import metric
from cityops.sensing.simulate import Episode, Sample, SimStream, Simulation

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, tzinfo=ZONE)  # a workday
COARSE = {"air": 600, "noise": 600, "traffic": 600, "manhole": 600, "weather": 600}
AIR = ("pm25", "pm10", "so2", "no2", "o3", "co")


def _device(
    key: str, metrics: tuple[str, ...], interval: int, lon: float, lat: float, area: str, **props
) -> list[SimStream]:
    return [SimStream(f"{key}/{m}", key, m, interval, props, lon, lat, area) for m in metrics]


def inventory() -> list[SimStream]:
    """A small city: air stations in three areas, noise zones, a river, manholes, roads, meters."""
    streams: list[SimStream] = []
    for i, area in enumerate(("A", "A", "B", "C")):
        extra = ("temperature", "humidity") if i == 0 else ()
        streams += _device(f"AQ-{i}", AIR + extra, 60, 121.47 + 0.01 * i, 31.22, area)
    for i, zone in enumerate(("4a", "1", "2")):
        streams += _device(
            f"NZ-{i}", ("noise_laeq",), 60, 121.47, 31.21 + 0.005 * i, "A", noise_zone=zone
        )
    water = ("ph", "do", "codmn", "nh3n", "tp", "turbidity", "water_level")
    for i in range(2):
        streams += _device(
            f"WQ-{i}",
            water,
            300,
            121.50,
            31.21 + 0.01 * i,
            "B",
            waterbody="river",
            target_class="III",
        )
    for cluster, (lon, lat) in enumerate(((121.46, 31.20), (121.49, 31.23))):
        for j in range(4):  # four covers 90 m apart along a road
            streams += _device(
                f"MH-{cluster}{j}",
                ("manhole_tilt", "manhole_water_level"),
                60,
                lon + 0.00095 * j,
                lat,
                "C",
                component_id=f"c{cluster}{j}",
            )
    for i, road in enumerate(("expressway", "arterial", "arterial", "secondary", "arterial")):
        streams += _device(
            f"TR-{i}",
            ("traffic_speed", "traffic_flow", "traffic_occupancy"),
            60,
            121.47 + 0.005 * i,
            31.225,
            "A",
            road_class=road,
            link_length_km=0.46,
        )
    streams += _device("TR-far", ("traffic_speed",), 60, 121.40, 31.10, "D", road_class="arterial")
    weather = ("wind_speed", "wind_direction", "temperature", "humidity", "rainfall")
    streams += _device("WX-0", weather, 60, 121.48, 31.22, "A")
    for i, meter in enumerate(("electricity_meter", "water_meter", "gas_meter")):
        streams += _device(f"MT-{i}", (meter,), 900, 121.48, 31.22, "A")
    return streams


def _by_stream(samples: list[Sample]) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        found[sample.stream].append(sample)
    return found


def _hour(sample: Sample) -> float:
    local = datetime.fromtimestamp(sample.time / 1000, ZONE)
    return local.hour + local.minute / 60


def test_the_same_seed_gives_the_same_readings_and_another_seed_others() -> None:
    end = MONDAY + timedelta(hours=6)
    first = list(Simulation(inventory(), seed=7).samples(MONDAY, end))
    again = list(Simulation(inventory(), seed=7).samples(MONDAY, end))
    other = list(Simulation(inventory(), seed=8).samples(MONDAY, end))
    assert first == again
    assert first != other
    assert len(first) > 10_000


def test_every_value_is_within_its_metrics_range_even_during_episodes() -> None:
    start = datetime(2026, 1, 10, tzinfo=ZONE)  # winter: the highest particle levels
    episodes = [
        Episode(name, start + timedelta(hours=20))
        for name in ("pollution", "congestion", "flooding", "noise", "river")
    ]
    samples = Simulation(inventory(), seed=3, episodes=episodes).samples(
        start, start + timedelta(days=3), steps=COARSE
    )
    seen: set[str] = set()
    for sample in samples:
        key = sample.stream.split("/")[1]
        found = metric(key)
        assert found.minimum <= sample.value <= found.maximum, sample
        assert round(sample.value, found.decimals) == sample.value
        seen.add(key)
    assert len(seen) == 27  # every metric of the catalogue was simulated


def test_noise_is_louder_by_day_than_by_night_and_traffic_slows_in_the_morning_rush() -> None:
    samples = list(
        Simulation(inventory(), seed=7).samples(MONDAY, MONDAY + timedelta(days=7), steps=COARSE)
    )
    noise = [s for s in samples if s.stream.endswith("noise_laeq")]
    day = [s.value for s in noise if 6 <= _hour(s) < 22]  # GB 3096 昼间
    night = [s.value for s in noise if not 6 <= _hour(s) < 22]
    assert statistics.mean(day) - statistics.mean(night) >= 8

    speeds = [s for s in samples if s.stream.endswith("traffic_speed")]
    weekday = [s for s in speeds if datetime.fromtimestamp(s.time / 1000, ZONE).weekday() < 5]
    rush = statistics.mean(s.value for s in weekday if _hour(s) == 8)
    small_hours = statistics.mean(s.value for s in weekday if _hour(s) == 3)
    assert rush < small_hours * 0.75
    flows = [s for s in samples if s.stream.endswith("traffic_flow")]
    assert statistics.mean(s.value for s in flows if _hour(s) == 8) > 3 * statistics.mean(
        s.value for s in flows if _hour(s) == 3
    )
    ozone = [s for s in samples if s.stream.endswith("/o3")]
    assert statistics.mean(s.value for s in ozone if _hour(s) == 15) > 2 * statistics.mean(
        s.value for s in ozone if _hour(s) == 3
    )
    temperature = [s for s in samples if s.stream == "WX-0/temperature"]
    humidity = [s for s in samples if s.stream == "WX-0/humidity"]
    assert statistics.mean(s.value for s in temperature if _hour(s) == 14) > statistics.mean(
        s.value for s in temperature if _hour(s) == 4
    )
    assert statistics.mean(s.value for s in humidity if _hour(s) == 14) < statistics.mean(
        s.value for s in humidity if _hour(s) == 4
    )


def test_meters_only_count_up_and_continue_across_windows() -> None:
    simulation = Simulation([s for s in inventory() if s.metric.endswith("_meter")], seed=7)
    whole = _by_stream(list(simulation.samples(MONDAY, MONDAY + timedelta(days=4))))
    middle = MONDAY + timedelta(days=2)
    halves = _by_stream(
        list(simulation.samples(MONDAY, middle))
        + list(simulation.samples(middle, MONDAY + timedelta(days=4)))
    )
    for key in ("MT-0/electricity_meter", "MT-1/water_meter", "MT-2/gas_meter"):
        values = [s.value for s in whole[key]]
        assert len(values) > 300
        assert all(b > a for a, b in zip(values, values[1:], strict=False)), key
        both = {s.time: s.value for s in whole[key]}
        assert all(both[s.time] == s.value for s in halves[key] if s.time in both)


def test_a_pollution_episode_reaches_heavy_pollution_at_one_areas_stations_only() -> None:
    start = MONDAY + timedelta(hours=17)
    simulation = Simulation(inventory(), seed=7, episodes=[Episode("pollution", start)])
    assert set(simulation.targets["pollution"]) == {"AQ-0", "AQ-1"}  # area A has the most
    peaks: dict[str, float] = defaultdict(float)
    for sample in simulation.samples(start, start + timedelta(hours=12)):
        if sample.stream.endswith("/pm25"):
            peaks[sample.stream] = max(peaks[sample.stream], sample.value)
    assert min(peaks["AQ-0/pm25"], peaks["AQ-1/pm25"]) >= 150
    assert max(peaks["AQ-2/pm25"], peaks["AQ-3/pm25"]) < 150


def test_flooding_lifts_manhole_water_above_half_a_metre_at_exactly_its_covers() -> None:
    start = MONDAY + timedelta(hours=13)
    simulation = Simulation(inventory(), seed=11, episodes=[Episode("flooding", start)])
    covers = simulation.targets["flooding"]
    assert len(covers) == 3
    assert len({c[:4] for c in covers}) == 1  # three neighbours of one cluster
    samples = list(simulation.samples(start - timedelta(hours=2), start + timedelta(hours=8)))
    flooded = {
        s.stream.split("/")[0]
        for s in samples
        if s.stream.endswith("manhole_water_level") and s.value > 0.5
    }
    assert flooded == set(covers)
    assert (
        max(s.value for s in samples if s.stream == "WX-0/rainfall") >= 0.5
    )  # mm in a minute: 30 mm/h


def test_congestion_noise_and_river_episodes_hit_their_bands() -> None:
    night = MONDAY + timedelta(hours=23)
    episodes = [
        Episode("congestion", MONDAY + timedelta(hours=10)),
        Episode("noise", night),
        Episode("river", MONDAY + timedelta(hours=2)),
    ]
    simulation = Simulation(inventory(), seed=5, episodes=episodes)
    links = simulation.targets["congestion"]
    assert 4 <= len(links) <= 6
    assert "TR-far" not in links  # neighbours, not the far-away link
    hold = list(simulation.samples(MONDAY + timedelta(hours=10.3), MONDAY + timedelta(hours=11.2)))
    classes = {
        s.thing: s.properties["road_class"] for s in inventory() if s.metric == "traffic_speed"
    }
    for sample in hold:
        thing = sample.stream.split("/")[0]
        if sample.stream.endswith("traffic_speed") and thing in links:
            assert link_level(str(classes[thing]), sample.value).level == 5, sample

    (site,) = simulation.targets["noise"]
    zone = next(s.properties["noise_zone"] for s in inventory() if s.thing == site)
    loud = [
        s.value
        for s in simulation.samples(night + timedelta(minutes=5), night + timedelta(minutes=55))
        if s.stream == f"{site}/noise_laeq"
    ]
    assert len(loud) >= 40
    assert min(loud) > noise_limits(str(zone)).night

    (station,) = simulation.targets["river"]
    nh3n = [
        s.value
        for s in simulation.samples(MONDAY + timedelta(hours=5.2), MONDAY + timedelta(hours=7.8))
        if s.stream == f"{station}/nh3n"
    ]
    assert len(nh3n) >= 25
    assert all(1.5 < v <= 2.0 for v in nh3n)  # GB 3838 class V


def test_some_readings_are_missing_but_few() -> None:
    start, days = MONDAY, 14
    samples = list(
        Simulation(inventory(), seed=7).samples(start, start + timedelta(days=days), steps=COARSE)
    )
    streams = inventory()
    expected = 0
    for stream in streams:
        kind = metric(stream.metric).domain
        step = COARSE.get(kind, stream.interval_seconds)
        expected += days * 86_400 // step
    missing = 1 - len(samples) / expected
    assert 0.001 < missing < 0.05
    # A dropout: some device is silent for at least an hour somewhere in the fortnight.
    gaps = []
    for readings in _by_stream(samples).values():
        times = [s.time for s in readings]
        gaps.append(max(b - a for a, b in zip(times, times[1:], strict=False)))
    assert max(gaps) >= 3_600_000


def test_items_come_in_the_ingest_shapes_with_the_citys_offset() -> None:
    simulation = Simulation(inventory(), seed=7)
    end = MONDAY + timedelta(minutes=3)
    items = list(simulation.items(MONDAY, end))
    assert {"datastream", "time", "value"} == set(items[0])
    assert items[0]["time"].endswith("+08:00")
    devices = list(simulation.items(MONDAY, end, per_device=True))
    assert {"thing", "time", "values"} == set(devices[0])
    assert sum(len(d["values"]) for d in devices) == len(items)


def test_unknown_scenarios_and_naive_start_times_are_refused() -> None:
    with pytest.raises(ValidationFailed) as unknown:
        Episode("earthquake", MONDAY)
    assert unknown.value.issues[0].rule == "one_of"
    with pytest.raises(ValidationFailed):
        Episode("pollution", datetime(2026, 11, 23))  # noqa: DTZ001 - naive on purpose
    assert Episode("congestion", MONDAY).length == timedelta(hours=1.5)
