"""POST /api/v1/organizations: sign-up answers the organization and its first key, once."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import ApiKey, Organization, User
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error, field_messages

KEY_SHAPE = re.compile(r"^dvd_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
OK = {"kind": "buyer", "name": "Model Lab", "owner": {"email": "ops@lab.example.test", "password": "long enough"}}


def organizations() -> int:
    return db.session.scalar(select(func.count()).select_from(Organization))


def test_sign_up_answers_the_organization_and_its_key(client):
    response = client.post("/api/v1/organizations", json={
        "kind": "buyer", "name": "  Model Lab  ",
        "owner": {"email": "Ops@Lab.Example.test", "password": "long enough"}})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "kind", "name", "slug", "api_key"}
    assert (body["kind"], body["name"], body["slug"]) == ("buyer", "Model Lab", "model-lab")
    assert KEY_SHAPE.match(body["api_key"]), body["api_key"]
    user = db.session.scalar(select(User).where(User.organization_id == body["id"]))
    assert (user.email, user.role) == ("ops@lab.example.test", "member")
    assert user.password_hash.startswith("$argon2id$") and "long enough" not in user.password_hash
    key = db.session.scalar(select(ApiKey).where(ApiKey.organization_id == body["id"]))
    # Stored hashed: only the prefix and the SHA-256 of the whole key are kept.
    assert key.prefix == body["api_key"][:12]
    assert key.secret_hash == hashlib.sha256(body["api_key"].encode()).hexdigest()
    listed = client.get("/api/v1/api-keys", headers=factories.bearer(body["api_key"]))
    assert listed.status_code == 200
    assert [item["prefix"] for item in listed.get_json()["items"]] == [key.prefix]


def test_a_platform_signs_up_the_same_way(client):
    body = client.post("/api/v1/organizations", json={**OK, "kind": "platform", "name": "Forum Co"}).get_json()
    assert (body["kind"], body["slug"]) == ("platform", "forum-co")
    created = client.post("/api/v1/datasets", json=factories.dataset_body(), headers=factories.bearer(body["api_key"]))
    assert created.status_code == 201


def test_the_same_name_gets_its_own_slug(client):
    first = client.post("/api/v1/organizations", json={**OK, "name": "Forum Co"}).get_json()
    second = client.post("/api/v1/organizations", json={
        **OK, "name": "Forum Co", "owner": {"email": "two@lab.example.test", "password": "long enough"}}).get_json()
    assert (first["slug"], second["slug"]) == ("forum-co", "forum-co-2")


def test_a_registered_email_is_a_409_and_creates_nothing(client, platform):
    before = organizations()
    body = assert_error(client.post("/api/v1/organizations", json={
        **OK, "owner": {"email": platform["email"].upper(), "password": "long enough"}}), 409, platform["email"])
    assert body["message"] == f"An account with {platform['email']} already exists; log in instead."
    assert field_messages(body, "owner.email") == ["Already registered."]
    assert organizations() == before


NUL = "Must not contain NUL characters."


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"kind": "seller"}, "kind", "Must be one of: platform, buyer."),
    ({"kind": None}, "kind", "Field may not be null."),
    ({"name": "X"}, "name", "Length must be between 2 and 120."),
    ({"name": "   "}, "name", "Give a name of 2 to 120 characters."),
    ({"name": "Lab\x00"}, "name", NUL),
    ({"owner": {"email": "nope", "password": "long enough"}}, "owner.email", "Not a valid e-mail address."),
    ({"owner": {"email": "a@b", "password": "long enough"}}, "owner.email", "Not a valid e-mail address."),
    ({"owner": {"email": "a\x00@lab.example.test", "password": "long enough"}}, "owner.email", NUL),
    ({"owner": {"email": "x@lab.example.test", "password": "short"}}, "owner.password",
     "Shorter than minimum length 8."),
    ({"owner": {"email": "x@lab.example.test"}}, "owner.password", "Missing data for required field."),
    ({"owner": "x@lab.example.test"}, "owner._schema", "Invalid input type."),
    ({"owner": None}, "owner", "Field may not be null."),
    ({"extra": 1}, "extra", "Unknown field."),
])
def test_a_bad_field_is_a_422_naming_it(client, change, path, message):
    before = organizations()
    body = assert_error(client.post("/api/v1/organizations", json={**OK, **change}), 422)
    assert body["message"] == f"{path}: {message}"
    assert field_messages(body, path) == [message]
    assert organizations() == before


def test_missing_fields_are_each_named(client):
    body = assert_error(client.post("/api/v1/organizations", json={}), 422, "kind", "name", "owner")
    missing = ["Missing data for required field."]
    assert body["errors"]["json"] == {"kind": missing, "name": missing, "owner": missing}


def test_the_body_must_be_a_json_object(client):
    body = assert_error(client.post("/api/v1/organizations", json=["platform"]), 422)
    assert body["errors"]["json"] == {"_schema": ["Invalid input type."]}
    body = assert_error(client.post("/api/v1/organizations", data='{"kind": "buyer",',
                                    content_type="application/json"), 400)
    assert body["message"] == "Malformed request body: it is not valid JSON."


def test_sign_up_is_rate_limited(client, rate_limited):
    # Refused bodies count too: the limit is on attempts, and these skip the password hashing.
    statuses = [client.post("/api/v1/organizations", json={**OK, "kind": "x"}, headers=rate_limited).status_code
                for _ in range(20)]
    assert statuses == [422] * 20
    assert_error(client.post("/api/v1/organizations", json=OK, headers=rate_limited), 429)
    assert db.session.scalar(select(User.id).where(User.email == OK["owner"]["email"])) is None
