"""Claim codes over the JSON API: issuing, revoking, exporting (platforms); claiming and linking (people)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from marketplace.accounts.models import User
from marketplace.contributors import claims
from marketplace.contributors.models import ClaimCode
from marketplace.db import utcnow
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error, field_messages
from tests.consent.helpers import earned, listed
from tests.contributors.helpers_claims import (
    PASSWORD,
    claim,
    contributor,
    csv_rows,
    earned_by_account,
    issue,
    issued_code,
)
from tests.contributors_factory import claimed
from tests.sales import sell

CODE_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def user_id(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


# ---- the whole path -------------------------------------------------------------------------


def test_a_claim_makes_an_account_holding_what_was_earned_before(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    assert earned(platform, "ana") == 35_625  # earned before anyone claimed

    issued = issue(client, platform, "ana")
    assert issued.status_code == 201, issued.get_json()
    body = issued.get_json()
    assert CODE_SHAPE.match(body["code"]) and body["contributor"] == "ana"
    assert body["expires_at"].endswith("Z")  # API times are UTC with a Z
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)

    response = claim(client, body["code"], email="Ana@Example.test")
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert [(i["platform"], i["external_id"]) for i in answer["identities"]] == [(platform["slug"], "ana")]
    assert set(answer) == {"api_key", "identities"}
    key = factories.bearer(answer["api_key"])
    assert client.get("/api/v1/me/consents", headers=key).status_code == 200
    mine = client.get("/api/v1/me/identities", headers=key).get_json()["items"]
    assert [(i["platform"], i["external_id"]) for i in mine] == [(platform["slug"], "ana")]

    # The earnings before the claim are the account's: the ledger entries sit on the identity it now holds.
    account = user_id("ana@example.test")
    assert earned_by_account(account) == 35_625
    db.session.expire_all()
    assert contributor(platform, "ana").user_id == account
    code = db.session.scalar(select(ClaimCode))
    assert (code.used_by, code.used_at is not None) == (account, True)

    # One claim per code, and one per identity.
    assert "already used" in assert_error(claim(client, body["code"]), 409)["message"]
    assert "already claimed" in assert_error(issue(client, platform, "ana"), 409)["message"]


def test_the_code_is_read_as_crockford_base32_whatever_its_case_and_separators(client, platform):
    listed(client, platform)
    code = issued_code(client, platform, "cy")
    typed = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    response = claim(client, f"  {typed} ")
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(("typed", "normal"), [
    ("abcd-efgh-jkmn-pqrs", "ABCDEFGHJKMNPQRS"),
    ("O0O0 IiLl 1111 2222", "0000111111112222"),
    ("  7K3M\tQ9XD-2HBT--V0PN ", "7K3MQ9XD2HBTV0PN"),
    ("7K3M-Q9XD-2HBT-V0P", None),  # 15 characters
    ("7K3M-Q9XD-2HBT-V0PNX", None),  # 17
    ("7K3M-Q9XD-2HBT-V0PU", None),  # U is not in the alphabet
    ("", None),
])
def test_normalizing_a_typed_code(typed, normal):
    assert claims.normalize(typed) == normal


def test_new_codes_are_random_and_shaped(app):
    codes = {claims.new_code() for _ in range(500)}
    assert len(codes) == 500 and all(CODE_SHAPE.match(c) for c in codes)


# ---- codes that don't work ----------------------------------------------------------------


def test_a_reissued_code_revokes_the_old_one(client, platform):
    listed(client, platform)
    first = issued_code(client, platform, "ana")
    second = issued_code(client, platform, "ana")
    assert first != second
    assert "revoked" in assert_error(claim(client, first), 409)["message"]
    assert claim(client, second).status_code == 201


def test_an_expired_code_is_refused_saying_so(client, platform):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    db.session.execute(update(ClaimCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    body = assert_error(claim(client, code), 409)
    assert "expired" in body["message"] and field_messages(body, "code")
    assert contributor(platform, "ana").user_id is None


def test_an_unknown_code_is_a_404_and_a_misshapen_one_a_422(client, platform):
    listed(client, platform)
    issued_code(client, platform, "ana")
    assert_error(claim(client, "7K3M-Q9XD-2HBT-V0PN"), 404, "No such claim code")
    body = assert_error(claim(client, "not a code"), 422)
    assert field_messages(body, "code") == [claims.CODE_SHAPE_MESSAGE]
    assert_error(client.post("/api/v1/contributors/claim", json={"code": "x"}), 422)


def test_revoking_stops_the_open_code(client, platform):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    revoked = client.delete("/api/v1/contributors/ana/claim-codes", headers=platform["headers"])
    assert (revoked.status_code, revoked.get_json()) == (200, {"revoked": 1})
    assert "revoked" in assert_error(claim(client, code), 409)["message"]
    again = client.delete("/api/v1/contributors/ana/claim-codes", headers=platform["headers"])
    assert again.get_json() == {"revoked": 0}


@pytest.mark.parametrize(("email", "password", "field"), [
    ("not-an-email", PASSWORD, "email"),
    ("fine@example.test", "short", "password"),
])
def test_bad_credentials_are_a_422_naming_the_field_and_leave_the_code_open(client, platform, email, password, field):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    body = assert_error(claim(client, code, email=email, password=password), 422, field)
    assert field_messages(body, field)
    assert claim(client, code).status_code == 201


def test_a_registered_email_is_a_409_telling_to_log_in_and_link(client, platform, buyer):
    listed(client, platform)
    code = issued_code(client, platform, "ana")
    body = assert_error(claim(client, code, email=buyer["email"]), 409, "log in and link")
    assert field_messages(body, "email")
    assert contributor(platform, "ana").user_id is None
    assert claim(client, code).status_code == 201


def test_claims_are_rate_limited(client, platform, rate_limited):
    listed(client, platform)
    statuses = [claim(client, "7K3M-Q9XD-2HBT-V0PN", headers=rate_limited).status_code for _ in range(10)]
    assert statuses == [404] * 10
    code = issued_code(client, platform, "ana")
    assert_error(claim(client, code, headers=rate_limited), 429)  # even the right code, until the minute is over
    assert contributor(platform, "ana").user_id is None


# ---- whose contributors -------------------------------------------------------------------


def test_a_platform_acts_only_on_its_own_contributors(client, platform, other_platform, buyer):
    listed(client, platform)
    mine = factories.create_dataset(client, other_platform)
    factories.import_records(client, other_platform, mine["slug"], [factories.record(1, contributor="zed")])

    assert_error(issue(client, other_platform, "ana"), 404, "ana")
    assert_error(client.delete("/api/v1/contributors/ana/claim-codes", headers=other_platform["headers"]), 404)
    listing = client.get("/api/v1/contributors", headers=other_platform["headers"]).get_json()
    assert [i["external_id"] for i in listing["items"]] == ["zed"]
    assert db.session.scalar(select(ClaimCode.id)) is None

    assert_error(issue(client, buyer, "ana"), 403)
    assert_error(client.get("/api/v1/contributors", headers=buyer["headers"]), 403)
    assert_error(client.post("/api/v1/claim-codes/export", headers=buyer["headers"]), 403)
    assert_error(issue(client, platform | {"headers": {}}, "ana"), 401)


def test_the_contributor_list_searches_filters_and_pages(client, platform):
    listed(client, platform)
    claimed(platform, "bo")
    issued_code(client, platform, "cy")
    everyone = client.get("/api/v1/contributors", headers=platform["headers"]).get_json()
    assert (everyone["total"], everyone["page"], everyone["per_page"]) == (4, 1, 50)
    rows = {i["external_id"]: i for i in everyone["items"]}
    assert list(rows) == ["ana", "bo", "cy", "dee"]
    assert (rows["bo"]["claimed"], rows["bo"]["claimed_at"] is not None, rows["bo"]["region"]) == (True, True, "FR")
    assert rows["cy"]["code_expires_at"] is not None and rows["ana"]["code_expires_at"] is None

    def ids(**query):
        response = client.get("/api/v1/contributors", query_string=query, headers=platform["headers"])
        assert response.status_code == 200, response.get_json()
        return [i["external_id"] for i in response.get_json()["items"]]

    assert ids(claimed="false") == ["ana", "cy", "dee"]
    assert ids(claimed="true") == ["bo"]
    assert ids(q="d") == ["dee"]
    assert ids(q="D") == []
    assert ids(per_page=2, page=2) == ["cy", "dee"]
    assert_error(client.get("/api/v1/contributors?per_page=201", headers=platform["headers"]), 422)
    assert_error(client.get("/api/v1/contributors?claimed=maybe", headers=platform["headers"]), 422)


# ---- more identities ----------------------------------------------------------------------


def test_a_person_links_a_second_platforms_identity_and_holds_both(client, platform, other_platform):
    listed(client, platform)
    photos = factories.create_dataset(client, other_platform)
    factories.import_records(client, other_platform, photos["slug"], [factories.record(1, contributor="ana-photos")])
    answer = claim(client, issued_code(client, platform, "ana")).get_json()
    key = factories.bearer(answer["api_key"])

    linked = client.post("/api/v1/me/identities", json={"code": issued_code(client, other_platform, "ana-photos")},
                         headers=key)
    assert linked.status_code == 201, linked.get_json()
    assert (linked.get_json()["platform"], linked.get_json()["external_id"]) == (other_platform["slug"], "ana-photos")
    assert linked.get_json()["claimed_at"]
    held = client.get("/api/v1/me/identities", headers=key).get_json()["items"]
    assert sorted((i["platform"], i["external_id"]) for i in held) == sorted(
        [(platform["slug"], "ana"), (other_platform["slug"], "ana-photos")])


def test_linking_refuses_claimed_identities_a_second_identity_on_a_platform_and_non_contributors(
        client, platform, buyer):
    listed(client, platform)
    ana = claimed(platform, "ana")
    open_for_cy = issued_code(client, platform, "cy")
    claimed(platform, "cy")  # claimed some other way while its code was still open
    body = assert_error(client.post("/api/v1/me/identities", json={"code": open_for_cy}, headers=ana["headers"]), 409)
    assert "already claimed" in body["message"]

    for_dee = issued_code(client, platform, "dee")
    body = assert_error(client.post("/api/v1/me/identities", json={"code": for_dee}, headers=ana["headers"]), 409)
    assert "one identity per platform" in body["message"]
    assert contributor(platform, "dee").user_id is None
    assert claim(client, for_dee).status_code == 201  # the failed link left the code open

    assert_error(client.post("/api/v1/me/identities", json={"code": for_dee}, headers=buyer["headers"]), 403)
    assert_error(client.post("/api/v1/me/identities", json={}, headers=ana["headers"]), 422)
    assert_error(client.get("/api/v1/me/identities", headers=buyer["headers"]), 403)


# ---- bulk codes ---------------------------------------------------------------------------


def test_the_reissue_csv_has_a_fresh_code_per_unclaimed_contributor_and_each_claims(client, platform, other_platform):
    listed(client, platform)
    claimed(platform, "bo")
    older = issued_code(client, platform, "ana")
    # Revoking ana's open code is the explicit re-issue now (the default export keeps it: see below).
    response = client.post("/api/v1/claim-codes/export", json={"reissue": True, "confirm_revoking": 1},
                           headers=platform["headers"])
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="claim-codes-{platform["slug"]}.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == "external_id,region,code,expires_at"
    rows = csv_rows(text)
    assert [(r["external_id"], r["region"]) for r in rows] == [("ana", "US"), ("cy", "US"), ("dee", "DE")]
    assert all(CODE_SHAPE.match(r["code"]) and r["expires_at"].endswith("Z") for r in rows)

    assert "revoked" in assert_error(claim(client, older), 409)["message"]
    for row in rows:
        answer = claim(client, row["code"])
        assert answer.status_code == 201, answer.get_json()
        assert answer.get_json()["identities"][0]["external_id"] == row["external_id"]

    # Nobody is left to export; the other platform's export is its own (empty) list.
    assert csv_rows(client.post("/api/v1/claim-codes/export", headers=platform["headers"]).data) == []
    assert csv_rows(client.post("/api/v1/claim-codes/export", headers=other_platform["headers"]).data) == []


def test_the_export_works_in_keyset_batches(app, client, platform):
    import io

    dataset = factories.create_dataset(client, platform)
    factories.import_records(client, platform, dataset["slug"],
                             [factories.record(n, contributor=f"p{n:02d}") for n in range(7)])
    out, progress = io.StringIO(), []
    written = claims.export_codes(db.session, platform["id"], out, batch=3, progress=progress.append, days=2)
    assert (written, progress) == (7, [3, 3, 1])
    rows = csv_rows(out.getvalue())
    assert [r["external_id"] for r in rows] == [f"p{n:02d}" for n in range(7)]
    assert len({r["code"] for r in rows}) == 7
    expires = {c.expires_at for c in db.session.scalars(select(ClaimCode))}
    assert len(expires) == 1 and abs(expires.pop() - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)


# ---- the OpenAPI document ----------------------------------------------------------------


@pytest.mark.parametrize(("path", "method", "codes", "keyed"), [
    ("/api/v1/contributors/{external_id}/claim-codes", "post", {"201", "401", "403", "404", "409"}, True),
    ("/api/v1/contributors/{external_id}/claim-codes", "delete", {"200", "401", "403", "404"}, True),
    ("/api/v1/contributors", "get", {"200", "401", "403", "422"}, True),
    ("/api/v1/claim-codes/export", "post", {"200", "401", "403"}, True),
    ("/api/v1/contributors/claim", "post", {"201", "404", "409", "422", "429"}, False),
    ("/api/v1/me/identities", "post", {"201", "401", "403", "404", "409", "422", "429"}, True),
    ("/api/v1/me/identities", "get", {"200", "401", "403"}, True),
])
def test_the_claim_endpoints_are_documented_with_their_errors(client, path, method, codes, keyed):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"][path][method]
    assert codes <= set(operation["responses"]), sorted(operation["responses"])
    assert operation.get("security") == ([{"bearer": []}] if keyed else None)


def test_the_export_is_documented_as_csv(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/claim-codes/export"]["post"]
    assert list(operation["responses"]["200"]["content"]) == ["text/csv"]
