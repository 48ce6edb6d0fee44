"""The pure parts of the SensorThings API: paths, the Python evaluator, JSON Patch, the
Observations query plan, metric matching and the entity JSON helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.sensing.sta_entities import iso, observation_id, select_fields, split_observation_id
from cityops.sensing.sta_eval import Evaluator
from cityops.sensing.sta_filter import Property
from cityops.sensing.sta_metrics import check_unit, find_metric
from cityops.sensing.sta_obs_plan import ObservationPlanner
from cityops.sensing.sta_patch import apply_json_patch, changed
from cityops.sensing.sta_paths import parse_path
from cityops.sensing.sta_ports import BoolOp, Cmp, Col, Const, InStreams, Negate, Num, ObsOrder
from cityops.sensing.sta_query import parse_options
from cityops.sensing.sta_service import lowercase_directions

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


# --- resource paths ------------------------------------------------------------------------------


def test_paths_name_sets_ids_navigation_properties_values_and_refs():
    assert parse_path("") is None
    assert parse_path("/") is None
    things = parse_path("Things")
    assert things is not None
    assert things.is_collection
    nested = parse_path("Things(1)/Datastreams('7')/Observations")
    assert nested is not None
    assert [(s.name, s.target, s.id) for s in nested.steps] == [
        ("Things", "Things", 1),
        ("Datastreams", "Datastreams", 7),
        ("Observations", "Observations", None),
    ]
    assert nested.text() == "Things(1)/Datastreams(7)/Observations"
    value = parse_path("Datastreams(2)/Thing/name/$value")
    assert value is not None
    assert (value.last.target, value.prop, value.raw_value) == ("Things", "name", True)
    assert not value.is_collection
    ref = parse_path("Things(1)/Locations/$ref")
    assert ref is not None
    assert ref.ref
    assert ref.is_collection


@pytest.mark.parametrize(
    "path",
    [
        "Gadgets",
        "Things/Datastreams",
        "Things(1)/Colour",
        "Datastreams(1)/Thing(2)",
        "Things(1)/name/description",
        "Things(1)/$value",
        "$ref",
        "Things(1)/$ref/name",
        "Things(99999999999999999999)",
        "Things(1)/id",
        "Things(-1)",
    ],
)
def test_paths_outside_the_data_model_are_not_found(path):
    with pytest.raises(NotFound):
        parse_path(path)


# --- the Python evaluator ------------------------------------------------------------------------

THINGS = {
    1: {"@iot.id": 1, "name": "东站", "properties": {"height": 3, "tags": None}},
    2: {"@iot.id": 2, "name": "West", "properties": {}},
}
STREAMS = {
    1: [
        {
            "@iot.id": 10,
            "name": "PM2.5",
            "phenomenonTime": "2026-11-19T08:00:00Z/2026-11-19T09:00:00Z",
        }
    ],
    2: [{"@iot.id": 20, "name": "PM10"}, {"@iot.id": 21, "name": "NO2"}],
}
LOCATIONS = {
    1: [{"@iot.id": 5, "location": {"type": "Point", "coordinates": [113.6, 34.7]}}],
    2: [],
}


def _navigate(entity_set, entity, navigation):
    if navigation == "Datastreams":
        return STREAMS[entity["@iot.id"]]
    if navigation == "Locations":
        return LOCATIONS[entity["@iot.id"]]
    return []


def _matching(expression: str, entity_set: str = "Things") -> list[int]:
    options = parse_options({"$filter": expression}, entity_set)
    evaluator = Evaluator(entity_set, _navigate, NOW)
    return [e["@iot.id"] for e in evaluator.select(options.filter, THINGS.values())]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name eq '东站'", [1]),
        ("name ne '东站'", [2]),
        ("properties/height gt 2", [1]),
        ("properties/height gt 2.5 and properties/height lt 3.5", [1]),
        ("properties/height eq null", [2]),
        ("properties/tags eq null", [1, 2]),
        ("properties/height ne null", [1]),
        ("not (properties/height gt 2)", [2]),
        ("properties/height le 2", []),
        ("Datastreams/name eq 'NO2'", [2]),
        ("Datastreams/name eq 'CO'", []),
        ("not (Datastreams/name eq 'NO2')", [1]),
        ("startswith(Datastreams/name, 'PM')", [1, 2]),
        ("contains(name, 'es') or endswith(name, '站')", [1, 2]),
        ("substringof('es', name)", [2]),
        ("length(name) eq 4 and indexof(name, 'st') eq 2", [2]),
        ("substring(name, 1) eq 'est' and substring(name, 0, 1) eq 'W'", [2]),
        ("toupper(tolower(name)) eq 'WEST' and trim(concat(' ', name)) eq 'West'", [2]),
        ("properties/height add 1 eq 4 and properties/height mul 2 sub 1 eq 5", [1]),
        ("properties/height div 2 eq 1 and properties/height mod 2 eq 1", [1]),
        ("properties/height div 0 eq null", [1, 2]),
        ("round(properties/height div 2.0) eq 2 and floor(2.5) eq 2 and ceiling(2.1) eq 3", [1]),
        ("year(Datastreams/phenomenonTime) eq 2026 and hour(Datastreams/phenomenonTime) eq 8", [1]),
        ("Datastreams/phenomenonTime lt 2026-11-19T08:30:00Z", [1]),
        ("now() gt 2026-11-20T01:00:00Z", [1, 2]),
        ("now() sub duration'PT1H' gt 2026-11-20T01:30:00Z", []),
        ("during(Datastreams/phenomenonTime, 2026-11-19T00:00:00Z/2026-11-20T00:00:00Z)", [1]),
        ("before(Datastreams/phenomenonTime, 2026-11-19T10:00:00Z)", [1]),
        (
            "geo.intersects(Locations/location, "
            "geography'POLYGON((113 34, 114 34, 114 35, 113 35, 113 34))')",
            [1],
        ),
        ("geo.distance(Locations/location, geography'POINT(113.6 34.8)') lt 0.2", [1]),
        ("st_equals(Locations/location, geography'POINT(113.6 34.7)')", [1]),
        ("name gt 5", []),
        ("name eq 5", []),
        ("name ne 5", [1, 2]),
    ],
)
def test_the_evaluator_follows_odata(expression, expected):
    assert _matching(expression) == expected


def test_filtering_through_observations_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        _matching("Datastreams/Observations/result gt 1")
    assert refused.value.issues[0].rule == "unsupported"


def test_sorting_puts_nulls_first_and_breaks_ties_by_id():
    evaluator = Evaluator("Things", _navigate, NOW)
    rows = [
        {"@iot.id": 3, "name": "b"},
        {"@iot.id": 1, "name": None},
        {"@iot.id": 2, "name": "b"},
        {"@iot.id": 4, "name": "a"},
    ]
    options = parse_options({"$orderby": "name"}, "Things")
    assert [r["@iot.id"] for r in evaluator.sort(rows, options.orderby)] == [1, 4, 2, 3]
    options = parse_options({"$orderby": "name desc,id desc"}, "Things")
    assert [r["@iot.id"] for r in evaluator.sort(rows, options.orderby)] == [3, 2, 4, 1]


# --- JSON Patch ----------------------------------------------------------------------------------

DOCUMENT = {"name": "a", "properties": {"tags": ["x", "y"], "n": 1}}


def test_json_patch_runs_every_operation():
    patched = apply_json_patch(
        DOCUMENT,
        [
            {"op": "test", "path": "/properties/n", "value": 1},
            {"op": "add", "path": "/properties/tags/1", "value": "z"},
            {"op": "add", "path": "/properties/tags/-", "value": "end"},
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "copy", "from": "/name", "path": "/properties/copy"},
            {"op": "move", "from": "/properties/n", "path": "/properties/m"},
            {"op": "remove", "path": "/properties/tags/0"},
            {"op": "add", "path": "/properties/a~1b", "value": True},
        ],
    )
    assert patched == {
        "name": "b",
        "properties": {"tags": ["z", "y", "end"], "copy": "b", "m": 1, "a/b": True},
    }
    assert DOCUMENT["properties"]["tags"] == ["x", "y"]  # the original is untouched
    assert changed(DOCUMENT, {"name": "a"}) == {"properties": None}
    assert changed(DOCUMENT, {**DOCUMENT, "name": "c"}) == {"name": "c"}


@pytest.mark.parametrize(
    ("operations", "rule"),
    [
        ({"op": "add"}, "array"),
        (["add"], "one_of"),
        ([{"op": "swap", "path": "/name"}], "one_of"),
        ([{"op": "test", "path": "/name", "value": "b"}], "test"),
        ([{"op": "replace", "path": "/missing", "value": 1}], "exists"),
        ([{"op": "remove", "path": "/properties/none"}], "exists"),
        ([{"op": "add", "path": "name", "value": 1}], "json_pointer"),
        ([{"op": "add", "path": "", "value": 1}], "json_pointer"),
        ([{"op": "add", "path": "/name"}], "required"),
        ([{"op": "move", "from": "/properties", "path": "/properties/x"}], "json_pointer"),
        ([{"op": "add", "path": "/properties/tags/9", "value": 1}], "exists"),
        ([{"op": "add", "path": "/name/x", "value": 1}], "json_pointer"),
    ],
)
def test_a_bad_json_patch_names_the_operation_and_rule(operations, rule):
    with pytest.raises(ValidationFailed) as refused:
        apply_json_patch(DOCUMENT, operations)
    assert refused.value.issues[0].rule == rule


# --- the Observations plan -----------------------------------------------------------------------


def _plan(expression: str, streams=lambda navigation, node: (7, 8)):
    options = parse_options({"$filter": expression}, "Observations")
    return ObservationPlanner(NOW, streams).where(options.filter)


def test_the_plan_translates_comparisons_times_and_ids():
    moment = int(datetime(2026, 11, 19, 8, tzinfo=UTC).timestamp() * 1000)
    assert _plan("phenomenonTime ge 2026-11-19T08:00:00Z and result gt 30") == BoolOp(
        "and", (Cmp(">=", Col("phenomenon_time"), Num(moment)), Cmp(">", Col("result"), Num(30)))
    )
    assert _plan(f"@iot.id eq {observation_id(3, moment)}") == BoolOp(
        "and",
        (Cmp("=", Col("datastream_id"), Num(3)), Cmp("=", Col("phenomenon_time"), Num(moment))),
    )
    assert _plan("resultQuality ne 'bad'") == Cmp("<>", Col("quality"), Num(3))
    assert _plan("result eq null") == Const(False)
    assert _plan("not (result ne null)") == Negate(Const(True))
    assert _plan("Datastream/name eq 'x'") == InStreams((7, 8))
    assert _plan("Datastream/@iot.id eq 7") == Cmp("=", Col("datastream_id"), Num(7))
    hour_ago = int(NOW.timestamp() * 1000)
    plan = _plan("resultTime gt now() sub duration'PT1H'")
    assert isinstance(plan, Cmp)
    assert plan.right.left == Num(hour_ago)  # type: ignore[union-attr]


def test_the_plan_refuses_what_sql_would_not_do():
    for expression, rule in (
        ("round(result) eq 1", "unsupported"),
        ("parameters/x eq 1", "unsupported"),
        ("result eq true", "unsupported"),
        ("result mod 2 eq 1", "unsupported"),
        ("phenomenonTime add 5 gt 1", "type"),
        ("result eq 2026-11-19T08:00:00Z", "type"),
        ("resultQuality eq 'fine'", "one_of"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            _plan(expression)
        assert refused.value.issues[0].rule == rule, expression


def test_the_plan_orders_with_stable_ties():
    planner = ObservationPlanner(NOW, lambda navigation, node: ())
    orderby = parse_options({"$orderby": "result desc"}, "Observations").orderby
    assert planner.order(orderby) == (
        ObsOrder("result", True),
        ObsOrder("datastream_id"),
        ObsOrder("phenomenon_time"),
    )
    by_id = parse_options({"$orderby": "@iot.id desc"}, "Observations").orderby
    assert planner.order(by_id) == (
        ObsOrder("datastream_id", True),
        ObsOrder("phenomenon_time", True),
    )


# --- metrics, units, JSON helpers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "metric"),
    [
        ({"name": "PM2.5"}, "pm25"),
        ({"name": "pm 10"}, "pm10"),
        ({"name": "NO₂"}, "no2"),
        ({"name": "Ozone (O₃)"}, "o3"),
        ({"name": "LAeq"}, "noise_laeq"),
        ({"name": "x", "definition": "http://vocab.example/def/Water_Level/"}, "water_level"),
        ({"name": "x", "properties": {"metric": "rainfall"}}, "rainfall"),
    ],
)
def test_observed_properties_find_their_metric(data, metric):
    assert find_metric(data, "") == metric


def test_unknown_metrics_and_units_are_refused():
    with pytest.raises(ValidationFailed) as unknown:
        find_metric({"name": "radon"}, "ObservedProperty")
    assert (unknown.value.issues[0].field, unknown.value.issues[0].rule) == (
        "ObservedProperty.name",
        "known_metric",
    )
    with pytest.raises(ValidationFailed) as bad_key:
        find_metric({"name": "x", "properties": {"metric": "pm1"}}, "")
    assert bad_key.value.issues[0].field == "properties.metric"
    check_unit(None, "pm25", "")
    check_unit({"symbol": "μg/m3"}, "pm25", "")
    check_unit({"definition": "http://qudt.org/vocab/unit/DEG_C"}, "temperature", "")
    with pytest.raises(ValidationFailed) as other:
        check_unit({"symbol": "°F"}, "temperature", "Datastreams[0]")
    assert other.value.issues[0].field == "Datastreams[0].unitOfMeasurement"
    assert "°C" in other.value.issues[0].message


def test_json_helpers():
    ident = observation_id(12, 1_795_000_000_123)
    assert split_observation_id(ident) == (12, 1_795_000_000_123)
    assert iso(1_795_000_000_123) == "2026-11-18T11:06:40.123Z"
    assert iso(1_795_000_000_000) == "2026-11-18T11:06:40Z"
    entity = {"@iot.id": 1, "@iot.selfLink": "s", "name": "n", "Thing@iot.navigationLink": "t"}
    assert select_fields(entity, ("name", "Thing")) == {
        "name": "n",
        "Thing@iot.navigationLink": "t",
    }
    assert lowercase_directions("name DESC, id Asc") == "name desc, id asc"
    assert lowercase_directions("name eq 'DESC'") == "name eq 'DESC'"
    assert Property(("x",)).path == ("x",)


def test_arithmetic_beyond_representable_numbers_is_null():
    assert _matching("now() add duration'P99999999D' eq null") == [1, 2]
    assert _matching("floor(properties/height mul 1e308 mul 10) eq null") == [1, 2]
    big = " mul ".join(["9223372036854775807"] * 20)
    assert _matching(f"({big}) div 0.5 eq null") == [1, 2]
