"""API keys: made and shown once, listed by prefix, revocable, private to their organization."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.accounts import jobs, services
from marketplace.accounts.models import ApiKey
from marketplace.db import utcnow
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error, field_messages

NO_KEY = "Send an API key: Authorization: Bearer <key>."
BAD_KEY = "The API key is unknown or revoked."


def make_key(client, owner, **body) -> dict:
    response = client.post("/api/v1/api-keys", json=body, headers=owner["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def listed(client, owner) -> list[dict]:
    response = client.get("/api/v1/api-keys", headers=owner["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_a_new_key_is_shown_once_and_then_listed_by_prefix(client, platform):
    made = make_key(client, platform, label="importer")
    assert set(made) == {"id", "prefix", "api_key"}
    assert made["api_key"].startswith(made["prefix"] + "_") and len(made["prefix"]) == 12
    response = client.get("/api/v1/api-keys", headers=platform["headers"])
    assert made["api_key"].encode() not in response.data
    assert platform["api_key"].encode() not in response.data
    items = response.get_json()["items"]
    assert [(item["prefix"], item["label"]) for item in items] == [
        (platform["api_key"][:12], "created at sign-up"), (made["prefix"], "importer")]
    assert all(set(item) == {"id", "prefix", "label", "created_at", "last_used_at"} for item in items)
    assert items[1]["id"] == made["id"] and items[1]["last_used_at"] is None
    # The new key works, and its use is noted.
    assert client.get("/api/v1/api-keys", headers=factories.bearer(made["api_key"])).status_code == 200
    assert listed(client, platform)[1]["last_used_at"] is not None


def last_used(key_id: int):
    return db.session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))


def test_a_read_notes_its_key_after_itself_and_at_most_once_a_minute(client, platform, monkeypatch):
    """A GET never writes in its own transaction: a job stamps the key after it, when the stamp is stale."""
    made = make_key(client, platform)
    headers = factories.bearer(made["api_key"])
    queued = []
    real = jobs.stamp_key_use
    monkeypatch.setattr(jobs, "stamp_key_use", lambda key_id, at: (queued.append(key_id), real(key_id, at)))
    assert client.get("/api/v1/api-keys", headers=headers).status_code == 200
    assert queued == [made["id"]]
    stamped = last_used(made["id"])
    assert stamped is not None
    assert client.get("/api/v1/api-keys", headers=headers).status_code == 200
    assert queued == [made["id"]] and last_used(made["id"]) == stamped  # fresh: no second job

    # A writing request notes the use in its own transaction, without a job.
    stale = stamped - services.LAST_USED_RESOLUTION - timedelta(seconds=1)
    db.session.execute(update(ApiKey).where(ApiKey.id == made["id"]).values(last_used_at=stale))
    db.session.commit()
    assert client.post("/api/v1/api-keys", json={}, headers=headers).status_code == 201
    assert queued == [made["id"]] and last_used(made["id"]) > stale


def test_the_stamp_job_writes_only_a_stale_stamp(platform):
    key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == platform["api_key"][:12]))
    now = utcnow()
    assert services.stamp_key_use(db.session, key_id, now - timedelta(minutes=5)) is True
    assert services.stamp_key_use(db.session, key_id, now - timedelta(minutes=4, seconds=30)) is False
    assert services.stamp_key_use(db.session, key_id, now) is True
    assert last_used(key_id) == now


def test_a_key_without_a_body_gets_an_empty_label(client, buyer):
    response = client.post("/api/v1/api-keys", headers=buyer["headers"])
    assert response.status_code == 201
    assert listed(client, buyer)[-1]["label"] == ""


def test_a_long_label_is_a_422(client, platform):
    body = assert_error(client.post("/api/v1/api-keys", json={"label": "x" * 121}, headers=platform["headers"]),
                        422, "label")
    assert field_messages(body, "label") == ["Longer than maximum length 120."]
    assert len(listed(client, platform)) == 1


def test_keys_are_listed_only_to_their_organization(client, platform, other_platform):
    make_key(client, platform, label="mine")
    assert [item["prefix"] for item in listed(client, other_platform)] == [other_platform["api_key"][:12]]


def test_a_revoked_key_authenticates_nothing(client, platform):
    made = make_key(client, platform, label="to revoke")
    headers = factories.bearer(made["api_key"])
    response = client.delete(f"/api/v1/api-keys/{made['id']}", headers=platform["headers"])
    assert (response.status_code, response.data) == (204, b"")
    body = assert_error(client.get("/api/v1/api-keys", headers=headers), 401)
    assert body["message"] == BAD_KEY
    assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(), headers=headers), 401)
    assert [item["prefix"] for item in listed(client, platform)] == [platform["api_key"][:12]]
    assert_error(client.delete(f"/api/v1/api-keys/{made['id']}", headers=platform["headers"]), 404,
                 f"No API key {made['id']}.")


def test_a_key_may_revoke_itself(client, platform):
    own_id = listed(client, platform)[0]["id"]
    assert client.delete(f"/api/v1/api-keys/{own_id}", headers=platform["headers"]).status_code == 204
    assert_error(client.get("/api/v1/api-keys", headers=platform["headers"]), 401)


def test_another_organization_cannot_revoke_my_key(client, platform, buyer, other_platform):
    made = make_key(client, platform)
    for stranger in (buyer, other_platform):
        assert_error(client.delete(f"/api/v1/api-keys/{made['id']}", headers=stranger["headers"]), 404)
    assert client.get("/api/v1/api-keys", headers=factories.bearer(made["api_key"])).status_code == 200
    assert made["id"] in [item["id"] for item in listed(client, platform)]
    assert_error(client.delete("/api/v1/api-keys/999999", headers=platform["headers"]), 404)


@pytest.mark.parametrize(("header", "message"), [
    (None, NO_KEY),
    ("", NO_KEY),
    ("Basic dXNlcjpwYXNz", NO_KEY),
    ("Bearer ", NO_KEY),
    ("Bearer nonsense", BAD_KEY),
    ("Bearer dvd_00000000_not-a-key", BAD_KEY),
    ("Token {key}", NO_KEY),
    ("Bearer {prefix}_wrong-secret", BAD_KEY),
    ("Bearer {key}x", BAD_KEY),
])
def test_no_or_a_bad_key_is_a_401(client, platform, header, message):
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(key=platform["api_key"], prefix=platform["api_key"][:12])
    body = assert_error(client.get("/api/v1/api-keys", headers=headers), 401)
    assert body["message"] == message


def test_the_bearer_scheme_is_case_insensitive(client, platform):
    response = client.get("/api/v1/api-keys", headers={"Authorization": f"bearer {platform['api_key']}"})
    assert response.status_code == 200


def test_the_wrong_role_is_a_403_and_changes_nothing(client, buyer):
    body = assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(slug="lab-data"),
                                    headers=buyer["headers"]), 403)
    assert body["message"] == "This call is for platform accounts."
    assert_error(client.get("/api/v1/datasets/lab-data", headers=buyer["headers"]), 404)
