"""The statement over the API: lines from real sales and refunds, traced to the ledger's entries.

listed()'s people under opt_out: ana (US, 3 records) and cy (US, 1) are eligible, bo (FR) and
dee (DE) are in opt-in regions and never granted. A 100_000 sale: fee 5_000, pool 47_500 split
3:1, so ana gets 35_625 and cy 11_875. Refunds totalling 40_000 leave a pool of 28_500: ana's
share becomes 21_375, a reversal line of −14_250.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalog.models import Contributor
from marketplace.contributors.identities import link
from marketplace.db import utcnow
from marketplace.extensions import db
from tests.asserts import assert_error
from tests.consent.helpers import earned, listed
from tests.contributors_factory import claimed
from tests.sales import refund, sell

USD = "usd"


def usd(amount: int) -> dict:
    return {"amount": amount, "currency": USD}


def get_statement(client, person: dict, **query):
    return client.get("/api/v1/me/statement", query_string=query, headers=person["headers"])


def statement(client, person: dict, **query) -> dict:
    response = get_statement(client, person, **query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_lines_are_the_allocations_and_reversals_and_add_up_to_the_ledger(client, app, platform, buyer,
                                                                         stripe_gateway):
    dataset = listed(client, platform)
    trained = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    grounded = sell(client, app, buyer, dataset["offers"][("ai-input",)])
    refund(client, app, trained, 40_000)
    ana = claimed(platform, "ana")

    body = statement(client, ana)

    assert [(line["kind"], line["amount"], line["license_id"], line["scopes"]) for line in body["items"]] == [
        ("reversal", usd(-14_250), trained["id"], ["ai-train"]),  # newest first
        ("allocation", usd(35_625), grounded["id"], ["ai-input"]),
        ("allocation", usd(35_625), trained["id"], ["ai-train"]),
    ]
    assert {line["dataset"] for line in body["items"]} == {dataset["slug"]}
    assert {line["buyer"] for line in body["items"]} == {buyer["name"]}
    assert (body["lifetime"], body["balance"], body["paid_out"]) == (usd(57_000), usd(57_000), usd(0))
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 50)
    assert sum(line["amount"]["amount"] for line in body["items"]) == earned(platform, "ana") == 57_000


def test_a_refund_of_everything_brings_the_lines_to_zero(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    refund(client, app, sold, 30_000)
    refund(client, app, sold, 100_000)
    cy = claimed(platform, "cy")
    body = statement(client, cy)
    # cy: 11_875, then 8_312 (pool 33_250 · 1/4, floor; the leftover units went to ana's larger remainder).
    assert [line["amount"]["amount"] for line in body["items"]] == [-8_312, -3_563, 11_875]
    assert body["lifetime"] == body["balance"] == usd(0) == usd(earned(platform, "cy"))


def test_one_statement_over_identities_on_two_platforms(client, app, platform, other_platform, buyer,
                                                         stripe_gateway):
    forum, photos = listed(client, platform), listed(client, other_platform)
    sell(client, app, buyer, forum["offers"][("ai-train",)])
    sell(client, app, buyer, photos["offers"][("ai-input",)])
    ana = claimed(platform, "ana")
    elsewhere = db.session.scalar(select(Contributor).where(
        Contributor.platform_id == other_platform["id"], Contributor.external_id == "ana"))
    link(db.session, elsewhere, db.session.get(User, ana["user_id"]))
    db.session.commit()

    body = statement(client, ana)
    assert [(line["dataset"], line["amount"]) for line in body["items"]] == [
        (photos["slug"], usd(35_625)), (forum["slug"], usd(35_625))]
    assert body["lifetime"] == usd(earned(platform, "ana") + earned(other_platform, "ana")) == usd(71_250)


def test_filters_by_dataset_and_date_and_pages_keep_the_totals_whole(client, app, platform, buyer,
                                                                     stripe_gateway):
    first, second = listed(client, platform), listed(client, platform)
    sold = sell(client, app, buyer, first["offers"][("ai-train",)])
    sell(client, app, buyer, second["offers"][("ai-train",)])
    refund(client, app, sold, 40_000)
    ana = claimed(platform, "ana")
    today = utcnow().date()

    only_first = statement(client, ana, dataset=first["slug"])
    assert [line["amount"]["amount"] for line in only_first["items"]] == [-14_250, 35_625]
    assert only_first["total"] == 2
    assert only_first["lifetime"] == usd(57_000)  # the totals are over every line, whatever the filters
    assert statement(client, ana, dataset="no-such-dataset")["items"] == []

    assert statement(client, ana, **{"from": str(today), "to": str(today)})["total"] == 3
    assert statement(client, ana, **{"from": str(today + timedelta(days=1))})["total"] == 0
    assert statement(client, ana, to=str(today - timedelta(days=1)))["total"] == 0

    pages = [statement(client, ana, per_page=2, page=n) for n in (1, 2, 3)]
    assert [[line["amount"]["amount"] for line in p["items"]] for p in pages] == [[-14_250, 35_625], [35_625], []]
    assert {(p["total"], p["per_page"], p["lifetime"]["amount"]) for p in pages} == {(3, 2, 57_000)}


def test_bad_filters_are_422s_that_name_the_field(client, platform):
    listed(client, platform)
    ana = claimed(platform, "ana")
    assert "from" in assert_error(get_statement(client, ana, **{"from": "2024-13-01"}), 422, "from")["errors"]["query"]
    assert "to" in assert_error(get_statement(client, ana, **{"from": "2024-05-02", "to": "2024-05-01"}),
                                422, "to")["errors"]["query"]
    assert_error(get_statement(client, ana, per_page=201), 422, "per_page")
    assert_error(get_statement(client, ana, page=0), 422, "page")


def test_the_statement_is_for_contributors(client, platform, buyer):
    listed(client, platform)
    assert_error(client.get("/api/v1/me/statement"), 401)
    assert_error(client.get("/api/v1/me/statement", headers=buyer["headers"]), 403)
    assert_error(client.get("/api/v1/me/statement", headers=platform["headers"]), 403)
    fresh = statement(client, claimed(platform, "ana"))
    assert fresh == {"balance": usd(0), "lifetime": usd(0), "paid_out": usd(0), "items": [], "total": 0,
                     "page": 1, "per_page": 50}


def test_a_lines_transaction_shows_only_your_entries_and_the_allocations_facts(client, app, platform, buyer,
                                                                              stripe_gateway):
    dataset = listed(client, platform)
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    refund(client, app, sold, 40_000)
    ana, cy = claimed(platform, "ana"), claimed(platform, "cy")
    reversal, allocation = (line["transaction_id"] for line in statement(client, ana)["items"])

    detail = client.get(f"/api/v1/me/ledger/{allocation}", headers=ana["headers"]).get_json()
    assert (detail["transaction_id"], detail["kind"], detail["refunded_total"]) == (allocation, "allocation", None)
    assert [(e["external_id"], e["amount"], e["weight"], e["tiebreak"]) for e in detail["entries"]] == [
        ("ana", usd(35_625), 3, "ana")]
    facts = detail["allocation"]
    assert (facts["gross"], facts["fee"], facts["to_platform"], facts["pool"], facts["unallocated"]) == (
        usd(100_000), usd(5_000), usd(47_500), usd(47_500), usd(0))
    assert (facts["fee_bps"], facts["contributor_share_bps"], facts["total_weight"], facts["eligible_count"],
            facts["weighting"], facts["license_id"], facts["dataset"], facts["buyer"], facts["scopes"]) == (
        500, 5000, 4, 2, "records", sold["id"], dataset["slug"], buyer["name"], ["ai-train"])
    assert [(s["weight"], s["allocated"], s["now"]) for s in facts["shares"]] == [(3, usd(35_625), usd(21_375))]
    assert [(p["transaction_id"], p["kind"], p["amount"]) for p in facts["history"]] == [
        (allocation, "allocation", usd(35_625)), (reversal, "reversal", usd(-14_250))]

    undone = client.get(f"/api/v1/me/ledger/{reversal}", headers=ana["headers"]).get_json()
    assert (undone["kind"], undone["reverses_id"], undone["refunded_total"]) == ("reversal", allocation, 40_000)
    assert [(e["amount"], e["weight"]) for e in undone["entries"]] == [(usd(-14_250), None)]
    assert undone["allocation"]["id"] == facts["id"]

    # cy has a line in the same payment: cy sees cy's entry, never ana's.
    theirs = client.get(f"/api/v1/me/ledger/{allocation}", headers=cy["headers"]).get_json()
    assert [(e["external_id"], e["amount"]) for e in theirs["entries"]] == [("cy", usd(11_875))]


def test_a_transaction_without_your_entry_is_a_404(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    ana, bo = claimed(platform, "ana"), claimed(platform, "bo")  # bo (FR) never granted: no line
    allocation = statement(client, ana)["items"][0]["transaction_id"]
    assert_error(client.get(f"/api/v1/me/ledger/{allocation}", headers=bo["headers"]), 404)
    assert_error(client.get(f"/api/v1/me/ledger/{allocation + 1000}", headers=ana["headers"]), 404)
    assert_error(client.get(f"/api/v1/me/ledger/{allocation}", headers=buyer["headers"]), 403)
    assert_error(client.get(f"/api/v1/me/ledger/{allocation}", headers=platform["headers"]), 403)
    assert_error(client.get(f"/api/v1/me/ledger/{allocation}"), 401)
