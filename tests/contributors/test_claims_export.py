"""The bulk export of claim codes: codes already handed out keep working; re-issuing everyone's
is a separate action that must name how many open codes it revokes (API, page and CLI alike)."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from marketplace.contributors import claims
from marketplace.contributors.models import ClaimCode
from marketplace.db import utcnow
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error, field_messages
from tests.consent.helpers import listed
from tests.contributors.helpers_claims import claim, contributor, csv_rows, issued_code
from tests.contributors_factory import claimed

EXPORT = "/api/v1/claim-codes/export"
PLAN = "/api/v1/claim-codes/open-count"


def demo_code(platform: dict, external_id: str) -> str:
    """A code issued the way the demo prints one: the service, no operator, committed."""
    code = claims.issue(db.session, platform["id"], external_id, issued_by=None).code
    db.session.commit()
    return code


def open_codes() -> int:
    return db.session.scalar(select(func.count()).select_from(ClaimCode).where(
        ClaimCode.used_at.is_(None), ClaimCode.revoked_at.is_(None), ClaimCode.expires_at > utcnow()))


def counts(response) -> tuple[int, int, int]:
    """The export's (issued, skipped, revoked) headers."""
    return tuple(int(response.headers[f"X-Claim-Codes-{name}"]) for name in ("Issued", "Skipped", "Revoked"))


def plan(client, platform: dict) -> dict:
    response = client.get(PLAN, headers=platform["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ---- the default export keeps open codes ----------------------------------------------------


def test_codes_handed_out_one_by_one_or_by_the_demo_survive_the_export_and_claim(client, platform):
    listed(client, platform)
    by_operator = issued_code(client, platform, "ana")
    printed = demo_code(platform, "cy")

    response = client.post(EXPORT, headers=platform["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = csv_rows(response.data)
    assert [(r["external_id"], r["region"]) for r in rows] == [("bo", "FR"), ("dee", "DE")]
    assert counts(response) == (2, 2, 0)

    for code in (by_operator, printed, *(r["code"] for r in rows)):
        answer = claim(client, code)
        assert answer.status_code == 201, answer.get_json()
    assert all(contributor(platform, name).user_id is not None for name in ("ana", "bo", "cy", "dee"))


def test_the_export_skips_open_codes_and_issues_for_the_rest_with_exact_counts(client, platform):
    listed(client, platform)  # ana, bo, cy, dee
    claimed(platform, "dee")
    issued_code(client, platform, "ana")  # open: skipped
    expired = issued_code(client, platform, "bo")  # expired below: no longer open, so bo gets one
    db.session.execute(update(ClaimCode).where(ClaimCode.contributor_id == contributor(platform, "bo").id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    revoked = issued_code(client, platform, "cy")
    assert client.delete("/api/v1/contributors/cy/claim-codes", headers=platform["headers"]).status_code == 200

    assert plan(client, platform) == {"unclaimed": 3, "holding_open_code": 1, "to_issue": 2, "open_codes": 1}
    out = io.StringIO()
    exported = claims.export(db.session, platform["id"], out)
    assert exported == claims.Exported(issued=2, skipped=1, revoked=0)
    assert [r["external_id"] for r in csv_rows(out.getvalue())] == ["bo", "cy"]
    assert open_codes() == 3  # ana's, kept, and the two new ones
    db.session.commit()

    # Now everyone unclaimed holds an open code: a second export issues nothing and revokes nothing.
    again = client.post(EXPORT, json={}, headers=platform["headers"])
    assert (csv_rows(again.data), counts(again)) == ([], (0, 3, 0))
    assert plan(client, platform) == {"unclaimed": 3, "holding_open_code": 3, "to_issue": 0, "open_codes": 3}
    for old in (expired, revoked):
        assert_error(claim(client, old), 409)


def test_counting_writes_nothing(client, platform):
    listed(client, platform)
    issued_code(client, platform, "ana")
    before = db.session.scalar(select(func.count()).select_from(ClaimCode))
    assert plan(client, platform)["open_codes"] == 1
    assert db.session.scalar(select(func.count()).select_from(ClaimCode)) == before
    assert_error(client.get(PLAN, headers=factories.signup(client, "buyer", "Lab")["headers"]), 403)


# ---- re-issuing is explicit and counted ----------------------------------------------------


@pytest.mark.parametrize("body", [
    {"reissue": True},
    {"reissue": True, "confirm_revoking": 0},
    {"reissue": True, "confirm_revoking": 1},
    {"reissue": True, "confirm_revoking": 3},
])
def test_a_reissue_without_the_right_count_is_a_409_saying_it_and_revokes_nothing(client, platform, body):
    listed(client, platform)
    codes = [issued_code(client, platform, "ana"), demo_code(platform, "bo")]

    refused = assert_error(client.post(EXPORT, json=body, headers=platform["headers"]), 409,
                           "revokes 2 open claim codes", "confirm_revoking: 2")
    assert field_messages(refused, "confirm_revoking") == ["Must be 2."]
    assert open_codes() == 2
    assert db.session.scalar(select(func.count()).select_from(ClaimCode)) == 2  # nothing issued either
    for code in codes:
        assert claim(client, code).status_code == 201


def test_confirm_revoking_without_reissue_is_a_422(client, platform):
    listed(client, platform)
    issued_code(client, platform, "ana")
    body = assert_error(client.post(EXPORT, json={"confirm_revoking": 1}, headers=platform["headers"]), 422)
    assert field_messages(body, "confirm_revoking")
    assert_error(client.post(EXPORT, json={"reissue": True, "confirm_revoking": -1},
                             headers=platform["headers"]), 422)
    assert open_codes() == 1


def test_a_confirmed_reissue_revokes_the_open_codes_and_the_new_ones_claim(client, platform):
    listed(client, platform)
    claimed(platform, "dee")
    old = [issued_code(client, platform, "ana"), demo_code(platform, "bo")]
    confirm = plan(client, platform)["open_codes"]
    assert confirm == 2

    response = client.post(EXPORT, json={"reissue": True, "confirm_revoking": confirm}, headers=platform["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert counts(response) == (3, 0, 2)
    rows = csv_rows(response.data)
    assert [r["external_id"] for r in rows] == ["ana", "bo", "cy"]
    for code in old:
        assert_error(claim(client, code), 409, "revoked")
    for row in rows:
        assert claim(client, row["code"]).status_code == 201


def test_the_export_and_the_count_are_documented(client):
    document = client.get("/api/v1/openapi.json").get_json()
    export = document["paths"][EXPORT]["post"]
    assert {"200", "401", "403", "409", "422"} <= set(export["responses"])
    assert set(export["responses"]["200"]["headers"]) == {
        "X-Claim-Codes-Issued", "X-Claim-Codes-Skipped", "X-Claim-Codes-Revoked"}
    body = export["requestBody"]["content"]["application/json"]["schema"]
    assert {"reissue", "confirm_revoking"} <= set(_properties(document, body))
    counted = document["paths"][PLAN]["get"]
    assert {"200", "401", "403"} <= set(counted["responses"]) and counted["security"] == [{"bearer": []}]
    schema = counted["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(_properties(document, schema)) == {"unclaimed", "holding_open_code", "to_issue", "open_codes"}


def _properties(document: dict, schema: dict) -> dict:
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema["properties"]


# ---- the page ------------------------------------------------------------------------------


def test_the_page_downloads_only_missing_codes_and_says_what_it_kept(client, platform):
    listed(client, platform)
    kept = issued_code(client, platform, "ana")
    factories.login(client, platform)
    page = client.get("/platform/contributors").data
    assert b"A code for each of the 3 unclaimed contributors without an open code" in page
    assert b"The 1 who hold an open code are left out" in page

    response = client.post("/platform/contributors/codes.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert [r["external_id"] for r in csv_rows(response.data)] == ["bo", "cy", "dee"]
    assert (b"Downloaded 3 new claim codes. 1 contributor holds an open code already and kept it."
            in client.get("/platform/contributors").data)
    assert claim(client, kept).status_code == 201


def test_the_page_reissues_only_after_a_confirmation_step_that_shows_the_count(client, platform):
    listed(client, platform)
    factories.login(client, platform)
    assert b"Re-issue every code" not in client.get("/platform/contributors").data  # no open code to revoke
    old = [issued_code(client, platform, name) for name in ("ana", "bo")]
    page = client.get("/platform/contributors").data
    assert b"Re-issue every code\xe2\x80\xa6" in page and b'href="/platform/contributors/codes/reissue"' in page

    step = client.get("/platform/contributors/codes/reissue")
    assert step.status_code == 200
    assert b"This revokes 2 open codes" in step.data
    assert b'name="confirm_revoking" value="2"' in step.data and b'name="reissue" value="1"' in step.data
    assert b"Revoke 2 codes and download new ones" in step.data
    assert open_codes() == 2  # the step is a GET: nothing revoked yet

    # A count that no longer holds (a code issued since) shows the step again, recounted.
    issued_code(client, platform, "cy")
    stale = client.post("/platform/contributors/codes.csv", data={"reissue": "1", "confirm_revoking": "2"})
    assert stale.status_code == 409 and b"This revokes 3 open codes" in stale.data
    assert b"The number of open codes changed since this step was shown: it is 3 now." in stale.data
    assert open_codes() == 3

    done = client.post("/platform/contributors/codes.csv", data={"reissue": "1", "confirm_revoking": "3"})
    assert done.status_code == 200 and done.mimetype == "text/csv"
    rows = csv_rows(done.data)
    assert [r["external_id"] for r in rows] == ["ana", "bo", "cy", "dee"]
    assert b"Revoked 3 open claim codes and downloaded 4 new claim codes." in client.get("/platform/contributors").data
    for code in old:
        assert_error(claim(client, code), 409, "revoked")
    assert all(claim(client, r["code"]).status_code == 201 for r in rows)


# ---- the command ---------------------------------------------------------------------------


def test_the_command_keeps_open_codes_and_says_whom_it_skipped(runner, client, platform, tmp_path):
    listed(client, platform)
    kept = demo_code(platform, "ana")
    target = tmp_path / "codes.csv"
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(target)])
    assert result.exit_code == 0, result.output
    assert (f"{platform['slug']}: 3 claim codes written to {target} (valid for 30 days). "
            "Skipped 1 contributor holding an open code: it keeps working.") in result.output
    assert [r["external_id"] for r in csv_rows(target.read_text(encoding="utf-8"))] == ["bo", "cy", "dee"]
    assert claim(client, kept).status_code == 201


def test_the_reissue_command_asks_with_the_count_and_no_aborts_writing_nothing(runner, client, platform, tmp_path):
    listed(client, platform)
    kept = issued_code(client, platform, "ana")
    target = tmp_path / "codes.csv"
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(target), "--reissue"], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert f"This revokes 1 open claim code of {platform['slug']}" in result.output
    assert not target.exists()
    assert db.session.scalar(select(func.count()).select_from(ClaimCode)) == 1
    assert claim(client, kept).status_code == 201


@pytest.mark.parametrize(("flags", "answer"), [(["--yes"], None), ([], "y\n")])
def test_the_reissue_command_revokes_once_confirmed(runner, client, platform, tmp_path, flags, answer):
    listed(client, platform)
    old = [issued_code(client, platform, "ana"), demo_code(platform, "bo")]
    target = tmp_path / "codes.csv"
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(target), "--reissue", *flags],
                           input=answer)
    assert result.exit_code == 0, result.output
    assert ("This revokes" in result.output) is (answer is not None)
    assert (f"{platform['slug']}: 4 claim codes written to {target} (valid for 30 days). "
            "Revoked 2 open codes first.") in result.output
    rows = csv_rows(target.read_text(encoding="utf-8"))
    assert [r["external_id"] for r in rows] == ["ana", "bo", "cy", "dee"]
    for code in old:
        assert_error(claim(client, code), 409, "revoked")
    assert all(claim(client, r["code"]).status_code == 201 for r in rows)


def test_a_reissue_whose_count_changed_after_the_question_is_refused(runner, client, platform, tmp_path, monkeypatch):
    listed(client, platform)
    ana = issued_code(client, platform, "ana")
    real, calls = claims.export_plan, []

    def counted_then_issued(session, platform_id):
        counted = real(session, platform_id)
        if not calls:  # an operator issues bo a code between the question and the export
            claims.issue(session, platform_id, "bo", issued_by=None)
        calls.append(counted)
        return counted

    monkeypatch.setattr(claims, "export_plan", counted_then_issued)
    target = tmp_path / "codes.csv"
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(target), "--reissue", "--yes"])
    monkeypatch.undo()
    assert result.exit_code == 1 and "revokes 2 open claim codes, not 1" in result.output, result.output
    assert "Nothing was written; run the command again." in result.output
    assert not target.exists()
    assert (open_codes(), db.session.scalar(select(func.count()).select_from(ClaimCode))) == (2, 2)
    assert claim(client, ana).status_code == 201
