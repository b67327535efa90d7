"""Sign-up, log-in, log-out and API keys in the browser: forms, redirects, rate limit, CSRF."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Organization
from marketplace.extensions import db
from tests import factories


def signup_form(**overrides) -> dict:
    return {"kind": "platform", "name": "Web Forum", "email": "web@forum.example.test",
            "password": "long enough", **overrides}


def organizations() -> int:
    return db.session.scalar(select(func.count()).select_from(Organization))


def organization(name: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.name == name))


# ---- sign-up -----------------------------------------------------------------------------


def test_a_platform_signs_up_on_the_web_and_lands_on_its_datasets(client):
    page = client.get("/signup")
    assert page.status_code == 200 and b"Create your organization" in page.data
    response = client.post("/signup", data=signup_form())
    assert (response.status_code, response.headers["Location"]) == (302, "/platform/datasets")
    assert organization("Web Forum").kind == "platform"
    landed = client.get("/platform/datasets")
    assert landed.status_code == 200
    assert b"Welcome to Dividend, Web Forum." in landed.data and b"Web Forum: datasets" in landed.data


def test_a_buyer_lands_on_the_catalog(client):
    response = client.post("/signup", data=signup_form(kind="buyer", name="Web Lab"))
    assert (response.status_code, response.headers["Location"]) == (302, "/datasets")


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "seller"}, b"Choose platform or buyer."),
    ({"kind": ""}, b"Choose platform or buyer."),
    ({"email": "nope"}, b"Not a valid e-mail address."),
    ({"password": "short"}, b"Use at least 8 characters."),
    ({"name": "Web\x00Forum"}, b"Must not contain NUL characters."),
])
def test_a_bad_sign_up_form_is_a_422_naming_the_field(client, change, message):
    before = organizations()
    response = client.post("/signup", data=signup_form(**change))
    assert response.status_code == 422
    assert message in response.data
    assert organizations() == before


def test_a_registered_email_is_refused_on_the_form(client, platform):
    response = client.post("/signup", data=signup_form(email=platform["email"]))
    assert response.status_code == 422
    assert b"Already registered." in response.data
    assert organization("Web Forum") is None


# ---- log-in and log-out ------------------------------------------------------------------


def test_log_in_redirects_each_role_home(client, platform, buyer):
    response = client.post("/login", data={"email": platform["email"].upper(), "password": platform["password"]})
    assert (response.status_code, response.headers["Location"]) == (302, "/platform/datasets")
    client.post("/logout")
    response = client.post("/login", data={"email": buyer["email"], "password": buyer["password"]})
    assert (response.status_code, response.headers["Location"]) == (302, "/datasets")


def test_logged_in_users_are_sent_on_from_the_log_in_and_sign_up_pages(client, platform):
    client.post("/login", data={"email": platform["email"], "password": platform["password"]})
    assert client.get("/login").headers["Location"] == "/platform/datasets"
    assert client.get("/login?next=/account/keys").headers["Location"] == "/account/keys"
    response = client.get("/signup", follow_redirects=True)
    assert response.request.path == "/platform/datasets"
    assert f"You are logged in as {platform['email']}".encode() in response.data
    count = organizations()
    signup = client.post("/signup", data=signup_form(email="second@example.test"))
    assert (signup.status_code, organizations()) == (302, count)


@pytest.mark.parametrize(("form", "message"), [
    ({"email": "platform-nobody@example.test", "password": "whatever it is"}, b"Wrong e-mail or password."),
    ({"email": "{email}", "password": "wrong password"}, b"Wrong e-mail or password."),
    ({"email": "{email}", "password": ""}, b"This field is required."),
    ({"email": "not an email", "password": "whatever it is"}, b"Not a valid e-mail address."),
])
def test_a_wrong_log_in_is_a_422_and_logs_nobody_in(client, platform, form, message):
    data = {key: value.format(email=platform["email"]) for key, value in form.items()}
    response = client.post("/login", data=data)
    assert response.status_code == 422
    assert message in response.data
    assert client.get("/platform/datasets").status_code == 302


def test_an_admin_without_a_password_cannot_log_in(client, runner):
    runner.invoke(args=["admin", "create", "nopass@example.test"])
    for password in ("!unusable", "anything at all"):
        assert client.post("/login", data={"email": "nopass@example.test", "password": password}).status_code == 422


@pytest.mark.parametrize(("target", "landing"), [
    ("/account/keys", "/account/keys"),
    ("//evil.example/steal", "/platform/datasets"),
    ("https://evil.example/steal", "/platform/datasets"),
    ("/\\evil.example", "/platform/datasets"),
])
def test_log_in_follows_only_local_next_links(client, platform, target, landing):
    response = client.post("/login", query_string={"next": target},
                           data={"email": platform["email"], "password": platform["password"]})
    assert response.headers["Location"] == landing


def test_log_out_is_a_post(client, platform):
    factories.login(client, platform)
    assert client.get("/logout").status_code == 405
    assert client.get("/account/keys").status_code == 200  # a GET logged nobody out
    response = client.post("/logout")
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    page = client.get("/account/keys")
    assert (page.status_code, page.headers["Location"]) == (302, "/login?next=%2Faccount%2Fkeys")


def test_log_in_is_rate_limited(client, platform, rate_limited):
    form = {"email": platform["email"], "password": "wrong password"}
    statuses = [client.post("/login", data=form, headers=rate_limited).status_code for _ in range(10)]
    assert statuses == [422] * 10
    # The 11th in the minute is refused even with the right password.
    page = client.post("/login", data={**form, "password": platform["password"]}, headers=rate_limited)
    assert page.status_code == 429
    assert b"<html" in page.data and b"wait a minute and try again" in page.data
    assert client.get("/platform/datasets").status_code == 302


# ---- CSRF ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("csrf")
def test_a_form_without_its_csrf_token_is_refused(client):
    response = client.post("/signup", data=signup_form())
    assert response.status_code == 400
    assert b"The CSRF token is missing." in response.data
    assert organization("Web Forum") is None
    response = client.post("/signup", data={**signup_form(), "csrf_token": "forged"})
    assert response.status_code == 400 and b"The CSRF token is invalid." in response.data
    assert organization("Web Forum") is None
    token = factories.token_from(client.get("/signup"))
    response = client.post("/signup", data={**signup_form(), "csrf_token": token})
    assert response.status_code == 302
    assert organization("Web Forum") is not None


@pytest.mark.usefixtures("csrf")
def test_log_in_log_out_and_workbench_forms_need_the_token(client, platform):
    assert client.post("/login", data={"email": platform["email"], "password": platform["password"]}).status_code == 400
    token = factories.token_from(client.get("/login"))
    response = client.post("/login", data={"email": platform["email"], "password": platform["password"],
                                           "csrf_token": token})
    assert response.status_code == 302
    assert client.post("/logout").status_code == 400
    assert client.get("/account/keys").status_code == 200  # still logged in
    form = {"slug": "csrf-test", "title": "CSRF test", "content_kind": "post", "languages": "en",
            "consent_policy": "opt_out", "weighting": "records"}
    assert client.post("/platform/datasets/new", data=form).status_code == 400
    assert client.get("/api/v1/datasets/csrf-test", headers=platform["headers"]).status_code == 404
    token = factories.token_from(client.get("/platform/datasets/new"))
    assert client.post("/platform/datasets/new", data={**form, "csrf_token": token}).status_code == 302
    assert client.get("/api/v1/datasets/csrf-test", headers=platform["headers"]).status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


@pytest.mark.usefixtures("csrf")
def test_the_json_api_is_exempt_from_csrf(client):
    response = client.post("/api/v1/organizations", json={
        "kind": "buyer", "name": "API Lab", "owner": {"email": "api@lab.example.test", "password": "long enough"}})
    assert response.status_code == 201


# ---- API keys page ------------------------------------------------------------------------


def test_the_keys_page_shows_a_new_key_once_and_revokes(client, platform):
    factories.login(client, platform)
    page = client.get("/account/keys")
    assert page.status_code == 200 and platform["api_key"][:12].encode() in page.data
    assert platform["api_key"].encode() not in page.data
    made = client.post("/account/keys", data={"label": "web made"})
    secret = re.search(rb'id="new-key">([^<]+)<', made.data).group(1).decode()
    assert client.get("/api/v1/api-keys", headers=factories.bearer(secret)).status_code == 200
    again = client.get("/account/keys")
    assert secret.encode() not in again.data and secret[:12].encode() in again.data
    key_id = next(item["id"] for item in client.get("/api/v1/api-keys", headers=platform["headers"]).get_json()["items"]
                  if item["prefix"] == secret[:12])
    response = client.post(f"/account/keys/{key_id}/revoke")
    assert response.status_code == 302
    assert client.get("/api/v1/api-keys", headers=factories.bearer(secret)).status_code == 401


def test_the_keys_page_cannot_revoke_another_organizations_key(client, platform, other_platform):
    factories.login(client, other_platform)
    key_id = client.get("/api/v1/api-keys", headers=platform["headers"]).get_json()["items"][0]["id"]
    response = client.post(f"/account/keys/{key_id}/revoke")
    assert response.status_code == 404 and b"<html" in response.data
    assert client.get("/api/v1/api-keys", headers=platform["headers"]).status_code == 200


def test_the_keys_page_needs_a_log_in(client):
    response = client.get("/account/keys")
    assert (response.status_code, response.headers["Location"]) == (302, "/login?next=%2Faccount%2Fkeys")
