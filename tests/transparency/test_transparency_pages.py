"""The transparency page (public) and the platform's report page, rendered by the Flask test client."""
from __future__ import annotations

import html
import json
import re

from tests import factories
from tests.consent.helpers import listed
from tests.contributors_factory import claimed
from tests.sales import sell
from tests.transparency import TO_CONTRIBUTORS, TO_PLATFORM, two_sales_one_refund


def figures(page: bytes, attribute: str) -> dict[str, str]:
    """{name: cell text} of the cells marked data-<attribute>="name" (tags stripped)."""
    text = page.decode()
    found = re.findall(rf'data-{attribute}="([\w-]+)">(.*?)</td>', text)
    return {name: html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for name, cell in found}


def chart_data(page: bytes) -> dict | None:
    match = re.search(rb'<script type="application/json" id="payout-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1)) if match else None


def test_the_page_shows_figures_that_add_up_and_the_histograms_data(client, app, platform, buyer, stripe_gateway):
    dataset = two_sales_one_refund(client, app, platform, buyer)
    page = client.get(f"/datasets/{dataset['slug']}/transparency")  # anonymous
    assert page.status_code == 200
    assert (TO_PLATFORM, TO_CONTRIBUTORS) == (80_750, 80_750)
    assert figures(page.data, "figure") == {
        "paid": "2,000.00 USD", "refunded": "− 300.00 USD", "gross": "1,700.00 USD",
        "marketplace_fees": "85.00 USD", "to_platform": "807.50 USD",
        "to_contributors": "807.50 USD", "unallocated": "0.00 USD",
    }
    assert b"(2 paid)" in page.data
    assert figures(page.data, "scope") == {"ai-train": "1", "ai-input": "1"}
    assert chart_data(page.data) == {"labels": ["200.00 USD to 499.99 USD", "500.00 USD to 999.99 USD"],
                                     "contributors": [1, 1]}
    assert b"vendor/chartjs/chart.umd.min.js" in page.data
    # Without JavaScript the table tells the same as the chart.
    assert b"<th scope=\"row\">200.00 USD to 499.99 USD</th><td>1</td>" in page.data
    assert figures(page.data, "consent") == {"granted": "0", "withdrawn": "0", "default": "4"}
    assert b"<td data-consent=\"default\">4</td><td>100.0%</td>" in page.data
    assert figures(page.data, "eligible") == {"ai-train": "2", "ai-input": "2"}


def test_consent_rates_are_shown_as_percentages(client, platform):
    dataset = listed(client, platform)
    bo = claimed(platform, "bo")
    assert client.put("/api/v1/me/consents", json={"dataset": dataset["slug"], "scope": "*", "status": "granted"},
                      headers=bo["headers"]).status_code == 200
    page = client.get(f"/datasets/{dataset['slug']}/transparency").data
    assert figures(page, "consent") == {"granted": "1", "withdrawn": "0", "default": "3"}
    assert b"<td data-consent=\"granted\">1</td><td>25.0%</td>" in page
    assert b"<td data-consent=\"default\">3</td><td>75.0%</td>" in page


def test_nothing_sold_yet_is_an_empty_state_without_a_chart(client, platform):
    dataset = factories.published_dataset(client, platform)
    page = client.get(f"/datasets/{dataset['slug']}/transparency")
    assert page.status_code == 200
    assert b"No license has been sold yet" in page.data
    assert b"No contributor has been paid from this dataset yet" in page.data
    assert chart_data(page.data) is None and b"chart.umd.min.js" not in page.data


def test_the_catalog_page_links_to_the_report(client, platform):
    dataset = factories.published_dataset(client, platform)
    page = client.get(f"/datasets/{dataset['slug']}")
    assert f'href="/datasets/{dataset["slug"]}/transparency"'.encode() in page.data


def test_a_drafts_page_is_only_for_its_platform(client, platform, other_platform):
    draft = factories.create_dataset(client, platform)
    assert client.get(f"/datasets/{draft['slug']}/transparency").status_code == 404
    factories.login(client, other_platform)
    assert client.get(f"/datasets/{draft['slug']}/transparency").status_code == 404
    client.post("/logout")
    factories.login(client, platform)
    own = client.get(f"/datasets/{draft['slug']}/transparency")
    assert own.status_code == 200 and b"only you see this report" in own.data


def test_the_platform_report_page_lists_only_the_platforms_datasets(client, app, platform, other_platform, buyer,
                                                                    stripe_gateway):
    mine = two_sales_one_refund(client, app, platform, buyer)
    theirs = listed(client, other_platform)
    sell(client, app, buyer, theirs["offers"][("ai-train",)])
    factories.login(client, platform)
    page = client.get("/platform/report")
    assert page.status_code == 200
    assert f'data-dataset="{mine["slug"]}"'.encode() in page.data
    assert theirs["slug"].encode() not in page.data
    assert figures(page.data, "figure") == {
        "gross": "1,700.00 USD", "to_platform": "807.50 USD", "to_contributors": "807.50 USD (2 paid)"}
    assert b'<strong data-figure="balance">807.50 USD</strong>' in page.data
    assert b'<strong data-figure="allocations">2</strong>' in page.data
    assert f'href="/datasets/{mine["slug"]}/transparency"'.encode() in page.data


def test_the_platform_report_page_is_for_platform_accounts(client, platform, buyer):
    assert client.get("/platform/report").status_code == 302  # to the log-in page
    factories.login(client, buyer)
    assert client.get("/platform/report").status_code == 403


def test_an_empty_platform_report_page(client, platform):
    factories.login(client, platform)
    page = client.get("/platform/report")
    assert page.status_code == 200
    assert b"You have no datasets yet" in page.data and b"No sales yet" in page.data
