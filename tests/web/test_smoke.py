from cityops.auth.permissions import Role
from tests.conftest import bearer


def test_admin_creates_user_and_sees_it_in_the_audit_log(client, make_user):
    admin = make_user("root", Role.ADMIN)
    headers = bearer(client, admin)
    created = client.post(
        "/api/v1/users",
        json={
            "username": "zhang.san",
            "password": "a-long-password-1",
            "grants": [{"role": "intake", "scope": "city"}],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["grants"] == [{"role": "intake", "scope": "city"}]
    audit = client.get("/api/v1/audit", params={"action": "user.create"}, headers=headers)
    assert audit.status_code == 200
    entries = [e for e in audit.json()["items"] if e["object_id"] == "zhang.san"]
    assert len(entries) == 1
    assert entries[0]["actor"] == "root"
    assert entries[0]["role"] == "admin"
    assert entries[0]["request_id"] == created.headers["X-Request-ID"]
