from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.cases.lights import Light, LightThresholds, light, used_share
from cityops.kernel.errors import ValidationFailed

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("elapsed_hours", "expected"),
    [
        (0, Light.GREEN),
        (8, Light.GREEN),
        (8.01, Light.YELLOW),
        (10, Light.YELLOW),
        (10.01, Light.RED),
    ],
)
def test_green_up_to_80_percent_yellow_up_to_the_limit_then_red(elapsed_hours, expected):
    assert light(HOUR * elapsed_hours, HOUR * 10) is expected


def test_thresholds_are_configurable_and_checked():
    assert light(HOUR * 6, HOUR * 10, LightThresholds(yellow=0.5)) is Light.YELLOW
    with pytest.raises(ValidationFailed):
        LightThresholds(yellow=1.2, red=1.0)
    with pytest.raises(ValueError, match="positive"):
        light(HOUR, timedelta())


@given(st.integers(0, 10_000), st.integers(1, 10_000), st.integers(1, 10_000))
def test_lights_only_get_worse_as_time_passes(a, b, limit_minutes):
    order = [Light.GREEN, Light.YELLOW, Light.RED]
    first, second = sorted((a, b))
    limit = timedelta(minutes=limit_minutes)
    earlier = light(timedelta(minutes=first), limit)
    later = light(timedelta(minutes=second), limit)
    assert order.index(earlier) <= order.index(later)
    assert used_share(timedelta(minutes=first), limit) <= used_share(
        timedelta(minutes=second), limit
    )
