"""Traffic operation indices against the notes' tables, hand-worked examples and properties.

The speed bands, TPI bands and ratio → TPI breakpoints below are restated from
../shared/reference/standards-cn.md §3 (GB/T 33171-2016 / DB11/T 785-2011, unverified) so that
a slip in the data file shows here; the network examples are worked by hand in the comments.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.analytics import traffic as m
from cityops.kernel.errors import ValidationFailed

# §3.1: the exclusive lower bounds of 畅通, 基本畅通, 轻度拥堵, 中度拥堵; 严重拥堵 is ≤ the last.
SPEED_TABLE = {
    "快速路": [65, 50, 35, 20],
    "主干路": [40, 30, 20, 15],
    "次干路、支路": [35, 25, 15, 10],
}
LEVEL_NAMES = ["畅通", "基本畅通", "轻度拥堵", "中度拥堵", "严重拥堵"]
TPI_BANDS = [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
# §3.1 附录C, memory-grade: 0–4 % → 0–2, 4–8 % → 2–4, 8–11 % → 4–6, 11–14 % → 6–8, > 14 % → 8–10;
# the end point 20 % → 10 is the profile's own choice.
RATIO_TO_TPI = [[0, 0], [4, 2], [8, 4], [11, 6], [14, 8], [20, 10]]
CLASSES = ["expressway", "arterial", "secondary"]
T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def series(speeds, start=0, step=5):
    return [(at(start + step * i), v) for i, v in enumerate(speeds)]


def test_the_data_file_holds_the_notes_speed_table():
    profile = m.load_profile()
    found = {
        road["name"]: [band["above"] for band in road["speed_bands"][:-1]]
        for road in profile["road_classes"].values()
    }
    assert found == SPEED_TABLE
    for road in profile["road_classes"].values():
        bands = road["speed_bands"]
        assert [b["at_most"] for b in bands] == [None, *[b["above"] for b in bands[:-1]]]
        assert bands[-1]["above"] is None


def test_the_data_file_holds_the_tpi_bands_the_curve_and_the_levels():
    profile = m.load_profile()
    assert [(b["from"], b["to"]) for b in profile["tpi_bands"]] == TPI_BANDS
    assert profile["ratio_to_tpi"]["breakpoints"] == RATIO_TO_TPI
    assert profile["ratio_to_tpi"]["ratio_unit"] == "percent"
    found = [(lv.level, lv.name, lv.color_en, lv.hex) for lv in m.levels()]
    assert found == [
        (1, "畅通", "dark green", "#006400"),
        (2, "基本畅通", "green", "#32CD32"),
        (3, "轻度拥堵", "yellow", "#FFD700"),
        (4, "中度拥堵", "orange", "#FF8C00"),
        (5, "严重拥堵", "red", "#FF0000"),
    ]
    assert profile["congested_levels"] == [4, 5]  # 中度 and 严重 only: a documented choice


def test_the_profile_is_marked_unverified_and_cites_the_notes():
    profile = m.load_profile()
    assert profile["verified"] is False
    assert profile["profile"] == m.DEFAULT_PROFILE
    assert "UNVERIFIED" in profile["warning"]
    assert "§3" in profile["sources"]["notes"]
    assert "grade C" in profile["sources"]["speed_bands"]
    assert "grade D" in profile["sources"]["ratio_to_tpi"]
    assert "≤" in profile["speed_boundary"]


@pytest.mark.parametrize(
    ("name", "threshold", "index"),
    [(name, edge, i) for name, edges in SPEED_TABLE.items() for i, edge in enumerate(edges)],
)
def test_a_speed_on_a_threshold_is_the_worse_level_and_just_above_is_better(name, threshold, index):
    assert m.link_level(name, threshold).level == index + 2
    assert m.link_level(name, threshold + 0.01).level == index + 1


@pytest.mark.parametrize(
    ("road_class", "speed", "expected"),
    [
        ("快速路", 65, "基本畅通"),
        ("快速路", 65.01, "畅通"),
        ("快速路", 20, "严重拥堵"),
        ("快速路", 0, "严重拥堵"),
        ("expressway", 120, "畅通"),
        ("Arterial", 18, "中度拥堵"),
        ("支路", 25, "轻度拥堵"),
        ("次干路", "25.5", "基本畅通"),
    ],
)
def test_link_levels_by_name_or_alias(road_class, speed, expected):
    level = m.link_level(road_class, speed)
    assert level.name == expected
    assert level.as_json()["name"] == expected


# Hand-worked network (200 km; the weight is the length):
#   快速路   6 km @ 30 (中度, congested)  + 40 km @ 70 (畅通)          → 46 km, 6 congested
#   主干路   4 km @ 12 (严重, congested)  + 10 km @ 25 (轻度, not)     → 14 km, 4 congested
#   次干路   9 km @ 12 (中度, congested)  + 131 km @ 30 (基本畅通)     → 140 km, 9 congested
# congested = 19 km, ratio = 19/200 = 9.5 % → 8–11 % segment: TPI = 4 + 2·(9.5−8)/3 = 5.0
# → band 4–6, 轻度拥堵.
NETWORK = [
    m.Link("快速路", 6, 30),
    m.Link("快速路", 40, 70),
    {"road_class": "主干路", "length_km": 4, "speed_kmh": 12},
    {"road_class": "主干路", "length_km": 10, "speed_kmh": 25},
    m.Link("次干路", 9, 12),
    m.Link("支路", 131, 30),
]


def test_the_hand_worked_network():
    result = m.network_index(NETWORK)
    assert result.ratio == pytest.approx(0.095)
    assert result.tpi == 5.0
    assert result.level.name == "轻度拥堵"
    assert (result.congested_km, result.total_km) == (19, 200)
    rows = {k: (v.links, v.length_km, v.congested_km) for k, v in result.by_road_class.items()}
    assert rows == {"expressway": (2, 46, 6), "arterial": (2, 14, 4), "secondary": (2, 140, 9)}
    shares = result.by_road_class.values()
    assert sum(s.share * s.ratio for s in shares) == pytest.approx(result.ratio)  # 附录B identity
    data = result.as_json()
    assert data["profile"] == "db11-785"
    assert data["verified"] is False
    assert data["tpi"] == 5.0
    assert data["level"]["name"] == "轻度拥堵"
    assert data["by_road_class"]["arterial"]["ratio"] == pytest.approx(4 / 14)
    json.dumps(data)


def test_the_vkt_weight_not_the_length_decides():
    # 10 km congested with VKT 900, 30 km free with VKT 8100: by length 25 % (→ 10), by VKT
    # 900/9000 = 10 % → 4 + 2·(10−8)/3 = 5.33 → 5.3.
    links = [m.Link("快速路", 10, 30, weight=900), m.Link("主干路", 30, 50, weight=8100)]
    result = m.network_index(links)
    assert result.ratio == pytest.approx(0.10)
    assert result.tpi == 5.3
    assert (result.congested_km, result.total_km) == (10, 40)
    assert (
        m.network_index([m.Link(x.road_class, x.length_km, x.speed_kmh) for x in links]).tpi == 10
    )


@pytest.mark.parametrize(
    ("ratio", "tpi", "band"),
    [
        (0, 0.0, "畅通"),
        (0.02, 1.0, "畅通"),
        (0.04, 2.0, "基本畅通"),  # on a boundary: the worse band
        (0.045, 2.3, "基本畅通"),  # 2.25, half up
        (0.08, 4.0, "轻度拥堵"),
        (0.11, 6.0, "中度拥堵"),
        (0.125, 7.0, "中度拥堵"),
        (0.14, 8.0, "严重拥堵"),
        (0.17, 9.0, "严重拥堵"),  # (17−14)/(20−14)·2 + 8
        (0.20, 10.0, "严重拥堵"),
        (0.6, 10.0, "严重拥堵"),  # capped
    ],
)
def test_the_ratio_to_tpi_curve(ratio, tpi, band):
    assert m.tpi_from_ratio(ratio) == tpi
    assert m.tpi_level(tpi).name == band


def test_tpi_bands_put_a_boundary_in_the_worse_band():
    assert m.tpi_level(1.99).name == "畅通"
    assert m.tpi_level(2).name == "基本畅通"
    assert m.tpi_level(10).name == "严重拥堵"


def test_travel_time_index():
    # 高德 example: 20 min against 10 min free flow is 2.0.
    assert m.travel_time_index([m.Link("快速路", 10, 30, free_speed_kmh=60)]) == 2.0
    # A: 10 km, 30 vs 60 → 1/3 h vs 1/6 h; B: 5 km, 50 vs 50 → 0.1 h both; weights = lengths:
    # (10/3 + 1/2) / (5/3 + 1/2) = 23/13.
    links = [
        {"length_km": 10, "speed_kmh": 30, "free_speed_kmh": 60},
        {"length_km": 5, "speed_kmh": 50, "free_speed_kmh": 50},
    ]
    assert m.travel_time_index(links) == pytest.approx(23 / 13)
    # Weights 1 and 3: (1/3 + 0.3) / (1/6 + 0.3) = 19/14.
    weighted = [{**links[0], "weight": 1}, {**links[1], "weight": 3}]
    assert m.travel_time_index(weighted) == pytest.approx(19 / 14)
    # Faster than free flow reads below 1; a stalled link counts at the cap, not as infinity.
    assert m.travel_time_index([{**links[1], "speed_kmh": 100}]) == 0.5
    assert m.travel_time_index([{**links[1], "speed_kmh": 0}]) == 40
    assert m.travel_time_index([{**links[1], "speed_kmh": 1}]) == 40  # 50× capped at 40×
    assert m.travel_time_index([{**links[1], "speed_kmh": 0}], cap=10) == 10


def test_an_episode_on_a_link():
    samples = series([70, 70, 30, 25, 18, 30, 70, 70])
    (episode,) = m.congestion_episodes(samples, "快速路", length_km=2.5)
    assert (episode.start, episode.end) == (at(10), at(30))
    assert episode.duration == timedelta(minutes=20)
    assert episode.peak_level.name == "严重拥堵"  # 18 ≤ 20
    assert episode.mean_speed_kmh == pytest.approx((30 + 25 + 18 + 30) / 4)
    assert episode.mean_tpi is None
    assert (episode.samples, episode.length_km, episode.ended_by) == (4, 2.5, "relief")
    assert not episode.ongoing
    data = episode.as_json()
    assert (data["start"], data["duration_s"], data["ongoing"]) == (at(10).isoformat(), 1200, False)
    json.dumps(data)


def test_unsorted_input_gives_the_same_episodes():
    samples = series([70, 70, 30, 25, 18, 30, 70, 70])
    shuffled = samples[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != samples
    assert m.congestion_episodes(shuffled, "快速路") == m.congestion_episodes(samples, "快速路")


def test_a_short_relief_is_merged_unless_max_gap_is_shorter():
    samples = series([30, 30, 30, 70, 30, 30, 30, 70])
    (merged,) = m.congestion_episodes(samples, "快速路")  # relief 15–20: 5 min < 10
    assert (merged.start, merged.end, merged.samples) == (at(0), at(35), 7)
    assert merged.mean_speed_kmh == pytest.approx((6 * 30 + 70) / 7)  # the relief is inside
    apart = m.congestion_episodes(samples, "快速路", max_gap=timedelta(minutes=5))
    assert [(e.start, e.end) for e in apart] == [(at(0), at(15)), (at(20), at(35))]


def test_episodes_shorter_than_min_duration_are_dropped():
    samples = series([70, 30, 70, 30, 30, 30, 70])
    kept = m.congestion_episodes(samples, "快速路", max_gap=timedelta(0))
    assert [(e.start, e.duration) for e in kept] == [(at(15), timedelta(minutes=15))]
    every = m.congestion_episodes(
        samples, "快速路", max_gap=timedelta(0), min_duration=timedelta(0)
    )
    assert [e.start for e in every] == [at(5), at(15)]


def test_an_episode_open_at_the_end_is_ongoing():
    (episode,) = m.congestion_episodes(series([70, 30, 30, 30]), "快速路")
    assert episode.end is None
    assert episode.ongoing
    assert episode.ended_by == "open"
    assert episode.duration == timedelta(minutes=15)  # 5 to 20, so far
    assert episode.as_json()["end"] is None


def test_missing_data_ends_an_episode_and_is_never_bridged():
    samples = [*series([30, 30, 30]), *series([30, 30, 30, 70], start=25)]  # no 15, 20
    first, second = m.congestion_episodes(samples, "快速路", max_gap=timedelta(hours=1))
    assert (first.start, first.end, first.ended_by) == (at(0), at(15), "missing_data")
    assert (second.start, second.end, second.ended_by) == (at(25), at(40), "relief")
    # With a 15-minute interval the same samples have no hole: one episode.
    (whole,) = m.congestion_episodes(samples, "快速路", interval=timedelta(minutes=15))
    assert (whole.start, whole.end) == (at(0), at(40))


def test_an_episode_of_the_network_tpi():
    samples = [(at(0), 3.0), (at(5), 6.5), (at(10), 8.2), (at(15), 7.0), (at(20), 5.0)]
    (episode,) = m.congestion_episodes(samples, m.NETWORK)
    assert (episode.start, episode.end, episode.road_class) == (at(5), at(20), "network")
    assert episode.peak_level.name == "严重拥堵"
    assert episode.mean_tpi == pytest.approx((6.5 + 8.2 + 7.0) / 3)
    assert episode.mean_speed_kmh is None


def test_an_empty_series_has_no_episodes():
    assert m.congestion_episodes([], "快速路") == []


def test_a_custom_profile_overrides_the_default():
    mine = m.load_profile()
    mine["profile"] = "my-city-2025"
    mine["verified"] = True
    mine["congested_levels"] = [3, 4, 5]
    bands = mine["road_classes"]["expressway"]["speed_bands"]
    for band, above in zip(bands, [80, 60, 40, 25, None], strict=True):
        band["above"] = above
    for band, above in zip(bands[1:], [80, 60, 40, 25], strict=True):
        band["at_most"] = above
    assert m.link_level("快速路", 70, mine).name == "基本畅通"
    assert m.link_level("快速路", 70).name == "畅通"  # the default is untouched
    # 轻度 counts now: the hand-worked network's 主干路 10 km @ 25 joins; 快速路 40 km @ 70 is
    # 基本畅通, not congested: 29/200 = 14.5 % → 8 + 2·0.5/6 = 8.17 → 8.2.
    result = m.network_index(NETWORK, mine)
    assert (result.tpi, result.profile, result.verified) == (8.2, "my-city-2025", True)
    assert m.network_index(NETWORK).tpi == 5.0
    (episode,) = m.congestion_episodes(series([45, 45, 45]), "快速路", mine)
    assert episode.peak_level.name == "轻度拥堵"  # 40 < 45 ≤ 60, congested in this profile
    assert m.congestion_episodes(series([45, 45, 45]), "快速路") == []  # not by default
    assert m.load_profile()["verified"] is False  # load_profile hands out copies


def test_a_broken_custom_profile_is_refused():
    mine = m.load_profile()
    mine["road_classes"]["expressway"]["speed_bands"][1]["above"] = 70  # above 畅通's 65
    with pytest.raises(ValidationFailed) as caught:
        m.link_level("快速路", 50, mine)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("profile.road_classes.expressway.speed_bands", "profile")
    del mine["congested_levels"]
    with pytest.raises(ValidationFailed, match="profile.congested_levels"):
        m.network_index(NETWORK, mine)


def _raises(call):
    with pytest.raises(ValidationFailed) as caught:
        call()
    issue = caught.value.issues[0]
    return issue.field, issue.rule


@pytest.mark.parametrize(
    ("call", "field", "rule"),
    [
        (lambda: m.link_level("高速公路", 50), "road_class", "one_of"),
        (lambda: m.link_level("快速路", -1), "speed_kmh", "non_negative"),
        (lambda: m.link_level("快速路", "abc"), "speed_kmh", "number"),
        (lambda: m.link_level("快速路", float("nan")), "speed_kmh", "number"),
        (lambda: m.network_index([]), "links", "non_empty"),
        (lambda: m.network_index([m.Link("快速路", -1, 50)]), "links[0].length_km", "positive"),
        (lambda: m.network_index([m.Link("快速路", 0, 50)]), "links[0].length_km", "positive"),
        (lambda: m.network_index([m.Link("快速路", 1, -5)]), "links[0].speed_kmh", "non_negative"),
        (
            lambda: m.network_index([m.Link("快速路", 1, 50), m.Link("高架", 1, 50)]),
            "links[1].road_class",
            "one_of",
        ),
        (
            lambda: m.network_index([{"road_class": "快速路", "length_km": 1}]),
            "links[0].speed_kmh",
            "required",
        ),
        (lambda: m.network_index([m.Link("快速路", 1, 5, -1)]), "links[0].weight", "non_negative"),
        (lambda: m.network_index([m.Link("快速路", 1, 5, 0)]), "links", "positive_total"),
        (lambda: m.network_index([42]), "links[0]", "type"),
        (lambda: m.travel_time_index([]), "links", "non_empty"),
        (
            lambda: m.travel_time_index([m.Link("快速路", 1, 5)]),
            "links[0].free_speed_kmh",
            "required",
        ),
        (lambda: m.tpi_from_ratio(1.5), "ratio", "range"),
        (lambda: m.tpi_level(10.1), "tpi", "range"),
        (lambda: m.load_profile("nowhere"), "profile", "one_of"),
        (
            lambda: m.congestion_episodes(series([30, -1]), "快速路"),
            "samples[1].speed_kmh",
            "non_negative",
        ),
        (lambda: m.congestion_episodes([(at(0), 11)], m.NETWORK), "samples[0].tpi", "range"),
        (lambda: m.congestion_episodes([("8:00", 30)], "快速路"), "samples[0].time", "datetime"),
        (lambda: m.congestion_episodes([], "高架"), "road_class", "one_of"),
        (
            lambda: m.congestion_episodes([], "快速路", interval=timedelta(0)),
            "interval",
            "positive",
        ),
        (
            lambda: m.congestion_episodes([(at(0), 30), (at(0), 40)], "快速路"),
            "samples",
            "unique_time",
        ),
        (
            lambda: m.congestion_episodes([(at(0), 30), (datetime(2024, 5, 6), 40)], "快速路"),  # noqa: DTZ001
            "samples",
            "comparable",
        ),
    ],
)
def test_bad_input_names_the_field_and_the_rule(call, field, rule):
    assert _raises(call) == (field, rule)


def test_the_module_stays_a_pure_domain_module():
    tree = ast.parse(inspect.getsource(m))
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
    }
    forbidden = ("sqlalchemy", "fastapi", "click", "cityops.storage", "cityops.web", "cityops.cli")
    assert not {name for name in imported if name.startswith(forbidden)}


SPEEDS = st.floats(min_value=0, max_value=200, allow_nan=False)


@given(st.sampled_from(CLASSES), SPEEDS, SPEEDS)
def test_the_level_never_improves_as_the_speed_falls(road_class, a, b):
    slow, fast = sorted((a, b))
    assert m.link_level(road_class, slow).level >= m.link_level(road_class, fast).level


RATIOS = st.floats(min_value=0, max_value=1, allow_nan=False)


@given(RATIOS, RATIOS)
def test_the_tpi_never_falls_as_the_congested_share_rises(a, b):
    low, high = sorted((a, b))
    assert 0 <= m.tpi_from_ratio(low) <= m.tpi_from_ratio(high) <= 10


LENGTHS = st.floats(min_value=0.01, max_value=500, allow_nan=False)


@given(LENGTHS, LENGTHS, LENGTHS)
def test_more_congested_mileage_never_lowers_the_network_tpi(free, a, b):
    low, high = sorted((a, b))

    def tpi(congested: float) -> float:
        return m.network_index([m.Link("快速路", congested, 10), m.Link("主干路", free, 60)]).tpi

    assert tpi(low) <= tpi(high)


LINKS = st.lists(st.tuples(st.sampled_from(CLASSES), LENGTHS, SPEEDS), min_size=1, max_size=20)


@given(LINKS)
def test_the_network_tpi_is_0_to_10_with_one_decimal_and_its_band(links):
    result = m.network_index([m.Link(*link) for link in links])
    assert 0 <= result.tpi <= 10
    assert round(result.tpi, 1) == result.tpi
    assert result.level == m.tpi_level(result.tpi)
    assert 0 <= result.ratio <= 1
    assert result.congested_km <= result.total_km + 1e-9


@given(st.lists(st.tuples(st.integers(0, 300), SPEEDS), max_size=40, unique_by=lambda s: s[0]))
def test_episodes_are_ordered_apart_and_long_enough(raw):
    samples = [(at(minute), speed) for minute, speed in raw]
    episodes = m.congestion_episodes(samples, "主干路")
    for episode in episodes:
        assert episode.duration >= timedelta(minutes=15)
        assert episode.peak_level.level in (4, 5)
    for before, after in zip(episodes, episodes[1:], strict=False):
        assert before.end is not None
        assert before.end <= after.start
    assert all(not e.ongoing for e in episodes[:-1])


def test_the_default_profile_copy_is_independent():
    mine = m.load_profile()
    original = copy.deepcopy(mine)
    mine["levels"][0]["name"] = "changed"
    assert m.load_profile() == original
