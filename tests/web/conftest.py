"""Fixtures of the web tests: the tiny city of the cases tests, with people in each role."""

from __future__ import annotations

import pytest

from tests.conftest import bearer
from tests.web.cases_city import City, build_city, make_people


@pytest.fixture
def city(services, system, make_user, client) -> City:
    build_city(services, system)
    return make_people(services, system, make_user, client, bearer)
