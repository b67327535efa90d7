"""`flask admin create EMAIL`: non-interactive; the key alone on the last line of stdout."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error


def last_line(result) -> str:
    return result.stdout.rstrip("\n").splitlines()[-1]


def admins(email: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == email, User.role == "admin"))


def test_admin_create_prints_a_working_key_alone_on_the_last_line(runner, client):
    result = runner.invoke(args=["admin", "create", "Ops@Example.test"])
    assert result.exit_code == 0, result.output
    key = last_line(result)
    assert key.startswith("dvd_") and key == key.strip() and " " not in key
    assert result.stdout == key + "\n"  # the only thing on stdout; the words go to stderr
    assert "Admin ops@example.test ready." in result.stderr
    check = client.get("/api/v1/admin/ledger/check", headers=factories.bearer(key))
    assert check.status_code == 200
    assert set(check.get_json()) >= {"balanced", "transactions", "entries", "mismatched_accounts"}
    keys = client.get("/api/v1/api-keys", headers=factories.bearer(key)).get_json()["items"]
    assert [item["prefix"] for item in keys] == [key[:12]]


def test_running_it_again_adds_a_key_to_the_same_admin(runner, client):
    first = last_line(runner.invoke(args=["admin", "create", "ops@example.test"]))
    second = last_line(runner.invoke(args=["admin", "create", "ops@example.test"]))
    assert first != second
    assert admins("ops@example.test") == 1
    for key in (first, second):
        assert client.get("/api/v1/admin/ledger/check", headers=factories.bearer(key)).status_code == 200


def test_only_admins_pass_the_admin_endpoints(client, platform, buyer):
    assert_error(client.get("/api/v1/admin/ledger/check"), 401)
    for who in (platform, buyer):
        assert_error(client.get("/api/v1/admin/ledger/check", headers=who["headers"]), 403)


def test_a_bad_email_prints_no_key(runner):
    result = runner.invoke(args=["admin", "create", "not-an-email"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Error: email: Not a valid e-mail address." in result.stderr


def test_a_member_cannot_be_made_an_admin(runner, platform):
    result = runner.invoke(args=["admin", "create", platform["email"]])
    assert result.exit_code == 1
    assert f"Error: {platform['email']} belongs to a non-admin account." in result.stderr
    assert admins(platform["email"]) == 0


def test_a_password_lets_the_admin_log_in_to_the_web(runner, client):
    result = runner.invoke(args=["admin", "create", "web@example.test", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    response = client.post("/login", data={"email": "web@example.test", "password": "long enough pw"})
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/ledger")
    assert client.get("/admin/ledger").status_code == 200


def test_a_short_password_creates_nothing(runner):
    result = runner.invoke(args=["admin", "create", "short@example.test", "--password", "short"])
    assert result.exit_code == 1
    assert "Error: password: Use at least 8 characters." in result.stderr
    assert admins("short@example.test") == 0
