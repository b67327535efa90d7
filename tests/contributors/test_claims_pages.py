"""The claim pages: claiming and linking (people), the contributor list with its codes (platforms)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select, update

from marketplace.contributors.models import ClaimCode
from marketplace.db import utcnow
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import listed
from tests.contributors.helpers_claims import PASSWORD, claim, contributor, csv_rows, issued_code
from tests.contributors_factory import claimed

NEW_CODE = re.compile(rb'id="new-code">([^<]+)<')


def claim_form(code: str, email: str = "web-claimer@example.test", password: str = PASSWORD) -> dict:
    return {"code": code, "email": email, "password": password}


def landing(app) -> str:
    """Where a new claimer lands: the statement once that page exists, the consent page until then."""
    with app.test_request_context():
        return url_for("statement.page") if "statement.page" in app.view_functions else url_for("consent.page")


def codes() -> int:
    return db.session.scalar(select(func.count()).select_from(ClaimCode))


# ---- claiming -----------------------------------------------------------------------------


def test_claiming_on_the_web_logs_in_and_lands_home(app, client, platform):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    page = client.get("/claim")
    assert page.status_code == 200 and b"Claim your identity" in page.data
    response = client.post("/claim", data=claim_form(code.lower()))
    assert (response.status_code, response.headers["Location"]) == (302, landing(app))
    assert contributor(platform, "ana").user_id is not None

    held = client.get("/me/identities")
    assert held.status_code == 200
    assert b"<code>ana</code>" in held.data and platform["name"].encode() in held.data
    assert client.get("/claim").headers["Location"] == "/me/identities"  # already a contributor


@pytest.mark.parametrize(("case", "message"), [
    ("unknown", b"No such claim code"),
    ("used", b"This claim code was already used"),
    ("expired", b"This claim code expired on"),
    ("misshapen", b"A claim code is 16 letters and digits"),
    ("bad email", b"Not a valid e-mail address."),
    ("short password", b"Use at least 8 characters."),
    ("taken email", b"Already registered: log in and link the code"),
])
def test_a_code_or_account_that_does_not_work_is_explained_on_the_form(client, platform, buyer, case, message):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    form = claim_form(code)
    if case == "unknown":
        form["code"] = "7K3M-Q9XD-2HBT-V0PN"
    elif case == "used":
        assert claim(client, code).status_code == 201
    elif case == "expired":
        db.session.execute(update(ClaimCode).values(expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    elif case == "misshapen":
        form["code"] = "ABC"
    elif case == "bad email":
        form["email"] = "nope"
    elif case == "short password":
        form["password"] = "short"
    elif case == "taken email":
        form["email"] = buyer["email"]
    response = client.post("/claim", data=form)
    assert response.status_code == 422
    assert message in response.data.replace(b"&#39;", b"'")
    assert client.get("/me/identities").status_code == 302  # nobody was logged in
    if case != "used":
        assert contributor(platform, "ana").user_id is None


def test_an_organization_account_is_sent_home_from_the_claim_page(client, platform):
    factories.login(client, platform)
    response = client.get("/claim", follow_redirects=True)
    assert response.request.path == "/platform/datasets"
    assert b"log out to claim a contributor identity" in response.data


def test_web_claims_are_rate_limited(client, platform, rate_limited):
    listed(client, platform)
    statuses = [client.post("/claim", data=claim_form("7K3M-Q9XD-2HBT-V0PN"), headers=rate_limited).status_code
                for _ in range(10)]
    assert statuses == [422] * 10
    refused = client.post("/claim", data=claim_form(issued_code(client, platform, "ana")), headers=rate_limited)
    assert refused.status_code == 429 and b"<html" in refused.data
    assert contributor(platform, "ana").user_id is None


# ---- linking ------------------------------------------------------------------------------


def test_linking_another_platforms_identity_on_the_page(client, platform, other_platform, buyer):
    listed(client, platform)
    photos = factories.create_dataset(client, other_platform)
    factories.import_records(client, other_platform, photos["slug"], [factories.record(1, contributor="ana-photos")])
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    wrong = client.post("/me/identities", data={"code": "7K3M-Q9XD-2HBT-V0PN"})
    assert wrong.status_code == 422 and b"No such claim code" in wrong.data

    code = issued_code(client, other_platform, "ana-photos")
    linked = client.post("/me/identities", data={"code": code}, follow_redirects=True)
    assert linked.status_code == 200
    assert b"Linked ana-photos on " + other_platform["name"].encode() in linked.data
    assert b"<code>ana</code>" in linked.data and b"<code>ana-photos</code>" in linked.data
    assert contributor(other_platform, "ana-photos").user_id == ana["user_id"]

    client.post("/logout")
    assert client.get("/me/identities").headers["Location"].startswith("/login")
    factories.login(client, buyer)
    assert client.get("/me/identities").status_code == 403
    assert client.post("/me/identities", data={"code": code}).status_code == 403


# ---- the platform's contributors ----------------------------------------------------------


def test_the_platform_sees_only_its_contributors_searches_and_filters(client, platform, other_platform):
    listed(client, platform)
    photos = factories.create_dataset(client, other_platform)
    factories.import_records(client, other_platform, photos["slug"], [factories.record(1, contributor="zed")])
    claimed(platform, "bo")
    factories.login(client, platform)
    page = client.get("/platform/contributors")
    assert page.status_code == 200
    assert re.findall(rb"<td><code>([^<]+)</code></td>", page.data) == [b"ana", b"bo", b"cy", b"dee"]
    assert b"4 contributors" in page.data
    searched = client.get("/platform/contributors?q=d")
    assert re.findall(rb"<td><code>([^<]+)</code></td>", searched.data) == [b"dee"]
    unclaimed = client.get("/platform/contributors?claimed=no")
    assert re.findall(rb"<td><code>([^<]+)</code></td>", unclaimed.data) == [b"ana", b"cy", b"dee"]
    nobody = client.get("/platform/contributors?q=zed")
    assert b"No contributor matches" in nobody.data

    # Another platform's contributor can't be given a code from here.
    assert client.post("/platform/contributors/codes", data={"external_id": "zed"}).status_code == 404
    assert codes() == 0


def test_an_issued_code_is_shown_once_and_claims_and_revoke_stops_it(client, platform):
    listed(client, platform)
    factories.login(client, platform)
    issued = client.post("/platform/contributors/codes", data={"external_id": "ana", "claimed": "no"})
    assert issued.status_code == 200
    code = NEW_CODE.search(issued.data).group(1).decode()
    # Filtering from this answer to a POST is a GET of the list.
    assert b'action="/platform/contributors" class="filters"' in issued.data
    assert NEW_CODE.search(client.get("/platform/contributors").data) is None
    assert b"Revoke" in client.get("/platform/contributors?q=ana").data

    revoked = client.post("/platform/contributors/codes/revoke", data={"external_id": "ana", "claimed": "no"})
    assert (revoked.status_code, revoked.headers["Location"]) == (302, "/platform/contributors?claimed=no")
    assert b"Revoked the open claim code of ana" in client.get(revoked.headers["Location"]).data
    assert_error(claim(client, code), 409, "revoked")

    fresh = NEW_CODE.search(client.post("/platform/contributors/codes", data={"external_id": "ana"}).data)
    assert claim(client, fresh.group(1).decode()).status_code == 201
    again = client.post("/platform/contributors/codes", data={"external_id": "ana"}, follow_redirects=True)
    assert b"already claimed their identity" in again.data


def test_the_platform_downloads_codes_for_everyone_unclaimed(client, platform):
    listed(client, platform)
    claimed(platform, "cy")
    factories.login(client, platform)
    response = client.post("/platform/contributors/codes.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)
    assert [r["external_id"] for r in rows] == ["ana", "bo", "dee"]
    assert all(claim(client, r["code"]).status_code == 201 for r in rows)


def test_a_platform_without_contributors_sees_how_to_get_them(client, other_platform, buyer):
    factories.login(client, other_platform)
    page = client.get("/platform/contributors")
    assert page.status_code == 200 and b"No contributors yet" in page.data
    assert b"Download codes" not in page.data
    client.post("/logout")
    factories.login(client, buyer)
    assert client.get("/platform/contributors").status_code == 403
    assert client.post("/platform/contributors/codes.csv").status_code == 403


# ---- CSRF ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("csrf")
def test_the_claim_form_needs_its_token(app, client, platform):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    refused = client.post("/claim", data=claim_form(code))
    assert refused.status_code == 400 and b"The CSRF token is missing." in refused.data
    assert contributor(platform, "ana").user_id is None
    accepted = client.post("/claim", data={**claim_form(code), "csrf_token": factories.token_from(client.get("/claim"))})
    assert (accepted.status_code, accepted.headers["Location"]) == (302, landing(app))


@pytest.mark.usefixtures("csrf")
def test_the_platform_buttons_need_the_token(client, platform):
    listed(client, platform)
    open_code = issued_code(client, platform, "ana")
    token = factories.token_from(client.get("/login"))
    client.post("/login", data={"email": platform["email"], "password": platform["password"], "csrf_token": token})
    for action in ("codes", "codes/revoke", "codes.csv"):
        url = f"/platform/contributors/{action}"
        assert client.post(url, data={"external_id": "ana"}).status_code == 400
    assert codes() == 1  # nothing issued, revoked or exported: the open code still claims below
    token = factories.token_from(client.get("/platform/contributors"))
    issued = client.post("/platform/contributors/codes", data={"external_id": "cy", "csrf_token": token})
    assert issued.status_code == 200 and NEW_CODE.search(issued.data)
    assert claim(client, open_code).status_code == 201
