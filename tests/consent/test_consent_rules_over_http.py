"""SPEC.md's consent rules, end to end: decisions through the API change who a payment pays."""
from __future__ import annotations

from tests.consent.helpers import PEOPLE, decide, earned, listed
from tests.contributors_factory import claimed
from tests.sales import sell

# A 100,000 flat price, 5% fee, half the net to contributors: a pool of 47,500 (SPEC.md's split).
POOL = 47_500


def test_a_contributor_in_an_opt_in_region_gets_nothing_until_they_grant(client, app, platform, buyer,
                                                                        stripe_gateway):
    dataset = listed(client, platform)
    bo = claimed(platform, "bo")  # FR
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    # Eligible: ana (3 records) and cy (1); bo (FR) and dee (DE) have not granted.
    assert [earned(platform, p) for p, _r, _n in PEOPLE] == [35_625, 0, 11_875, 0]

    response = decide(client, bo, platform=platform["slug"], dataset=None, scope="*", status="granted")
    assert response.status_code == 200, response.get_json()
    sell(client, app, buyer, dataset["offers"][("ai-input",)])
    # Now ana 3, bo 2, cy 1 of 6 records: 23,750, 15,833.33, 7,916.67 → the largest remainder wins the cent.
    assert [earned(platform, p) for p, _r, _n in PEOPLE] == [35_625 + 23_750, 15_833, 11_875 + 7_917, 0]


def test_a_withdrawal_of_one_scope_stops_that_scope_only(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    ana = claimed(platform, "ana")
    response = decide(client, ana, dataset=dataset["slug"], scope="ai-train", status="withdrawn")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["source"] == "contributor"

    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    assert earned(platform, "ana") == 0
    assert earned(platform, "cy") == POOL  # the only one left: every cent of the pool

    sell(client, app, buyer, dataset["offers"][("ai-input",)])
    assert earned(platform, "ana") == 35_625
    assert earned(platform, "cy") == POOL + 11_875


def test_a_grant_on_an_opt_in_dataset_includes_the_person(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform, policy="opt_in")
    cy = claimed(platform, "cy")
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    assert [earned(platform, p) for p, _r, _n in PEOPLE] == [0, 0, 0, 0]
    assert decide(client, cy, dataset=dataset["slug"], scope="ai-train", status="granted").status_code == 200
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    assert earned(platform, "cy") == POOL


def test_a_dataset_decision_beats_a_platform_wide_one(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    ana = claimed(platform, "ana")
    assert decide(client, ana, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    assert decide(client, ana, dataset=dataset["slug"], scope="ai-train", status="granted").status_code == 200
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    assert earned(platform, "ana") == 35_625
    sell(client, app, buyer, dataset["offers"][("ai-input",)])  # only the platform-wide withdrawal applies
    assert earned(platform, "ana") == 35_625
