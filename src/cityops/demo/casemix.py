"""What arrives in a demo year: channels, matter classes, moments, places, texts and reporters.

The shares follow what a district's 一网统管 platform typically sees: patrollers (监督员) report
nearly half of the cases, the 12345 hotline a third, the rest come from the app, sensors, video
AI, the web and enterprise platforms. A few dozen matter classes (暴露垃圾, 乱堆杂物, 占道经营,
乱停放, 井盖, 道路破损 …) make most of the volume; summer brings blocked gullies and fallen trees,
winter a little ice. Cases come more on working days and in the day, and cluster in hotspot
grids. Everything is drawn from one ``random.Random``, so the same seed and the same period give
the same arrivals.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from cityops.cases.model import AppealType, Channel, Urgency
from cityops.kernel.worktime import WorkingCalendar

CHANNEL_SHARES: tuple[tuple[Channel, float], ...] = (
    (Channel.PATROLLER, 45.0),
    (Channel.HOTLINE, 30.0),
    (Channel.APP, 10.0),
    (Channel.SENSOR, 5.0),
    (Channel.AI_DETECTION, 5.0),
    (Channel.WEB, 3.0),
    (Channel.ENTERPRISE, 2.0),
)
CITIZEN_CHANNELS = frozenset({Channel.HOTLINE, Channel.WEB, Channel.APP})
APPEAL_SHARES: tuple[tuple[AppealType, float], ...] = (
    (AppealType.COMPLAINT, 45.0),
    (AppealType.HELP, 20.0),
    (AppealType.REPORT, 15.0),
    (AppealType.CONSULT, 12.0),
    (AppealType.SUGGESTION, 8.0),
)

# The common matter classes (GB/T 47678.5 codes) and their weights; the other classes share a
# long tail. Roughly the mix of a central district's 网格化 cases.
COMMON_CLASSES: dict[str, float] = {
    "06010": 9.0,  # 暴露垃圾
    "06036": 7.0,  # 乱堆杂物
    "09006": 6.0,  # 占道经营
    "09005": 5.0,  # 店外经营
    "09009": 5.0,  # 机动车乱停放
    "09010": 4.0,  # 非机动车乱停放
    "07001": 4.0,  # 非法小广告
    "06012": 4.0,  # 道路不洁
    "06042": 3.0,  # 垃圾站（箱）满溢
    "06013": 3.0,  # 道路破损
    "06028": 3.0,  # 噪声扰民
    "09011": 3.0,  # 共享单车乱象
    "06017": 2.5,  # 绿地脏乱
    "01037": 2.0,  # 路灯异常
    "06041": 2.0,  # 垃圾未分类
    "08001": 2.0,  # 施工扰民
    "06027": 2.0,  # 油烟污染
    "06001": 2.0,  # 私搭乱建
    "01004": 1.5,  # 雨水箅子异常
    "03005": 1.5,  # 垃圾箱异常
    "06007": 1.5,  # 沿街晾挂
    "06011": 1.5,  # 积存垃圾渣土
    "09001": 1.5,  # 无照经营游商
    "01003": 1.2,  # 雨水井盖异常
    "01002": 1.2,  # 污水井盖异常
    "04002": 1.2,  # 行道树异常
    "06014": 1.0,  # 道路遗撒
    "08002": 1.0,  # 施工占道
    "08004": 1.0,  # 工地扬尘
    "06040": 1.0,  # 私设地锁、阻车桩
    "09012": 1.0,  # 占用消防通道
    "06035": 1.0,  # 废弃家具设备
    "02010": 0.8,  # 交通标志牌及标线异常
    "06034": 0.8,  # 废弃车辆
    "06030": 0.8,  # 乱倒乱排污水、废水
    "01001": 0.6,  # 供水井盖异常
    "02014": 0.6,  # 交通信号灯异常
    "03001": 0.6,  # 公共厕所异常
    "06050": 0.5,  # 路缘石缺损
    "06051": 0.5,  # 盲道缺损
    "09015": 0.5,  # 无证餐饮
    "01005": 0.4,  # 电力井盖异常
    "01007": 0.4,  # 通信井盖异常
    "06029": 0.4,  # 露天烧烤
    "08006": 0.4,  # 施工物料乱堆放
    "08007": 0.4,  # 施工工地围挡问题
}
TAIL_WEIGHT = (0.02, 0.14)

# Months in which a class comes more (or only: 道路积雪、结冰 outside winter is not drawn).
SEASONS: dict[str, tuple[tuple[int, ...], float]] = {
    "01004": ((6, 7, 8, 9), 3.0),  # gullies blocked in the plum rains and typhoons (积水)
    "01003": ((6, 7, 8, 9), 2.0),
    "01072": ((6, 7, 8, 9), 3.0),
    "01067": ((6, 7, 8, 9), 3.0),
    "04002": ((7, 8, 9), 2.0),  # typhoons bring trees down
    "04003": ((7, 8, 9), 2.0),
    "10002": ((7, 8, 9), 2.0),
    "06028": ((6, 7, 8), 1.8),  # summer evenings: noise, barbecues, cooking fumes
    "06029": ((6, 7, 8), 2.5),
    "06027": ((6, 7, 8), 1.5),
    "06021": ((5, 6, 7, 8), 2.5),  # pests
    "06017": ((10, 11), 1.5),  # leaves
    "06018": ((10, 11), 2.0),
    "06020": ((11, 12), 2.0),
}
WINTER_ONLY = {"10001": (12, 1, 2)}
MONTH_VOLUME = (0.85, 0.8, 0.95, 1.0, 1.05, 1.1, 1.15, 1.15, 1.05, 1.0, 0.95, 0.9)

# What sensors and video AI detect, with the device that raised it.
SENSOR_CLASSES: dict[str, tuple[float, str]] = {
    "01004": (3.0, "积水监测仪"),
    "01003": (2.0, "井盖位移传感器"),
    "01002": (2.0, "井盖位移传感器"),
    "06042": (3.0, "垃圾箱满溢传感器"),
    "06028": (2.0, "噪声监测点"),
    "08004": (2.0, "工地扬尘监测仪"),
    "06027": (1.0, "油烟在线监测仪"),
    "01037": (1.5, "单灯控制器"),
    "06026": (0.5, "水质监测站"),
}
AI_CLASSES: dict[str, float] = {
    "09006": 4.0,
    "09005": 3.0,
    "09009": 3.0,
    "09010": 3.0,
    "06010": 3.0,
    "06036": 3.0,
    "07001": 1.5,
    "09001": 1.5,
    "06007": 1.0,
    "06042": 1.5,
    "09011": 1.5,
    "06029": 0.5,
}

# Hour-of-day weights (local time, 0–23) per kind of source.
_DAY = (1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 10, 13, 13, 12, 10, 8, 7, 6, 4, 3, 2)
_PATROL = (0, 0, 0, 0, 0, 0, 1, 6, 14, 16, 15, 10, 5, 9, 15, 15, 13, 8, 3, 1, 0, 0, 0, 0)
_MACHINE = (4, 3, 3, 3, 3, 4, 6, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 8, 7, 6, 5)
HOURS: dict[Channel, tuple[int, ...]] = {
    Channel.PATROLLER: _PATROL,
    Channel.HOTLINE: _DAY,
    Channel.WEB: _DAY,
    Channel.APP: _DAY,
    Channel.ENTERPRISE: _PATROL,
    Channel.SENSOR: _MACHINE,
    Channel.AI_DETECTION: _MACHINE,
}
URGENT_PRONE = frozenset(
    {"01001", "01002", "01003", "01004", "01005", "01007", "02014", "06014", "06033"}
    | {"08013", "08014", "09012", "10001", "10002", "06037"}
)
WEEKEND_VOLUME = 0.62

T = TypeVar("T")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
)
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红梅志文斌婷雪琳浩宇"
_PHONE_PREFIXES = ("138", "139", "137", "136", "135", "158", "159", "186", "187", "189", "133")
_ENTERPRISES = ("物业公司巡检", "共享单车企业平台", "环卫作业公司", "燃气公司巡线", "供电公司巡检")


@dataclass(frozen=True, slots=True)
class DemoGrid:
    """A unit grid of the demo city: its codes, shape, grid worker and responsible units."""

    code: str
    community_code: str
    street_code: str
    district_code: str
    geometry: BaseGeometry
    worker: str | None
    units: Mapping[tuple[str, str], str]


@dataclass(frozen=True, slots=True)
class DemoComponent:
    """A managed component (部件) a case can be about."""

    id: str
    class_code: str
    lon: float
    lat: float
    grid: int  # index into the grids


@dataclass(frozen=True, slots=True)
class Arrival:
    """One case as it arrives, before anyone handles it."""

    accepted_at: datetime
    channel: Channel
    matter_code: str
    description: str
    urgency: Urgency
    appeal_type: AppealType | None
    grid: DemoGrid
    lon: float
    lat: float
    component_id: str | None = None
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    device: str | None = None


class _Picker(Generic[T]):
    """Weighted choice by bisection over cumulative weights (much faster than choices())."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> T:
        point = rng.random() * self.cumulative[-1]
        index = bisect.bisect_right(self.cumulative, point)
        return self.items[min(index, len(self.items) - 1)]


class ArrivalMaker:
    """Draws a period's arrivals for the demo city."""

    def __init__(
        self,
        rng: random.Random,
        *,
        grids: Sequence[DemoGrid],
        components: Sequence[DemoComponent],
        roads: Mapping[str, LineString],
        texts: Mapping[str, Sequence[str]],
        class_names: Mapping[str, str],
        calendar: WorkingCalendar,
        zone: ZoneInfo,
    ) -> None:
        self._rng = rng
        self._grids = list(grids)
        self._calendar = calendar
        self._zone = zone
        self._texts = texts
        self._names = dict(class_names)
        self._road_names = sorted(roads)
        self._road_tree = shapely.STRtree([roads[name] for name in self._road_names])
        for grid in self._grids:
            shapely.prepare(grid.geometry)
        self._components: dict[str, list[DemoComponent]] = {}
        for component in components:
            self._components.setdefault(component.class_code, []).append(component)
        order = list(range(len(self._grids)))
        rng.shuffle(order)  # hotspots: a Zipf-like weight over a shuffled order of the grids
        weights = [0.0] * len(order)
        for rank, index in enumerate(order):
            weights[index] = 1.0 / (rank + 1) ** 0.65
        self._grid_picker = _Picker(self._grids, weights)
        tail = {
            code: rng.uniform(*TAIL_WEIGHT)
            for code in sorted(class_names)
            if code not in COMMON_CLASSES
        }
        base = {**tail, **COMMON_CLASSES}
        self._by_month = {month: self._month_picker(base, month) for month in range(1, 13)}
        self._sensor = _Picker(list(SENSOR_CLASSES), [w for w, _ in SENSOR_CLASSES.values()])
        self._ai = _Picker(list(AI_CLASSES), list(AI_CLASSES.values()))
        channels, shares = zip(*CHANNEL_SHARES, strict=True)
        self._channels = _Picker(channels, shares)
        appeals, appeal_shares = zip(*APPEAL_SHARES, strict=True)
        self._appeals = _Picker(appeals, appeal_shares)
        self._hours = {channel: _Picker(range(24), weights) for channel, weights in HOURS.items()}

    @staticmethod
    def _month_picker(base: Mapping[str, float], month: int) -> _Picker[str]:
        weights = dict(base)
        for code, (months, factor) in SEASONS.items():
            if code in weights and month in months:
                weights[code] *= factor
        for code, months in WINTER_ONLY.items():
            if code in weights:
                weights[code] = 0.3 if month in months else 0.0
        codes = sorted(weights)
        return _Picker(codes, [weights[c] for c in codes])

    def arrivals(self, count: int, first_day: date, days: int) -> list[Arrival]:
        """Return ``count`` arrivals over ``days`` local days from ``first_day``, oldest first."""
        rng = self._rng
        day_list = [first_day + timedelta(days=i) for i in range(days)]
        day_weights = [
            (1.0 if self._calendar.is_workday(d) else WEEKEND_VOLUME)
            * MONTH_VOLUME[d.month - 1]
            * (0.9 + 0.2 * i / max(days - 1, 1))  # a slow growth over the year
            for i, d in enumerate(day_list)
        ]
        day_picker = _Picker(day_list, day_weights)
        found = [self._one(day_picker.pick(rng)) for _ in range(count)]
        found.sort(key=lambda a: a.accepted_at)
        return self._with_addresses(found)

    def _one(self, day: date) -> Arrival:
        rng = self._rng
        channel = self._channels.pick(rng)
        hour = self._hours[channel].pick(rng)
        local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), self._zone)
        device = None
        if channel is Channel.SENSOR:
            code = self._sensor.pick(rng)
            device = SENSOR_CLASSES[code][1]
        elif channel is Channel.AI_DETECTION:
            code = self._ai.pick(rng)
        else:
            code = self._by_month[day.month].pick(rng)
        lon, lat, grid, component_id = self._place(code)
        urgent = rng.random() < (0.25 if code in URGENT_PRONE else 0.065)
        appeal = self._appeals.pick(rng) if channel in CITIZEN_CHANNELS else None
        name = phone = None
        if channel in (Channel.HOTLINE, Channel.APP, Channel.WEB):
            name, phone = self._reporter()
        return Arrival(
            accepted_at=local.astimezone(UTC),
            channel=channel,
            matter_code=code,
            description=self._text(channel, code, device),
            urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
            appeal_type=appeal,
            grid=grid,
            lon=round(lon, 7),
            lat=round(lat, 7),
            component_id=component_id,
            reporter_name=name,
            reporter_phone=phone,
            device=device,
        )

    def _place(self, code: str) -> tuple[float, float, DemoGrid, str | None]:
        rng = self._rng
        components = self._components.get(code)
        if components and rng.random() < 0.7:
            component = components[rng.randrange(len(components))]
            return component.lon, component.lat, self._grids[component.grid], component.id
        grid = self._grid_picker.pick(rng)
        shape = grid.geometry
        min_x, min_y, max_x, max_y = shape.bounds
        for _ in range(50):
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
            if shapely.contains_xy(shape, x, y):
                return x, y, grid, None
        point = shape.representative_point()
        return point.x, point.y, grid, None

    def _text(self, channel: Channel, code: str, device: str | None) -> str:
        rng = self._rng
        name = self._names.get(code, code)
        if channel is Channel.SENSOR:
            reading = rng.randint(1, 99)
            return f"【物联感知】{device}告警：疑似{name}，监测值超过阈值（{reading}），请核实处置"
        if channel is Channel.AI_DETECTION:
            confidence = rng.uniform(0.72, 0.98)
            camera = rng.randint(1, 480)
            return f"【视频智能识别】{camera:03d}号点位识别到{name}，置信度{confidence:.2f}"
        pool = self._texts.get(code)
        text = pool[rng.randrange(len(pool))] if pool else f"发现{name}，请尽快处理"
        if channel is Channel.ENTERPRISE:
            return f"【{_ENTERPRISES[rng.randrange(len(_ENTERPRISES))]}】{text}"
        return text

    def _reporter(self) -> tuple[str, str]:
        rng = self._rng
        surname = _SURNAMES[rng.randrange(len(_SURNAMES))]
        roll = rng.random()
        if roll < 0.45:
            name = surname + "先生"
        elif roll < 0.8:
            name = surname + "女士"
        else:
            name = surname + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
        prefix = _PHONE_PREFIXES[rng.randrange(len(_PHONE_PREFIXES))]
        return name, f"{prefix}0000{rng.randrange(10_000):04d}"  # well-formed, plainly fake

    def _with_addresses(self, arrivals: list[Arrival]) -> list[Arrival]:
        """Name the nearest road of every place (one vectorised query)."""
        if not arrivals or not self._road_names:
            return arrivals
        points = shapely.points([a.lon for a in arrivals], [a.lat for a in arrivals])
        where, nearest = self._road_tree.query_nearest(points, all_matches=False)
        road_of = dict(zip(where.tolist(), nearest.tolist(), strict=True))
        return [
            replace(arrival, address=f"{self._road_names[road_of[i]]}附近")
            if i in road_of
            else arrival
            for i, arrival in enumerate(arrivals)
        ]
