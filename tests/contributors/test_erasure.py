"""Erasure: a contributor's records leave the store; the ledger keeps what they earned."""
from __future__ import annotations

from sqlalchemy import select

from marketplace.catalog.models import Record
from marketplace.contributors.models import ErasureRequest
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import earned, listed
from tests.contributors_factory import claimed
from tests.sales import sell


def stored(slug_records):
    return {r.external_id: (r.text, r.erased_at is not None, r.taken_down_at is not None)
            for r in db.session.scalars(select(Record).order_by(Record.id))}


def test_erasure_removes_the_text_keeps_the_tombstone_and_the_earnings(client, app, platform, buyer,
                                                                       stripe_gateway):
    dataset = listed(client, platform)
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    ana = claimed(platform, "ana")
    before = earned(platform, "ana")
    assert before == 35_625

    response = client.post("/api/v1/me/erasure", json={"platform": platform["slug"]}, headers=ana["headers"])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["records_erased"] == 3
    records = stored(None)
    assert [records[f"r{n}"] for n in range(3)] == [("", True, True)] * 3  # ana's three
    assert records["r3"][0] != ""  # bo's are untouched
    assert earned(platform, "ana") == before

    # The next version leaves them out (a removal: a major version), and the page shows no sample of them.
    version = client.post(f"/api/v1/datasets/{dataset['slug']}/versions", json={}, headers=platform["headers"])
    assert (version.status_code, version.get_json()["number"], version.get_json()["record_count"]) == (201, "2.0.0", 7)
    assert b"post number 0 about" not in client.get(f"/datasets/{dataset['slug']}").data

    # Importing the same ids again does not bring the text back; asking again erases nothing more.
    factories.import_records(client, platform, dataset["slug"], [factories.record(0, contributor="ana")])
    assert stored(None)["r0"] == ("", True, True)
    again = client.post("/api/v1/me/erasure", json={"platform": platform["slug"]}, headers=ana["headers"])
    assert again.get_json()["records_erased"] == 0
    assert [r.records_erased for r in db.session.scalars(select(ErasureRequest).order_by(ErasureRequest.id))] == [3, 0]


def test_erasure_needs_an_identity_on_the_platform(client, platform, other_platform, buyer):
    listed(client, platform)
    ana = claimed(platform, "ana")
    response = client.post("/api/v1/me/erasure", json={"platform": other_platform["slug"]}, headers=ana["headers"])
    assert_error(response, 404)
    assert "platform" in assert_error(client.post("/api/v1/me/erasure", json={}, headers=ana["headers"]),
                                      422)["errors"]["json"]
    assert_error(client.post("/api/v1/me/erasure", json={"platform": platform["slug"]}, headers=buyer["headers"]), 403)
    assert all(text for text, _e, _t in stored(None).values())


def test_the_erasure_page_asks_for_confirmation(client, platform):
    listed(client, platform)
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    page = client.get("/me/erasure")
    assert page.status_code == 200 and b"3 record(s) of yours are in the store" in page.data
    unconfirmed = client.post("/me/erasure", data={"platform": platform["slug"]}, follow_redirects=True)
    assert b"Tick the box to confirm" in unconfirmed.data
    assert stored(None)["r0"][1] is False
    done = client.post("/me/erasure", data={"platform": platform["slug"], "confirm": "yes"}, follow_redirects=True)
    assert b"3 record(s) erased from the store" in done.data
    assert b"Nothing of yours is in the store" in done.data
