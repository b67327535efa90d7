"""POST /api/v1/consents/import: consent a platform collected itself, atomic, with its source."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.consent.models import Consent
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import earned, listed
from tests.sales import sell


def post(client, who, lines, source="signup-form-2023"):
    query = f"?source={source}" if source is not None else ""
    return client.post(f"/api/v1/consents/import{query}", data=factories.ndjson(lines),
                       headers={**who["headers"], "Content-Type": "application/x-ndjson"})


def rows():
    return db.session.execute(select(Consent.scope, Consent.status, Consent.source, Consent.dataset_id)
                              .order_by(Consent.id)).all()


def test_imported_grants_count_for_payments_and_keep_their_source(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    response = post(client, platform, [
        {"contributor": "bo", "dataset": None, "scope": "*", "status": "granted", "at": "2023-01-01T00:00:00Z"},
        {"contributor": "dee", "dataset": dataset["slug"], "scope": "ai-input", "status": "granted"},
    ])
    assert (response.status_code, response.get_json()) == (200, {"imported": 2})
    assert [(r.scope, r.status, r.source) for r in rows()] == [
        ("*", "granted", "platform-import:signup-form-2023"),
        ("ai-input", "granted", "platform-import:signup-form-2023")]
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    # ana 3, bo 2, cy 1 (dee granted ai-input only): 47,500 × 3/6, 2/6, 1/6.
    assert [earned(platform, p) for p in ("ana", "bo", "cy", "dee")] == [23_750, 15_833, 7_917, 0]


@pytest.mark.parametrize(("line", "field"), [
    ({"contributor": "nobody", "scope": "*", "status": "granted"}, "contributor"),
    ({"contributor": 7, "scope": "*", "status": "granted"}, "contributor"),
    ({"contributor": "ana", "scope": "all", "status": "granted"}, "scope"),
    ({"contributor": "ana", "scope": "*", "status": "yes"}, "status"),
    ({"contributor": "ana", "dataset": "not-ours", "status": "granted"}, "dataset"),
    ({"contributor": "ana", "status": "granted", "at": "yesterday"}, "at"),
    ({"contributor": "ana", "status": "granted", "at": "2999-01-01T00:00:00Z"}, "at"),
])
def test_one_bad_line_and_nothing_is_written(client, platform, line, field):
    listed(client, platform)
    good = {"contributor": "ana", "scope": "*", "status": "granted"}
    response = post(client, platform, [good, line, good])
    body = assert_error(response, 422, "line 2")
    assert body["errors"]["lines"] == [{"line": 2, "field": field, "message": body["errors"]["lines"][0]["message"]}]
    assert rows() == []


def test_a_source_is_required_and_another_platforms_contributors_are_unknown(client, platform, other_platform):
    listed(client, platform)
    assert "source" in assert_error(post(client, platform, [{"contributor": "ana", "status": "granted"}],
                                         source=None), 422)["errors"]["query"]
    response = post(client, other_platform, [{"contributor": "ana", "status": "granted"}])
    assert assert_error(response, 422)["errors"]["lines"][0]["field"] == "contributor"
    assert_error(post(client, platform, []), 422, "no consent decisions")
    assert rows() == []


def test_only_platforms_import_consent(client, buyer):
    assert_error(post(client, buyer, [{"contributor": "ana", "status": "granted"}]), 403)
    assert_error(client.post("/api/v1/consents/import?source=x", data=b""), 401)
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 0
