"""Offers: terms, quotes by SPEC's price rules, validation naming each field, retiring."""
from __future__ import annotations

import pytest

from tests import factories
from tests.asserts import assert_error, field_messages

SCOPES = "Must be one of: ai-train, ai-input, ai-index, search, ai-eval, ad-targeting."


@pytest.fixture
def slug(client, platform):
    return factories.create_dataset(client, platform, slug="forum-2024")["slug"]


def make_offer(client, owner, slug, **overrides) -> dict:
    response = client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(**overrides),
                           headers=owner["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def with_version(client, owner, slug, n_records: int, text: str = "one two three four five") -> None:
    factories.import_records(client, owner, slug, [factories.record(i, text=text) for i in range(n_records)])
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=owner["headers"]).status_code == 201


def test_an_offer_answers_its_terms(client, platform, slug):
    body = make_offer(client, platform, slug, name="  Eval and index, EU  ", scopes=["ai-index", "ai-eval"],
                      term_months=24, territory=["FR", "DE"], exclusive=True, billing="annual",
                      contributor_share_bps=7500, price={"model": "per_1k_records", "amount": 333, "currency": "usd"})
    assert isinstance(body.pop("id"), int) and body.pop("created_at")
    assert body == {
        "dataset": "forum-2024",
        "name": "Eval and index, EU",
        "scopes": ["ai-eval", "ai-index"],
        "term_months": 24,
        "territory": ["DE", "FR"],
        "exclusive": True,
        "price": {"model": "per_1k_records", "amount": 333, "currency": "usd"},
        "billing": "annual",
        "contributor_share_bps": 7500,
        "quote": None,  # no version to price yet
        "retired_at": None,
    }


def test_defaults(client, platform, slug):
    body = {k: v for k, v in factories.offer_body().items() if k not in ("territory", "exclusive", "billing")}
    response = client.post(f"/api/v1/datasets/{slug}/offers", json=body, headers=platform["headers"])
    assert response.status_code == 201
    made = response.get_json()
    assert (made["territory"], made["exclusive"], made["billing"]) == (["*"], False, "one_time")


@pytest.mark.parametrize(("price", "n_records", "text", "quote"), [
    ({"model": "flat", "amount": 100_000}, 3, "w", 100_000),
    ({"model": "flat", "amount": 1}, 3, "w", 50),  # never below the processor's minimum
    ({"model": "per_1k_records", "amount": 333}, 1001, "w", 334),  # ceil(333.333)
    ({"model": "per_1k_records", "amount": 50_000}, 1000, "w", 50_000),
    ({"model": "per_1k_records", "amount": 10}, 3, "w", 50),
    ({"model": "per_1m_tokens", "amount": 2_000_000}, 7, "a b c", 50),  # 21 tokens → 42, raised to 50
    ({"model": "per_1m_tokens", "amount": 1_000_001}, 100, "a b c d e f g h i j", 1001),  # ceil(1000.001)
])
def test_the_quote_follows_the_price_rules_on_the_latest_version(client, platform, slug, price, n_records, text,
                                                                   quote):
    with_version(client, platform, slug, n_records, text)
    made = make_offer(client, platform, slug, price={**price, "currency": "usd"})
    assert made["quote"] == {"amount": quote, "currency": "usd"}
    listed = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["offers"]
    assert [offer["quote"] for offer in listed] == [{"amount": quote, "currency": "usd"}]


def test_the_quote_follows_new_versions(client, platform, slug):
    with_version(client, platform, slug, 1000)
    offer = make_offer(client, platform, slug, price={"model": "per_1k_records", "amount": 1000, "currency": "usd"})
    assert offer["quote"]["amount"] == 1000
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(1000, 1500)])
    client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"])
    listed = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["offers"]
    assert listed[0]["quote"] == {"amount": 1500, "currency": "usd"}


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"contributor_share_bps": 4999}, "contributor_share_bps",
     "Contributors get at least 5000 basis points of the net (at most 10000)."),
    ({"contributor_share_bps": 10001}, "contributor_share_bps",
     "Contributors get at least 5000 basis points of the net (at most 10000)."),
    ({"contributor_share_bps": 5000.5}, "contributor_share_bps", "Not a valid integer."),
    ({"price": {"model": "flat", "amount": 100, "currency": "eur"}}, "price.currency",
     "This marketplace sells in 'usd' only."),
    ({"price": {"model": "flat", "amount": 100, "currency": "USD"}}, "price.currency",
     "This marketplace sells in 'usd' only."),
    ({"price": {"model": "per_record", "amount": 100, "currency": "usd"}}, "price.model",
     "Must be one of: flat, per_1k_records, per_1m_tokens."),
    ({"price": {"model": "flat", "amount": 0, "currency": "usd"}}, "price.amount",
     "Must be between 1 and 99999999 minor units: the card processor takes at most 99999999 in one payment."),
    ({"price": {"model": "flat", "amount": 1.5, "currency": "usd"}}, "price.amount", "Not a valid integer."),
    ({"price": {"model": "flat", "amount": "100", "currency": "usd"}}, "price.amount", "Not a valid integer."),
    ({"price": {"model": "flat", "currency": "usd"}}, "price.amount", "Missing data for required field."),
    ({"price": 100}, "price._schema", "Invalid input type."),
    ({"scopes": ["mining"]}, "scopes.0", SCOPES),
    ({"scopes": []}, "scopes", "Length must be between 1 and 6."),
    ({"scopes": ["ai-train", "ai-train"]}, "scopes", "List each scope once."),
    ({"territory": ["Atlantis"]}, "territory",
     "Use [\"*\"] or ISO 3166-1 alpha-2 codes in upper case; 'Atlantis' is not one."),
    ({"territory": ["us"]}, "territory", "Use [\"*\"] or ISO 3166-1 alpha-2 codes in upper case; 'us' is not one."),
    ({"territory": ["*", "US"]}, "territory",
     "Use [\"*\"] or ISO 3166-1 alpha-2 codes in upper case; '*' is not one."),
    ({"territory": ["US", "US"]}, "territory", "List each region once."),
    ({"territory": []}, "territory", "Shorter than minimum length 1."),
    ({"term_months": 0}, "term_months", "Must be greater than or equal to 1 and less than or equal to 120."),
    ({"term_months": 121}, "term_months", "Must be greater than or equal to 1 and less than or equal to 120."),
    ({"billing": "monthly"}, "billing", "Must be one of: one_time, annual."),
    ({"name": "x"}, "name", "Length must be between 2 and 120."),
    ({"name": "Deal\x00"}, "name", "Must not contain NUL characters."),
    ({"exclusive": "sometimes"}, "exclusive", "Not a valid boolean."),
])
def test_a_bad_field_is_a_422_naming_it_and_no_offer_is_made(client, platform, slug, change, path, message):
    body = assert_error(client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(**change),
                                    headers=platform["headers"]), 422)
    assert body["message"] == f"{path}: {message}"
    assert field_messages(body, path) == [message]
    assert client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["offers"] == []


def test_required_fields_are_named(client, platform, slug):
    body = assert_error(client.post(f"/api/v1/datasets/{slug}/offers", json={}, headers=platform["headers"]), 422)
    assert set(body["errors"]["json"]) == {"name", "scopes", "term_months", "price", "contributor_share_bps"}


def test_the_share_floor_is_the_configured_one(app, client, platform, slug):
    assert make_offer(client, platform, slug, contributor_share_bps=5000)["contributor_share_bps"] == 5000
    assert make_offer(client, platform, slug, contributor_share_bps=10000)["contributor_share_bps"] == 10000
    floor = app.config["MIN_CONTRIBUTOR_SHARE_BPS"]
    app.config["MIN_CONTRIBUTOR_SHARE_BPS"] = 6000
    try:
        body = assert_error(client.post(f"/api/v1/datasets/{slug}/offers", headers=platform["headers"],
                                        json=factories.offer_body(contributor_share_bps=5999)),
                            422, "contributor_share_bps")
        assert field_messages(body, "contributor_share_bps") == [
            "Contributors get at least 6000 basis points of the net (at most 10000)."]
        assert make_offer(client, platform, slug, contributor_share_bps=6000)["contributor_share_bps"] == 6000
    finally:
        app.config["MIN_CONTRIBUTOR_SHARE_BPS"] = floor


def test_the_currency_is_the_installations(app, client, platform, slug):
    currency = app.config["CURRENCY"]
    app.config["CURRENCY"] = "eur"
    try:
        made = make_offer(client, platform, slug, price={"model": "flat", "amount": 900, "currency": "eur"})
        assert made["price"]["currency"] == "eur"
        assert_error(client.post(f"/api/v1/datasets/{slug}/offers", headers=platform["headers"],
                                 json=factories.offer_body()), 422, "price.currency")
    finally:
        app.config["CURRENCY"] = currency


# ---- retiring -------------------------------------------------------------------------------


def test_retiring_stops_the_offer_and_repeating_it_is_harmless(client, platform, slug):
    offer = make_offer(client, platform, slug)
    response = client.post(f"/api/v1/offers/{offer['id']}/retire", headers=platform["headers"])
    assert response.status_code == 200
    retired = response.get_json()
    assert retired["retired_at"] and {k: v for k, v in retired.items() if k != "retired_at"} == \
        {k: v for k, v in offer.items() if k != "retired_at"}
    again = client.post(f"/api/v1/offers/{offer['id']}/retire", headers=platform["headers"]).get_json()
    assert again["retired_at"] == retired["retired_at"]
    listed = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()
    assert [o["retired_at"] for o in listed["offers"]] == [retired["retired_at"]]
    assert listed["scopes"] == []


def test_only_the_owner_retires_an_offer(client, platform, other_platform, buyer, slug):
    offer = make_offer(client, platform, slug)
    body = assert_error(client.post(f"/api/v1/offers/{offer['id']}/retire", headers=other_platform["headers"]), 404)
    assert body["message"] == f"No offer {offer['id']} among yours."
    assert_error(client.post(f"/api/v1/offers/{offer['id']}/retire", headers=buyer["headers"]), 403)
    assert_error(client.post(f"/api/v1/offers/{offer['id']}/retire"), 401)
    assert_error(client.post("/api/v1/offers/999999/retire", headers=platform["headers"]), 404)
    listed = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()
    assert listed["offers"][0]["retired_at"] is None


def test_a_retired_offer_leaves_the_public_page_and_the_catalog_filters(client, platform):
    published = factories.published_dataset(client, platform, slug="forum-2024")
    kept = make_offer(client, platform, "forum-2024", name="Search only", scopes=["search"],
                      price={"model": "per_1m_tokens", "amount": 5000, "currency": "usd"})
    retired = published["offers"][0]
    client.post(f"/api/v1/offers/{retired['id']}/retire", headers=platform["headers"])
    page = client.get("/datasets/forum-2024")
    assert page.status_code == 200
    assert b"Search only" in page.data and retired["name"].encode() not in page.data
    assert client.get("/api/v1/datasets?scope=ai-train").get_json()["items"] == []
    assert [item["slug"] for item in client.get("/api/v1/datasets?scope=search").get_json()["items"]] == \
        ["forum-2024"]
    assert client.get("/api/v1/datasets?price_model=flat").get_json()["total"] == 0
    assert client.get("/api/v1/datasets?price_model=per_1m_tokens").get_json()["total"] == 1
    assert client.get("/api/v1/datasets/forum-2024").get_json()["scopes"] == ["search"]
    # The owner still sees it on the page, marked retired.
    factories.login(client, platform)
    owner_page = client.get("/datasets/forum-2024")
    assert retired["name"].encode() in owner_page.data and b"retired" in owner_page.data
    assert kept["quote"] == {"amount": 50, "currency": "usd"}


def test_the_offer_service_itself_refuses_a_share_below_the_floor(app, client, platform):
    """The floor is the service's rule, not only the schema's: a caller that skips the schema
    (a script, the demo) is refused too, and nothing is written."""
    import pytest
    from sqlalchemy import func, select

    from marketplace.catalog import offers, services
    from marketplace.catalog.models import Offer
    from marketplace.errors import Invalid
    from marketplace.extensions import db

    slug = factories.create_dataset(client, platform)["slug"]
    dataset = services.owned_dataset(db.session, platform["id"], slug)
    fields = {**factories.offer_body(), "contributor_share_bps": app.config["MIN_CONTRIBUTOR_SHARE_BPS"] - 1}
    fields["price"] = {**fields["price"], "currency": "usd"}
    with pytest.raises(Invalid) as refused:
        offers.create_offer(db.session, dataset, fields)
    assert refused.value.errors == {"json": {"contributor_share_bps": [
        f"Must be between {app.config['MIN_CONTRIBUTOR_SHARE_BPS']} and 10000 basis points."]}}
    assert db.session.scalar(select(func.count()).select_from(Offer)) == 0
    offer = offers.create_offer(db.session, dataset, {**fields, "contributor_share_bps": 10_000})
    assert offer.contributor_share_bps == 10_000
