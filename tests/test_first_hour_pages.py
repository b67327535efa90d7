"""What a new user read wrong in the first hour: counts without separators, slugs instead of words,
a dead link to a draft, no favicon. Each test reads the page as a person would."""
from __future__ import annotations

from tests import factories
from tests.contributors_factory import claimed


def test_a_draft_dataset_is_named_on_the_consent_page_without_a_dead_link(client, platform):
    factories.create_dataset(client, platform, slug="still-a-draft", title="Drafted threads")
    factories.import_records(client, platform, "still-a-draft", [factories.record(1, contributor="ana")])
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    page = client.get("/me/consent").get_data(as_text=True)
    assert "Drafted threads" in page
    assert 'href="/datasets/still-a-draft"' not in page
    assert "(draft: not in the catalog)" in page
    assert client.get("/datasets/still-a-draft").status_code == 404  # what the link used to lead to


def test_counts_carry_thousands_separators(client, platform):
    slug = factories.create_dataset(client, platform, slug="many-people")["slug"]
    factories.import_records(client, platform, slug,
                             [factories.record(n, contributor=f"p{n}") for n in range(1_234)])
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).status_code == 201
    assert client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(),
                       headers=platform["headers"]).status_code == 201
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    report = client.get(f"/datasets/{slug}/transparency").get_data(as_text=True)
    assert "The 1,234 contributors with content" in report
    assert 'data-consent="default">1,234<' in report
    factories.login(client, platform)
    mine = client.get("/platform/report").get_data(as_text=True)
    assert "1,234 (100.0%)" in mine and ">1234 (" not in mine


def test_uses_and_statuses_read_as_words_with_the_slug_kept_beside(client, platform):
    factories.login(client, platform)
    factories.create_dataset(client, platform, slug="worded")
    report = client.get("/platform/report").get_data(as_text=True)
    assert 'title="draft">draft</span>' in report  # the status in words, the slug in the tooltip
    page = client.get("/platform/datasets/worded").get_data(as_text=True)
    assert "AI evaluation <code>ai-eval</code>" in page


def test_every_page_names_a_favicon_that_exists(client):
    home = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    legacy = client.get("/favicon.ico")
    assert legacy.status_code == 301 and legacy.headers["Location"].endswith("/static/favicon.svg")
