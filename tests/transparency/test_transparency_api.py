"""GET /api/v1/datasets/{slug}/transparency and GET /api/v1/platform/report, over HTTP."""
from __future__ import annotations

import pytest

from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import decide, earned, listed
from tests.contributors_factory import claimed
from tests.sales import refund, sell
from tests.transparency import (
    ANA,
    CY,
    FEES,
    PAID,
    REFUNDED,
    TO_CONTRIBUTORS,
    TO_PLATFORM,
    money,
    two_sales_one_refund,
)

SHARES = ("marketplace_fees", "to_platform", "to_contributors", "unallocated")


def report(client, slug: str, headers: dict | None = None) -> dict:
    response = client.get(f"/api/v1/datasets/{slug}/transparency", headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_four_shares_add_up_exactly_to_gross_net_of_a_partial_refund(client, app, platform, buyer,
                                                                          stripe_gateway):
    dataset = two_sales_one_refund(client, app, platform, buyer)
    body = report(client, dataset["slug"])  # anonymous: the report is public

    assert body["paid"] == money(PAID) and body["refunded"] == money(REFUNDED)
    assert body["gross"] == money(PAID - REFUNDED) == money(170_000)
    assert {name: body[name] for name in SHARES} == {
        "marketplace_fees": money(FEES), "to_platform": money(TO_PLATFORM),
        "to_contributors": money(TO_CONTRIBUTORS), "unallocated": money(0)}
    assert sum(body[name]["amount"] for name in SHARES) == body["gross"]["amount"]
    # The contributors' share is exactly what the ledger credited each of them.
    assert (earned(platform, "ana"), earned(platform, "cy")) == (ANA, CY)
    assert ANA + CY == TO_CONTRIBUTORS
    assert body["contributors_paid"] == 2
    assert body["licenses_sold"] == 2
    assert body["licenses_by_scope"] == {"ai-train": 1, "ai-input": 1}


def test_the_payout_histogram_puts_each_contributor_in_one_bucket(client, app, platform, buyer, stripe_gateway):
    dataset = two_sales_one_refund(client, app, platform, buyer)
    histogram = report(client, dataset["slug"])["payout_histogram"]
    # cy's 20_187 is in [20_000, 50_000), ana's 60_563 in [50_000, 100_000).
    assert histogram == [
        {"label": "200.00 USD to 499.99 USD", "from": money(20_000), "to": money(50_000), "contributors": 1},
        {"label": "500.00 USD to 999.99 USD", "from": money(50_000), "to": money(100_000), "contributors": 1},
    ]


def test_a_full_refund_leaves_nothing_sold_and_every_share_at_zero(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    refund(client, app, sold, 100_000)
    body = report(client, dataset["slug"])
    assert (body["paid"], body["refunded"], body["gross"]) == (money(100_000), money(100_000), money(0))
    assert [body[name] for name in SHARES] == [money(0)] * 4
    assert (body["licenses_sold"], body["licenses_by_scope"], body["contributors_paid"]) == (0, {}, 0)
    assert body["payout_histogram"] == []


def test_an_opt_in_dataset_with_no_grants_sends_the_pool_to_unallocated(client, app, platform, buyer,
                                                                        stripe_gateway):
    dataset = listed(client, platform, policy="opt_in")
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    body = report(client, dataset["slug"])
    assert {name: body[name]["amount"] for name in SHARES} == {
        "marketplace_fees": 5_000, "to_platform": 47_500, "to_contributors": 0, "unallocated": 47_500}
    assert body["gross"] == money(100_000)
    assert (body["contributors_paid"], body["payout_histogram"]) == (0, [])
    assert body["consent"] == {"granted": 0, "withdrawn": 0, "default": 4, "default_included": 0, "total": 4}
    assert body["eligible_now_by_scope"] == {"ai-train": 0, "ai-input": 0}

    # Refunded 40_000: the payment counts as 60_000, fee 3_000, platform 28_500, pool 28_500.
    refund(client, app, sold, 40_000)
    body = report(client, dataset["slug"])
    assert {name: body[name]["amount"] for name in SHARES} == {
        "marketplace_fees": 3_000, "to_platform": 28_500, "to_contributors": 0, "unallocated": 28_500}
    assert body["gross"] == money(60_000) and body["licenses_sold"] == 1


def test_consent_counts_follow_the_applying_decision_for_every_offered_scope(client, app, platform):
    dataset = listed(client, platform)
    slug = dataset["slug"]
    before = report(client, slug)
    assert before["offered_scopes"] == ["ai-train", "ai-input"]
    assert before["consent"] == {"granted": 0, "withdrawn": 0, "default": 4, "default_included": 2, "total": 4}
    assert before["eligible_now_by_scope"] == {"ai-train": 2, "ai-input": 2}  # ana and cy (US)

    ana, bo, cy, dee = (claimed(platform, name) for name in ("ana", "bo", "cy", "dee"))
    decisions = [
        (ana, {"dataset": slug, "scope": "ai-train", "status": "withdrawn"}),
        # A named scope beats "*" for the same dataset, even when "*" is newer: ana stays withdrawn.
        (ana, {"dataset": slug, "scope": "*", "status": "granted"}),
        (bo, {"dataset": slug, "scope": "*", "status": "granted"}),
        # ai-train granted platform-wide, nothing said about ai-input: the policy decides.
        (cy, {"platform": platform["slug"], "scope": "ai-train", "status": "granted"}),
        # The dataset's decision beats the platform-wide one.
        (dee, {"platform": platform["slug"], "scope": "*", "status": "granted"}),
        (dee, {"dataset": slug, "scope": "ai-input", "status": "withdrawn"}),
    ]
    for person, decision in decisions:
        assert decide(client, person, **decision).status_code == 200
    body = report(client, slug)
    assert body["consent"] == {"granted": 1, "withdrawn": 2, "default": 1, "default_included": 1, "total": 4}
    # ai-train: bo, cy, dee (ana withdrew); ai-input: ana ("*" granted), bo, cy (dee withdrew).
    assert body["eligible_now_by_scope"] == {"ai-train": 3, "ai-input": 3}

    # Among equally specific decisions the latest wins: ana grants ai-train for the dataset again.
    assert decide(client, ana, dataset=slug, scope="ai-train", status="granted").status_code == 200
    assert report(client, slug)["consent"] == {"granted": 2, "withdrawn": 1, "default": 1, "default_included": 1,
                                               "total": 4}


def test_taken_down_records_leave_the_consent_counts(client, app, platform):
    dataset = listed(client, platform)
    for external_id in ("r3", "r4"):  # bo's two records (listed() numbers ana's r0–r2, then bo's)
        response = client.delete(f"/api/v1/datasets/{dataset['slug']}/records/{external_id}",
                                 headers=platform["headers"])
        assert response.status_code == 204
    assert report(client, dataset["slug"])["consent"]["total"] == 3


def test_a_draft_is_a_404_except_to_its_own_platform(client, platform, other_platform, buyer):
    draft = factories.create_dataset(client, platform)
    slug = draft["slug"]
    assert_error(client.get(f"/api/v1/datasets/{slug}/transparency"), 404)
    assert_error(client.get(f"/api/v1/datasets/{slug}/transparency", headers=other_platform["headers"]), 404)
    assert_error(client.get(f"/api/v1/datasets/{slug}/transparency", headers=buyer["headers"]), 404)
    assert_error(client.get("/api/v1/datasets/no-such-dataset/transparency"), 404)
    assert_error(client.get(f"/api/v1/datasets/{slug}/transparency",
                            headers=factories.bearer("dvd_not_a_key")), 401)
    own = report(client, slug, platform["headers"])
    assert own["dataset"] == slug
    assert (own["gross"], own["licenses_sold"], own["contributors_paid"]) == (money(0), 0, 0)
    # No records, no version: nobody to count, nobody eligible yet.
    assert own["consent"]["total"] == 0 and own["eligible_now_by_scope"] == {}


def test_the_platform_report_shows_only_the_callers_datasets(client, app, platform, other_platform, buyer,
                                                             stripe_gateway):
    mine = two_sales_one_refund(client, app, platform, buyer)
    theirs = listed(client, other_platform)
    sell(client, app, buyer, theirs["offers"][("ai-train",)])

    response = client.get("/api/v1/platform/report", headers=platform["headers"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [row["slug"] for row in body["datasets"]] == [mine["slug"]]
    row = body["datasets"][0]
    assert (row["published"], row["status"], row["licenses_sold"], row["contributors_paid"]) == (
        True, "published", 2, 2)
    assert (row["gross"], row["to_contributors"], row["unallocated"]) == (
        money(170_000), money(TO_CONTRIBUTORS), money(0))
    assert row["consent"] == {"granted": 0, "withdrawn": 0, "default": 4, "default_included": 2, "total": 4}
    totals = body["totals"]
    assert (totals["paid"], totals["refunded"], totals["gross"]) == (money(PAID), money(REFUNDED), money(170_000))
    assert sum(totals[name]["amount"] for name in SHARES) == 170_000
    assert totals["to_platform"] == money(TO_PLATFORM) and totals["contributors_paid"] == 2
    assert body["balance"] == money(TO_PLATFORM)
    assert body["allocations"] == 2
    recent = body["recent_sales"]
    assert [(sale["scopes"], sale["paid"], sale["refunded"]) for sale in recent] == [
        (["ai-input"], money(100_000), money(REFUNDED)), (["ai-train"], money(100_000), money(0))]
    assert {sale["dataset"] for sale in recent} == {mine["slug"]}

    other = client.get("/api/v1/platform/report", headers=other_platform["headers"]).get_json()
    assert [row["slug"] for row in other["datasets"]] == [theirs["slug"]]
    assert other["balance"] == money(47_500) and other["allocations"] == 1


def test_the_platform_report_is_for_platforms(client, platform, buyer):
    listed(client, platform)
    assert_error(client.get("/api/v1/platform/report", headers=buyer["headers"]), 403)
    ana = claimed(platform, "ana")
    assert_error(client.get("/api/v1/platform/report", headers=ana["headers"]), 403)
    assert_error(client.get("/api/v1/platform/report"), 401)


def test_an_empty_platform_report(client, platform):
    body = client.get("/api/v1/platform/report", headers=platform["headers"]).get_json()
    assert body["datasets"] == [] and body["recent_sales"] == []
    assert (body["balance"], body["allocations"], body["totals"]["gross"]) == (money(0), 0, money(0))


@pytest.mark.parametrize("amount", [1, 2, 4, 5, 9, 10, 19, 20, 49, 50, 99, 100, 199, 200, 499, 500, 999,
                                    123_456_789, 999_999_999_999, 10**12])
def test_a_share_falls_in_the_bucket_whose_edges_hold_it(amount):
    """The histogram's SQL places an amount by its digits; the edges say where it belongs."""
    from sqlalchemy import text

    from marketplace.extensions import db
    from marketplace.transparency.reports import EDGES, bucket_low, bucket_sql

    width, step = db.session.execute(text(f"SELECT {bucket_sql('a.amount')} FROM "
                                          "(SELECT CAST(:amount AS BIGINT) AS amount) a"), {"amount": amount}).one()
    expected = max(edge for edge in EDGES if edge <= amount)
    assert bucket_low(width, step) == expected
