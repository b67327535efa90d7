"""Datasets through the API: create, edit, validation naming each field, roles, privacy of drafts."""
from __future__ import annotations

import pytest

from tests import factories
from tests.asserts import assert_error, field_messages

SLUG_MESSAGE = ("Use 1-80 lower-case letters, digits and hyphens, starting and ending with a "
                "letter or digit.")
KINDS = "Must be one of: post, comment, qa, image-caption, review, chat, article."


def test_create_answers_the_draft(client, platform):
    response = client.post("/api/v1/datasets", headers=platform["headers"], json=factories.dataset_body(
        slug="forum-2024", languages=["fr", "en", "fr"], tags=["technology", "forum", "forum"],
        consent_policy="opt_in", weighting="tokens"))
    assert response.status_code == 201
    body = response.get_json()
    created_at, updated_at = body.pop("created_at"), body.pop("updated_at")
    assert created_at and updated_at
    assert body == {
        "slug": "forum-2024",
        "title": "Forum posts 2024",
        "summary": "Public posts from a technology forum.",
        "description": "Every public post of 2024.\n\nModerated content removed.",
        "content_kind": "post",
        "languages": ["en", "fr"],
        "tags": ["forum", "technology"],
        "consent_policy": "opt_in",
        "pii_redaction": "placeholder",
        "pii_keep": [],
        "pii_allow": [],
        "weighting": "tokens",
        "status": "draft",
        "platform": {"name": platform["name"], "slug": platform["slug"]},
        "counts": None,
        "scopes": [],
        "published_at": None,
        "versions": [],
        "offers": [],
    }
    assert client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()["title"] == \
        "Forum posts 2024"


def test_optional_fields_take_their_defaults(client, platform):
    response = client.post("/api/v1/datasets", headers=platform["headers"], json={
        "slug": "minimal", "title": "Minimal", "content_kind": "qa", "languages": ["de"]})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["summary"], body["description"], body["tags"], body["consent_policy"], body["weighting"]) == \
        ("", "", [], "opt_out", "records")


def test_a_slug_of_80_characters_is_the_longest(client, platform):
    assert client.post("/api/v1/datasets", headers=platform["headers"],
                       json=factories.dataset_body(slug="a" * 80)).status_code == 201
    body = assert_error(client.post("/api/v1/datasets", headers=platform["headers"],
                                    json=factories.dataset_body(slug="b" * 81)), 422, "slug")
    assert field_messages(body, "slug") == [SLUG_MESSAGE]


def test_a_taken_slug_is_a_409_even_for_another_platform(client, platform, other_platform):
    factories.create_dataset(client, platform, slug="forum-2024")
    for owner in (platform, other_platform):
        body = assert_error(client.post("/api/v1/datasets", headers=owner["headers"],
                                        json=factories.dataset_body(slug="forum-2024", title="Another")), 409)
        assert body["message"] == "The slug 'forum-2024' is taken; choose another."
        assert field_messages(body, "slug") == ["Already taken."]
    assert client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()["title"] == \
        "Forum posts 2024"


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"slug": "Bad Slug!"}, "slug", SLUG_MESSAGE),
    ({"slug": "-leading"}, "slug", SLUG_MESSAGE),
    ({"slug": "trailing-"}, "slug", SLUG_MESSAGE),
    ({"slug": "UPPER"}, "slug", SLUG_MESSAGE),
    ({"slug": "under_score"}, "slug", SLUG_MESSAGE),
    ({"slug": ""}, "slug", SLUG_MESSAGE),
    ({"slug": 42}, "slug", "Not a valid string."),
    ({"title": "ab"}, "title", "Length must be between 3 and 200."),
    ({"title": "t" * 201}, "title", "Length must be between 3 and 200."),
    ({"title": "Forum\x00posts"}, "title", "Must not contain NUL characters."),
    ({"summary": "s" * 501}, "summary", "Longer than maximum length 500."),
    ({"description": "d" * 20001}, "description", "Longer than maximum length 20000."),
    ({"content_kind": "novel"}, "content_kind", KINDS),
    ({"languages": ["English"]}, "languages", "Use ISO 639 codes in lower case, like \"en\"; got 'English'."),
    ({"languages": ["EN"]}, "languages", "Use ISO 639 codes in lower case, like \"en\"; got 'EN'."),
    ({"languages": []}, "languages", "Length must be between 1 and 20."),
    ({"languages": "en"}, "languages", "Not a valid list."),
    ({"languages": [7]}, "languages.0", "Not a valid string."),
    ({"tags": ["Bad_Tag!"]}, "tags", "Tags are 1-40 lower-case letters, digits, spaces or -+#.; got 'Bad_Tag!'."),
    ({"tags": [f"t{n}" for n in range(21)]}, "tags", "Longer than maximum length 20."),
    ({"consent_policy": "maybe"}, "consent_policy", "Must be one of: opt_out, opt_in."),
    ({"weighting": "likes"}, "weighting", "Must be one of: records, tokens."),
    ({"status": "published"}, "status", "Unknown field."),
])
def test_a_bad_field_is_a_422_naming_it_and_nothing_is_created(client, platform, change, path, message):
    body_in = factories.dataset_body(slug="checked", **{k: v for k, v in change.items() if k != "slug"})
    if "slug" in change:
        body_in["slug"] = change["slug"]
    body = assert_error(client.post("/api/v1/datasets", headers=platform["headers"], json=body_in), 422)
    assert body["message"] == f"{path}: {message}"
    assert field_messages(body, path) == [message]
    assert_error(client.get("/api/v1/datasets/checked", headers=platform["headers"]), 404)


def test_every_bad_field_is_named_at_once(client, platform):
    body = assert_error(client.post("/api/v1/datasets", headers=platform["headers"], json=factories.dataset_body(
        slug="Bad Slug!", content_kind="novel", languages=["English"], consent_policy="maybe")),
        422, "slug", "content_kind", "languages", "consent_policy")
    assert set(body["errors"]["json"]) == {"slug", "content_kind", "languages", "consent_policy"}


def test_required_fields_are_named(client, platform):
    body = assert_error(client.post("/api/v1/datasets", headers=platform["headers"], json={}), 422)
    assert body["errors"]["json"] == {
        field: ["Missing data for required field."] for field in ("slug", "title", "content_kind", "languages")}


# ---- PATCH ---------------------------------------------------------------------------------


def test_patch_changes_any_field_but_the_slug(client, platform):
    created = factories.create_dataset(client, platform, slug="forum-2024")
    change = {"title": "Forum, revised", "summary": "New summary.", "description": "New text.",
              "content_kind": "comment", "languages": ["pt", "es", "pt"], "tags": ["b", "a", "b"],
              "consent_policy": "opt_in", "weighting": "tokens"}
    response = client.patch("/api/v1/datasets/forum-2024", json=change, headers=platform["headers"])
    assert response.status_code == 200
    body = response.get_json()
    assert {key: body[key] for key in change} == {**change, "languages": ["es", "pt"], "tags": ["a", "b"]}
    assert body["slug"] == "forum-2024" and body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    again = client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()
    assert {key: again[key] for key in change} == {key: body[key] for key in change}


def test_patch_with_nothing_changes_nothing(client, platform):
    created = factories.create_dataset(client, platform, slug="forum-2024")
    body = client.patch("/api/v1/datasets/forum-2024", json={}, headers=platform["headers"]).get_json()
    assert {key: body[key] for key in ("title", "languages", "tags")} == \
        {key: created[key] for key in ("title", "languages", "tags")}


@pytest.mark.parametrize(("change", "path"), [
    ({"slug": "renamed"}, "slug"),
    ({"weighting": "likes"}, "weighting"),
    ({"languages": []}, "languages"),
    ({"title": "ab"}, "title"),
    ({"title": "Good title", "content_kind": "novel"}, "content_kind"),
])
def test_a_bad_patch_is_a_422_and_changes_nothing(client, platform, change, path):
    factories.create_dataset(client, platform, slug="forum-2024")
    body = assert_error(client.patch("/api/v1/datasets/forum-2024", json=change, headers=platform["headers"]),
                        422, path)
    assert set(body["errors"]["json"]) == {path}
    after = client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()
    assert (after["title"], after["weighting"], after["languages"], after["content_kind"]) == \
        ("Forum posts 2024", "records", ["en"], "post")


# ---- who may do what ----------------------------------------------------------------------

PLATFORM_CALLS = [
    ("patch", "/api/v1/datasets/{slug}", {"json": {"title": "Mine now"}}),
    ("post", "/api/v1/datasets/{slug}/records",
     {"data": factories.ndjson([factories.record(1)]), "content_type": "application/x-ndjson"}),
    ("delete", "/api/v1/datasets/{slug}/records/r1", {}),
    ("post", "/api/v1/datasets/{slug}/versions", {"json": {}}),
    ("post", "/api/v1/datasets/{slug}/offers", {"json": factories.offer_body()}),
    ("post", "/api/v1/datasets/{slug}/publish", {}),
    ("post", "/api/v1/datasets/{slug}/unpublish", {}),
]


def draft_with_a_record(client, owner, slug="forum-2024"):
    factories.create_dataset(client, owner, slug=slug)
    factories.import_records(client, owner, slug, [factories.record(1)])


@pytest.mark.parametrize(("method", "url", "kwargs"), PLATFORM_CALLS)
def test_another_platforms_draft_is_a_404_and_stays_as_it_was(client, platform, other_platform, method, url, kwargs):
    draft_with_a_record(client, platform)
    body = assert_error(getattr(client, method)(url.format(slug="forum-2024"), headers=other_platform["headers"],
                                                **kwargs), 404)
    assert body["message"] == "No dataset 'forum-2024' among yours."
    mine = client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()
    assert (mine["title"], mine["status"], mine["versions"], mine["offers"]) == ("Forum posts 2024", "draft", [], [])
    # The record is still there and live: the owner can freeze it.
    frozen = client.post("/api/v1/datasets/forum-2024/versions", json={}, headers=platform["headers"])
    assert frozen.get_json()["record_count"] == 1


@pytest.mark.parametrize(("method", "url", "kwargs"), [*PLATFORM_CALLS, ("post", "/api/v1/datasets", {
    "json": factories.dataset_body(slug="lab-data")})])
def test_platform_calls_need_a_platform_key(client, platform, buyer, method, url, kwargs):
    draft_with_a_record(client, platform)
    call = getattr(client, method)
    target = url.format(slug="forum-2024")
    assert assert_error(call(target, **kwargs), 401)["message"] == "Send an API key: Authorization: Bearer <key>."
    assert assert_error(call(target, headers=buyer["headers"], **kwargs), 403)["message"] == \
        "This call is for platform accounts."


def test_a_draft_is_visible_only_to_its_platform(client, platform, other_platform, buyer):
    factories.create_dataset(client, platform, slug="forum-2024")
    assert client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).status_code == 200
    assert assert_error(client.get("/api/v1/datasets/forum-2024"), 404)["message"] == "No dataset 'forum-2024'."
    for stranger in (other_platform, buyer):
        assert_error(client.get("/api/v1/datasets/forum-2024", headers=stranger["headers"]), 404)
    assert_error(client.get("/api/v1/datasets/forum-2024", headers=factories.bearer("dvd_bad")), 401)


def test_an_unknown_dataset_is_a_404_for_its_would_be_owner(client, platform):
    assert_error(client.get("/api/v1/datasets/nothing-here", headers=platform["headers"]), 404)
    assert_error(client.patch("/api/v1/datasets/nothing-here", json={}, headers=platform["headers"]), 404,
                 "nothing-here")
    assert_error(client.get("/api/v1/datasets/bad%00slug", headers=platform["headers"]), 404)
    assert_error(client.post("/api/v1/datasets/bad%00slug/versions", json={}, headers=platform["headers"]), 404)


def test_a_published_dataset_is_visible_to_everyone(client, platform, other_platform, buyer):
    published = factories.published_dataset(client, platform, n_records=10, slug="forum-2024")
    for headers in ({}, other_platform["headers"], buyer["headers"], platform["headers"]):
        body = client.get("/api/v1/datasets/forum-2024", headers=headers).get_json()
        assert body == published
    assert published["status"] == "published" and published["published_at"]
    assert published["counts"] == {"records": 10, "tokens": 50, "contributors": 7}
    assert published["scopes"] == ["ai-train"]
    assert [version["number"] for version in published["versions"]] == ["1.0.0"]
    assert [offer["quote"] for offer in published["offers"]] == [{"amount": 100_000, "currency": "usd"}]
