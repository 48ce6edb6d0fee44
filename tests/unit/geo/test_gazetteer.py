"""The gazetteer: location text → intersection, address or POI, or not found + candidates."""

from __future__ import annotations

import math

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from cityops.geo.gazetteer import Gazetteer, NamedPlace, Resolution, normalise
from cityops.geo.geometry import distance_m

M_PER_DEG = 111_320.0
CROSSING = (113.55, 34.81)  # 科学大道 × 长椿路

PLACES = (
    # Two crossing roads: 科学大道 east–west (alias 科学路), 长椿路 north–south.
    NamedPlace(
        "road:kxdd",
        "road",
        "科学大道",
        LineString([(113.540, 34.810), (113.560, 34.810)]),
        ("科学路",),
    ),
    NamedPlace("road:ccl", "road", "长椿路", LineString([(113.550, 34.800), (113.550, 34.820)])),
    # Two parallel roads about 557 m apart that never meet.
    NamedPlace("road:lhj", "road", "莲花街", LineString([(113.570, 34.800), (113.590, 34.800)])),
    NamedPlace("road:fyj", "road", "枫杨街", LineString([(113.570, 34.805), (113.590, 34.805)])),
    # A road that stops 33 m short of 长椿路's northern end: near enough to count as meeting.
    NamedPlace("road:wtj", "road", "梧桐街", LineString([(113.545, 34.8203), (113.555, 34.8203)])),
    # House numbers on 科学大道.
    NamedPlace("addr:100", "address", "科学大道100号", Point(113.5450, 34.8102)),
    NamedPlace("addr:102", "address", "科学大道102号", Point(113.5455, 34.8102)),
    NamedPlace("addr:104", "address", "科学大道104号", Point(113.5460, 34.8102)),
    NamedPlace("addr:110", "address", "科学大道110号", Point(113.5475, 34.8102)),
    # Points of interest, one with aliases, two sharing a name.
    NamedPlace("poi:zzu", "poi", "郑州大学", Point(113.535, 34.815), ("郑大", "郑州大学主校区")),
    NamedPlace("poi:bm1", "poi", "便民服务站", Point(113.552, 34.812)),
    NamedPlace("poi:bm2", "poi", "便民服务站", Point(113.575, 34.802)),
)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(PLACES)


def offset_m(lon: float, lat: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Return (east, north) metres from ``origin`` on a local flat projection."""
    east = (lon - origin[0]) * M_PER_DEG * math.cos(math.radians(origin[1]))
    north = (lat - origin[1]) * M_PER_DEG
    return east, north


def assert_not_found(result: Resolution) -> None:
    assert not result.found
    assert result.lon is None
    assert result.lat is None
    assert result.confidence == 0.0
    assert result.method is None
    assert result.reason
    data = result.as_json()
    assert data["status"] == "not_found"
    assert data["lon"] is None
    assert data["lat"] is None


# -- tokens and normalising ---------------------------------------------------------------------


def test_normalise_folds_full_width_and_drops_spaces() -> None:
    assert normalise("科学大道 １００号") == "科学大道100号"
    assert normalise(" 长椿路\u3000北侧\t") == "长椿路北侧"


def test_gazetteer_names_come_out_as_whole_tokens(gazetteer: Gazetteer) -> None:
    tokens = gazetteer.tokens("高新区科学大道与长椿路交叉口东南角")
    assert "科学大道" in tokens
    assert "长椿路" in tokens
    assert "".join(tokens) == "高新区科学大道与长椿路交叉口东南角"


def test_a_road_is_represented_by_its_midpoint() -> None:
    road = PLACES[0]
    assert (road.lon, road.lat) == pytest.approx((113.55, 34.81))
    assert road.names() == ("科学大道", "科学路")


# -- hits ---------------------------------------------------------------------------------------


def test_intersection_with_a_corner_is_15_m_towards_it(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("高新区科学大道与长椿路交叉口东南角")
    assert result.found
    assert result.method == "intersection"
    assert result.confidence == pytest.approx(0.9)
    assert set(result.matched) == {"科学大道", "长椿路"}
    assert result.lon is not None
    assert result.lat is not None
    east, north = offset_m(result.lon, result.lat, CROSSING)
    # South-east: east of the crossing and south of it, at a bearing of 135°.
    assert east > 0
    assert north < 0
    bearing = math.degrees(math.atan2(east, north)) % 360
    assert bearing == pytest.approx(135, abs=5)
    # 15 m towards the corner (docs/geography.md: "optional corner or side: 15 m towards it").
    assert distance_m(*CROSSING, result.lon, result.lat) == pytest.approx(15, abs=1.5)


def test_intersection_with_a_side_moves_15_m_that_way(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("科学大道与长椿路交叉口北侧")
    assert result.found
    assert result.lon is not None
    assert result.lat is not None
    east, north = offset_m(result.lon, result.lat, CROSSING)
    assert east == pytest.approx(0, abs=0.01)
    assert north == pytest.approx(15, abs=0.5)


def test_intersection_without_a_corner_is_the_crossing(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("科学大道和长椿路路口")
    assert result.found
    assert result.method == "intersection"
    assert result.confidence == pytest.approx(0.9)
    assert (result.lon, result.lat) == pytest.approx(CROSSING, abs=1e-9)
    # The order of the roads does not matter.
    other = gazetteer.resolve("长椿路与科学大道交叉口")
    assert (other.lon, other.lat) == pytest.approx(CROSSING, abs=1e-9)
    assert set(other.matched) == {"科学大道", "长椿路"}
    # Without a crossing word the answer is less certain.
    bare = gazetteer.resolve("科学大道长椿路")
    assert bare.found
    assert bare.confidence == pytest.approx(0.75)


def test_roads_that_nearly_meet_resolve_to_the_middle_of_the_gap(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("长椿路与梧桐街交叉口")
    assert result.found
    assert result.method == "intersection"
    assert (result.lon, result.lat) == pytest.approx((113.55, 34.82015), abs=1e-7)


@pytest.mark.parametrize("text", ["科学大道１００号", "科学大道100号", "科学路100号"])
def test_address_by_house_number(gazetteer: Gazetteer, text: str) -> None:
    result = gazetteer.resolve(text)
    assert result.found
    assert result.method == "address"
    assert result.confidence == pytest.approx(0.95)
    assert result.matched == ("科学大道100号",)
    assert (result.lon, result.lat) == pytest.approx((113.545, 34.8102))


@pytest.mark.parametrize("text", ["郑州大学", "郑大", "郑州大学主校区", "去郑大北门"])
def test_poi_by_name_or_alias(gazetteer: Gazetteer, text: str) -> None:
    result = gazetteer.resolve(text)
    assert result.found
    assert result.method == "poi"
    assert result.confidence == pytest.approx(0.9)
    assert result.matched == ("郑州大学",)
    assert (result.lon, result.lat) == pytest.approx((113.535, 34.815))
    data = result.as_json()
    assert data["status"] == "found"
    assert data["candidates"] == []


# -- misses -------------------------------------------------------------------------------------


def test_a_road_alone_is_not_found(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("科学大道")
    assert_not_found(result)
    assert "科学大道" in (result.reason or "")
    assert result.candidates
    assert result.candidates[0].name == "科学大道"
    assert result.candidates[0].kind == "road"


def test_an_unknown_house_number_lists_the_nearest_numbers(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("科学大道108号")
    assert_not_found(result)
    assert "108" in (result.reason or "")
    # Nearest first: 110 (2 away), 104 (4), 102 (6), 100 (8).
    assert [c.name for c in result.candidates] == [
        "科学大道110号",
        "科学大道104号",
        "科学大道102号",
        "科学大道100号",
    ]
    assert all(c.kind == "address" for c in result.candidates)
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)


def test_roads_that_do_not_meet_are_not_found(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("莲花街与枫杨街交叉口")
    assert_not_found(result)
    assert "do not meet" in (result.reason or "")
    assert {c.name for c in result.candidates} == {"莲花街", "枫杨街"}
    # The two roads are more than 50 m apart: no midpoint is guessed.
    gap = shapely.distance(PLACES[2].geometry, PLACES[3].geometry) * M_PER_DEG
    assert gap > 50


def test_an_ambiguous_poi_lists_both(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("便民服务站")
    assert_not_found(result)
    assert "2" in (result.reason or "")
    assert [c.name for c in result.candidates] == ["便民服务站", "便民服务站"]
    assert {(c.lon, c.lat) for c in result.candidates} == {
        (113.552, 34.812),
        (113.575, 34.802),
    }
    data = result.as_json()
    assert len(data["candidates"]) == 2
    assert {c["kind"] for c in data["candidates"]} == {"poi"}


def test_text_with_no_known_place_lists_similar_names_best_first(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("科学城")
    assert_not_found(result)
    assert result.reason == "no known place in the text"
    assert result.candidates
    assert result.candidates[0].name == "科学大道"
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert len(result.candidates) <= 5
    assert len({(c.name, c.lon, c.lat) for c in result.candidates}) == len(result.candidates)


def test_text_sharing_nothing_has_no_candidates(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("人民路99号")
    assert_not_found(result)
    assert result.candidates == ()


@pytest.mark.parametrize("text", ["", "   ", "\u3000\t"])
def test_empty_text_is_not_found(gazetteer: Gazetteer, text: str) -> None:
    result = gazetteer.resolve(text)
    assert_not_found(result)
    assert result.reason == "empty text"
    assert result.candidates == ()


def test_a_house_number_too_long_for_an_integer_is_not_found(gazetteer: Gazetteer) -> None:
    # Python refuses int() of more than 4,300 digits; the resolver must not pass that on.
    result = gazetteer.resolve("科学大道" + "1" * 5000 + "号")
    assert_not_found(result)


# -- never raises, never guesses ----------------------------------------------------------------

FRAGMENTS = (
    "科学大道",
    "科学路",
    "长椿路",
    "莲花街",
    "枫杨街",
    "梧桐街",
    "郑州大学",
    "郑大",
    "便民服务站",
    "与",
    "和",
    "交叉口",
    "路口",
    "口",
    "东南角",
    "北侧",
    "西",
    "号",
    "100",
    "108",
    "１０２",
    " ",
)
_BOUNDS = shapely.GeometryCollection([p.geometry for p in PLACES]).bounds
_SLACK_LAT = 100 / M_PER_DEG
_SLACK_LON = 100 / (M_PER_DEG * math.cos(math.radians(34.81)))

location_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=12).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(text=location_text)
def test_resolve_never_raises_and_never_guesses(gazetteer: Gazetteer, text: str) -> None:
    result = gazetteer.resolve(text)
    data = result.as_json()
    if result.found:
        assert data["status"] == "found"
        assert result.lon is not None
        assert result.lat is not None
        assert 0 < result.confidence <= 1
        assert result.method in ("intersection", "address", "poi")
        assert _BOUNDS[0] - _SLACK_LON <= result.lon <= _BOUNDS[2] + _SLACK_LON
        assert _BOUNDS[1] - _SLACK_LAT <= result.lat <= _BOUNDS[3] + _SLACK_LAT
    else:
        assert data["status"] == "not_found"
        assert result.lon is None
        assert result.lat is None
        assert result.reason
        assert all(0 <= c.score <= 1 for c in result.candidates)
