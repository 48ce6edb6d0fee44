import json
import logging

from cityops.kernel.context import RequestContext, request_context
from cityops.logs import JsonFormatter, RequestIdFilter


def _record(message="hello %s", args=("world",), **extra):
    record = logging.LogRecord("cityops.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_request_id_and_extra_fields():
    record = _record(status=201, duration_ms=3.5)
    with request_context(RequestContext(request_id="req-1", client_address="10.0.0.9")):
        RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["level"] == "INFO"
    assert data["logger"] == "cityops.test"
    assert data["request_id"] == "req-1"
    assert data["status"] == 201
    assert data["duration_ms"] == 3.5
    assert data["time"].endswith("+00:00")
    assert "\n" not in line


def test_records_outside_a_request_get_a_dash():
    record = _record()
    RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_chinese_is_kept_readable_in_json_logs():
    data = JsonFormatter().format(_record("受理 %s", ("案卷",)))
    assert "受理 案卷" in data
