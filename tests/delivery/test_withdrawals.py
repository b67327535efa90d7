"""The withdrawals feed and deletion receipts, through HTTP."""
from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.db import utcnow
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import decide
from tests.contributors_factory import claimed
from tests.delivery.helpers import download, listed
from tests.sales import sell


def feed(client, buyer, license_id, **query):
    response = client.get(f"/api/v1/licenses/{license_id}/withdrawals", query_string=query, headers=buyer["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ack(client, buyer, license_id, through):
    return client.post(f"/api/v1/licenses/{license_id}/withdrawals/ack", json={"through": through},
                       headers=buyer["headers"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=None)


def test_the_feed_lists_what_was_delivered_and_must_now_be_deleted(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    slug = dataset["slug"]
    license = sell(client, app, buyer, dataset["offer"])
    eve = claimed(platform, "eve")
    # Before any download: nothing was delivered, so nothing to delete.
    assert decide(client, eve, dataset=slug, scope="ai-train", status="withdrawn").status_code == 200
    assert feed(client, buyer, license["id"]) == {"items": [], "total": 0, "page": 1, "per_page": 50,
                                                  "acknowledged_through": None}
    download(client, buyer, license["id"])
    assert feed(client, buyer, license["id"])["total"] == 0  # eve's records were left out

    cy, gus = claimed(platform, "cy"), claimed(platform, "gus")
    before = utcnow()
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    assert client.post("/api/v1/me/erasure", json={"platform": platform["slug"]}, headers=gus["headers"]).status_code == 201
    assert client.delete(f"/api/v1/datasets/{slug}/records/r12", headers=platform["headers"]).status_code == 204
    assert decide(client, eve, dataset=slug, scope="ai-train", status="granted").status_code == 200  # never delivered
    # bo (FR) grants and withdraws again: never delivered either.
    bo = claimed(platform, "bo")
    assert decide(client, bo, dataset=slug, scope="*", status="granted").status_code == 200
    assert decide(client, bo, dataset=slug, scope="*", status="withdrawn").status_code == 200

    body = feed(client, buyer, license["id"])
    assert [(item["external_id"], item["reason"]) for item in body["items"]] == [
        ("r5", "consent_withdrawn"), ("r14", "erased"), ("r12", "taken_down")]
    times = [at(item["withdrawn_at"]) for item in body["items"]]
    assert before <= times[0] <= times[1] <= times[2] <= utcnow()
    assert body["total"] == 3 and body["acknowledged_through"] is None
    later = feed(client, buyer, license["id"], since=body["items"][0]["withdrawn_at"])
    assert [item["external_id"] for item in later["items"]] == ["r14", "r12"]
    paged = feed(client, buyer, license["id"], page=2, per_page=2)
    assert ([item["external_id"] for item in paged["items"]], paged["total"]) == (["r12"], 3)

    # The next download leaves cy out and the feed still lists r5.
    body_after, manifest = download(client, buyer, license["id"])
    assert b'"r5"' not in body_after
    assert feed(client, buyer, license["id"])["total"] == 3


def test_an_acknowledgment_moves_forward_only(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    download(client, buyer, license["id"])
    cy = claimed(platform, "cy")
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    withdrawn_at = feed(client, buyer, license["id"])["items"][0]["withdrawn_at"]

    first = ack(client, buyer, license["id"], withdrawn_at)
    assert first.status_code == 200, first.get_json()
    assert at(first.get_json()["acknowledged_through"]) == at(withdrawn_at)
    assert at(feed(client, buyer, license["id"])["acknowledged_through"]) == at(withdrawn_at)
    assert ack(client, buyer, license["id"], withdrawn_at).status_code == 200  # the same time again: no change
    earlier = (at(withdrawn_at) - timedelta(seconds=1)).isoformat()
    assert_error(ack(client, buyer, license["id"], earlier), 409, "never moves backwards")
    assert at(feed(client, buyer, license["id"])["acknowledged_through"]) == at(withdrawn_at)
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert_error(ack(client, buyer, license["id"], future), 422, "through")
    assert_error(ack(client, buyer, license["id"], "yesterday"), 422, "through")
    assert_error(feed_response(client, buyer, license["id"], since="soon"), 422, "since")
    with_offset = (at(withdrawn_at) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+01:00"
    same = ack(client, buyer, license["id"], with_offset)  # 1 h later in +01:00 is the same instant
    assert at(same.get_json()["acknowledged_through"]) == at(withdrawn_at)
    other = factories.signup(client, "buyer", "Other Lab")
    assert_error(ack(client, other, license["id"], withdrawn_at), 404)
    assert_error(feed_response(client, other, license["id"]), 404)


def feed_response(client, buyer, license_id, **query):
    return client.get(f"/api/v1/licenses/{license_id}/withdrawals", query_string=query, headers=buyer["headers"])


def test_a_contributor_who_came_back_and_left_again_is_listed_from_the_last_delivery(client, app, platform, buyer,
                                                                                      stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    cy = claimed(platform, "cy")
    download(client, buyer, license["id"])
    download(client, buyer, license["id"])  # the same answer: asked once
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    first = feed(client, buyer, license["id"])["items"]
    assert [item["external_id"] for item in first] == ["r5"]
    assert decide(client, cy, platform=platform["slug"], scope="*", status="granted").status_code == 200
    assert feed(client, buyer, license["id"])["total"] == 0  # they may hold it again
    body, _ = download(client, buyer, license["id"])
    assert b'"r5"' in body
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    again = feed(client, buyer, license["id"])["items"]
    assert [item["external_id"] for item in again] == ["r5"]
    assert at(again[0]["withdrawn_at"]) > at(first[0]["withdrawn_at"])  # from the decision after the last delivery
