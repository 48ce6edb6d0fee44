"""SensorThings API v1.1 query options (OGC 18-088 §9.3): the grammar, the schema, the limits.

The examples are the spec's own and FROST-Server's documentation's, restated by hand; the schema
below is restated from 18-088 §8.2 rather than read back from the module, so a slip there shows
here. The property tests print trees back to text and parse them again, and feed junk to every
option to make sure nothing but ValidationFailed ever escapes.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cityops.kernel.errors import FieldIssue, ValidationFailed
from cityops.sensing import sta_filter as f
from cityops.sensing import sta_query as q
from cityops.sensing import sta_schema
from cityops.sensing.sta_filter import (
    Arithmetic,
    Compare,
    Function,
    Geography,
    Literal,
    Logical,
    Not,
    OrderBy,
    Property,
)

CST = timezone(timedelta(hours=8))


def p(*path: str) -> Property:
    return Property(tuple(path))


def lit(value: object, kind: str) -> Literal:
    return Literal(value, kind)  # type: ignore[arg-type]


def parse(text: str) -> f.Node:
    return f.parse_filter(text)


def issue(call, *args, **kwargs) -> FieldIssue:
    with pytest.raises(ValidationFailed) as caught:
        call(*args, **kwargs)
    assert len(caught.value.issues) == 1
    return caught.value.issues[0]


def attempt(call, *args, **kwargs) -> FieldIssue | None:
    """Call; return the issue if it raised ValidationFailed (anything else propagates)."""
    try:
        call(*args, **kwargs)
    except ValidationFailed as error:
        return error.issues[0]
    return None


def caret(message: str) -> int:
    """The 0-based column the caret points at in a short (unclipped) excerpt."""
    *_, excerpt, pointer = message.splitlines()
    assert excerpt.startswith("  ")
    return pointer.index("^") - 2


def depth(node: f.Node) -> int:
    match node:
        case Compare() | Arithmetic():
            return 1 + max(depth(node.left), depth(node.right))
        case Logical():
            return 1 + max(depth(o) for o in node.operands)
        case Not():
            return 1 + depth(node.operand)
        case Function():
            return 1 + max((depth(a) for a in node.args), default=0)
    return 1


# --- the spec's examples ----------------------------------------------------------------------


def test_result_and_phenomenon_time():
    assert parse("result gt 5 and phenomenonTime ge 2026-11-01T00:00:00Z") == Logical(
        "and",
        (
            Compare("gt", p("result"), lit(5, "int")),
            Compare("ge", p("phenomenonTime"), lit(datetime(2026, 11, 1, tzinfo=UTC), "datetime")),
        ),
    )


def test_a_path_through_two_navigation_properties():
    options = q.parse_options(
        {"$filter": "Datastream/ObservedProperty/name eq 'PM2.5'"}, "Observations"
    )
    assert options.filter == Compare(
        "eq", p("Datastream", "ObservedProperty", "name"), lit("PM2.5", "string")
    )


def test_substringof():
    options = q.parse_options({"$filter": "substringof('PM',name)"}, "ObservedProperties")
    assert options.filter == Function("substringof", (lit("PM", "string"), p("name")))


def test_geo_intersects_with_a_polygon():
    text = "geo.intersects(location, geography'POLYGON((113 34,114 34,114 35,113 35,113 34))')"
    node = q.parse_options({"$filter": text}, "Locations").filter
    assert isinstance(node, Function)
    assert node.name == "geo.intersects"
    assert node.args[0] == p("location")
    polygon = node.args[1]
    assert isinstance(polygon, Literal)
    assert polygon.kind == "geography"
    assert polygon.value == Geography(
        wkt="POLYGON((113 34,114 34,114 35,113 35,113 34))",
        geometry_type="POLYGON",
        srid=4326,
        coordinates=(((113.0, 34.0), (114.0, 34.0), (114.0, 35.0), (113.0, 35.0), (113.0, 34.0)),),
    )


def test_expand_with_nested_options():
    options = q.parse_options(
        {"$expand": "Datastreams($top=1;$orderby=phenomenonTime desc)"}, "Things"
    )
    assert options.expand == (
        q.Expand(
            "Datastreams",
            q.QueryOptions(
                entity="Datastreams",
                orderby=(OrderBy(p("phenomenonTime"), descending=True),),
                top=1,
            ),
        ),
    )
    assert options.top == q.DEFAULT_TOP


def test_orderby_several_keys():
    options = q.parse_options({"$orderby": "phenomenonTime desc,result asc"}, "Observations")
    assert options.orderby == (
        OrderBy(p("phenomenonTime"), descending=True),
        OrderBy(p("result"), descending=False),
    )


def test_expand_several_items_each_with_options():
    options = q.parse_options(
        {"$expand": "Datastreams($select=name;$top=5;$orderby=id desc),Locations"}, "Things"
    )
    datastreams, locations = options.expand
    assert datastreams.navigation == "Datastreams"
    assert datastreams.options.select == ("name",)
    assert datastreams.options.top == 5
    assert datastreams.options.orderby == (OrderBy(p("id"), descending=True),)
    assert locations == q.Expand("Locations", q.QueryOptions("Locations", top=q.DEFAULT_TOP))
    observations = q.parse_options(
        {"$expand": "Observations($filter=result gt 5)"}, "Datastreams"
    ).expand[0]
    assert observations.options.filter == Compare("gt", p("result"), lit(5, "int"))


def test_json_paths_and_the_id_alias():
    options = q.parse_options(
        {"$filter": "Thing/properties/owner eq 'bureau' and @iot.id gt 3"}, "Datastreams"
    )
    assert options.filter == Logical(
        "and",
        (
            Compare("eq", p("Thing", "properties", "owner"), lit("bureau", "string")),
            Compare("gt", p("id"), lit(3, "int")),
        ),
    )
    things = q.parse_options({"$filter": "properties/any.key eq 1"}, "Things")
    assert things.filter == Compare("eq", p("properties", "any.key"), lit(1, "int"))


def test_a_property_named_like_a_function_is_a_property_without_parentheses():
    options = q.parse_options(
        {"$filter": "time ge 2026-11-01T08:00:00+08:00"}, "HistoricalLocations"
    )
    assert options.filter == Compare(
        "ge", p("time"), lit(datetime(2026, 11, 1, tzinfo=UTC), "datetime")
    )


@pytest.mark.parametrize(("name", "arity"), sorted(f.FUNCTIONS.items()))
def test_every_function_parses_with_its_arity_and_refuses_one_more(name, arity):
    low, high = arity
    for count in range(low, high + 1):
        args = ",".join(["result"] * count)
        assert parse(f"{name}({args})") == Function(name, (p("result"),) * count)
    message = issue(parse, f"{name}({','.join(['result'] * (high + 1))})")
    assert message.rule == "arity"
    assert f"{name}()" in message.message


def test_the_function_list_is_the_spec_s_plus_the_interval_relations():
    spec = {
        "substringof", "endswith", "startswith", "length", "indexof", "substring", "tolower",
        "toupper", "trim", "concat", "year", "month", "day", "hour", "minute", "second",
        "fractionalseconds", "date", "time", "totaloffsetminutes", "now", "mindatetime",
        "maxdatetime", "round", "floor", "ceiling", "geo.intersects", "geo.distance",
        "geo.length", "st_equals", "st_disjoint", "st_touches", "st_within", "st_overlaps",
        "st_crosses", "st_intersects", "st_contains", "st_relate",
    }  # fmt: skip
    extra = {"contains", "before", "after", "meets", "during", "overlaps", "starts", "finishes"}
    assert set(f.FUNCTIONS) == spec | extra
    assert f.FUNCTIONS["substring"] == (2, 3)
    assert f.FUNCTIONS["st_relate"] == (3, 3)
    assert f.FUNCTIONS["now"] == (0, 0)


def test_unknown_function_suggests_the_nearest():
    found = issue(parse, "startwith(name,'a')")
    assert found.rule == "unknown_function"
    assert "'startswith'" in found.message
    assert issue(parse, "StartsWith(name,'a')").rule == "unknown_function"


# --- literals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", lit(42, "int")),
        ("-42", lit(-42, "int")),
        ("1.50", lit(Decimal("1.50"), "decimal")),
        ("1e5", lit(Decimal("1E+5"), "decimal")),
        ("-2.5E-3", lit(Decimal("-0.0025"), "decimal")),
        ("9223372036854775807", lit(2**63 - 1, "int")),
        ("-9223372036854775808", lit(-(2**63), "int")),
        ("true", lit(True, "bool")),
        ("false", lit(False, "bool")),
        ("null", lit(None, "null")),
        ("'Bob''s Thing'", lit("Bob's Thing", "string")),
        ("''''", lit("'", "string")),
        ("''", lit("", "string")),
        ("'a;b),c'", lit("a;b),c", "string")),
        ("'郑州市 金水区'", lit("郑州市 金水区", "string")),
        ("2026-11-01", lit(date(2026, 11, 1), "date")),
        (
            "2026-11-01T00:00:00.123+08:00",
            lit(datetime(2026, 11, 1, 0, 0, 0, 123000, tzinfo=CST), "datetime"),
        ),
        ("2026-11-01T08:30Z", lit(datetime(2026, 11, 1, 8, 30, tzinfo=UTC), "datetime")),
        (
            "2026-11-01T00:00:00.123456789Z",
            lit(datetime(2026, 11, 1, 0, 0, 0, 123456, tzinfo=UTC), "datetime"),
        ),
        (
            "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z",
            lit((datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)), "interval"),
        ),
        ("duration'P1D'", lit(timedelta(days=1), "duration")),
        ("duration'PT10m'", lit(timedelta(minutes=10), "duration")),
        (
            "duration'-P1DT2H3M4.5S'",
            lit(-timedelta(days=1, hours=2, minutes=3, seconds=4.5), "duration"),
        ),
    ],
)
def test_literals(text, expected):
    node = parse(f"x eq {text}")
    assert isinstance(node, Compare)
    assert node.right == expected


def test_a_datetime_keeps_its_offset():
    node = parse("phenomenonTime ge 2026-11-01T00:00:00.123+08:00")
    assert isinstance(node, Compare)
    assert isinstance(node.right, Literal)
    assert isinstance(node.right.value, datetime)
    assert node.right.value.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("x eq 2026-11-01T00:00:00", "timezone"),
        ("x eq 2026-11-01T00:00:00+24:00", "timezone"),
        ("x eq 2026-13-01", "syntax"),
        ("x eq 2026-02-30T00:00:00Z", "syntax"),
        ("x eq 2026-11-01T", "syntax"),
        ("x eq 2026-11-02T00:00:00Z/2026-11-01T00:00:00Z", "interval"),
        ("x eq 9223372036854775808", "range"),
        ("x eq 12345678901234567890123", "range"),
        ("x eq 1.", "syntax"),
        ("x eq .5", "syntax"),
        ("x eq 1.2.3", "syntax"),
        ("x eq 5abc", "syntax"),
        ("x eq 'open", "syntax"),
        ("x eq duration'P'", "syntax"),
        ("x eq duration'PT'", "syntax"),
        ("x eq duration'P1Y'", "syntax"),
        ("x eq duration'P9999999999999999999999D'", "range"),
    ],
)
def test_bad_literals(text, rule):
    assert issue(parse, text).rule == rule


def test_negative_numbers_and_sub():
    assert parse("result sub -5") == Arithmetic("sub", p("result"), lit(-5, "int"))
    assert parse("-5 sub 3") == Arithmetic("sub", lit(-5, "int"), lit(3, "int"))
    assert parse("result sub-5") == Arithmetic("sub", p("result"), lit(-5, "int"))
    found = issue(parse, "3-5")
    assert found.rule == "syntax"
    assert "at character 2" in found.message
    assert issue(parse, "result sub - 5").rule == "syntax"


@pytest.mark.parametrize(
    ("wkt", "kind", "coordinates"),
    [
        ("POINT(113.6 34.7)", "POINT", (113.6, 34.7)),
        ("point (113.6 34.7 120)", "POINT", (113.6, 34.7, 120.0)),
        (
            "LINESTRING(30 10, 10 30, 40 40)",
            "LINESTRING",
            ((30.0, 10.0), (10.0, 30.0), (40.0, 40.0)),
        ),
        ("MULTIPOINT(1 2, 3 4)", "MULTIPOINT", ((1.0, 2.0), (3.0, 4.0))),
        ("MULTIPOINT((1 2), (3 4))", "MULTIPOINT", ((1.0, 2.0), (3.0, 4.0))),
        (
            "MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))",
            "MULTIPOLYGON",
            (
                (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)),),
                (((5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 5.0)),),
            ),
        ),
        ("POINT EMPTY", "POINT", ()),
        ("GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))", "GEOMETRYCOLLECTION", None),
    ],
)
def test_wkt_literals(wkt, kind, coordinates):
    geography = f.parse_wkt(wkt)
    assert geography.geometry_type == kind
    assert geography.coordinates == coordinates
    assert geography.wkt == wkt
    assert geography.srid == 4326


def test_an_srid_prefix_is_kept_apart_from_the_text():
    node = parse("st_within(location, geography'SRID=4490;POINT(113.6 34.7)')")
    assert isinstance(node, Function)
    assert node.args[1] == lit(
        Geography("POINT(113.6 34.7)", "POINT", 4490, (113.6, 34.7)), "geography"
    )
    assert f.to_text(node) == "st_within(location,geography'SRID=4490;POINT(113.6 34.7)')"


@pytest.mark.parametrize(
    "wkt",
    [
        "CIRCLE(1 2)",
        "POINT(1)",
        "POINT(1 2, 3 4)",
        "POINT(1 2) x",
        "POINT 1 2",
        "POLYGON((1 2, 3 4))",
        "POLYGON((0 0,1 0,1 1,0 1))",
        "LINESTRING(1 2)",
        "LINESTRING(1 2, 3 4 5)",
        "POLYGON(((0 0,1 0,1 1,0 0)))",
        "LINESTRING((1 2), 3 4)",
        "POINT(1e999 2)",
        "GEOMETRYCOLLECTION(POINT(1 2)",
        "POINT((((((1 2))))))",
    ],
)
def test_bad_wkt(wkt):
    found = issue(parse, f"geo.intersects(location, geography'{wkt}')")
    assert found.rule == "geometry"


# --- precedence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a or b and c", Logical("or", (p("a"), Logical("and", (p("b"), p("c")))))),
        ("a and b or c", Logical("or", (Logical("and", (p("a"), p("b"))), p("c")))),
        (
            # OData: not binds tighter than eq, so this is (not a) eq 1.
            "not a eq 1 and b",
            Logical("and", (Compare("eq", Not(p("a")), lit(1, "int")), p("b"))),
        ),
        ("not (a eq 1)", Not(Compare("eq", p("a"), lit(1, "int")))),
        ("not not a", Not(Not(p("a")))),
        ("a add b mul c", Arithmetic("add", p("a"), Arithmetic("mul", p("b"), p("c")))),
        ("(a add b) mul c", Arithmetic("mul", Arithmetic("add", p("a"), p("b")), p("c"))),
        ("a sub b sub c", Arithmetic("sub", Arithmetic("sub", p("a"), p("b")), p("c"))),
        ("a div b mod c", Arithmetic("mod", Arithmetic("div", p("a"), p("b")), p("c"))),
        # OData ranks relational operators above equality ones.
        ("x eq y lt z", Compare("eq", p("x"), Compare("lt", p("y"), p("z")))),
        ("x lt y eq z", Compare("eq", Compare("lt", p("x"), p("y")), p("z"))),
        ("x ge y le z", Compare("le", Compare("ge", p("x"), p("y")), p("z"))),
        ("x eq y ne z", Compare("ne", Compare("eq", p("x"), p("y")), p("z"))),
        ("(x eq y) lt z", Compare("lt", Compare("eq", p("x"), p("y")), p("z"))),
        (
            "a add b gt c mul d",
            Compare("gt", Arithmetic("add", p("a"), p("b")), Arithmetic("mul", p("c"), p("d"))),
        ),
        (
            "a eq 1 or b eq 2 or c eq 3",
            Logical(
                "or",
                tuple(Compare("eq", p(n), lit(i, "int")) for i, n in enumerate("abc", start=1)),
            ),
        ),
        ("(a or b) or c", Logical("or", (Logical("or", (p("a"), p("b"))), p("c")))),
        ("a or (b or c)", Logical("or", (p("a"), Logical("or", (p("b"), p("c")))))),
        ("((a))", p("a")),
        (
            "(result sub 5) gt 10",
            Compare("gt", Arithmetic("sub", p("result"), lit(5, "int")), lit(10, "int")),
        ),
        (
            "now() sub duration'P1D' lt phenomenonTime",
            Compare(
                "lt",
                Arithmetic("sub", Function("now", ()), lit(timedelta(days=1), "duration")),
                p("phenomenonTime"),
            ),
        ),
    ],
)
def test_precedence(text, expected):
    assert parse(text) == expected
    assert parse(f.to_text(expected)) == expected


# --- syntax errors and where they are -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule", "column", "words"),
    [
        ("result gt and 5", "syntax", 10, "operator 'and'"),
        ("result gt", "syntax", 9, "end of the text"),
        ("result gt 5 AND x", "syntax", 12, "write 'and'"),
        ("x eq True", "syntax", 5, "write 'true'"),
        ("(result gt 5", "syntax", 12, "close the '(' at character 1"),
        ("result gt 5)", "syntax", 11, "no matching '('"),
        ("result gt 5 6", "syntax", 12, "expected an operator"),
        ("result # 5", "syntax", 7, "unexpected character '#'"),
        ("startswith(name 'a')", "syntax", 16, "',' or ')'"),
        ("Datastream/ eq 1", "syntax", 12, "property name right after '/'"),
        ("Datastream /name eq 1", "syntax", 11, "found '/'"),
        ("Datastreams/any(x)", "syntax", 15, "lambda"),
        ("", "syntax", 0, "empty"),
    ],
)
def test_syntax_errors_say_where(text, rule, column, words):
    found = issue(parse, text)
    assert found.field == "$filter"
    assert found.rule == rule
    assert f"at character {column + 1}:" in found.message
    assert caret(found.message) == column
    assert words in found.message


def test_errors_inside_expand_point_into_the_expand_text():
    text = "Datastreams($top=1;$filter=result gt)"
    found = issue(q.parse_options, {"$expand": text}, "Things")
    assert found.field == "$expand"
    assert found.rule == "syntax"
    assert found.message.startswith("Datastreams($filter): ")
    assert caret(found.message) == text.index(")")


def test_a_long_excerpt_is_clipped_around_the_error():
    text = "a eq 1 and " * 20 + "b eq"
    found = issue(parse, text)
    excerpt, pointer = found.message.splitlines()[-2:]
    assert excerpt.startswith("  …")
    assert pointer.index("^") == excerpt.rindex("eq") + len("eq")  # just past the last "eq"
    assert len(excerpt) <= len("  …") + 80


# --- depth limits -------------------------------------------------------------------------------


def test_nesting_is_capped():
    assert parse("(" * f.MAX_DEPTH + "a" + ")" * f.MAX_DEPTH) == p("a")
    assert issue(parse, "(" * (f.MAX_DEPTH + 1) + "a" + ")" * (f.MAX_DEPTH + 1)).rule == "depth"
    assert issue(parse, "(" * 100_000).rule == "depth"
    assert issue(parse, "length(" * 1000 + "a" + ")" * 1000).rule == "depth"


def test_tree_depth_is_capped():
    assert depth(parse("not " * (f.MAX_DEPTH - 1) + "a")) == f.MAX_DEPTH
    assert issue(parse, "not " * f.MAX_DEPTH + "a").rule == "depth"
    assert issue(parse, "not " * 100_000 + "a").rule == "depth"
    assert issue(parse, "a add " * 5000 + "a").rule == "depth"
    assert issue(parse, "a eq " * 5000 + "a").rule == "depth"


def test_a_long_flat_or_is_not_deep():
    node = parse(" or ".join(f"id eq {i}" for i in range(5000)))
    assert isinstance(node, Logical)
    assert len(node.operands) == 5000


def test_the_deepest_nesting_fits_a_small_stack():
    # An operator at every level of precedence before each "(": the cap must hold well inside
    # a shallow stack, as in a request handler that is already deep.
    text = "a or b and c eq d lt e add f mul not (" * 64 + "g" + ")" * 64
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        assert issue(parse, text).rule == "depth"
        assert issue(parse, "(" * 200 + "a" + ")" * 200).rule == "depth"
        assert issue(parse, "length(" * 200 + "a" + ")" * 200).rule == "depth"
        assert depth(parse("(" * 64 + "a" + ")" * 64)) == 1
    finally:
        sys.setrecursionlimit(limit)


# --- the schema -------------------------------------------------------------------------------

# 18-088 §8.2 (Figure 2 and Tables 8-2 … 8-16), restated: properties | navigation properties.
SPEC = {
    "Things": ("name description properties", "Locations* HistoricalLocations* Datastreams*"),
    "Locations": (
        "name description encodingType location properties",
        "Things* HistoricalLocations*",
    ),
    "HistoricalLocations": ("time", "Thing Locations*"),
    "Datastreams": (
        "name description unitOfMeasurement observationType observedArea phenomenonTime"
        " resultTime properties",
        "Thing Sensor ObservedProperty Observations*",
    ),
    "Sensors": ("name description encodingType metadata properties", "Datastreams*"),
    "ObservedProperties": ("name definition description properties", "Datastreams*"),
    "Observations": (
        "phenomenonTime resultTime result resultQuality validTime parameters",
        "Datastream FeatureOfInterest",
    ),
    "FeaturesOfInterest": ("name description encodingType feature properties", "Observations*"),
}


def test_the_default_schema_is_the_sensing_core():
    assert set(q.DEFAULT_SCHEMA) == set(SPEC)
    for entity, (properties, navigation) in SPEC.items():
        known = q.DEFAULT_SCHEMA[entity]
        assert known.properties == {"id", *properties.split()}, entity
        assert {
            name + ("*" if link.many else "") for name, link in known.navigation.items()
        } == set(navigation.split()), entity


def test_every_navigation_property_has_one_back():
    for schema in (q.DEFAULT_SCHEMA, q.MULTI_DATASTREAM_SCHEMA):
        for entity, known in schema.items():
            for name, link in known.navigation.items():
                back = [n for n in schema[link.target].navigation.values() if n.target == entity]
                assert back, f"{entity}/{name}"


def test_the_multidatastream_extension():
    schema = q.MULTI_DATASTREAM_SCHEMA
    assert schema["Things"].navigation["MultiDatastreams"] == q.Navigation("MultiDatastreams", True)
    assert schema["Observations"].navigation["MultiDatastream"] == q.Navigation(
        "MultiDatastreams", False
    )
    assert "multiObservationDataTypes" in schema["MultiDatastreams"].properties
    assert "MultiDatastreams" not in q.DEFAULT_SCHEMA
    options = q.parse_options({"$expand": "MultiDatastreams"}, "Things", schema=schema)
    assert options.expand[0].navigation == "MultiDatastreams"
    assert issue(q.parse_options, {"$expand": "MultiDatastreams"}, "Things").rule == (
        "unknown_property"
    )


def test_a_schema_with_a_dangling_navigation_is_refused():
    with pytest.raises(ValueError, match="Nowhere"):
        sta_schema._schema({"Things": q.entity_schema(("name",), {"Gone": "Nowhere*"})})


@pytest.mark.parametrize(
    ("entity", "text", "name"),
    [
        ("Things", "foo eq 1", "foo"),
        ("Things", "result gt 5", "result"),
        ("Observations", "name eq 'x'", "name"),
        ("Sensors", "st_within(location, geography'POINT(1 2)')", "location"),
        ("Locations", "Thing/name eq 'x'", "Thing"),
        ("HistoricalLocations", "name eq 'x'", "name"),
        ("Observations", "Datastream/ObservedProperty/unit eq 'x'", "unit"),
        ("Datastreams", "length(Sensor/nam) gt 1", "nam"),
    ],
)
def test_unknown_properties_per_entity(entity, text, name):
    found = issue(q.parse_options, {"$filter": text}, entity)
    assert found.field == "$filter"
    assert found.rule == "unknown_property"
    assert f"property {name!r}" in found.message


def test_an_unknown_property_points_at_its_path():
    text = "name eq 'a' and nmae eq 'b'"
    found = issue(q.parse_options, {"$filter": text}, "Things")
    assert "did you mean 'name'?" in found.message
    assert caret(found.message) == text.index("nmae")


def test_paths_must_end_at_a_value_and_enter_only_json():
    found = issue(q.parse_options, {"$filter": "Datastream eq 1"}, "Observations")
    assert found.rule == "navigation_property"
    assert "'Datastream/id'" in found.message
    found = issue(q.parse_options, {"$filter": "name/first eq 'a'"}, "Things")
    assert found.rule == "unknown_property"
    assert "no sub-properties" in found.message
    ok = q.parse_options({"$filter": "result/value gt 1 and parameters/k eq 1"}, "Observations")
    assert ok.filter is not None


def test_validate_expression_canonicalises_the_id():
    node = f.parse_filter("@iot.id eq 1 and Datastream/@iot.id eq 2")
    assert q.validate_expression(node, "Observations") == Logical(
        "and",
        (
            Compare("eq", p("id"), lit(1, "int")),
            Compare("eq", p("Datastream", "id"), lit(2, "int")),
        ),
    )
    assert issue(q.validate_expression, node, "Things").rule == "unknown_property"


# --- $top, $skip, $count, $select, $resultFormat ----------------------------------------------


def test_top_defaults_and_limits():
    assert q.parse_options({}, "Things").top == 100
    assert q.parse_options({"$top": "0"}, "Things").top == 0
    assert q.parse_options({"$top": "10000"}, "Things").top == 10_000
    assert q.parse_options({"$top": " 7 "}, "Things").top == 7
    found = issue(q.parse_options, {"$top": "10001"}, "Things")
    assert (found.field, found.rule) == ("$top", "range")
    assert "at most 10000" in found.message
    assert q.parse_options({}, "Things", default_top=20, max_top=50).top == 20
    assert issue(q.parse_options, {"$top": "51"}, "Things", default_top=20, max_top=50).rule == (
        "range"
    )
    with pytest.raises(ValueError, match="default_top"):
        q.parse_options({}, "Things", default_top=200, max_top=50)


@pytest.mark.parametrize("value", ["-1", "+5", "1.5", "", "five", "0x10", "٣"])
def test_top_and_skip_need_whole_numbers(value):
    assert issue(q.parse_options, {"$top": value}, "Things").rule == "syntax"
    assert issue(q.parse_options, {"$skip": value}, "Things").rule == "syntax"


def test_skip_and_count():
    options = q.parse_options({"$skip": "30", "$count": "true"}, "Things")
    assert (options.skip, options.count) == (30, True)
    assert q.parse_options({"$count": "false"}, "Things").count is False
    assert issue(q.parse_options, {"$count": "TRUE"}, "Things").rule == "one_of"
    assert issue(q.parse_options, {"$skip": "9" * 19}, "Things").rule == "range"
    assert q.parse_options({"$skip": "0" * 30 + "1"}, "Things").skip == 1


def test_select():
    options = q.parse_options({"$select": "@iot.id, name,id,Datastreams"}, "Things")
    assert options.select == ("id", "name", "Datastreams")
    found = issue(q.parse_options, {"$select": "name,nonsense"}, "Things")
    assert (found.field, found.rule) == ("$select", "unknown_property")
    assert "'nonsense'" in found.message
    assert caret(found.message) == len("name,")
    assert issue(q.parse_options, {"$select": "name,,id"}, "Things").rule == "syntax"


def test_result_format():
    assert q.parse_options({"$resultFormat": "dataArray"}, "Observations").result_format == (
        "dataArray"
    )
    assert q.parse_options({"$resultFormat": "DataArray"}, "Observations").result_format == (
        "dataArray"
    )
    found = issue(q.parse_options, {"$resultFormat": "dataArray"}, "Datastreams")
    assert (found.field, found.rule) == ("$resultFormat", "unsupported")
    assert issue(q.parse_options, {"$resultFormat": "CSV"}, "Observations").rule == "one_of"


def test_unknown_options_and_entities():
    found = issue(q.parse_options, {"$fliter": "a eq 1"}, "Things")
    assert (found.field, found.rule) == ("$fliter", "unknown_option")
    assert "$filter" in found.message
    assert issue(q.parse_options, {"$Top": "1"}, "Things").rule == "unknown_option"
    assert issue(q.parse_options, {"$search": "x"}, "Things").rule == "unknown_option"
    assert q.parse_options({"token": "abc", "lang": "zh"}, "Things") == q.parse_options(
        {}, "Things"
    )
    assert issue(q.parse_options, {}, "Thing").rule == "unknown_entity"


def test_orderby_takes_expressions_but_one_value_per_entity():
    options = q.parse_options(
        {"$orderby": "year(phenomenonTime) desc, Datastream/name"}, "Observations"
    )
    assert options.orderby == (
        OrderBy(Function("year", (p("phenomenonTime"),)), descending=True),
        OrderBy(p("Datastream", "name")),
    )
    found = issue(q.parse_options, {"$orderby": "Datastreams/name"}, "Things")
    assert (found.field, found.rule) == ("$orderby", "many_valued")
    assert issue(q.parse_options, {"$orderby": "name DESC"}, "Things").rule == "syntax"
    assert issue(q.parse_options, {"$orderby": "name,,id"}, "Things").rule == "syntax"
    assert issue(q.parse_options, {"$orderby": "name,"}, "Things").rule == "syntax"
    assert issue(q.parse_options, {"$orderby": "name up"}, "Things").rule == "syntax"


# --- $expand ------------------------------------------------------------------------------------


def test_two_levels_are_refused_by_default():
    found = issue(q.parse_options, {"$expand": "Datastreams/Observations"}, "Things")
    assert (found.field, found.rule) == ("$expand", "one_level")
    assert "only one level" in found.message
    assert caret(found.message) == len("Datastreams/")
    nested = issue(q.parse_options, {"$expand": "Datastreams($expand=Observations)"}, "Things")
    assert nested.rule == "one_level"


def test_deeper_expansion_when_allowed_reads_both_spellings_alike():
    path = q.parse_options(
        {"$expand": "Datastreams/Observations($top=3),Datastreams/Sensor"},
        "Things",
        max_expand_depth=2,
    )
    nested = q.parse_options(
        {"$expand": "Datastreams($expand=Observations($top=3),Sensor)"},
        "Things",
        max_expand_depth=2,
    )
    assert path == nested
    (datastreams,) = path.expand
    observations, sensor = datastreams.options.expand
    assert observations.options.top == 3
    assert sensor == q.Expand("Sensor", q.QueryOptions("Sensors"))
    assert issue(
        q.parse_options, {"$expand": "Datastreams/Observations/FeatureOfInterest"}, "Things",
        max_expand_depth=2,
    ).rule == "expand_depth"  # fmt: skip


def test_expand_merges_repeats_but_not_two_sets_of_options():
    merged = q.parse_options({"$expand": "Locations,Locations($top=2)"}, "Things")
    assert merged.expand == (q.Expand("Locations", q.QueryOptions("Locations", top=2)),)
    found = issue(q.parse_options, {"$expand": "Locations($top=1),Locations($top=2)"}, "Things")
    assert found.rule == "duplicate"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Datastream", "unknown_property"),
        ("Datastreams($top=1", "syntax"),
        ("Datastreams($top=1))", "syntax"),
        ("Datastreams($top=1) x", "syntax"),
        ("Datastreams(top=1)", "unknown_option"),
        ("Datastreams($resultFormat=dataArray)", "unknown_option"),
        ("Datastreams($top=1;$top=2)", "duplicate"),
        ("Datastreams($top)", "syntax"),
        ("Datastreams($top=1;)", "syntax"),
        ("Datastreams($top=99999)", "range"),
        ("Datastreams($select=nope)", "unknown_property"),
        ("Datastreams,", "syntax"),
        ("/Datastreams", "syntax"),
        ("", "syntax"),
    ],
)
def test_bad_expand(text, rule):
    found = issue(q.parse_options, {"$expand": text}, "Things")
    assert (found.field, found.rule) == ("$expand", rule)


def test_a_single_valued_navigation_takes_only_select_and_expand():
    options = q.parse_options(
        {"$expand": "Datastream($select=name,unitOfMeasurement)"}, "Observations"
    )
    (datastream,) = options.expand
    assert datastream.options == q.QueryOptions("Datastreams", select=("name", "unitOfMeasurement"))
    assert datastream.options.top is None
    found = issue(q.parse_options, {"$expand": "Datastream($top=1)"}, "Observations")
    assert found.rule == "not_collection"


def test_quoted_separators_inside_expand_stay_in_their_string():
    options = q.parse_options(
        {"$expand": "Datastreams($filter=name eq 'a;b),c(' or name eq 'x''y';$top=2),Locations"},
        "Things",
    )
    datastreams, locations = options.expand
    assert datastreams.options.top == 2
    assert datastreams.options.filter == Logical(
        "or",
        (
            Compare("eq", p("name"), lit("a;b),c(", "string")),
            Compare("eq", p("name"), lit("x'y", "string")),
        ),
    )
    assert locations.navigation == "Locations"


# --- printing back and nextLink ---------------------------------------------------------------


def test_to_params_prints_options_back():
    options = q.parse_options(
        {
            "$filter": "result gt 5.0 and phenomenonTime ge 2026-11-01T00:00:00.5+08:00",
            "$orderby": "phenomenonTime desc,result asc",
            "$top": "10",
            "$skip": "20",
            "$count": "true",
            "$select": "@iot.id,result",
            "$expand": "Datastream($select=name)",
            "$resultFormat": "dataArray",
        },
        "Observations",
    )
    assert q.to_params(options) == {
        "$filter": "result gt 5.0 and phenomenonTime ge 2026-11-01T00:00:00.5+08:00",
        "$orderby": "phenomenonTime desc,result",
        "$top": "10",
        "$skip": "20",
        "$count": "true",
        "$select": "id,result",
        "$expand": "Datastream($select=name)",
        "$resultFormat": "dataArray",
    }


def test_next_link_advances_skip_by_top():
    options = q.parse_options(
        {"$filter": "result gt 5", "$top": "4", "$count": "true"}, "Observations"
    )
    assert q.next_link_params(options, returned=4) == {
        "$filter": "result gt 5",
        "$top": "4",
        "$skip": "4",
        "$count": "true",
    }
    second = q.parse_options({"$filter": "result gt 5", "$top": "4", "$skip": "4"}, "Observations")
    assert q.next_link_params(second, returned=4, total=8) is None
    assert q.next_link_params(second, returned=4, total=9) is not None
    assert q.next_link_params(options, returned=3) is None
    assert q.next_link_params(q.parse_options({"$top": "0"}, "Things"), returned=0) is None


# --- property tests ---------------------------------------------------------------------------

ZONES = [UTC, CST, timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(hours=14))]
datetimes = st.datetimes(timezones=st.sampled_from(ZONES))
segments = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,6}", fullmatch=True) | st.sampled_from(
    ["负责人", "any.key", "and", "True"]
)
first_segments = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s.lower() not in f.KEYWORDS | {"asc", "desc"}
) | st.just("@iot.id")
points = st.tuples(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
).map(lambda xy: f"POINT({xy[0]!r} {xy[1]!r})")
wkts = points | st.sampled_from(
    [
        "POLYGON((113 34,114 34,114 35,113 35,113 34))",
        "LINESTRING(0 0, 1 1.5)",
        "MULTIPOINT EMPTY",
        "GEOMETRYCOLLECTION(POINT(1 2))",
    ]
)
geographies = st.builds(
    lambda wkt, srid: lit(f.parse_wkt(wkt if srid == 4326 else f"SRID={srid};{wkt}"), "geography"),
    wkts,
    st.sampled_from([4326, 4490, 3857]),
)
literals = st.one_of(
    st.just(lit(None, "null")),
    st.booleans().map(lambda b: lit(b, "bool")),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: lit(i, "int")),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15).map(
        lambda d: lit(d, "decimal")
    ),
    st.builds(
        lambda m, e: lit(Decimal(f"{m}E{e}"), "decimal"),
        st.integers(-(10**6), 10**6),
        st.integers(-300, 300),
    ),
    st.text().map(lambda s: lit(s, "string")),
    st.dates().map(lambda d: lit(d, "date")),
    datetimes.map(lambda d: lit(d, "datetime")),
    st.tuples(datetimes, datetimes).map(lambda ab: lit(tuple(sorted(ab)), "interval")),
    st.timedeltas().map(lambda d: lit(d, "duration")),
    geographies,
)
properties = st.builds(
    lambda first, rest: Property((first, *rest)), first_segments, st.lists(segments, max_size=3)
)


COMPARISONS = ["eq", "ne", "gt", "ge", "lt", "le"]
ARITHMETIC = ["add", "sub", "mul", "div", "mod"]


def trees(leaves: st.SearchStrategy[f.Node]) -> st.SearchStrategy[f.Node]:
    def extend(children: st.SearchStrategy[f.Node]) -> st.SearchStrategy[f.Node]:
        calls = st.sampled_from(sorted(f.FUNCTIONS.items())).flatmap(
            lambda item: st.lists(children, min_size=item[1][0], max_size=item[1][1]).map(
                lambda args: Function(item[0], tuple(args))
            )
        )
        operands = st.lists(children, min_size=2, max_size=4).map(tuple)
        return st.one_of(
            st.builds(Compare, st.sampled_from(COMPARISONS), children, children),
            st.builds(Arithmetic, st.sampled_from(ARITHMETIC), children, children),
            st.builds(Logical, st.sampled_from(["and", "or"]), operands),
            st.builds(Not, children),
            calls,
        )

    return st.recursive(leaves, extend, max_leaves=16)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(trees(literals | properties))
def test_printing_a_tree_and_parsing_it_gives_the_same_tree(node):
    assume(depth(node) <= f.MAX_DEPTH)
    text = f.to_text(node)
    assert f.parse_expression(text) == node


@given(st.lists(st.tuples(trees(literals | properties), st.booleans()), min_size=1, max_size=4))
def test_orderby_round_trip(items):
    assume(all(depth(e) <= f.MAX_DEPTH for e, _ in items))
    keys = tuple(OrderBy(e, d) for e, d in items)
    assert f.parse_orderby_items(f.orderby_to_text(keys)) == keys


OBSERVATION_PATHS = st.sampled_from(
    [
        p("result"),
        p("phenomenonTime"),
        p("@iot.id"),
        p("Datastream", "name"),
        p("Datastream", "Thing", "properties", "owner"),
        p("FeatureOfInterest", "feature"),
    ]
) | st.builds(lambda k: p("parameters", k), segments)
DATASTREAM_PATHS = st.sampled_from([p("name"), p("id"), p("Thing", "name"), p("properties", "k")])
SELECTABLE = st.sampled_from(["@iot.id", "result", "Datastream", "parameters"])
EXPANDS = ["Datastream", "Datastream($select=name)", "FeatureOfInterest,Datastream($select=id)"]


@st.composite
def observation_params(draw: st.DrawFn) -> dict[str, str]:
    params: dict[str, str] = {}
    if draw(st.booleans()):
        params["$filter"] = f.to_text(draw(trees(literals | OBSERVATION_PATHS)))
    if draw(st.booleans()):
        key = st.tuples(trees(literals | OBSERVATION_PATHS), st.booleans())
        keys = draw(st.lists(key, min_size=1, max_size=3))
        params["$orderby"] = f.orderby_to_text(tuple(OrderBy(e, d) for e, d in keys))
    for name, values in (
        ("$top", st.integers(0, q.MAX_TOP).map(str)),
        ("$skip", st.integers(0, 10**12).map(str)),
        ("$count", st.sampled_from(["true", "false"])),
        ("$select", st.lists(SELECTABLE, min_size=1).map(",".join)),
        ("$expand", st.sampled_from(EXPANDS)),
        ("$resultFormat", st.just("dataArray")),
    ):
        if draw(st.booleans()):
            params[name] = draw(values)
    return params


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(observation_params())
def test_options_print_back_to_equal_options(params):
    refused = attempt(q.parse_options, params, "Observations")
    if refused is not None:
        # Random trees may nest past the cap; nothing else in them may be refused.
        assert refused.rule == "depth"
        return
    options = q.parse_options(params, "Observations")
    assert q.parse_options(q.to_params(options), "Observations") == options
    assert options.top == int(params.get("$top", q.DEFAULT_TOP))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    trees(literals | DATASTREAM_PATHS),
    st.integers(0, 50),
    st.booleans(),
    st.sampled_from(["", ";$expand=Observations($top=2;$select=result)", ";$expand=Sensor"]),
)
def test_nested_expand_prints_back(node, top, count, deeper):
    assume(depth(node) <= f.MAX_DEPTH)
    expand = (
        f"Datastreams($filter={f.to_text(node)};$top={top};$count={str(count).lower()}{deeper})"
    )
    options = q.parse_options({"$expand": expand}, "Things", max_expand_depth=2)
    assert q.parse_options(q.to_params(options), "Things", max_expand_depth=2) == options
    (datastreams,) = options.expand
    assert (datastreams.options.top, datastreams.options.count) == (top, count)


@given(
    st.integers(0, 500),
    st.integers(0, 10_000),
    st.integers(0, 500),
    st.none() | st.integers(0, 20_000),
)
def test_next_link_pages_forward_and_stops(top, skip, returned, total):
    assume(returned <= top)
    options = q.parse_options(
        {"$top": str(top), "$skip": str(skip), "$filter": "result gt 1"}, "Observations"
    )
    link = q.next_link_params(options, returned, total)
    last = top == 0 or returned < top or (total is not None and skip + top >= total)
    if last:
        assert link is None
    else:
        assert link is not None
        assert q.parse_options(link, "Observations") == replace(options, skip=skip + top)
        assert link["$skip"] == str(skip + top)
        assert link["$top"] == str(top)
        assert link["$filter"] == "result gt 1"


TOKENS = [
    "(", ")", ",", "/", "'", "''", "'x'", "not", "and", "or", "eq", "gt", "add", "sub", "-",
    "-1", "1", "1.5", "1e3", "true", "null", "name", "result", "Datastream", "properties",
    "now", "substring", "geo.intersects", "geography'", "geography'POINT(1 2)'", "duration'P1D'",
    "2026-11-01", "2026-11-01T00:00:00Z", "/2026-11-02T00:00:00Z", "T", ":", "$", ";", "=",
    "$top", "$expand", "Datastreams", "asc", "desc", "@iot.id", "POLYGON((", "EMPTY",
]  # fmt: skip
junk = st.text(max_size=80) | st.lists(st.sampled_from(TOKENS), max_size=40).flatmap(
    lambda words: st.sampled_from([" ", ""]).map(lambda sep: sep.join(words))
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(junk)
def test_junk_filters_raise_only_validation_failed(text):
    refused = attempt(f.parse_filter, text)
    if refused is not None:
        assert refused.field == "$filter"
        return
    node = f.parse_filter(text)
    assert f.parse_expression(f.to_text(node)) == node


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from([*q.OPTIONS, "$foo", "plain"]), junk, max_size=4),
    st.sampled_from(sorted(q.DEFAULT_SCHEMA)),
)
def test_junk_options_raise_only_validation_failed(params, entity):
    refused = attempt(q.parse_options, params, entity, max_expand_depth=3)
    assert refused is None or refused.field in {*params, "$foo"}


EXPAND_PIECES = [
    "Datastreams", "Observations", "Locations", "Sensor", "(", ")", ";", ",", "/", "$top=1",
    "$expand=", "$filter=", "name eq ')'", "$select=name", "'", " ",
]  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(EXPAND_PIECES), max_size=30).map("".join))
def test_junk_expands_raise_only_validation_failed(text):
    refused = attempt(
        q.parse_options, {"$expand": text}, "Things", max_expand_depth=q.MAX_EXPAND_DEPTH
    )
    assert refused is None or refused.field == "$expand"
