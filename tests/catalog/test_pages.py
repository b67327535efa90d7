"""The catalog's web pages: home, catalog, dataset page, and the platform's workbench."""
from __future__ import annotations

import html
import io
import re

import pytest

from tests import factories
from tests.catalog.helpers import record_count, stored_records


def text_of(response) -> str:
    """The page's visible text, tags dropped and spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


# ---- public pages ---------------------------------------------------------------------------


def test_home_says_what_dividend_is_and_shows_what_is_published(client, platform):
    empty = client.get("/")
    assert empty.status_code == 200
    assert "Data licensing that pays the people who wrote it." in text_of(empty)
    assert "No datasets are published yet." in text_of(empty)
    factories.published_dataset(client, platform, slug="forum-2024", title="Bicycle forum")
    factories.create_dataset(client, platform, slug="draft", title="Secret draft")
    page = text_of(client.get("/"))
    assert "Bicycle forum" in page and "Secret draft" not in page
    assert "All 1 datasets" in page


def test_the_catalog_page_searches_and_says_when_nothing_matches(client, platform):
    factories.published_dataset(client, platform, slug="forum-2024", title="Bicycle forum")
    factories.published_dataset(client, platform, slug="photos", title="Photo captions", content_kind="image-caption")
    page = client.get("/datasets", query_string={"q": "bicyc"})
    assert page.status_code == 200
    assert "1 dataset matching “bicyc”." in text_of(page)
    assert b'href="/datasets/forum-2024"' in page.data and b'href="/datasets/photos"' not in page.data
    assert "2 datasets." in text_of(client.get("/datasets"))
    filtered = client.get("/datasets", query_string={"content_kind": "image-caption", "scope": ""})
    assert b'href="/datasets/photos"' in filtered.data and b'href="/datasets/forum-2024"' not in filtered.data
    empty = client.get("/datasets", query_string={"q": "none such words"})
    assert empty.status_code == 200
    assert "No published dataset matches “none such words”. Try fewer words or other filters." in text_of(empty)


def test_the_catalog_page_explains_a_bad_filter(client):
    page = client.get("/datasets", query_string={"scope": "mining"})
    assert page.status_code == 422
    assert "Check the filters: scope Must be one of:" in text_of(page)


def test_the_catalog_page_pages(client, platform):
    for n in range(25):
        factories.published_dataset(client, platform, n_records=1, slug=f"set-{n}")
    first = client.get("/datasets")
    assert "Page 1 of 2" in text_of(first) and first.data.count(b'class="dataset-card"') == 24
    second = client.get("/datasets", query_string={"page": 2})
    assert "Page 2 of 2" in text_of(second) and second.data.count(b'class="dataset-card"') == 1
    assert b'href="/datasets/set-0"' in second.data


def test_the_dataset_page_shows_the_datasheet_a_sample_and_priced_offers(client, platform):
    factories.create_dataset(client, platform, slug="forum-2024", title="Bicycle forum", languages=["en", "fr"],
                             description="First paragraph.\n\nSecond paragraph.", tags=["cycling"])
    lines = [factories.record(i, created_at=f"2024-0{1 + i % 3}-15T10:00:00Z") for i in range(1001)]
    factories.import_records(client, platform, "forum-2024", lines)
    client.delete("/api/v1/datasets/forum-2024/records/r0", headers=platform["headers"])
    client.post("/api/v1/datasets/forum-2024/versions", json={}, headers=platform["headers"])
    client.post("/api/v1/datasets/forum-2024/offers", headers=platform["headers"], json=factories.offer_body(
        name="Per thousand", price={"model": "per_1k_records", "amount": 333, "currency": "usd"}))
    client.post("/api/v1/datasets/forum-2024/publish", headers=platform["headers"])
    response = client.get("/datasets/forum-2024")
    assert response.status_code == 200
    page = text_of(response)
    for expected in [
        "Bicycle forum", f"by {platform['name']}", "published",
        "Content post", "Languages en, fr", "Tags cycling",
        "Consent policy Opt-out: contributors are included unless they withdrew",
        "Contributor weight by records",
        "Latest version 1.0.0", "Records 1,000", "Tokens 5,000", "Contributors 7",
        "Time range 2024-01-15 to 2024-03-15",
        "First paragraph.", "Second paragraph.",
        "Per thousand", "3.33 USD per 1,000 records", "3.33 USD today",  # ceil(333 * 1000 / 1000)
        "50.0% of the net to contributors",
    ]:
        assert expected in page, expected
    # A sample of five live records: r0 was taken down.
    assert re.findall(r"r\d+ · 2024-\d\d-15", page) == [f"r{i} · 2024-0{1 + i % 3}-15" for i in range(1, 6)]
    assert "post number 1 about things" in page and "post number 0 about" not in page
    assert 'aria-label="License under Per thousand"' in response.get_data(as_text=True)


def test_the_dataset_page_computes_each_price_model(client, platform):
    factories.published_dataset(client, platform, slug="forum-2024", n_records=1001)
    for name, model, amount in [("Tokens deal", "per_1m_tokens", 1_234_567), ("Flat deal", "flat", 1)]:
        client.post("/api/v1/datasets/forum-2024/offers", headers=platform["headers"], json=factories.offer_body(
            name=name, price={"model": model, "amount": amount, "currency": "usd"}))
    page = text_of(client.get("/datasets/forum-2024"))
    # 5,005 tokens at 12,345.67 USD per 1M: ceil(6179.007835) = 6180 minor units; a flat 0.01 USD is raised to 0.50.
    assert "12,345.67 USD per 1M tokens 61.80 USD today" in page
    assert "0.01 USD flat 0.50 USD today" in page
    assert "1,000.00 USD flat 1,000.00 USD today" in page


def test_drafts_and_unknown_datasets_are_html_404s(client, platform, other_platform):
    factories.create_dataset(client, platform, slug="forum-2024")
    for slug in ("forum-2024", "nothing-here"):
        response = client.get(f"/datasets/{slug}")
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "404 · Not Found" in text_of(response) and "Browse the catalog" in text_of(response)
    factories.login(client, other_platform)
    assert client.get("/datasets/forum-2024").status_code == 404
    client.post("/logout")
    factories.login(client, platform)
    own = client.get("/datasets/forum-2024")
    assert own.status_code == 200 and "draft" in text_of(own) and "No records yet." in text_of(own)


# ---- the platform's workbench ----------------------------------------------------------------

WORKBENCH = ["/platform/datasets", "/platform/datasets/new", "/platform/datasets/{slug}",
             "/platform/datasets/{slug}/edit"]


@pytest.mark.parametrize("url", WORKBENCH)
def test_workbench_pages_are_the_owners(client, platform, other_platform, buyer, url):
    factories.create_dataset(client, platform, slug="forum-2024", title="Forum of mine")
    target = url.format(slug="forum-2024")
    anonymous = client.get(target)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login?next=")
    factories.login(client, platform)
    assert client.get(target).status_code == 200
    client.post("/logout")
    factories.login(client, other_platform)
    assert client.get(target).status_code == (200 if "{slug}" not in url else 404)
    client.post("/logout")
    factories.login(client, buyer)
    refused = client.get(target)
    assert refused.status_code == 403 and "These pages are for platform accounts." in text_of(refused)


def test_the_workbench_lists_only_my_datasets(client, platform, other_platform):
    factories.create_dataset(client, platform, slug="mine", title="Forum of mine")
    factories.create_dataset(client, other_platform, slug="theirs", title="Their photos")
    factories.login(client, platform)
    page = text_of(client.get("/platform/datasets"))
    assert "Forum of mine" in page and "Their photos" not in page


def test_a_platform_lists_a_dataset_from_the_workbench(client, platform):
    factories.login(client, platform)
    form = {"slug": "web-made", "title": "Made on the web", "summary": "S.", "description": "D.",
            "content_kind": "review", "languages": "en, FR", "tags": "Books, reviews",
            "consent_policy": "opt_in", "weighting": "tokens"}
    response = client.post("/platform/datasets/new", data=form)
    assert (response.status_code, response.headers["Location"]) == (302, "/platform/datasets/web-made")
    made = client.get("/api/v1/datasets/web-made", headers=platform["headers"]).get_json()
    assert (made["languages"], made["tags"], made["consent_policy"], made["weighting"], made["status"]) == \
        (["en", "fr"], ["books", "reviews"], "opt_in", "tokens", "draft")
    again = client.post("/platform/datasets/new", data=form)
    assert again.status_code == 422 and "Already taken." in text_of(again)
    bad = client.post("/platform/datasets/new", data={**form, "slug": "Bad Slug", "languages": ""})
    assert bad.status_code == 422
    assert "Use 1-80 lower-case letters" in text_of(bad) and "Length must be between 1 and 20." in text_of(bad)
    edited = client.post("/platform/datasets/web-made/edit", data={**form, "title": "Renamed on the web"})
    assert edited.status_code == 302
    assert client.get("/api/v1/datasets/web-made", headers=platform["headers"]).get_json()["title"] == \
        "Renamed on the web"
    bad_edit = client.post("/platform/datasets/web-made/edit", data={**form, "title": "ab"})
    assert bad_edit.status_code == 422 and "Length must be between 3 and 200." in text_of(bad_edit)


def upload(client, slug, name, data: bytes):
    return client.post(f"/platform/datasets/{slug}/records", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_platform_imports_freezes_offers_and_publishes_from_the_workbench(client, platform):
    factories.create_dataset(client, platform, slug="forum-2024")
    factories.login(client, platform)
    response = upload(client, "forum-2024", "posts.ndjson", factories.ndjson([factories.record(i) for i in range(3)]))
    assert response.status_code == 302
    assert "Imported posts.ndjson: 3 created, 0 updated." in text_of(client.get("/platform/datasets/forum-2024"))
    csv = (b"external_id,contributor_external_id,contributor_region,text,created_at,tokens\n"
           b"r2,u2,US,\"edited, with a comma\",2024-05-01T12:00:00Z,\n"
           b"c1,u9,GB,a caption,2024-05-02T00:00:00Z,7\n")
    assert upload(client, "forum-2024", "more.CSV", csv).status_code == 302
    assert "Imported more.CSV: 1 created, 1 updated." in text_of(client.get("/platform/datasets/forum-2024"))
    assert stored_records("forum-2024")["r2"]["text"] == "edited, with a comma"
    assert stored_records("forum-2024")["c1"]["tokens"] == 7
    assert client.post("/platform/datasets/forum-2024/versions").status_code == 302
    assert "Version 1.0.0 frozen: 4 records." in text_of(client.get("/platform/datasets/forum-2024"))
    client.post("/platform/datasets/forum-2024/versions")
    assert "Nothing changed since version 1.0.0" in text_of(client.get("/platform/datasets/forum-2024"))
    offer = {"name": "Web offer", "scopes": ["ai-train", "ai-eval"], "term_months": "12", "territory": "us, ca",
             "billing": "annual", "price_model": "per_1k_records", "price_amount": "200.00",
             "contributor_share_percent": "60", "currency": "usd", "exclusive": "on"}
    bad = client.post("/platform/datasets/forum-2024/offers", data={**offer, "contributor_share_percent": "40"})
    assert bad.status_code == 422
    assert "Contributors get at least 50% of the net (at most 100%)." in text_of(bad)
    assert client.post("/platform/datasets/forum-2024/offers", data=offer).status_code == 302
    made = client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()["offers"]
    assert [(o["scopes"], o["territory"], o["exclusive"], o["billing"], o["quote"]) for o in made] == \
        [(["ai-eval", "ai-train"], ["CA", "US"], True, "annual", {"amount": 80, "currency": "usd"})]
    assert client.post("/platform/datasets/forum-2024/publish").status_code == 302
    assert "Published: the dataset is in the catalog." in text_of(client.get("/platform/datasets/forum-2024"))
    assert [i["slug"] for i in client.get("/api/v1/datasets").get_json()["items"]] == ["forum-2024"]
    client.post("/platform/datasets/forum-2024/takedown", data={"external_id": "c1"})
    assert "Record 'c1' taken down; later versions leave it out." in \
        text_of(client.get("/platform/datasets/forum-2024"))
    client.post(f"/platform/offers/{made[0]['id']}/retire")
    assert client.get("/api/v1/datasets/forum-2024").get_json()["offers"][0]["retired_at"]
    client.post("/platform/datasets/forum-2024/unpublish")
    assert client.get("/api/v1/datasets").get_json()["items"] == []


@pytest.mark.parametrize(("name", "data", "message"), [
    ("bad.ndjson", factories.ndjson([factories.record(1), {**factories.record(2), "text": ""}]),
     "line 2, text: Missing text."),
    ("bad.csv", b"external_id,text\nx,hello\n", "The CSV header lacks the column 'contributor_external_id'."),
    ("latin1.csv", "external_id,contributor_external_id,contributor_region,text,created_at\n"
                   "x,u,US,caf\xe9,2024-01-01T00:00:00Z\n".encode("latin-1"),
     "The file is not UTF-8 text; nothing was imported."),
    ("empty.ndjson", b"", "The file holds no records."),
])
def test_a_bad_upload_is_a_422_listing_its_lines_and_imports_nothing(client, platform, name, data, message):
    factories.create_dataset(client, platform, slug="forum-2024")
    factories.login(client, platform)
    response = upload(client, "forum-2024", name, data)
    assert response.status_code == 422
    assert message in text_of(response)
    assert record_count("forum-2024") == 0


def test_an_upload_without_a_file_is_a_422(client, platform):
    factories.create_dataset(client, platform, slug="forum-2024")
    factories.login(client, platform)
    response = client.post("/platform/datasets/forum-2024/records", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file to upload." in text_of(response)


@pytest.mark.parametrize(("method", "url"), [
    ("post", "/platform/datasets/forum-2024/records"),
    ("post", "/platform/datasets/forum-2024/versions"),
    ("post", "/platform/datasets/forum-2024/offers"),
    ("post", "/platform/datasets/forum-2024/publish"),
    ("post", "/platform/datasets/forum-2024/unpublish"),
    ("post", "/platform/datasets/forum-2024/takedown"),
    ("post", "/platform/datasets/forum-2024/edit"),
])
def test_workbench_actions_on_another_platforms_dataset_are_404s(client, platform, other_platform, method, url):
    factories.create_dataset(client, platform, slug="forum-2024")
    factories.import_records(client, platform, "forum-2024", [factories.record(1)])
    factories.login(client, other_platform)
    response = getattr(client, method)(url, data={"title": "Taken over", "external_id": "r1"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    mine = client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()
    assert (mine["title"], mine["status"], mine["versions"], mine["offers"]) == ("Forum posts 2024", "draft", [], [])
    assert stored_records("forum-2024")["r1"]["taken_down"] is False


def test_retiring_another_platforms_offer_on_the_web_is_a_404(client, platform, other_platform):
    published = factories.published_dataset(client, platform, slug="forum-2024")
    factories.login(client, other_platform)
    assert client.post(f"/platform/offers/{published['offers'][0]['id']}/retire").status_code == 404
    assert client.get("/api/v1/datasets/forum-2024").get_json()["offers"][0]["retired_at"] is None


@pytest.mark.parametrize(("typed_price", "typed_share", "amount", "bps"), [
    ("49.99", "50", 4999, 5000), ("2,500", "62.5", 250_000, 6250), ("$12.3", "100", 1230, 10_000),
])
def test_operators_type_money_in_currency_and_shares_in_percent(client, platform, typed_price, typed_share,
                                                                 amount, bps):
    """The offer form takes the price in major units with cents and the share in percent, and
    stores exactly the minor units and basis points they mean (the API keeps minor units and bps)."""
    factories.login(client, platform)
    slug = factories.create_dataset(client, platform)["slug"]
    response = client.post(f"/platform/datasets/{slug}/offers", data={
        "name": "Typed", "scopes": ["ai-train"], "term_months": "12", "territory": "*", "billing": "one_time",
        "price_model": "flat", "price_amount": typed_price, "contributor_share_percent": typed_share,
        "currency": "usd"})
    assert response.status_code == 302, text_of(response)
    offer = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["offers"][0]
    assert offer["price"] == {"model": "flat", "amount": amount, "currency": "usd"}
    assert offer["contributor_share_bps"] == bps


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("price_amount", "49.999", "Type the price like 2500 or 2,500.00 (at most two decimals)."),
    ("price_amount", "-5", "Type the price like 2500 or 2,500.00 (at most two decimals)."),
    ("contributor_share_percent", "49.99", "Contributors get at least 50% of the net (at most 100%)."),
    ("contributor_share_percent", "fifty", "Contributors get at least 50% of the net (at most 100%)."),
])
def test_a_mistyped_price_or_share_is_named_and_nothing_is_made(client, platform, field, typed, message):
    factories.login(client, platform)
    slug = factories.create_dataset(client, platform)["slug"]
    data = {"name": "Typed", "scopes": ["ai-train"], "term_months": "12", "territory": "*", "billing": "one_time",
            "price_model": "flat", "price_amount": "49.99", "contributor_share_percent": "50", "currency": "usd",
            field: typed}
    response = client.post(f"/platform/datasets/{slug}/offers", data=data)
    assert response.status_code == 422
    assert message in text_of(response)
    assert f'value="{typed}"' in response.get_data(as_text=True)  # what was typed stays in the field
    assert client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["offers"] == []
