"""GET /api/v1/datasets: published datasets only, full-text search, filters, API.md's page envelope."""
from __future__ import annotations

import pytest

from tests import factories
from tests.asserts import assert_error, field_messages


def listing(client, **query) -> dict:
    response = client.get("/api/v1/datasets", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def slugs(client, **query) -> list[str]:
    return [item["slug"] for item in listing(client, **query)["items"]]


@pytest.fixture
def shelf(client, platform, other_platform):
    """Three published datasets and two that are not."""
    factories.published_dataset(client, platform, slug="forum-posts", title="Forum posts about bicycles",
                                summary="Long threads on repairs.", tags=["cycling", "repair"],
                                languages=["en", "fr"])
    factories.published_dataset(client, other_platform, slug="photo-captions", title="Photography captions",
                                content_kind="image-caption", languages=["de"], summary="Captions of photos.",
                                description="Alt texts written by photographers.", tags=[])
    factories.published_dataset(client, platform, slug="qa-archive", title="Questions and answers",
                                content_kind="qa", languages=["en"], summary="Bicycle maintenance Q&A.", tags=["qa"])
    client.post("/api/v1/datasets/qa-archive/offers", headers=platform["headers"], json=factories.offer_body(
        name="Retrieval", scopes=["ai-input", "search"], price={"model": "per_1m_tokens", "amount": 900,
                                                              "currency": "usd"}))
    factories.create_dataset(client, platform, slug="draft-bicycles", title="Draft about bicycles")
    factories.published_dataset(client, other_platform, slug="gone-bicycles", title="Unpublished bicycles")
    client.post("/api/v1/datasets/gone-bicycles/unpublish", headers=other_platform["headers"])


def test_only_published_datasets_are_listed_newest_first(client, platform, shelf):
    assert slugs(client) == ["qa-archive", "photo-captions", "forum-posts"]
    # Not even a platform's own drafts: the catalog is the public list.
    assert [item["slug"] for item in client.get("/api/v1/datasets", headers=platform["headers"]).get_json()["items"]] \
        == ["qa-archive", "photo-captions", "forum-posts"]


def test_an_item_is_a_catalog_card(client, platform, shelf):
    item = listing(client, q="repairs")["items"][0]
    published_at = item.pop("published_at")
    assert published_at
    assert item == {
        "slug": "forum-posts",
        "title": "Forum posts about bicycles",
        "summary": "Long threads on repairs.",
        "content_kind": "post",
        "languages": ["en", "fr"],
        "tags": ["cycling", "repair"],
        "consent_policy": "opt_out",
        "weighting": "records",
        "status": "published",
        "platform": {"name": platform["name"], "slug": platform["slug"]},
        "counts": {"records": 10, "tokens": 50, "contributors": 7},
        "scopes": ["ai-train"],
    }


@pytest.mark.parametrize(("q", "expected"), [
    ("bicycles", ["forum-posts"]),
    ("bicyc", ["forum-posts", "qa-archive"]),  # a prefix; "Bicycle maintenance" too
    ("BICYCLE", ["forum-posts", "qa-archive"]),
    ("photo capt", ["photo-captions"]),  # every word, each as a prefix
    ("photographers", ["photo-captions"]),  # the description
    ("cycling", ["forum-posts"]),  # a tag
    ("repairs threads", ["forum-posts"]),  # the summary, any order
    ("bicycles photography", []),  # every word must match
    ("maintenance, q&a!", ["qa-archive"]),  # punctuation is not a word
    ("unpublished", []),
    ("draft", []),
    ("zzz", []),
])
def test_full_text_search(client, shelf, q, expected):
    assert sorted(slugs(client, q=q)) == expected


def test_an_empty_query_lists_everything(client, shelf):
    assert listing(client, q="")["total"] == 3
    assert listing(client, q="  ,; ")["total"] == 3


def test_an_edit_is_searchable_at_once(client, platform, shelf):
    client.patch("/api/v1/datasets/forum-posts", json={"title": "Tandem forum", "tags": []},
                 headers=platform["headers"])
    assert slugs(client, q="tandem") == ["forum-posts"]
    assert slugs(client, q="cycling") == []


@pytest.mark.parametrize(("query", "expected"), [
    ({"language": "fr"}, ["forum-posts"]),
    ({"language": "en"}, ["forum-posts", "qa-archive"]),
    ({"language": "ja"}, []),
    ({"content_kind": "image-caption"}, ["photo-captions"]),
    ({"content_kind": "review"}, []),
    ({"scope": "ai-train"}, ["forum-posts", "photo-captions", "qa-archive"]),
    ({"scope": "search"}, ["qa-archive"]),
    ({"scope": "ad-targeting"}, []),
    ({"price_model": "flat"}, ["forum-posts", "photo-captions", "qa-archive"]),
    ({"price_model": "per_1m_tokens"}, ["qa-archive"]),
    ({"price_model": "per_1k_records"}, []),
    ({"language": "en", "content_kind": "qa", "scope": "ai-input", "q": "bicycle"}, ["qa-archive"]),
    ({"language": "en", "content_kind": "post", "scope": "ai-input"}, []),
])
def test_filters(client, shelf, query, expected):
    body = listing(client, **query)
    assert sorted(item["slug"] for item in body["items"]) == expected
    assert body["total"] == len(expected)


def test_pages(client, platform):
    for n in range(5):
        factories.published_dataset(client, platform, n_records=1, slug=f"set-{n}")
    assert listing(client) | {"items": None} == {"items": None, "total": 5, "page": 1, "per_page": 50}
    pages = [listing(client, page=page, per_page=2) for page in (1, 2, 3, 4)]
    assert [(p["total"], p["page"], p["per_page"], len(p["items"])) for p in pages] == \
        [(5, 1, 2, 2), (5, 2, 2, 2), (5, 3, 2, 1), (5, 4, 2, 0)]
    assert [item["slug"] for p in pages for item in p["items"]] == [f"set-{n}" for n in (4, 3, 2, 1, 0)]
    assert listing(client, per_page=200)["per_page"] == 200
    assert listing(client, q="forum", per_page=1, page=2) | {"items": None} == \
        {"items": None, "total": 5, "page": 2, "per_page": 1}


@pytest.mark.parametrize(("query", "path", "message"), [
    ({"per_page": 201}, "per_page", "must be between 1 and 200"),
    ({"per_page": 0}, "per_page", "must be between 1 and 200"),
    ({"page": 0}, "page", "Must be greater than or equal to 1."),
    ({"page": -3}, "page", "Must be greater than or equal to 1."),
    ({"page": "two"}, "page", "Not a valid integer."),
    ({"scope": "mining"}, "scope", "Must be one of: ai-train, ai-input, ai-index, search, ai-eval, ad-targeting."),
    ({"language": "English"}, "language", "String does not match expected pattern."),
    ({"content_kind": "novel"}, "content_kind",
     "Must be one of: post, comment, qa, image-caption, review, chat, article."),
    ({"price_model": "per_record"}, "price_model", "Must be one of: flat, per_1k_records, per_1m_tokens."),
    ({"q": "x" * 201}, "q", "Longer than maximum length 200."),
])
def test_bad_parameters_are_a_422_naming_them(client, query, path, message):
    body = assert_error(client.get("/api/v1/datasets", query_string=query), 422)
    assert body["message"] == f"{path}: {message}"
    assert field_messages(body, path, location="query") == [message]
