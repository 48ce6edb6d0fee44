"""The SensorThings API v1.1 at /sta/v1.1/ through the app, on both stores.

The clock stands at 2026-11-20T02:00Z; readings are taken on 2026-11-19 between 08:00 and 08:09Z.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.web.problems import assert_problem, assert_rule

STA = "/sta/v1.1"
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
UGM3 = {"name": "microgram per cubic metre", "symbol": "µg/m³", "definition": "ug/m3"}


def at(minute: int) -> str:
    return f"2026-11-19T08:{minute:02d}:00Z"


@pytest.fixture
def gateway(services, system):
    _, secret = services.api_keys.issue(
        system, name="sta", permissions=["telemetry:write", "telemetry:read"]
    )
    return {"X-API-Key": secret}


@pytest.fixture
def sta(client, gateway):
    """Call the SensorThings API with the gateway's key: sta("get", "Things", params=…)."""

    def call(method: str, path: str, **kwargs):
        headers = {**gateway, **kwargs.pop("headers", {})}
        return client.request(method, f"{STA}/{path}" if path else STA, headers=headers, **kwargs)

    return call


def _thing(name: str, key: str, lon: float, lat: float, metric_name: str = "PM2.5") -> dict:
    return {
        "name": name,
        "description": f"{name} station",
        "properties": {"key": key, "operator": "环保局"},
        "Locations": [
            {
                "name": f"{name} site",
                "description": "roof",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} {metric_name}",
                "description": "hourly",
                "unitOfMeasurement": UGM3,
                "observationType": OM,
                "Sensor": {"name": f"{key} sensor", "encodingType": "text/html", "metadata": "x"},
                "ObservedProperty": {"name": metric_name, "definition": "urn:x:" + metric_name},
            }
        ],
    }


@pytest.fixture
def station(sta):
    """Two stations by deep insert; AQ-1 has eight readings, AQ-2 two."""
    first = sta("post", "Things", json=_thing("东站", "AQ-1", 113.60, 34.70))
    assert first.status_code == 201, first.text
    second = sta("post", "Things", json=_thing("西站", "AQ-2", 113.50, 34.80, "PM10"))
    assert second.status_code == 201, second.text
    streams = {
        s["properties"]["key"]: s["@iot.id"] for s in sta("get", "Datastreams").json()["value"]
    }
    rows = [[at(m), 10.0 * m, "good" if m != 3 else "suspect"] for m in range(8)]
    created = sta(
        "post",
        "CreateObservations",
        json=[
            {
                "Datastream": {"@iot.id": streams["AQ-1/pm25"]},
                "components": ["phenomenonTime", "result", "resultQuality"],
                "dataArray@iot.count": 8,
                "dataArray": rows,
            },
            {
                "Datastream": {"@iot.id": streams["AQ-2/pm10"]},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[at(0), 55], [at(9), 65]],
            },
        ],
    )
    assert created.status_code == 201, created.text
    return {"things": (first.json()["@iot.id"], second.json()["@iot.id"]), "streams": streams}


def ids(response) -> list:
    assert response.status_code == 200, response.text
    return [e["@iot.id"] for e in response.json()["value"]]


# --- the service root and each entity set --------------------------------------------------------


def test_the_service_root_lists_the_entity_sets_and_conformance(sta):
    root = sta("get", "")
    assert root.status_code == 200
    names = [s["name"] for s in root.json()["value"]]
    assert names == [
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "Sensors",
        "ObservedProperties",
        "Observations",
        "FeaturesOfInterest",
    ]
    assert root.json()["value"][0]["url"] == "http://testserver/sta/v1.1/Things"
    conformance = root.json()["serverSettings"]["conformance"]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data" in conformance
    assert sta("get", "/").json() == root.json()


def test_a_deep_insert_creates_every_entity_and_places_the_thing(sta, services, station):
    thing_id = station["things"][0]
    thing = sta("get", f"Things({thing_id})").json()
    assert thing["properties"] == {"operator": "环保局", "key": "AQ-1"}
    assert thing["@iot.selfLink"] == f"http://testserver/sta/v1.1/Things({thing_id})"
    assert thing["Datastreams@iot.navigationLink"].endswith(f"Things({thing_id})/Datastreams")
    device = services.devices.thing(_system(), "AQ-1")[0]
    assert (device.lon, device.lat) == (113.60, 34.70)
    locations = sta("get", f"Things({thing_id})/Locations").json()["value"]
    assert [loc["location"]["coordinates"] for loc in locations] == [[113.6, 34.7]]
    history = sta("get", f"Things({thing_id})/HistoricalLocations").json()["value"]
    assert [h["time"] for h in history] == ["2026-11-20T02:00:00Z"]
    stream = sta("get", f"Datastreams({station['streams']['AQ-1/pm25']})").json()
    assert stream["unitOfMeasurement"] == UGM3
    assert stream["observationType"] == OM
    assert stream["properties"] == {"key": "AQ-1/pm25", "metric": "pm25"}
    assert stream["phenomenonTime"] == f"{at(0)}/{at(7)}"
    assert stream["observedArea"] == {"type": "Point", "coordinates": [113.6, 34.7]}
    observed = sta("get", f"Datastreams({stream['@iot.id']})/ObservedProperty").json()
    assert (observed["name"], observed["properties"]) == ("PM2.5", {"metric": "pm25"})
    sensor = sta("get", f"Datastreams({stream['@iot.id']})/Sensor").json()
    assert sensor["name"] == "AQ-1 sensor"


def _system():
    from cityops.auth.model import Principal

    return Principal.system("test")


def test_every_entity_set_reads_as_a_collection_and_by_id(sta, station):
    for name in (
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "Sensors",
        "ObservedProperties",
        "Observations",
        "FeaturesOfInterest",
    ):
        page = sta("get", name)
        assert page.status_code == 200, (name, page.text)
        first = page.json()["value"][0]
        again = sta("get", urlsplit(first["@iot.selfLink"]).path.removeprefix(STA + "/"))
        assert again.json() == first, name
    observation = sta("get", "Observations").json()["value"][0]
    assert set(observation) >= {"phenomenonTime", "resultTime", "result", "resultQuality"}
    feature = sta("get", observation["FeatureOfInterest@iot.navigationLink"].split(STA + "/")[1])
    assert feature.json()["feature"] == {"type": "Point", "coordinates": [113.6, 34.7]}
    fed = sta("get", f"FeaturesOfInterest({feature.json()['@iot.id']})/Observations")
    assert len(fed.json()["value"]) == 8


def test_entities_are_created_one_by_one_and_linked(sta):
    sensor = sta("post", "Sensors", json={"name": "SDS011", "encodingType": "text/html"})
    observed = sta("post", "ObservedProperties", json={"name": "NO₂", "definition": "x"})
    thing = sta("post", "Things", json={"name": "三号站", "description": "no key given"})
    assert [r.status_code for r in (sensor, observed, thing)] == [201, 201, 201]
    thing_id = thing.json()["@iot.id"]
    assert thing.json()["properties"]["key"] == f"STA-{thing_id}"
    assert thing.headers["Location"] == thing.json()["@iot.selfLink"]
    assert observed.json()["properties"]["metric"] == "no2"
    location = sta(
        "post",
        f"Things({thing_id})/Locations",
        json={"name": "路口", "location": {"type": "Point", "coordinates": [113.7, 34.6]}},
    )
    assert location.status_code == 201, location.text
    stream = sta(
        "post",
        f"Things({thing_id})/Datastreams",
        json={
            "name": "NO2",
            "Sensor": {"@iot.id": sensor.json()["@iot.id"]},
            "ObservedProperty": {"@iot.id": observed.json()["@iot.id"], "name": "ignored"},
        },
    )
    assert stream.status_code == 201, stream.text
    assert stream.json()["properties"]["key"] == f"STA-{thing_id}/no2"
    assert stream.json()["unitOfMeasurement"]["symbol"] == "µg/m³"
    again = sta(
        "post",
        "Datastreams",
        json={
            "name": "NO2 bis",
            "Thing": {"@iot.id": thing_id},
            "Sensor": {"@iot.id": sensor.json()["@iot.id"]},
            "ObservedProperty": {"@iot.id": observed.json()["@iot.id"]},
        },
    )
    assert again.json()["properties"]["key"] == f"STA-{thing_id}/no2-2"
    linked = sta("get", f"Sensors({sensor.json()['@iot.id']})/Datastreams")
    assert len(ids(linked)) == 2
    located = sta("get", f"Locations({location.json()['@iot.id']})/Things")
    assert ids(located) == [thing_id]


def test_an_observed_property_must_name_a_metric(sta):
    for name, metric in (
        ("PM2.5", "pm25"),
        ("Air temperature", "temperature"),
        ("细颗粒物", "pm25"),
    ):
        created = sta("post", "ObservedProperties", json={"name": name, "definition": "x"})
        assert created.json()["properties"]["metric"] == metric, name
    by_definition = sta(
        "post",
        "ObservedProperties",
        json={"name": "风", "definition": "https://example.org/vocab/wind_speed"},
    )
    assert by_definition.json()["properties"]["metric"] == "wind_speed"
    by_property = sta(
        "post", "ObservedProperties", json={"name": "x", "properties": {"metric": "so2"}}
    )
    assert by_property.json()["properties"]["metric"] == "so2"
    unknown = sta("post", "ObservedProperties", json={"name": "Radon", "definition": "urn:radon"})
    body = assert_rule(unknown, "name", "known_metric")
    assert "pm25" in body["errors"][0]["message"]


def test_a_datastream_declares_the_canonical_unit_and_a_measurement(sta, station):
    thing_id = station["things"][0]
    base = {
        "name": "CO",
        "Sensor": {"name": "s"},
        "ObservedProperty": {"name": "CO"},
    }
    wrong_unit = sta(
        "post",
        f"Things({thing_id})/Datastreams",
        json={**base, "unitOfMeasurement": {"name": "µg", "symbol": "µg/m³", "definition": "x"}},
    )
    assert_rule(wrong_unit, "unitOfMeasurement", "canonical_unit")
    wrong_type = sta(
        "post", f"Things({thing_id})/Datastreams", json={**base, "observationType": "OM_Truth"}
    )
    assert_rule(wrong_type, "observationType", "one_of")
    missing = sta("post", "Datastreams", json={"name": "no links"})
    assert_rule(missing, "Thing", "required")
    nested = sta("post", "Things", json={"name": "x", "Datastreams": [{"name": "d", **base}]})
    assert nested.status_code == 201, nested.text
    typo = sta("post", "Things", json={"name": "x", "descripton": "typo"})
    assert_rule(typo, "descripton", "unknown_property")
    assert sta("get", "Sensors?$filter=name eq 's'").json()["value"][0]["name"] == "s"


# --- Observations in -----------------------------------------------------------------------------


def test_an_observation_is_checked_and_stored_like_every_reading(sta, client, gateway, station):
    stream = station["streams"]["AQ-1/pm25"]
    created = sta(
        "post",
        "Observations",
        json={"phenomenonTime": at(30), "result": 42, "Datastream": {"@iot.id": stream}},
    )
    assert created.status_code == 201, created.text
    ident = created.json()["@iot.id"]
    assert created.headers["Location"] == f"http://testserver/sta/v1.1/Observations({ident})"
    assert created.json()["result"] == 42.0
    under = sta(
        "post", f"Datastreams({stream})/Observations", json={"result": 43, "phenomenonTime": at(31)}
    )
    assert under.status_code == 201
    latest = client.get(
        "/api/v1/timeseries/latest", params={"datastream": "AQ-1/pm25"}, headers=gateway
    ).json()
    assert latest[0]["value"] == 43
    again = sta(
        "post",
        "Observations",
        json={"phenomenonTime": at(30), "result": 42, "Datastream": {"@iot.id": stream}},
    )
    assert again.json()["@iot.id"] == ident  # a repeated reading is the same one
    for body, field, rule in (
        ({"phenomenonTime": at(1), "result": "high"}, "result", "number"),
        ({"phenomenonTime": at(1), "result": 5000}, "result", "in_range"),
        ({"phenomenonTime": "2026-11-21T00:00:00Z", "result": 1}, "phenomenonTime", "not_future"),
        ({"phenomenonTime": "yesterday", "result": 1}, "phenomenonTime", "iso8601"),
        (
            {"phenomenonTime": at(1), "result": 1, "resultQuality": "great"},
            "resultQuality",
            "one_of",
        ),
        ({"phenomenonTime": at(1), "result": 1, "validTime": at(2)}, "validTime", "unsupported"),
        ({"phenomenonTime": at(1), "result": 1, "colour": "red"}, "colour", "unknown_property"),
    ):
        refused = sta("post", f"Datastreams({stream})/Observations", json=body)
        assert_rule(refused, field, rule)
    unknown = sta("post", "Observations", json={"result": 1, "Datastream": {"@iot.id": 999}})
    assert_rule(unknown, "Datastream", "known_datastream")
    unlinked = sta("post", "Observations", json={"result": 1, "phenomenonTime": at(1)})
    assert_rule(unlinked, "Datastream", "required")
    assert_problem(sta("post", "Datastreams(999)/Observations", json={"result": 1}), 404)


def test_create_observations_answers_each_row(sta, station):
    stream = station["streams"]["AQ-2/pm10"]
    answer = sta(
        "post",
        "CreateObservations",
        json=[
            {
                "Datastream": {"@iot.id": stream},
                "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
                "dataArray": [
                    [at(20), 70, 1],
                    [at(21), -3, 1],
                    [at(22)],
                    ["2026-13-01T00:00Z", 1, 1],
                ],
            }
        ],
    )
    assert answer.status_code == 201, answer.text
    first, negative, short, bad_time = answer.json()
    assert first.startswith("http://testserver/sta/v1.1/Observations(")
    assert negative.startswith("error: result:")
    assert "(rule: in_range)" in negative
    assert short == "error: dataArray: a row has 3 values (rule: components)"
    assert bad_time.startswith("error: phenomenonTime:")
    assert "iso8601" in bad_time
    got = sta("get", urlsplit(first).path.removeprefix(STA + "/")).json()
    assert (got["result"], got["phenomenonTime"]) == (70.0, at(20))
    no_link = sta("post", "CreateObservations", json=[{"components": ["result"], "dataArray": []}])
    assert_rule(no_link, "[0].Datastream", "required")
    bad_component = sta(
        "post",
        "CreateObservations",
        json=[{"Datastream": {"@iot.id": stream}, "components": ["colour"], "dataArray": []}],
    )
    assert_rule(bad_component, "[0].components", "one_of")
    wrong_count = sta(
        "post",
        "CreateObservations",
        json=[
            {
                "Datastream": {"@iot.id": stream},
                "components": ["result"],
                "dataArray@iot.count": 2,
                "dataArray": [[1]],
            }
        ],
    )
    assert_rule(wrong_count, "[0].dataArray@iot.count", "count")


# --- query options -------------------------------------------------------------------------------


def test_observation_filters_run_in_sql(sta, station):
    pm25 = station["streams"]["AQ-1/pm25"]

    def results(expression: str, **extra) -> list:
        page = sta("get", "Observations", params={"$filter": expression, **extra})
        assert page.status_code == 200, (expression, page.text)
        return sorted(o["result"] for o in page.json()["value"])

    assert results(f"phenomenonTime ge {at(5)} and result gt 30") == [50, 60, 65, 70]
    assert results("result lt 10 or result ge 70") == [0, 70]
    assert results("not (result le 60)") == [65, 70]
    assert results("resultQuality eq 'suspect'") == [30]
    assert results("resultQuality ne 'good'") == [30]
    assert results(f"Datastream/@iot.id eq {pm25} and result add 5 gt 70") == [70]
    assert results("Datastream/ObservedProperty/name eq 'PM10'") == [55, 65]
    assert results("startswith(Datastream/Thing/name, '西')") == [55, 65]
    assert results("FeatureOfInterest/name eq '西站 site'") == [55, 65]
    assert results("result eq null") == []
    assert results("result ne null and resultTime lt 2026-11-19T08:01:00Z") == [0, 55]
    assert results("phenomenonTime gt now() sub duration'P2D'") == sorted(
        [10.0 * m for m in range(8)] + [55, 65]
    )
    assert results("phenomenonTime lt 2026-11-19") == []
    first = sta("get", "Observations", params={"$top": 1}).json()["value"][0]
    assert results(f"@iot.id eq {first['@iot.id']}") == [first["result"]]
    assert results("result div 0 gt 1") == []


def test_observation_filters_that_cannot_run_in_sql_are_refused(sta, station):
    for expression, rule in (
        ("round(result) eq 3", "unsupported"),
        ("result mod 2 eq 0", "unsupported"),
        ("result eq 'x'", "type"),
        ("phenomenonTime gt 5", "type"),
        ("resultQuality gt 'good'", "type"),
        ("resultQuality eq 'superb'", "one_of"),
        (
            "FeatureOfInterest/name eq 'x' and result gt FeatureOfInterest/properties/x",
            "unsupported",
        ),
    ):
        refused = sta("get", "Observations", params={"$filter": expression})
        body = assert_rule(refused, "$filter", rule)
        assert body["errors"][0]["message"]
    huge = sta("get", "Observations", params={"$filter": "result mul 1e308 mul 1e308 gt 1"})
    assert huge.status_code in (200, 422)  # SQLite computes ∞; PostgreSQL refuses the overflow
    sort = sta("get", "Observations", params={"$orderby": "Datastream/name"})
    assert_rule(sort, "$orderby", "unsupported")


def test_a_bad_filter_names_the_position(sta, station):
    bad = sta("get", "Things", params={"$filter": "name eq 'x' andd true"})
    body = assert_rule(bad, "$filter", "syntax")
    assert "at character 13" in body["errors"][0]["message"]
    unknown = sta("get", "Things", params={"$filter": "nmae eq 'x'"})
    assert "did you mean 'name'" in assert_rule(unknown, "$filter", "unknown_property")["detail"]
    assert_rule(sta("get", "Things", params={"$top": "20000"}), "$top", "range")
    assert_rule(sta("get", "Things", params={"$colour": "1"}), "$colour", "unknown_option")
    assert_rule(
        sta("get", "Things", params={"$expand": "Datastreams/Observations"}), "$expand", "one_level"
    )
    repeated = sta("get", "Things?$top=1&$top=2")
    assert_rule(repeated, "$top", "duplicate")


def test_small_sets_filter_in_python(sta, station):
    east, west = station["things"]
    assert ids(sta("get", "Things", params={"$filter": "name eq '东站'"})) == [east]
    assert ids(sta("get", "Things", params={"$filter": "startswith(properties/key, 'AQ-')"})) == [
        east,
        west,
    ]
    assert ids(sta("get", "Things", params={"$filter": "properties/missing eq null"})) == [
        east,
        west,
    ]
    assert ids(sta("get", "Things", params={"$filter": "not (properties/missing ne null)"})) == [
        east,
        west,
    ]
    assert ids(
        sta("get", "Things", params={"$filter": "Datastreams/ObservedProperty/name eq 'PM10'"})
    ) == [west]
    assert ids(
        sta("get", "Things", params={"$filter": "length(name) eq 2 and tolower('A') eq 'a'"})
    ) == [east, west]
    polygon = (
        "geography'POLYGON((113.55 34.65, 113.65 34.65, 113.65 34.75, 113.55 34.75, 113.55 34.65))'"
    )
    inside = sta("get", "Locations", params={"$filter": f"geo.intersects(location, {polygon})"})
    assert len(ids(inside)) == 1
    near = sta("get", "Things", params={"$filter": f"st_within(Locations/location, {polygon})"})
    assert ids(near) == [east]
    assert ids(sta("get", "Datastreams", params={"$filter": "Thing/name eq '西站'"})) == [
        station["streams"]["AQ-2/pm10"]
    ]
    through = sta("get", "Datastreams", params={"$filter": "Observations/result gt 3"})
    assert_rule(through, "$filter", "unsupported")
    recent = sta("get", "HistoricalLocations", params={"$filter": "time ge 2026-11-20T00:00:00Z"})
    assert len(ids(recent)) == 2


def test_orderby_top_skip_count_and_select(sta, station):
    page = sta(
        "get",
        "Observations",
        params={"$orderby": "result desc", "$top": "3", "$skip": "1", "$count": "true"},
    )
    body = page.json()
    assert body["@iot.count"] == 10
    assert [o["result"] for o in body["value"]] == [65, 60, 55]
    assert "$skip=4" in body["@iot.nextLink"].replace("%24", "$")
    upper = sta(
        "get", "Observations", params={"$orderby": "phenomenonTime DESC,result", "$top": "2"}
    )
    assert [o["phenomenonTime"] for o in upper.json()["value"]] == [at(9), at(7)]
    things = sta("get", "Things", params={"$orderby": "name desc", "$select": "name,id"}).json()
    assert things["value"][0] == {
        "name": "西站",
        "@iot.id": station["things"][1],
        "@iot.selfLink": f"http://testserver/sta/v1.1/Things({station['things'][1]})",
    }
    chosen = sta("get", "Observations", params={"$select": "result", "$top": "1"}).json()
    assert chosen["value"] == [{"result": 0.0}]
    counted = sta("get", "Things", params={"$count": "true", "$top": "0"}).json()
    assert (counted["@iot.count"], counted["value"]) == (2, [])


def test_next_links_page_through_everything(sta, client, gateway, station):
    seen: list = []
    url = f"{STA}/Observations?$top=3&$orderby=phenomenonTime"
    pages = 0
    while url:
        page = client.get(url, headers=gateway).json()
        seen.extend(o["@iot.id"] for o in page["value"])
        url = page.get("@iot.nextLink", "").replace("http://testserver", "")
        pages += 1
    assert (len(seen), len(set(seen)), pages) == (10, 10, 4)
    things = sta("get", "Things", params={"$top": "1"}).json()
    follow = client.get(things["@iot.nextLink"], headers=gateway).json()
    assert len(follow["value"]) == 1
    assert "@iot.nextLink" not in follow


def test_expand_one_level_with_options(sta, station):
    east = station["things"][0]
    thing = sta(
        "get",
        f"Things({east})",
        params={"$expand": "Datastreams($select=name;$expand=ObservedProperty),Locations"},
    )
    assert thing.status_code == 422  # two levels
    thing = sta("get", f"Things({east})", params={"$expand": "Datastreams($select=name),Locations"})
    body = thing.json()
    assert body["Datastreams"] == [{"name": "东站 PM2.5"}]
    assert body["Locations"][0]["name"] == "东站 site"
    streams = sta(
        "get",
        "Datastreams",
        params={
            "$filter": "properties/metric eq 'pm25'",
            "$expand": "Observations($orderby=phenomenonTime desc;$top=2;$count=true),Thing",
        },
    ).json()["value"]
    assert [o["result"] for o in streams[0]["Observations"]] == [70, 60]
    assert streams[0]["Observations@iot.count"] == 8
    assert "Observations@iot.nextLink" in streams[0]
    assert streams[0]["Thing"]["name"] == "东站"
    observation = sta(
        "get", "Observations", params={"$top": "1", "$expand": "Datastream,FeatureOfInterest"}
    )
    first = observation.json()["value"][0]
    assert first["Datastream"]["name"] == "东站 PM2.5"
    assert first["FeatureOfInterest"]["feature"]["type"] == "Point"


def test_result_format_data_array(sta, station):
    pm10 = station["streams"]["AQ-2/pm10"]
    page = sta(
        "get",
        f"Datastreams({pm10})/Observations",
        params={"$resultFormat": "dataArray", "$select": "phenomenonTime,result"},
    ).json()
    assert page["value"] == [
        {
            "Datastream@iot.navigationLink": f"http://testserver/sta/v1.1/Datastreams({pm10})",
            "components": ["phenomenonTime", "result"],
            "dataArray": [[at(0), 55.0], [at(9), 65.0]],
            "dataArray@iot.count": 2,
        }
    ]
    everything = sta("get", "Observations", params={"$resultFormat": "dataArray"}).json()
    assert [g["dataArray@iot.count"] for g in everything["value"]] == [8, 2]
    assert everything["value"][0]["components"] == ["id", "phenomenonTime", "result"]
    wrong = sta("get", "Things", params={"$resultFormat": "dataArray"})
    assert_rule(wrong, "$resultFormat", "unsupported")


# --- updates -------------------------------------------------------------------------------------


def test_merge_patch_and_json_patch(sta, station):
    east = station["things"][0]
    merged = sta("patch", f"Things({east})", json={"name": "东站新", "properties": {"height": 3}})
    assert merged.status_code == 200, merged.text
    assert merged.json()["properties"] == {"height": 3, "key": "AQ-1"}
    patched = sta(
        "patch",
        f"Things({east})",
        content='[{"op": "test", "path": "/name", "value": "东站新"},'
        ' {"op": "replace", "path": "/description", "value": "屋顶"},'
        ' {"op": "add", "path": "/properties/floor", "value": 9},'
        ' {"op": "remove", "path": "/properties/height"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["description"], patched.json()["properties"]) == (
        "屋顶",
        {"floor": 9, "key": "AQ-1"},
    )
    failed = sta(
        "patch",
        f"Things({east})",
        json=[{"op": "test", "path": "/name", "value": "other"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert_rule(failed, "patch[0]", "test")
    key = sta("patch", f"Things({east})", json={"properties": {"key": "AQ-9"}})
    assert_rule(key, "properties.key", "read_only")
    stream = station["streams"]["AQ-1/pm25"]
    renamed = sta("patch", f"Datastreams({stream})", json={"name": "PM2.5 东", "description": "d"})
    assert renamed.json()["name"] == "PM2.5 东"
    pm10 = sta("get", f"Datastreams({station['streams']['AQ-2/pm10']})/ObservedProperty").json()
    other = sta(
        "patch", f"Datastreams({stream})", json={"ObservedProperty": {"@iot.id": pm10["@iot.id"]}}
    )
    assert_rule(other, "ObservedProperty", "same_metric")
    sensor = sta("patch", "Sensors(1)", json={"metadata": "https://example.org/sds011.pdf"})
    assert sensor.status_code == 200, sensor.text
    assert sensor.json()["metadata"] == "https://example.org/sds011.pdf"
    observed = sta("patch", f"ObservedProperties({pm10['@iot.id']})", json={"description": "粗"})
    assert observed.json()["properties"]["metric"] == "pm10"


def test_moving_a_location_moves_its_thing_and_put_reads_like_patch(sta, services, station):
    east = station["things"][0]
    location = sta("get", f"Things({east})/Locations").json()["value"][0]
    moved = sta(
        "patch",
        f"Locations({location['@iot.id']})",
        json={"location": {"type": "Point", "coordinates": [113.61, 34.71]}},
    )
    assert moved.status_code == 200, moved.text
    device = services.devices.thing(_system(), "AQ-1")[0]
    assert (device.lon, device.lat) == (113.61, 34.71)
    relocated = sta(
        "patch",
        f"Things({east})",
        json={
            "Locations": [
                {"name": "新址", "location": {"type": "Point", "coordinates": [113.7, 34.8]}}
            ]
        },
    )
    assert relocated.status_code == 200, relocated.text
    assert len(sta("get", f"Things({east})/HistoricalLocations").json()["value"]) == 2
    assert services.devices.thing(_system(), "AQ-1")[0].lon == 113.7
    whole = sta("get", f"Things({east})").json()
    whole["name"] = "PUT 名"
    put = sta("put", f"Things({east})", json=whole)
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "PUT 名"


def test_what_cannot_be_created_or_changed_is_a_405(sta, station):
    assert_problem(sta("post", "HistoricalLocations", json={"time": at(1)}), 405)
    assert_problem(sta("post", "FeaturesOfInterest", json={"name": "x"}), 405)
    first = sta("get", "Observations", params={"$top": "1"}).json()["value"][0]
    assert_problem(sta("patch", f"Observations({first['@iot.id']})", json={"result": 1}), 405)
    assert_problem(sta("delete", f"Things({station['things'][0]})"), 405)
    assert_problem(sta("post", f"Things({station['things'][0]})", json={}), 405)


def test_unknown_ids_and_paths_are_404(sta, station):
    for path in (
        "Things(999)",
        "Observations(12345)",
        f"Things({station['things'][0]})/Datastreams(999)",
        "Gadgets",
        "Things(1)/Colour",
        "Things/Datastreams",
        "Things(999)/Datastreams",
    ):
        assert_problem(sta("get", path), 404)
    assert_problem(sta("patch", "Things(999)", json={"name": "x"}), 404)


def test_properties_values_and_refs(sta, station):
    east = station["things"][0]
    assert sta("get", f"Things({east})/name").json() == {"name": "东站"}
    raw = sta("get", f"Things({east})/name/$value")
    assert (raw.text, raw.headers["content-type"]) == ("东站", "text/plain; charset=utf-8")
    refs = sta("get", "Things/$ref").json()["value"]
    assert refs[0] == {"@iot.selfLink": f"http://testserver/sta/v1.1/Things({east})"}
    one = sta("get", f"Datastreams({station['streams']['AQ-1/pm25']})/Thing/$ref").json()
    assert one == {"@iot.selfLink": f"http://testserver/sta/v1.1/Things({east})"}
    thing = sta("get", f"Datastreams({station['streams']['AQ-1/pm25']})/Thing").json()
    assert thing["@iot.id"] == east


def test_reading_needs_telemetry_read_and_writing_telemetry_write(
    client, services, system, station
):
    assert_problem(client.get(f"{STA}/Things"), 401)
    assert_problem(client.post(f"{STA}/Things", json={"name": "x"}), 401)
    _, reader = services.api_keys.issue(system, name="reader", permissions=["telemetry:read"])
    assert client.get(f"{STA}/Things", headers={"X-API-Key": reader}).status_code == 200
    for method, path in (
        ("post", "Things"),
        ("post", "CreateObservations"),
        ("patch", "Things(1)"),
    ):
        answer = client.request(method, f"{STA}/{path}", json={}, headers={"X-API-Key": reader})
        assert_problem(answer, 403)
    _, other = services.api_keys.issue(system, name="cases", permissions=["cases:read"])
    assert_problem(client.get(f"{STA}/Things", headers={"X-API-Key": other}), 403)


def test_devices_registered_through_api_v1_show_in_sensorthings(client, gateway, sta):
    client.post(
        "/api/v1/things",
        json={"key": "NZ-1", "name": "噪声", "lon": 113.55, "lat": 34.8},
        headers=gateway,
    )
    client.post(
        "/api/v1/things/NZ-1/datastreams",
        json={"metric": "noise_laeq", "sensor": "AWA6228"},
        headers=gateway,
    )
    stream = sta("get", "Datastreams", params={"$expand": "ObservedProperty,Sensor,Thing"}).json()[
        "value"
    ][0]
    assert stream["ObservedProperty"]["properties"]["metric"] == "noise_laeq"
    assert stream["Sensor"]["name"] == "AWA6228"
    assert stream["unitOfMeasurement"]["symbol"] == "dB(A)"
    thing = sta("get", f"Things({stream['Thing']['@iot.id']})", params={"$expand": "Locations"})
    assert thing.json()["Locations"][0]["location"]["coordinates"] == [113.55, 34.8]
    client.put("/api/v1/things/NZ-1/location", json={"lon": 113.56, "lat": 34.81}, headers=gateway)
    moved = sta("get", f"Things({stream['Thing']['@iot.id']})/Locations").json()["value"]
    assert moved[0]["location"]["coordinates"] == [113.56, 34.81]
    assert len(sta("get", "HistoricalLocations").json()["value"]) == 2
    assert len(sta("get", "ObservedProperties").json()["value"]) == 1  # linked once


def test_a_reader_limited_to_a_division_sees_only_its_devices(client, services, system, station):
    from cityops.auth.scopes import parse_scope

    _, scoped = services.api_keys.issue(
        system,
        name="district",
        permissions=["telemetry:read"],
        scope=parse_scope("division:410102"),
    )
    headers = {"X-API-Key": scoped}
    for path in ("Things", "Datastreams", "Observations", "HistoricalLocations"):
        page = client.get(f"{STA}/{path}", headers=headers)
        assert page.json()["value"] == [], path
    assert len(client.get(f"{STA}/ObservedProperties", headers=headers).json()["value"]) == 2
    assert_problem(client.get(f"{STA}/Things({station['things'][0]})", headers=headers), 404)
