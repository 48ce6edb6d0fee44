"""Assertions on RFC 9457 problem responses, shared by the web tests."""

from __future__ import annotations

PROBLEM_JSON = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    """Assert an RFC 9457 problem response with the request id, and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def assert_rule(response, field: str, rule: str) -> dict:
    """Assert a 422 whose first error names ``field`` and ``rule``; return the body."""
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == field, body
    assert body["errors"][0]["rule"] == rule, body
    assert body["errors"][0]["message"]
    return body
