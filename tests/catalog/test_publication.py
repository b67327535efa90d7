"""Publishing needs a version and a live offer; unpublishing hides a dataset from all but its owner."""
from __future__ import annotations

from tests import factories
from tests.asserts import assert_error


def publish(client, owner, slug):
    return client.post(f"/api/v1/datasets/{slug}/publish", headers=owner["headers"])


def catalog_slugs(client, headers=None) -> list[str]:
    return [item["slug"] for item in client.get("/api/v1/datasets", headers=headers or {}).get_json()["items"]]


def test_publishing_says_what_is_missing(client, platform):
    slug = factories.create_dataset(client, platform, slug="forum-2024")["slug"]
    body = assert_error(publish(client, platform, slug), 409)
    assert body["message"] == "Publishing needs a frozen version and an offer that is not retired."
    factories.import_records(client, platform, slug, [factories.record(1)])
    client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"])
    assert assert_error(publish(client, platform, slug), 409)["message"] == \
        "Publishing needs an offer that is not retired."
    offer = client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(),
                        headers=platform["headers"]).get_json()
    client.post(f"/api/v1/offers/{offer['id']}/retire", headers=platform["headers"])
    assert assert_error(publish(client, platform, slug), 409)["message"] == \
        "Publishing needs an offer that is not retired."
    assert client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["status"] == "draft"
    assert catalog_slugs(client) == []


def test_an_offer_without_a_version_is_not_enough(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(), headers=platform["headers"])
    assert assert_error(publish(client, platform, slug), 409)["message"] == "Publishing needs a frozen version."


def test_publish_lists_it_and_repeating_is_harmless(client, platform):
    published = factories.published_dataset(client, platform, slug="forum-2024")
    assert published["status"] == "published" and published["published_at"]
    again = publish(client, platform, "forum-2024")
    assert again.status_code == 200 and again.get_json()["published_at"] == published["published_at"]
    assert catalog_slugs(client) == ["forum-2024"]


def test_unpublish_hides_it_from_everyone_but_its_owner(client, platform, other_platform, buyer):
    published = factories.published_dataset(client, platform, slug="forum-2024")
    response = client.post("/api/v1/datasets/forum-2024/unpublish", headers=platform["headers"])
    assert response.status_code == 200 and response.get_json()["status"] == "unpublished"
    assert catalog_slugs(client) == [] and catalog_slugs(client, platform["headers"]) == []
    for headers in ({}, other_platform["headers"], buyer["headers"]):
        assert_error(client.get("/api/v1/datasets/forum-2024", headers=headers), 404)
    assert client.get("/datasets/forum-2024").status_code == 404
    owner_view = client.get("/api/v1/datasets/forum-2024", headers=platform["headers"])
    assert owner_view.status_code == 200 and owner_view.get_json()["status"] == "unpublished"
    factories.login(client, platform)
    page = client.get("/datasets/forum-2024")
    assert page.status_code == 200 and b"unpublished" in page.data
    # Published again: back in the catalog, with its first publication date.
    republished = publish(client, platform, "forum-2024").get_json()
    assert (republished["status"], republished["published_at"]) == ("published", published["published_at"])
    assert catalog_slugs(client) == ["forum-2024"]


def test_unpublishing_a_draft_leaves_it_a_draft(client, platform):
    factories.create_dataset(client, platform, slug="forum-2024")
    response = client.post("/api/v1/datasets/forum-2024/unpublish", headers=platform["headers"])
    assert response.status_code == 200 and response.get_json()["status"] == "draft"


def test_only_the_owner_publishes(client, platform, other_platform):
    published = factories.published_dataset(client, platform, slug="forum-2024")
    assert_error(client.post("/api/v1/datasets/forum-2024/unpublish", headers=other_platform["headers"]), 404)
    assert client.get("/api/v1/datasets/forum-2024").get_json()["status"] == published["status"] == "published"
