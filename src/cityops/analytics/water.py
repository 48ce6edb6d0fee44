"""Surface-water quality classes (水质类别) under GB 3838—2002 《地表水环境质量标准》.

The limits live in a versioned data file (``data/gb3838-2002.json``): 表1
地表水环境质量标准基本项目标准限值 for classes I–V, the lake-and-reservoir row of 总磷, and the
class meanings of §3 (水域功能和标准分类). Comparisons are exact (decimals), so a value on a limit
is never pushed across it by a float's error. The rules:

* a parameter's class is the best class whose limit it meets (§4, 表1): ``≤`` the limit for
  pollutants, ``≥`` for 溶解氧 (DO), inside 6～9 for pH (one range for every class, so pH is I or
  劣V); where two classes share a limit (COD I and II are both 15) the value gets the better one;
  a value that meets no class is 劣V;
* 湖泊、水库 (``lake``) read 总磷 against their own row; 总氮's row is headed 湖、库, so for a river
  TN is reported but not classed, and 水温's limit is a narrative on man-made change, never classed;
* the overall class is the worst parameter class (单因子评价法, §5.1), and the deciding parameters
  (定类项目) are all those at that class;
* against a target class (水质目标) the exceeding parameters (超标项目) are those classed worse, and
  超标倍数 = (C − C_limit) / C_limit at the target's limit, to 2 decimals half to even (GB/T 8170).
  DO and pH get no multiple (None): a shortfall of oxygen or a pH outside a range is not a multiple
  of a ceiling, and the 2011 评价办法 (环办〔2011〕22号) says 水温、pH、溶解氧 are not given one;
* 水质状况 wording and colour names follow the 2011 评价办法: I–II 优 蓝色, III 良好 绿色,
  IV 轻度污染 黄色, V 中度污染 橙色, 劣V 重度污染 红色; the RGB values are this project's (see the
  data file's notes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from cityops.kernel.errors import ValidationFailed

STANDARD = "GB3838-2002"
DATA_FILE = "gb3838-2002.json"
# 湖、库 in the standard: a reservoir is read as a lake.
WATERBODIES = {"river": "river", "lake": "lake", "reservoir": "lake"}
CLASS_NAMES = ("I", "II", "III", "IV", "V", "劣V")
PH_SCALE_TOP = Decimal(14)
CENT = Decimal("0.01")
_UNICODE_ROMAN = {"Ⅰ": "I", "Ⅱ": "II", "Ⅲ": "III", "Ⅳ": "IV", "Ⅴ": "V"}

Number = Decimal | float | int | str


@dataclass(frozen=True)
class WaterClass:
    """A water-quality class (水质类别) with its 水质状况, colour and use (水域功能)."""

    name: str
    ordinal: int  # 1 (I) … 6 (劣V): larger is worse
    status: str
    status_en: str
    color: str
    color_en: str
    rgb: tuple[int, int, int]
    use: str
    use_en: str

    @property
    def hex(self) -> str:
        """The colour as ``#RRGGBB``."""
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


@dataclass(frozen=True)
class WaterResult:
    """A single-factor assessment: the overall class, each parameter's class and any exceedances."""

    standard: str
    waterbody: str
    water_class: WaterClass
    classes: dict[str, WaterClass]
    deciding: tuple[str, ...]  # 定类项目
    values: dict[str, Decimal]
    unclassed: dict[str, str] = field(default_factory=dict)  # parameter → why it is not classed
    target: WaterClass | None = None
    meets_target: bool | None = None
    exceeding: dict[str, Decimal | None] = field(default_factory=dict)  # 超标项目 → 超标倍数

    def as_json(self) -> dict[str, Any]:
        """Return the assessment as JSON-ready values."""
        found = self.water_class
        return {
            "standard": self.standard,
            "waterbody": self.waterbody,
            "class": found.name,
            "ordinal": found.ordinal,
            "status": found.status,
            "status_en": found.status_en,
            "color": found.hex,
            "color_name": found.color,
            "use": found.use,
            "classes": {k: v.name for k, v in self.classes.items()},
            "deciding": list(self.deciding),
            "values": {k: float(v) for k, v in self.values.items()},
            "unclassed": dict(self.unclassed),
            "target": self.target.name if self.target else None,
            "meets_target": self.meets_target,
            "exceeding": {k: None if v is None else float(v) for k, v in self.exceeding.items()},
        }


@cache
def table() -> dict[str, Any]:
    """Return the standard's tables (the parsed data file, decimals kept exact)."""
    text = resources.files("cityops.analytics").joinpath("data", DATA_FILE)
    return dict(json.loads(text.read_text(encoding="utf-8"), parse_float=Decimal))


@cache
def classes() -> tuple[WaterClass, ...]:
    """Return the six classes, I first and 劣V last."""
    return tuple(
        WaterClass(
            name=item["name"],
            ordinal=item["ordinal"],
            status=item["status"],
            status_en=item["status_en"],
            color=item["color"],
            color_en=item["color_en"],
            rgb=(item["rgb"][0], item["rgb"][1], item["rgb"][2]),
            use=item["use"],
            use_en=item["use_en"],
        )
        for item in table()["classes"]
    )


def water_class(name: str | int, *, field: str = "class") -> WaterClass:
    """Return a class by name, ``I``…``V`` or ``劣V`` (also ``Ⅲ``, ``III类``), or by ordinal 1…6."""
    if isinstance(name, int) and not isinstance(name, bool) and 1 <= name <= len(CLASS_NAMES):
        return classes()[name - 1]
    if isinstance(name, str):
        key = name.strip().removesuffix("类").upper()
        key = "".join(_UNICODE_ROMAN.get(letter, letter) for letter in key)
        if key in CLASS_NAMES:
            return classes()[CLASS_NAMES.index(key)]
    raise ValidationFailed.single(
        field, "one_of", f"unknown class {name!r}; expected one of {', '.join(CLASS_NAMES)}"
    )


def parameters(waterbody: str = "river") -> tuple[str, ...]:
    """Return the parameters 表1 classes for a waterbody (``river`` or ``lake``), in table order."""
    body = _waterbody(waterbody)
    rows = table()["parameters"]
    return tuple(key for key in _in_table_order(rows) if _why_unclassed(rows[key], body) is None)


def parameter_class(parameter: str, value: Number, waterbody: str = "river") -> WaterClass | None:
    """Return the best class I–V a value meets, or 劣V; None where 表1 does not class it.

    None means "reported, not classed": 水温 (a narrative limit) anywhere, and 总氮 in a river
    (its row covers lakes and reservoirs only). ``value`` is in the parameter's unit (mg/L;
    粪大肠菌群 个/L; pH dimensionless).
    """
    body = _waterbody(waterbody)
    row = _row(parameter, "parameter")
    return _classify(row, _number(parameter, value, "value"), body)


def assess(
    values: Mapping[str, Number],
    waterbody: str = "river",
    target: str | int | None = None,
) -> WaterResult:
    """Return the single-factor assessment (单因子评价) of one sample or averaged values.

    ``values`` maps parameter keys (``do``, ``codmn``, ``nh3n``, ``tp`` …, see :func:`parameters`)
    to values in their units; ``target`` is the water-quality goal (水质目标), I–V, if any.
    """
    body = _waterbody(waterbody)
    goal = None if target is None else water_class(target, field="target")
    if goal is not None and goal.ordinal == len(CLASS_NAMES):
        raise ValidationFailed.single("target", "one_of", "a target must be a class I–V, not 劣V")
    rows = table()["parameters"]
    unknown = sorted(set(values) - set(rows))
    if unknown:
        raise ValidationFailed.single(
            f"values.{unknown[0]}",
            "parameter",
            f"not a parameter of GB 3838—2002 表1; expected one of {', '.join(rows)}",
        )
    given: dict[str, Decimal] = {}
    found: dict[str, WaterClass] = {}
    unclassed: dict[str, str] = {}
    for key in _in_table_order(values):
        given[key] = _number(key, values[key], f"values.{key}")
        cls = _classify(rows[key], given[key], body)
        if cls is None:
            unclassed[key] = _why_unclassed(rows[key], body) or ""
        else:
            found[key] = cls
    if not found:
        raise ValidationFailed.single(
            "values",
            "required",
            f"no parameter that GB 3838—2002 表1 classes for a {body}; "
            f"expected at least one of {', '.join(parameters(body))}",
        )
    worst = max(found.values(), key=lambda c: c.ordinal)
    exceeding: dict[str, Decimal | None] = {}
    if goal is not None:
        over = [key for key, cls in found.items() if cls.ordinal > goal.ordinal]
        multiples = {key: _multiple(rows[key], given[key], goal, body) for key in over}
        # Largest multiple first, as bulletins list 超标项目; no-multiple items (DO, pH) last;
        # the sort is stable, so ties keep 表1 order.
        for key in sorted(over, key=lambda k: (multiples[k] is None, -(multiples[k] or 0))):
            exceeding[key] = multiples[key]
    return WaterResult(
        standard=STANDARD,
        waterbody=body,
        water_class=worst,
        classes=found,
        deciding=tuple(key for key, cls in found.items() if cls.ordinal == worst.ordinal),
        values=given,
        unclassed=unclassed,
        target=goal,
        meets_target=None if goal is None else worst.ordinal <= goal.ordinal,
        exceeding=exceeding,
    )


def _waterbody(waterbody: str) -> str:
    body = WATERBODIES.get(waterbody)
    if body is None:
        raise ValidationFailed.single(
            "waterbody",
            "one_of",
            f"unknown {waterbody!r}; expected one of {', '.join(WATERBODIES)}",
        )
    return body


def _row(parameter: str, field_name: str) -> dict[str, Any]:
    rows: dict[str, Any] = table()["parameters"]
    if parameter not in rows:
        raise ValidationFailed.single(
            field_name,
            "parameter",
            f"{parameter!r} is not a parameter of GB 3838—2002 表1; expected one of "
            f"{', '.join(rows)}",
        )
    return dict(rows[parameter])


def _in_table_order(keys: Mapping[str, Any]) -> list[str]:
    rows = table()["parameters"]
    return sorted(keys, key=lambda key: int(rows[key]["no"]))


def _number(parameter: str, value: Number, field_name: str) -> Decimal:
    # bool is an int to Python, but True is never a measurement.
    if isinstance(value, bool):
        raise ValidationFailed.single(field_name, "number", f"not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed.single(field_name, "number", f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ValidationFailed.single(field_name, "finite", f"must be finite, got {value}")
    if number < 0:
        raise ValidationFailed.single(field_name, "non_negative", f"must be ≥ 0, got {value}")
    if parameter == "ph" and number > PH_SCALE_TOP:
        raise ValidationFailed.single(field_name, "ph_scale", f"pH must be 0–14, got {value}")
    return number


def _why_unclassed(row: dict[str, Any], body: str) -> str | None:
    if row["direction"] == "narrative":
        return f"narrative limit, not classed: {row['narrative']}"
    if body not in row.get("waterbodies", (body,)):
        return f"表1 sets {row['name_en']} limits for lakes and reservoirs only; not classed"
    return None


def _limits(row: dict[str, Any], body: str) -> list[Decimal]:
    return [Decimal(limit) for limit in row.get(f"limits_{body}", row["limits"])]


def _classify(row: dict[str, Any], number: Decimal, body: str) -> WaterClass | None:
    if _why_unclassed(row, body) is not None:
        return None
    found = classes()
    direction = row["direction"]
    if direction == "range":
        for index, (low, high) in enumerate(row["limits"]):
            if Decimal(low) <= number <= Decimal(high):
                return found[index]
        return found[-1]
    # The first class met wins, so where classes share a limit the better one is given.
    for index, limit in enumerate(_limits(row, body)):
        if (number >= limit) if direction == "min" else (number <= limit):
            return found[index]
    return found[-1]


def _multiple(row: dict[str, Any], number: Decimal, goal: WaterClass, body: str) -> Decimal | None:
    if row["direction"] != "max":
        return None  # DO and pH: see the module docstring
    limit = _limits(row, body)[goal.ordinal - 1]
    return ((number - limit) / limit).quantize(CENT, rounding=ROUND_HALF_EVEN)
