"""The metric catalogue: what a Datastream measures, in which unit, within which range.

Every Datastream (one measured property of a thing) names a metric from the versioned data file
``data/metrics.json``: its Chinese and English names, the canonical unit (a UCUM code, a display
symbol and a QUDT IRI, which is what SensorThings ``unitOfMeasurement`` wants), the rollup rule
(``mean``, ``sum``, ``vector_mean``, ``counter``, ``max``, ``energy_mean``), the valid physical
range, the expected decimals, the standards it relates to and the analytics keys it feeds
(``so2`` → HJ 633 ``so2_1h`` and ``so2_24h``, ``nh3n`` → GB 3838 ``nh3n``).

Readings are stored in the canonical unit only, so rollups and analytics never guess. Devices that
report something else are converted on the way in by :func:`convert`:

* the arithmetic is exact (fractions): the input (a float read as the decimal it prints as), the
  factors (decimal strings and ratios such as ``5/9`` in the data file) and the molar volume are
  rational, so the only error is the final rounding to a float (half an ulp, a relative 1.1e-16).
  The one inexact factor is π for radians, taken as ``math.pi``. Round trips through another
  unit agree to a relative 1e-12 or better;
* gases in ppb/ppm are converted at the 参比状态 of GB 3095—2012 修改单 (in force 2018-09-01) that
  HJ 633 concentrations use: 298.15 K and 101.325 kPa, molar volume 24.465 L/mol, so
  µg/m³ = ppb × M / 24.465. Particulate matter is reported at actual conditions and has no ppb;
* unit spellings are matched case-sensitively (``mg`` is not ``Mg``) after folding the micro sign
  (U+00B5) and the Greek mu (U+03BC) together, and ``³`` into ``3``.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from cityops.kernel.errors import ValidationFailed

DOMAINS = ("air", "noise", "water", "manhole", "traffic", "weather", "meter")
AGGREGATIONS = ("mean", "sum", "vector_mean", "counter", "max", "energy_mean")

Number = float | int | Decimal

# Devices, gateways and Chinese documents spell units many ways. Both "µ" characters look alike
# but differ in Unicode, and spaces or middle dots inside "kW h" carry no meaning.
_FOLD = str.maketrans({"\u00b5": "u", "\u03bc": "u", "³": "3", "·": ".", "⋅": ".", " ": ""})
# Folded spelling → the UCUM code the catalogue uses; a UCUM code is accepted as it is.
_SPELLINGS = {
    "ppb": "[ppb]",
    "ppbv": "[ppb]",
    "nmol/mol": "[ppb]",
    "ppm": "[ppm]",
    "ppmv": "[ppm]",
    "umol/mol": "[ppm]",
    "dB(A)": "dB",
    "dBA": "dB",
    "dB[A]": "dB",
    "pH": "[pH]",
    "mg/l": "mg/L",
    "NTU": "{NTU}",
    "°": "deg",
    "degree": "deg",
    "degrees": "deg",
    "veh/h": "{veh}/h",
    "veh/min": "{veh}/min",
    "%RH": "%",
    "°C": "Cel",
    "℃": "Cel",
    "degC": "Cel",
    "°F": "[degF]",
    "℉": "[degF]",
    "degF": "[degF]",
    "kn": "[kn_i]",
    "knot": "[kn_i]",
    "kWh": "kW.h",
    "Wh": "W.h",
    "MWh": "MW.h",
    "l": "L",
}


@dataclass(frozen=True)
class Metric:
    """One measured property: names, canonical unit, valid range, rollup rule and links."""

    key: str
    name_zh: str
    name_en: str
    domain: str
    unit: str  # UCUM code of the canonical unit
    symbol: str  # display symbol, SensorThings unitOfMeasurement.symbol
    unit_name: str
    definition: str  # QUDT unit IRI: an identifier, never fetched
    aggregation: str
    minimum: float
    maximum: float
    decimals: int
    standards: tuple[str, ...]
    analytics: Mapping[str, tuple[str, ...]] = field(hash=False)  # profile → indicator keys
    units: tuple[str, ...]  # accepted unit symbols, the canonical one first
    averaging: tuple[str, ...]  # averaging periods the analytics use (HJ 633: 1h, 8h, 24h)
    circular: bool  # angles that wrap at 360: averages are vector means
    conditions: str | None  # gases: "reference" (298.15 K, 101.325 kPa); particles: "actual"
    molar_mass: float | None  # g/mol, for ppb/ppm of gases
    note: str


@cache
def catalogue() -> dict[str, Any]:
    """Return the parsed data file (version, source, reference state, metrics)."""
    text = resources.files("cityops.sensing").joinpath("data", "metrics.json")
    return dict(json.loads(text.read_text(encoding="utf-8")))


@cache
def _all() -> dict[str, Metric]:
    return {key: _build(key, entry) for key, entry in catalogue()["metrics"].items()}


def _build(key: str, entry: dict[str, Any]) -> Metric:
    unit = entry["unit"]
    low, high = entry["range"]
    molar_mass = entry.get("molar_mass")
    return Metric(
        key=key,
        name_zh=entry["name_zh"],
        name_en=entry["name_en"],
        domain=entry["domain"],
        unit=unit["ucum"],
        symbol=unit["symbol"],
        unit_name=unit["name"],
        definition=unit["definition"],
        aggregation=entry["aggregation"],
        minimum=float(low),
        maximum=float(high),
        decimals=int(entry["decimals"]),
        standards=tuple(entry["standards"]),
        analytics=MappingProxyType({k: tuple(v) for k, v in entry["analytics"].items()}),
        units=(unit["symbol"], *(rule["symbol"] for rule in entry["accepts"].values())),
        averaging=tuple(entry.get("averaging", ())),
        circular=bool(entry.get("circular", False)),
        conditions=entry.get("conditions"),
        molar_mass=float(molar_mass) if molar_mass is not None else None,
        note=entry.get("note", ""),
    )


def metric(key: str) -> Metric:
    """Return the metric of a key (``pm25``, ``noise_laeq``, ``water_meter`` …)."""
    known = _all()
    found = known.get(key)
    if found is None:
        close = difflib.get_close_matches(key.strip().lower(), list(known), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(known)}"
        raise ValidationFailed.single("metric", "known_metric", f"unknown metric {key!r}; {hint}")
    return found


def metrics(domain: str | None = None) -> list[Metric]:
    """Return every metric, or those of one domain, in catalogue order."""
    if domain is not None and domain not in DOMAINS:
        raise ValidationFailed.single(
            "domain", "one_of", f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}"
        )
    return [m for m in _all().values() if domain is None or m.domain == domain]


def for_indicator(standard: str, indicator: str) -> Metric:
    """Return the metric that feeds an analytics key (``HJ633-2026``, ``o3_8h`` → ``o3``)."""
    for found in _all().values():
        if indicator in found.analytics.get(standard, ()):
            return found
    raise ValidationFailed.single(
        "indicator", "known_indicator", f"no metric feeds {indicator!r} of {standard}"
    )


def unit_of_measurement(metric_key: str) -> dict[str, str]:
    """Return the SensorThings ``unitOfMeasurement`` of a metric: name, symbol, definition."""
    found = metric(metric_key)
    return {"name": found.unit_name, "symbol": found.symbol, "definition": found.definition}


def convert(value: Number, from_unit: str, metric_key: str, to_unit: str | None = None) -> float:
    """Return a value given in ``from_unit`` in the metric's canonical unit (or in ``to_unit``).

    The result is the exact rational result rounded once to a float (see the module's notes).
    """
    found = metric(metric_key)
    offset, factor = _rule(found, from_unit)
    canonical = (_exact(value) + offset) * factor
    if to_unit is None:
        return float(canonical)
    back_offset, back_factor = _rule(found, to_unit)
    return float(canonical / back_factor - back_offset)


def check_range(metric_key: str, value: Number) -> None:
    """Raise unless a value in the canonical unit is finite and within the valid range."""
    found = metric(metric_key)
    bounds = f"{_plain(found.minimum)}–{_plain(found.maximum)} {found.symbol}"
    try:
        number = _exact(value)
    except ValidationFailed:
        raise ValidationFailed.single(
            "result", "in_range", f"{metric_key} must be a finite number in {bounds}, got {value}"
        ) from None
    if not Fraction(found.minimum) <= number <= Fraction(found.maximum):
        raise ValidationFailed.single(
            "result",
            "in_range",
            f"{metric_key} = {value} {found.symbol} is outside the valid range {bounds}",
        )


def normalise_unit(text: str) -> str:
    """Return the UCUM code a unit spelling means (``μg/m³`` → ``ug/m3``, ``°C`` → ``Cel``)."""
    folded = text.strip().translate(_FOLD)
    return _SPELLINGS.get(folded, folded)


def _rule(found: Metric, unit: str) -> tuple[Fraction, Fraction]:
    rule = _rules(found.key).get(normalise_unit(unit))
    if rule is None:
        raise ValidationFailed.single(
            "unit",
            "convertible",
            f"{unit!r} is not a unit of {found.key}; accepted: {', '.join(found.units)}",
        )
    return rule


@cache
def _rules(key: str) -> dict[str, tuple[Fraction, Fraction]]:
    """Map each accepted UCUM code to (offset, factor): canonical = (value + offset) × factor."""
    entry = catalogue()["metrics"][key]
    rules = {entry["unit"]["ucum"]: (Fraction(0), Fraction(1))}
    for code, rule in entry["accepts"].items():
        if "molar" in rule:
            # ppb → µg/m³ is M / Vm (M in g/mol, Vm in L/mol); the scale covers ppm and mg/m³.
            volume = catalogue()["reference_state"]["molar_volume_l_per_mol"]
            factor = Fraction(entry["molar_mass"]) / Fraction(volume) * _ratio(rule["molar"])
        else:
            factor = _ratio(rule["factor"])
        rules[code] = (_ratio(rule.get("offset", "0")), factor)
    return rules


def _ratio(text: str) -> Fraction:
    numerator, _, denominator = text.partition("/")
    value = _term(numerator)
    return value / _term(denominator) if denominator else value


def _term(text: str) -> Fraction:
    return Fraction(math.pi) if text == "pi" else Fraction(text)


def _exact(value: Number) -> Fraction:
    try:
        # A float is read as the decimal it prints as (what the device sent in JSON): 273.15 K is
        # then exactly 0 °C, not the binary neighbour's −2.3e-14.
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    except (ValueError, OverflowError, TypeError):
        raise ValidationFailed.single(
            "result", "finite", f"must be a finite number, got {value!r}"
        ) from None


def _plain(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)
