"""The decoder turns telemetry items into checked readings, one verdict per item, never raising.

The registry here is fed by a hand-made loader (no store): the datastreams, their ranges and the
expected conversions are written out below, so a slip in the decoder, the registry's affine unit
factors or the time rules shows as a wrong number or a wrong error field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.sensing.decode import EARLIEST_MS, MAX_BATCH, Decoder, DecodeRules, csv_items
from cityops.sensing.model import (
    QUALITY_CODES,
    Datastream,
    IngestReport,
    ItemError,
    ObservationBatch,
    from_millis,
    to_millis,
)
from cityops.sensing.registry import StreamRegistry

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
NOW_MS = 1_795_140_000_000  # 2026-11-20T02:00:00Z: 20,777 days and 2 hours after 1970
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
AQ, NZ, WX = 10, 11, 12  # thing ids


def _stream(
    stream_id: int,
    key: str,
    thing_id: int,
    metric: str,
    unit: str,
    minimum: float,
    maximum: float,
) -> Datastream:
    return Datastream(
        id=stream_id,
        key=key,
        thing_id=thing_id,
        metric=metric,
        name=key,
        description="",
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        interval_seconds=60,
        sensor="",
        properties={},
        created_at=CREATED,
    )


# pm25's range is narrowed to 0–1000 (the metric allows 2000): the stream's range is the one used.
PM25 = _stream(1, "AQ-0001/pm25", AQ, "pm25", "ug/m3", 0.0, 1000.0)
PM10 = _stream(2, "AQ-0001/pm10", AQ, "pm10", "ug/m3", 0.0, 10000.0)
SO2 = _stream(3, "AQ-0001/so2", AQ, "so2", "ug/m3", 0.0, 10000.0)
NOISE = _stream(4, "NZ-0001/noise_laeq", NZ, "noise_laeq", "dB", 20.0, 140.0)
TEMP = _stream(5, "WX-0001/temperature", WX, "temperature", "Cel", -80.0, 60.0)
STREAMS = [PM25, PM10, SO2, NOISE, TEMP]
THINGS = {AQ: "AQ-0001", NZ: "NZ-0001", WX: "WX-0001"}


class CountingLoader:
    """A registry loader over a mutable list of datastreams that counts its calls."""

    def __init__(self, streams: Sequence[Datastream] = STREAMS) -> None:
        self.streams = list(streams)
        self.things = dict(THINGS)
        self.calls = 0

    def __call__(self) -> tuple[list[Datastream], dict[int, str]]:
        self.calls += 1
        return list(self.streams), dict(self.things)


def _decoder(
    loader: CountingLoader | None = None, *, future_ms: int = 300_000
) -> tuple[Decoder, CountingLoader]:
    loader = loader or CountingLoader()
    registry = StreamRegistry(loader)
    return Decoder(registry, DecodeRules(zone=SHANGHAI, future_ms=future_ms)), loader


def _decode(items: Sequence[Any], **kwargs: Any) -> tuple[ObservationBatch, list[ItemError]]:
    decoder, _ = _decoder()
    return decoder.decode(items, NOW_MS, **kwargs)


def _rows(batch: ObservationBatch) -> list[tuple[int, int, float, int]]:
    return list(zip(batch.streams, batch.times, batch.values, batch.qualities, strict=True))


def _only_error(items: Sequence[Any], **kwargs: Any) -> ItemError:
    batch, errors = _decode(items, **kwargs)
    assert len(batch) == 0, _rows(batch)
    assert len(errors) == 1, errors
    return errors[0]


T_0100Z = "2026-11-20T01:00:00Z"
MS_0100Z = NOW_MS - 3_600_000


# ------------------------------------------------------------------ the model's time helpers


def test_to_millis_counts_utc_epoch_milliseconds_and_drops_microseconds():
    assert NOW_MS == (20_777 * 86_400 + 7_200) * 1000
    assert to_millis(NOW) == NOW_MS
    assert to_millis(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert to_millis(datetime(2000, 1, 1, tzinfo=UTC)) == EARLIEST_MS
    assert to_millis(NOW + timedelta(microseconds=1999)) == NOW_MS + 1
    assert to_millis(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)) == NOW_MS
    assert to_millis(datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)) == -1


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_from_millis_and_to_millis_round_trip(millis):
    moment = from_millis(millis)
    assert moment.utcoffset() == timedelta(0)
    assert to_millis(moment) == millis


def test_quality_codes_are_the_four_documented_flags():
    assert QUALITY_CODES == {"good": 0, "suspect": 1, "estimated": 2, "bad": 3}


def test_ingest_report_counts_rejections_and_truncates_listed_errors():
    errors = tuple(ItemError(i, f"observations[{i}].value", "number", "x") for i in range(3))
    report = IngestReport(received=5, accepted=1, duplicates=1, errors=errors)
    assert report.rejected == 3
    data = report.as_json(max_errors=2)
    assert data["rejected"] == 3
    assert [e["index"] for e in data["errors"]] == [0, 1]
    assert data["errors_truncated"] is True
    assert report.as_json()["errors_truncated"] is False


# ------------------------------------------------------------------ the three item shapes


def test_our_shape_names_the_stream_by_id_key_or_digit_text():
    items = [
        {"datastream": 1, "time": T_0100Z, "value": 35},
        {"datastream": "AQ-0001/pm10", "time": T_0100Z, "value": 61.5},
        {"datastream": "3", "time": T_0100Z, "value": 7, "quality": "suspect"},
    ]
    batch, errors = _decode(items)
    assert errors == []
    assert _rows(batch) == [(1, MS_0100Z, 35.0, 0), (2, MS_0100Z, 61.5, 0), (3, MS_0100Z, 7.0, 1)]
    assert all(isinstance(v, float) for v in batch.values)


@pytest.mark.parametrize(
    ("quality", "code"),
    [(None, 0), ("good", 0), ("suspect", 1), ("estimated", 2), ("bad", 3), (2, 2), (3, 3)],
)
def test_quality_is_read_as_a_name_or_a_code(quality, code):
    item: dict[str, Any] = {"datastream": 1, "time": T_0100Z, "value": 1}
    if quality is not None:
        item["quality"] = quality
    batch, errors = _decode([item])
    assert errors == []
    assert batch.qualities == [code]


@pytest.mark.parametrize("quality", ["excellent", "BAD", 4, -1, True, 1.0, ["bad"]])
def test_an_unknown_quality_is_refused_on_the_quality_field(quality):
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": 1, "quality": quality}])
    assert (error.field, error.rule) == ("observations[0].quality", "one_of")


def test_a_device_item_spreads_its_values_over_the_things_streams_at_one_time():
    item = {
        "thing": "AQ-0001",
        "time": "2026-11-20T09:00:00+08:00",
        "values": {"pm25": 35, "pm10": 61, "so2": 8.5},
        "quality": "estimated",
    }
    batch, errors = _decode([item])
    assert errors == []
    assert _rows(batch) == [(1, MS_0100Z, 35.0, 2), (2, MS_0100Z, 61.0, 2), (3, MS_0100Z, 8.5, 2)]


def test_a_device_item_with_one_bad_value_refuses_all_of_its_values():
    items = [
        {"datastream": 1, "time": T_0100Z, "value": 10},
        {"thing": "AQ-0001", "time": T_0100Z, "values": {"pm25": 35, "pm10": -1, "so2": 8}},
        {"datastream": 2, "time": T_0100Z, "value": 20},
    ]
    batch, errors = _decode(items)
    assert _rows(batch) == [(1, MS_0100Z, 10.0, 0), (2, MS_0100Z, 20.0, 0)]
    assert [(e.index, e.field, e.rule) for e in errors] == [
        (1, "observations[1].values.pm10", "in_range")
    ]


@pytest.mark.parametrize(
    ("item", "field", "rule"),
    [
        (
            {"thing": "AQ-0001", "time": T_0100Z, "values": {"pm25": "35"}},
            "observations[0].values.pm25",
            "number",
        ),
        (
            {"thing": "AQ-0001", "time": T_0100Z, "values": {"pm25": 1, "co": 1}},
            "observations[0].values.co",
            "known_datastream",
        ),
        (
            {"thing": "XX-9999", "time": T_0100Z, "values": {"pm25": 1}},
            "observations[0].thing",
            "known_thing",
        ),
        (
            {"thing": "", "time": T_0100Z, "values": {"pm25": 1}},
            "observations[0].thing",
            "required",
        ),
        ({"time": T_0100Z, "values": {"pm25": 1}}, "observations[0].thing", "required"),
        ({"thing": "AQ-0001", "time": T_0100Z, "values": {}}, "observations[0].values", "object"),
        ({"thing": "AQ-0001", "time": T_0100Z, "values": [35]}, "observations[0].values", "object"),
        (
            {"thing": "AQ-0001", "time": "noon", "values": {"pm25": 1}},
            "observations[0].time",
            "iso8601",
        ),
        (
            {"thing": "AQ-0001", "time": T_0100Z, "values": {"pm25": 1}, "quality": "meh"},
            "observations[0].quality",
            "one_of",
        ),
    ],
)
def test_a_device_item_is_refused_with_the_field_that_broke(item, field, rule):
    error = _only_error([item])
    assert (error.index, error.field, error.rule) == (0, field, rule)


def test_a_sensorthings_observation_links_its_datastream_by_iot_id():
    item = {
        "phenomenonTime": "2026-11-20T01:00:00Z",
        "result": 42,
        "resultQuality": "suspect",
        "Datastream": {"@iot.id": 2},
    }
    batch, errors = _decode([item])
    assert errors == []
    assert _rows(batch) == [(2, MS_0100Z, 42.0, 1)]


def test_a_sensorthings_observation_without_a_link_takes_the_callers_datastream():
    items = [
        {"phenomenonTime": T_0100Z, "result": 42},
        {"phenomenonTime": T_0100Z, "result": 43, "Datastream": {"@iot.id": 2}},
    ]
    batch, errors = _decode(items, datastream="AQ-0001/pm25")
    assert errors == []
    assert _rows(batch) == [(1, MS_0100Z, 42.0, 0), (2, MS_0100Z, 43.0, 0)]


def test_our_shape_without_a_datastream_takes_the_callers_datastream():
    batch, errors = _decode([{"time": T_0100Z, "value": 5}], datastream=3)
    assert errors == []
    assert _rows(batch) == [(3, MS_0100Z, 5.0, 0)]


def test_a_sensorthings_interval_time_is_read_at_its_start():
    item = {"phenomenonTime": "2026-11-20T01:00:00Z/2026-11-20T01:59:59Z", "result": 1}
    batch, errors = _decode([item], datastream=1)
    assert errors == []
    assert batch.times == [MS_0100Z]


@pytest.mark.parametrize(
    ("item", "field", "rule"),
    [
        ({"phenomenonTime": T_0100Z, "result": 1}, "observations[0].datastream", "required"),
        (
            {"phenomenonTime": T_0100Z, "result": 1, "Datastream": 2},
            "observations[0].Datastream",
            "iot_id",
        ),
        (
            {"phenomenonTime": T_0100Z, "result": 1, "Datastream": {"id": 2}},
            "observations[0].Datastream",
            "iot_id",
        ),
        (
            {"phenomenonTime": T_0100Z, "result": 1, "Datastream": {"@iot.id": 77}},
            "observations[0].datastream",
            "known_datastream",
        ),
        (
            {"phenomenonTime": "soon", "result": 1, "Datastream": {"@iot.id": 1}},
            "observations[0].phenomenonTime",
            "iso8601",
        ),
        (
            {"phenomenonTime": T_0100Z, "result": None, "Datastream": {"@iot.id": 1}},
            "observations[0].result",
            "number",
        ),
        (
            {"phenomenonTime": T_0100Z, "result": 1001, "Datastream": {"@iot.id": 1}},
            "observations[0].result",
            "in_range",
        ),
        (
            {
                "phenomenonTime": T_0100Z,
                "result": 1,
                "resultQuality": "x",
                "Datastream": {"@iot.id": 1},
            },
            "observations[0].quality",
            "one_of",
        ),
    ],
)
def test_a_sensorthings_observation_is_refused_with_its_own_field_names(item, field, rule):
    error = _only_error([item])
    assert (error.field, error.rule) == (field, rule)


def test_csv_lines_become_items_with_numbers_and_optional_quality():
    text = (
        "# datastream,time,value,quality\n"
        "\n"
        "AQ-0001/pm25, 2026-11-20T01:00:00Z, 35\n"
        "2,2026-11-20T09:00:00+08:00,61.5,bad\n"
        "  # an indented comment\n"
        "3,2026-11-20T01:00:00Z,abc\n"
        "1,2026-11-20T01:00:00Z\n"
        "1,2026-11-20T01:00:00Z,1,good,extra\n"
        "1,2026-11-20T01:01:00Z,1,\n"
    )
    items = csv_items(text)
    assert items[0] == {"datastream": "AQ-0001/pm25", "time": "2026-11-20T01:00:00Z", "value": 35.0}
    assert items[1]["quality"] == "bad"
    assert items[2]["value"] == "abc"
    assert len(items) == 6
    assert "quality" not in items[5]
    batch, errors = _decode(items)
    assert _rows(batch) == [
        (1, MS_0100Z, 35.0, 0),
        (2, MS_0100Z, 61.5, 3),
        (1, MS_0100Z + 60_000, 1.0, 0),
    ]
    assert [(e.index, e.field, e.rule) for e in errors] == [
        (2, "observations[2].value", "number"),
        (3, "observations[3].datastream", "required"),
        (4, "observations[4].datastream", "required"),
    ]


# ------------------------------------------------------------------ refusal rules and fields


def test_each_refusal_names_its_items_position_and_the_neighbours_go_on():
    items = [
        {"datastream": 1, "time": T_0100Z, "value": 1},
        {"datastream": 1, "time": "2026-11-20T01:01:00Z", "value": 2},
        {"datastream": 1, "time": "2026-11-20T01:02:00Z", "value": 3},
        {"datastream": 1, "time": "2026-11-20T01:03:00Z", "value": "four"},
        {"datastream": 1, "time": "2026-11-20T01:04:00Z", "value": 5},
    ]
    batch, errors = _decode(items)
    assert batch.values == [1.0, 2.0, 3.0, 5.0]
    assert [(e.index, e.field, e.rule) for e in errors] == [(3, "observations[3].value", "number")]
    assert errors[0].message


def test_the_prefix_starts_every_error_field():
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": None}], prefix="items")
    assert error.field == "items[0].value"


@pytest.mark.parametrize("item", [35, "AQ-0001/pm25,2026-11-20T01:00:00Z,35", None, [1, 2]])
def test_an_item_that_is_not_an_object_is_refused_at_its_position(item):
    error = _only_error([item])
    assert (error.field, error.rule) == ("observations[0]", "object")


@pytest.mark.parametrize(
    "raw", ["yesterday", "", "2026-13-01T00:00:00Z", "20 Nov 2026", 1_795_136_400_000, None, ["x"]]
)
def test_a_time_that_is_not_iso8601_text_is_refused(raw):
    error = _only_error([{"datastream": 1, "time": raw, "value": 1}])
    assert (error.field, error.rule) == ("observations[0].time", "iso8601")


def test_a_time_up_to_the_tolerance_ahead_is_accepted_and_one_millisecond_more_is_refused():
    decoder, _ = _decoder(future_ms=300_000)
    edge = (NOW + timedelta(seconds=300)).isoformat()
    beyond = (NOW + timedelta(seconds=300, milliseconds=1)).isoformat()
    batch, errors = decoder.decode(
        [
            {"datastream": 1, "time": edge, "value": 1},
            {"datastream": 1, "time": beyond, "value": 1},
        ],
        NOW_MS,
    )
    assert batch.times == [NOW_MS + 300_000]
    assert [(e.index, e.field, e.rule) for e in errors] == [
        (1, "observations[1].time", "not_future")
    ]


def test_a_zero_tolerance_refuses_any_time_after_now():
    decoder, _ = _decoder(future_ms=0)
    batch, errors = decoder.decode(
        [
            {"datastream": 1, "time": NOW.isoformat(), "value": 1},
            {"datastream": 1, "time": "2026-11-20T02:00:00.001Z", "value": 1},
        ],
        NOW_MS,
    )
    assert batch.times == [NOW_MS]
    assert [e.rule for e in errors] == ["not_future"]


def test_times_before_2000_are_refused_and_2000_itself_is_accepted():
    batch, errors = _decode(
        [
            {"datastream": 1, "time": "1999-12-31T23:59:59.999Z", "value": 1},
            {"datastream": 1, "time": "2000-01-01T00:00:00Z", "value": 1},
            {"datastream": 1, "time": "1970-01-01T00:00:00Z", "value": 1},
        ]
    )
    assert batch.times == [EARLIEST_MS]
    assert [(e.index, e.field, e.rule) for e in errors] == [
        (0, "observations[0].time", "not_before_2000"),
        (2, "observations[2].time", "not_before_2000"),
    ]


def test_a_naive_time_is_read_in_the_citys_zone():
    batch, errors = _decode(
        [
            {"datastream": 1, "time": "2026-11-20T09:00:00", "value": 1},
            {"datastream": 1, "time": "2026-11-20T01:00:00", "value": 2},
            {"datastream": 1, "time": "2026-11-20T01:00:00+00:00", "value": 3},
        ]
    )
    assert errors == []
    assert batch.times == [MS_0100Z, MS_0100Z - 8 * 3_600_000, MS_0100Z]


def test_a_naive_time_in_the_future_by_the_citys_clock_is_refused():
    # 10:06 in Shanghai is 02:06Z: six minutes ahead, beyond the five-minute tolerance. Read as
    # UTC it would be eight hours ahead as well, so also check a naive time that is only late in
    # Shanghai: 10:04 there is 02:04Z (accepted), but read as UTC it would be refused.
    batch, errors = _decode(
        [
            {"datastream": 1, "time": "2026-11-20T10:06:00", "value": 1},
            {"datastream": 1, "time": "2026-11-20T10:04:00", "value": 1},
        ]
    )
    assert batch.times == [NOW_MS + 240_000]
    assert [(e.index, e.rule) for e in errors] == [(0, "not_future")]


@pytest.mark.parametrize("raw", [True, False, "35", None, [35], {"v": 35}])
def test_a_value_that_is_not_a_number_is_refused_booleans_included(raw):
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": raw}])
    assert (error.field, error.rule) == ("observations[0].value", "number")


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_finite_is_refused(raw):
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": raw}])
    assert (error.field, error.rule) == ("observations[0].value", "finite")


def test_the_streams_own_range_is_inclusive_and_narrower_than_the_metrics():
    batch, errors = _decode(
        [
            {"datastream": 1, "time": T_0100Z, "value": 0},
            {"datastream": 1, "time": "2026-11-20T01:01:00Z", "value": 1000},
            {"datastream": 1, "time": "2026-11-20T01:02:00Z", "value": -0.001},
            {"datastream": 1, "time": "2026-11-20T01:03:00Z", "value": 1000.001},
            {"datastream": 1, "time": "2026-11-20T01:04:00Z", "value": 1500},  # metric allows
            {"datastream": 4, "time": T_0100Z, "value": 19.9},
        ]
    )
    assert batch.values == [0.0, 1000.0]
    assert [(e.index, e.field, e.rule) for e in errors] == [
        (2, "observations[2].value", "in_range"),
        (3, "observations[3].value", "in_range"),
        (4, "observations[4].value", "in_range"),
        (5, "observations[5].value", "in_range"),
    ]


@pytest.mark.parametrize(
    ("ref", "rule"),
    [(None, "required"), (True, "required"), (1.5, "id_or_key"), ({"id": 1}, "id_or_key")],
)
def test_a_datastream_reference_of_the_wrong_kind_is_refused(ref, rule):
    error = _only_error([{"datastream": ref, "time": T_0100Z, "value": 1}])
    assert (error.field, error.rule) == ("observations[0].datastream", rule)


def test_unknown_streams_reload_the_registry_once_per_batch_before_refusing():
    decoder, loader = _decoder()
    items = [
        {"datastream": 99, "time": T_0100Z, "value": 1},
        {"datastream": 1, "time": T_0100Z, "value": 2},
        {"datastream": "AQ-0001/nope", "time": T_0100Z, "value": 3},
        {"thing": "AQ-0001", "time": T_0100Z, "values": {"co": 1}},
    ]
    batch, errors = decoder.decode(items, NOW_MS)
    assert loader.calls == 2  # the first load, then one reload for the whole batch
    assert batch.values == [2.0]
    assert [(e.index, e.field, e.rule) for e in errors] == [
        (0, "observations[0].datastream", "known_datastream"),
        (2, "observations[2].datastream", "known_datastream"),
        (3, "observations[3].values.co", "known_datastream"),
    ]


def test_a_batch_of_known_streams_does_not_reload_a_fresh_snapshot():
    decoder, loader = _decoder()
    for _ in range(3):
        decoder.decode([{"datastream": 1, "time": T_0100Z, "value": 1}], NOW_MS)
    assert loader.calls == 1


def test_a_stream_added_after_the_snapshot_is_found_by_the_reload():
    loader = CountingLoader([PM25])
    decoder, _ = _decoder(loader)
    decoder.decode([{"datastream": 1, "time": T_0100Z, "value": 1}], NOW_MS)
    assert loader.calls == 1
    loader.streams.append(PM10)
    batch, errors = decoder.decode(
        [
            {"datastream": "AQ-0001/pm10", "time": T_0100Z, "value": 61},
            {"thing": "AQ-0001", "time": T_0100Z, "values": {"pm10": 62}},
        ],
        NOW_MS,
    )
    assert errors == []
    assert _rows(batch) == [(2, MS_0100Z, 61.0, 0), (2, MS_0100Z, 62.0, 0)]
    assert loader.calls == 2


# ------------------------------------------------------------------ units


@pytest.mark.parametrize(
    ("stream", "value", "unit", "expected"),
    [
        (1, 0.035, "mg/m3", 35.0),
        (1, 0.035, "mg/m³", 35.0),
        (1, 35, "µg/m³", 35.0),  # the micro sign (U+00B5)
        (1, 35, "μg/m3", 35.0),  # the Greek mu (U+03BC)
        (1, 35, "ug/m3", 35.0),
        (3, 10, "ppb", 10 * 64.066 / 24.465),  # SO2: M / Vm at 298.15 K, 101.325 kPa
        (3, 0.01, "ppm", 10 * 64.066 / 24.465),
        (5, 293.15, "K", 20.0),  # affine: a·x + b with b = −273.15
        (5, 68, "°F", 20.0),
        (4, 65, "dB(A)", 65.0),
    ],
)
def test_values_in_another_unit_are_converted_to_the_canonical_one(stream, value, unit, expected):
    batch, errors = _decode([{"datastream": stream, "time": T_0100Z, "value": value, "unit": unit}])
    assert errors == []
    assert batch.values[0] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_the_range_is_checked_after_the_conversion():
    batch, errors = _decode(
        [
            {"datastream": 1, "time": T_0100Z, "value": 0.9, "unit": "mg/m3"},  # 900 µg/m³
            {"datastream": 1, "time": T_0100Z, "value": 1.5, "unit": "mg/m3"},  # 1500 µg/m³
        ]
    )
    assert batch.values == [pytest.approx(900.0)]
    assert [(e.field, e.rule) for e in errors] == [("observations[1].value", "in_range")]


@pytest.mark.parametrize("unit", ["ppb", "kg", "ug/L", "MG/M3"])
def test_a_unit_the_metric_does_not_accept_is_refused_on_the_unit_field(unit):
    # Particles have no ppb (actual conditions); spellings are case-sensitive.
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": 1, "unit": unit}])
    assert (error.field, error.rule) == ("observations[0].unit", "convertible")


def test_a_unit_that_is_not_text_is_refused_on_the_unit_field():
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": 1, "unit": 1000}])
    assert (error.field, error.rule) == ("observations[0].unit", "text")


def test_a_sensorthings_unit_error_is_reported_beside_the_result():
    error = _only_error(
        [{"phenomenonTime": T_0100Z, "result": 1, "unit": "kg", "Datastream": {"@iot.id": 1}}]
    )
    assert (error.field, error.rule) == ("observations[0].unit", "convertible")


def test_registry_unit_factor_is_affine_and_cached():
    registry = StreamRegistry(CountingLoader())
    assert registry.unit_factor("pm25", "ug/m3") == (1.0, 0.0)
    assert registry.unit_factor("pm25", "mg/m3") == (1000.0, 0.0)
    a, b = registry.unit_factor("temperature", "K")
    assert (a, b) == (pytest.approx(1.0), pytest.approx(-273.15))
    a, b = registry.unit_factor("so2", "ppb")
    assert (a, b) == (pytest.approx(64.066 / 24.465, rel=1e-15), 0.0)
    assert registry.unit_factor("so2", "ppb") is registry.unit_factor("so2", "ppb")


# ------------------------------------------------------------------ odd input, refused cleanly


def test_a_superscript_digit_datastream_reference_is_refused_not_raised():
    error = _only_error([{"datastream": "²", "time": T_0100Z, "value": 1}])
    assert (error.field, error.rule) == ("observations[0].datastream", "known_datastream")


def test_an_integer_too_large_for_a_float_is_refused_not_raised():
    error = _only_error([{"datastream": 1, "time": T_0100Z, "value": 10**400}])
    assert (error.field, error.rule) == ("observations[0].value", "finite")


# ------------------------------------------------------------------ any junk: one verdict each
# Each field is drawn from plausible values most of the time and from junk otherwise, so that a
# good share of items pass (a property over refusals only would prove little).


def _mostly(good: st.SearchStrategy[Any], junk: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: good if ok else junk)


_TIMES = _mostly(
    st.sampled_from(
        [
            T_0100Z,
            "2026-11-20T09:00:00",
            "2026-11-19T16:00:00+00:00",
            "2026-11-20T02:05:00Z",
            "2026-11-20T01:00:00Z/2026-11-20T02:00:00Z",
            "2000-01-01T00:00:00Z",
        ]
    ),
    st.one_of(
        st.sampled_from(
            [
                "2026-11-20T02:05:00.001Z",
                "1999-12-31T23:59:59Z",
                "0001-01-01T00:00:00",
                "9999-12-31T23:59:59+23:59",
                "/",
                "",
            ]
        ),
        st.text(max_size=30),
        st.integers(),
        st.none(),
    ),
)
_NUMBERS = _mostly(
    st.one_of(st.integers(20, 60), st.floats(20, 60), st.sampled_from([-0.5, 0, 1000, 1001.5])),
    st.one_of(
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.text(max_size=5),
        st.none(),
    ),
)
_REFS = _mostly(
    st.sampled_from([1, 2, 3, 4, 5, "AQ-0001/pm25", "NZ-0001/noise_laeq", "4"]),
    st.one_of(
        st.sampled_from([99, 0, -1, ""]),
        st.text(max_size=12),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
    ),
)
_UNITS = st.one_of(
    st.sampled_from(["ug/m3", "mg/m3", "ppb", "ppm", "K", "°F", "dB(A)", "kg", ""]),
    st.text(max_size=6),
    st.integers(),
    st.none(),
)
_QUALITY = _mostly(st.sampled_from([*QUALITY_CODES, 0, 1, 2, 3]), st.text(max_size=4) | st.just(4))
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(max_size=8) | _NUMBERS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# In how many draws of twenty a field is present: needed ones 19, optional ones fewer.
_PRESENT = {"unit": 5, "quality": 10, "resultQuality": 10}


@st.composite
def _items(draw: st.DrawFn) -> Any:
    shape = draw(st.sampled_from(["ours", "ours", "ours", "device", "sta", "sta", "csv", "junk"]))
    if shape == "junk":
        return draw(_JSON)
    keys: dict[str, st.SearchStrategy[Any]]
    if shape == "ours":
        keys = {
            "datastream": _REFS,
            "time": _TIMES,
            "value": _NUMBERS,
            "unit": _UNITS,
            "quality": _QUALITY,
        }
    elif shape == "sta":
        keys = {
            "phenomenonTime": _TIMES,
            "result": _NUMBERS,
            "Datastream": _mostly(st.fixed_dictionaries({"@iot.id": _REFS}), _JSON),
            "resultQuality": _QUALITY,
            "unit": _UNITS,
        }
    elif shape == "device":
        metrics = _mostly(st.sampled_from(["pm25", "pm10", "so2"]), st.text(max_size=5))
        keys = {
            "thing": _mostly(st.sampled_from(list(THINGS.values())), st.text(max_size=8) | _JSON),
            "time": _TIMES,
            "values": _mostly(st.dictionaries(metrics, _NUMBERS, max_size=3), _JSON),
            "quality": _QUALITY,
        }
    else:
        fields = _mostly(
            st.sampled_from(["1", "AQ-0001/pm25", T_0100Z, "35", "bad", ""]),
            st.text(alphabet=st.characters(max_codepoint=127), max_size=10),
        )
        return csv_items(",".join(draw(st.lists(fields, max_size=5))))
    item: dict[str, Any] = {}
    for key, strategy in keys.items():
        if draw(st.integers(0, 19)) < _PRESENT.get(key, 19):
            item[key] = draw(strategy)
    return item


def _flatten(raw: list[Any]) -> list[Any]:
    items: list[Any] = []
    for entry in raw:  # a csv draw is a list of items; anything else is one item
        if isinstance(entry, list) and all(
            isinstance(e, dict) and "datastream" in e for e in entry
        ):
            items.extend(entry)
        else:
            items.append(entry)
    return items


@settings(max_examples=300, deadline=None)
@given(st.lists(_items(), max_size=12))
def test_any_items_get_exactly_one_verdict_each_and_never_raise(raw):
    items = _flatten(raw)
    decoder, _ = _decoder()
    batch, errors = decoder.decode(items, NOW_MS)

    # At most one error per item, in item order, each naming its own position.
    indexes = [e.index for e in errors]
    assert indexes == sorted(set(indexes))
    for error in errors:
        assert error.field.startswith(f"observations[{error.index}]")
        assert error.rule
        assert error.message

    # Decoded alone, each item is accepted (with its readings) or refused (with none), and the
    # batch is exactly the accepted items' readings in order: one bad item never spoils another.
    accepted = 0
    expected = ObservationBatch()
    for index, item in enumerate(items):
        alone, alone_errors = decoder.decode([item], NOW_MS)
        if alone_errors:
            assert len(alone_errors) == 1
            assert len(alone) == 0
            assert index in indexes
            assert alone_errors[0].field.replace(
                "observations[0]", f"observations[{index}]", 1
            ) == (next(e.field for e in errors if e.index == index))
        else:
            assert len(alone) >= 1
            assert index not in indexes
            accepted += 1
            expected.extend(alone)
    assert accepted + len(errors) == len(items)
    assert _rows(batch) == _rows(expected)

    # Every accepted reading is in its stream's range, finite, and no later than the tolerance.
    by_id = {s.id: s for s in STREAMS}
    for stream_id, millis, value, quality in _rows(batch):
        stream = by_id[stream_id]
        assert math.isfinite(value)
        assert stream.minimum <= value <= stream.maximum
        assert EARLIEST_MS <= millis <= NOW_MS + 300_000
        assert quality in QUALITY_CODES.values()


def test_the_largest_batch_size_is_ten_thousand():
    assert MAX_BATCH == 10_000
