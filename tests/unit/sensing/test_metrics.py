"""The metric catalogue: the required metrics, their links to HJ 633, and unit conversions.

The expected values below are restated from the brief and worked by hand, not read back from the
data file, so a slip in ``metrics.json`` shows here: ppb → µg/m³ at the 参比状态 of GB 3095—2012
修改单 (298.15 K, 101.325 kPa, 24.465 L/mol) is M / 24.465 per ppb.
"""

from __future__ import annotations

import ast
import math
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.analytics import aqi
from cityops.kernel.errors import ValidationFailed
from cityops.sensing import metrics as m

# key → (domain, canonical display symbol, rollup) as the brief asks for them.
REQUIRED = {
    "pm25": ("air", "µg/m³", "mean"),
    "pm10": ("air", "µg/m³", "mean"),
    "so2": ("air", "µg/m³", "mean"),
    "no2": ("air", "µg/m³", "mean"),
    "o3": ("air", "µg/m³", "mean"),
    "co": ("air", "mg/m³", "mean"),
    "noise_laeq": ("noise", "dB(A)", "energy_mean"),
    "ph": ("water", "pH", "mean"),
    "do": ("water", "mg/L", "mean"),
    "codmn": ("water", "mg/L", "mean"),
    "nh3n": ("water", "mg/L", "mean"),
    "tp": ("water", "mg/L", "mean"),
    "turbidity": ("water", "NTU", "mean"),
    "water_level": ("water", "m", "mean"),
    "manhole_tilt": ("manhole", "°", "max"),
    "manhole_water_level": ("manhole", "m", "max"),
    "traffic_speed": ("traffic", "km/h", "mean"),
    "traffic_flow": ("traffic", "veh/h", "mean"),
    "traffic_occupancy": ("traffic", "%", "mean"),
    "wind_speed": ("weather", "m/s", "mean"),
    "wind_direction": ("weather", "°", "vector_mean"),
    "temperature": ("weather", "°C", "mean"),
    "humidity": ("weather", "%RH", "mean"),
    "rainfall": ("weather", "mm", "sum"),
    "electricity_meter": ("meter", "kWh", "counter"),
    "water_meter": ("meter", "m³", "counter"),
    "gas_meter": ("meter", "m³", "counter"),
}
RANGES = {
    "pm25": (0, 2000),
    "noise_laeq": (20, 140),
    "ph": (0, 14),
    "humidity": (0, 100),
    "wind_direction": (0, 360),
    "traffic_occupancy": (0, 100),
}
FORBIDDEN = ("sqlalchemy", "fastapi", "click", "cityops.storage", "cityops.web", "cityops.cli")


def issue(error: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, str, str]:
    first = error.value.issues[0]
    return first.field, first.rule, first.message


@pytest.mark.parametrize(("key", "expected"), REQUIRED.items())
def test_every_required_metric_is_catalogued(key: str, expected: tuple[str, str, str]) -> None:
    found = m.metric(key)
    assert (found.domain, found.symbol, found.aggregation) == expected
    assert all((found.unit, found.unit_name, found.name_zh, found.name_en))
    assert found.minimum < found.maximum
    assert found.decimals >= 0
    assert found.definition.startswith("http")
    assert found.units[0] == found.symbol


def test_the_catalogue_holds_nothing_unexpected() -> None:
    assert set(m.catalogue()["metrics"]) == set(REQUIRED)
    assert all((m.catalogue()["version"], m.catalogue()["source"]))
    for found in m.metrics():
        assert found.domain in m.DOMAINS
        assert found.aggregation in m.AGGREGATIONS


@pytest.mark.parametrize(("key", "bounds"), RANGES.items())
def test_valid_ranges(key: str, bounds: tuple[int, int]) -> None:
    found = m.metric(key)
    assert (found.minimum, found.maximum) == bounds


def test_rollup_flags() -> None:
    assert m.metric("wind_direction").circular
    assert not m.metric("wind_speed").circular
    assert m.metric("rainfall").aggregation == "sum"
    assert {x.key for x in m.metrics() if x.aggregation == "counter"} == {
        "electricity_meter",
        "water_meter",
        "gas_meter",
    }


def test_metrics_by_domain() -> None:
    assert [x.key for x in m.metrics("air")] == ["pm25", "pm10", "so2", "no2", "o3", "co"]
    assert {x.key for x in m.metrics("manhole")} == {"manhole_tilt", "manhole_water_level"}
    assert sum(len(m.metrics(domain)) for domain in m.DOMAINS) == len(m.metrics())
    with pytest.raises(ValidationFailed) as error:
        m.metrics("sky")
    assert issue(error)[:2] == ("domain", "one_of")


@pytest.mark.parametrize("standard", ["HJ633-2026", "HJ633-2012"])
def test_every_aqi_indicator_maps_to_a_metric_in_its_unit(standard: str) -> None:
    rules = aqi.table(standard)
    keys = set(rules["indicators"]) | {k for report in rules["reports"].values() for k in report}
    for key in keys:
        found = m.for_indicator(standard, key)
        assert found.key == key.split("_")[0]
        unit = rules["indicators"].get(key, rules["indicators"].get(f"{found.key}_24h"))["unit"]
        assert m.normalise_unit(unit) == found.unit


def test_every_hj633_key_of_the_catalogue_exists_in_the_standard() -> None:
    for found in m.metrics():
        for standard, keys in found.analytics.items():
            if standard.startswith("HJ633"):
                rules = aqi.table(standard)
                known = set(rules["indicators"]) | {k for r in rules["reports"].values() for k in r}
                assert set(keys) <= known, (found.key, standard)


def test_averaging_periods_of_the_gases() -> None:
    assert m.metric("o3").averaging == ("1h", "8h")
    assert m.metric("so2").averaging == ("1h", "24h")
    assert m.metric("o3").analytics["HJ633-2026"] == ("o3_1h", "o3_8h")


@pytest.mark.parametrize("key", ["ph", "do", "codmn", "nh3n", "tp"])
def test_water_metrics_map_to_gb3838_parameters(key: str) -> None:
    assert m.metric(key).analytics == {"GB3838-2002": (key,)}
    assert "GB 3838—2002" in m.metric(key).standards


def test_reference_state_is_25_degrees_and_one_atmosphere() -> None:
    state = m.catalogue()["reference_state"]
    assert (state["temperature_k"], state["pressure_kpa"]) == ("298.15", "101.325")
    molar_volume = 8.314462618 * 298.15 / 101.325  # R·T/p in L/mol
    assert round(molar_volume, 3) == float(state["molar_volume_l_per_mol"]) == 24.465
    assert m.metric("pm25").conditions == "actual"
    assert m.metric("so2").conditions == "reference"


@pytest.mark.parametrize(
    ("value", "unit", "key", "expected", "tolerance"),
    [
        (1, "ppb", "so2", 2.6187, 5e-5),  # 64.066 / 24.465
        (1, "ppm", "so2", 2618.68, 5e-3),
        (100, "ppb", "no2", 188.05, 5e-3),  # 100 × 46.0055 / 24.465
        (1, "ppb", "o3", 1.96186, 5e-6),  # 47.997 / 24.465
        (1, "ppm", "co", 1.1449, 5e-5),  # 28.010 / 24.465, in mg/m³
        (1000, "ppb", "co", 1.1449, 5e-5),
        (0.5, "mg/m3", "pm25", 500, 0),
        (1000, "µg/m³", "co", 1, 0),
        (32, "°F", "temperature", 0, 0),
        (212, "°F", "temperature", 100, 1e-12),
        (-40, "degF", "temperature", -40, 1e-12),
        (273.15, "K", "temperature", 0, 0),
        (36, "km/h", "wind_speed", 10, 0),
        (1, "kn", "wind_speed", 0.514444, 5e-7),  # 1852 m / 3600 s
        (10, "m/s", "traffic_speed", 36, 0),
        (150, "cm", "manhole_water_level", 1.5, 0),
        (250, "mm", "water_level", 0.25, 0),
        (2500, "Wh", "electricity_meter", 2.5, 0),
        (1500, "L", "water_meter", 1.5, 0),
        (math.pi, "rad", "wind_direction", 180, 1e-12),
        (2, "veh/min", "traffic_flow", 120, 0),
        (2.5, "cm", "rainfall", 25, 0),
    ],
)
def test_hand_worked_conversions(
    value: float, unit: str, key: str, expected: float, tolerance: float
) -> None:
    assert m.convert(value, unit, key) == pytest.approx(expected, abs=tolerance)


def test_conversions_are_exact_before_the_last_rounding() -> None:
    exact = Fraction(100) * Fraction("46.0055") / Fraction("24.465")
    assert m.convert(100, "ppb", "no2") == float(exact)
    assert m.convert(Decimal("100"), "ppb", "no2") == float(exact)
    assert m.convert(0.1, "km/h", "wind_speed", to_unit="km/h") == 0.1
    assert m.convert(10, "m/s", "wind_speed", to_unit="km/h") == 36


PAIRS = [(found.key, unit) for found in m.metrics() for unit in found.units]


@given(pair=st.sampled_from(PAIRS), fraction=st.floats(min_value=0, max_value=1))
def test_round_trip_through_any_accepted_unit(pair: tuple[str, str], fraction: float) -> None:
    key, unit = pair
    found = m.metric(key)
    value = found.minimum + (found.maximum - found.minimum) * fraction
    there = m.convert(value, found.symbol, key, to_unit=unit)
    assert m.convert(there, unit, key) == pytest.approx(value, rel=1e-12, abs=1e-9)


@given(ppb=st.floats(min_value=0, max_value=5000, allow_subnormal=False))
def test_ppb_and_ppm_agree(ppb: float) -> None:
    for key in ("so2", "no2", "o3", "co"):
        by_ppb = m.convert(ppb, "ppb", key)
        assert m.convert(ppb / 1000, "ppm", key) == pytest.approx(by_ppb, rel=1e-12, abs=1e-12)


# U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU look alike; devices send either.
@pytest.mark.parametrize(
    "spelling",
    ["\u00b5g/m³", "\u03bcg/m³", "\u00b5g/m3", "\u03bcg/m3", "ug/m3", "ug/m³", " µg/m³ "],
)
def test_micro_sign_and_greek_mu_are_both_accepted(spelling: str) -> None:
    assert m.normalise_unit(spelling) == "ug/m3"
    assert m.convert(1000, spelling, "co") == 1


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("dB(A)", "noise_laeq"),
        ("dBA", "noise_laeq"),
        ("°C", "temperature"),
        ("degC", "temperature"),
        ("℃", "temperature"),
        ("Cel", "temperature"),
        ("%", "humidity"),
        ("%RH", "humidity"),
        ("mg/l", "nh3n"),
        ("pH", "ph"),
        ("kW·h", "electricity_meter"),
        ("kWh", "electricity_meter"),
        ("m3", "gas_meter"),
        ("°", "manhole_tilt"),
        ("NTU", "turbidity"),
    ],
)
def test_common_spellings_of_the_canonical_unit(spelling: str, key: str) -> None:
    assert m.convert(12.5, spelling, key) == 12.5


@pytest.mark.parametrize(("spelling", "key"), [("MG/M3", "co"), ("Mg/m3", "co"), ("PPB", "so2")])
def test_spellings_are_case_sensitive(spelling: str, key: str) -> None:
    with pytest.raises(ValidationFailed):
        m.convert(1, spelling, key)


def test_unknown_unit_names_the_accepted_units() -> None:
    with pytest.raises(ValidationFailed) as error:
        m.convert(1, "ppb", "pm25")  # particles are at actual conditions: no molar form
    field, rule, message = issue(error)
    assert (field, rule) == ("unit", "convertible")
    assert all(unit in message for unit in ("µg/m³", "mg/m³", "ppb"))


def test_unknown_metric_lists_close_matches() -> None:
    with pytest.raises(ValidationFailed) as error:
        m.metric("pm2.5")
    field, rule, message = issue(error)
    assert (field, rule) == ("metric", "known_metric")
    assert "pm25" in message
    with pytest.raises(ValidationFailed):
        m.convert(1, "m", "tide_height")
    with pytest.raises(ValidationFailed) as error:
        m.for_indicator("HJ633-2026", "nox_1h")
    assert issue(error)[:2] == ("indicator", "known_indicator")


@pytest.mark.parametrize(
    ("key", "value"),
    [("pm25", 2000.5), ("pm25", -1), ("ph", 14.01), ("noise_laeq", 19.9), ("humidity", 101)],
)
def test_out_of_range_names_field_rule_range_and_unit(key: str, value: float) -> None:
    with pytest.raises(ValidationFailed) as error:
        m.check_range(key, value)
    field, rule, message = issue(error)
    found = m.metric(key)
    assert (field, rule) == ("result", "in_range")
    assert f"{found.minimum:g}–{found.maximum:g} {found.symbol}" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, Decimal("NaN")])
def test_non_finite_values_are_out_of_range(value: float | Decimal) -> None:
    with pytest.raises(ValidationFailed) as error:
        m.check_range("temperature", value)
    assert issue(error)[:2] == ("result", "in_range")
    with pytest.raises(ValidationFailed) as error:
        m.convert(value, "°C", "temperature")
    assert issue(error)[:2] == ("result", "finite")


@given(data=st.data(), key=st.sampled_from(sorted(REQUIRED)))
def test_values_within_the_range_pass(data: st.DataObject, key: str) -> None:
    found = m.metric(key)
    value = data.draw(st.floats(min_value=found.minimum, max_value=found.maximum))
    m.check_range(key, value)
    m.check_range(key, Decimal(str(found.maximum)))


def test_unit_of_measurement_for_sensorthings() -> None:
    unit = m.unit_of_measurement("pm25")
    assert unit == {
        "name": "microgram per cubic metre",
        "symbol": "\u00b5g/m³",
        "definition": "http://qudt.org/vocab/unit/MicroGM-PER-M3",
    }
    assert m.unit_of_measurement("noise_laeq")["symbol"] == "dB(A)"
    for found in m.metrics():
        assert set(m.unit_of_measurement(found.key)) == {"name", "symbol", "definition"}


def test_metrics_are_frozen_and_hashable() -> None:
    found = m.metric("so2")
    with pytest.raises(AttributeError):
        found.key = "no2"  # type: ignore[misc]
    assert hash(found) == hash(m.metric("so2"))


def test_the_module_stays_a_pure_domain_module() -> None:
    source = resources.files("cityops.sensing").joinpath("metrics.py").read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name for name in imported if name.startswith(FORBIDDEN)}
