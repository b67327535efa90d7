"""The public report is computed once and reused until something it reads changes
(marketplace/transparency/cache.py), or until it ages out."""
from __future__ import annotations

import pytest

from marketplace.transparency import cache
from marketplace.transparency.cache import ReportCache
from tests import factories
from tests.consent.helpers import decide, listed
from tests.contributors_factory import claimed
from tests.sales import refund, sell


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """The datasets whose report was computed (not served from the cache), in order."""
    seen: list[int] = []
    compute = cache.dataset_report

    def counting(session, dataset, **kwargs):
        seen.append(dataset.id)
        return compute(session, dataset, **kwargs)

    monkeypatch.setattr(cache, "dataset_report", counting)
    return seen


def report(client, slug: str) -> dict:
    response = client.get(f"/api/v1/datasets/{slug}/transparency")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_second_view_reuses_the_report_on_the_page_and_the_api(client, platform, computed):
    dataset = listed(client, platform)
    first = report(client, dataset["slug"])
    assert report(client, dataset["slug"]) == first
    assert client.get(f"/datasets/{dataset['slug']}/transparency").status_code == 200
    assert len(computed) == 1


def test_a_sale_and_a_refund_each_make_a_new_report(client, app, platform, buyer, stripe_gateway, computed):
    dataset = listed(client, platform)
    assert report(client, dataset["slug"])["licenses_sold"] == 0
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    assert report(client, dataset["slug"])["gross"]["amount"] == 100_000
    refund(client, app, sold, 40_000)
    assert report(client, dataset["slug"])["gross"]["amount"] == 60_000
    assert len(computed) == 3


def test_a_consent_decision_makes_a_new_report(client, platform, computed):
    dataset = listed(client, platform)
    assert report(client, dataset["slug"])["consent"]["withdrawn"] == 0
    ana = claimed(platform, "ana")
    assert decide(client, ana, dataset=dataset["slug"], scope="*", status="withdrawn").status_code == 200
    assert report(client, dataset["slug"])["consent"]["withdrawn"] == 1


def test_a_region_changed_by_an_import_into_another_dataset_counts(client, platform, computed):
    """bo lives in FR (opt-in) until the platform's import into another dataset says US."""
    dataset = listed(client, platform)
    assert report(client, dataset["slug"])["consent"]["default_included"] == 2  # ana and cy
    other = factories.create_dataset(client, platform)
    factories.import_records(client, platform, other["slug"], [factories.record(900, contributor="bo", region="US")])
    assert report(client, dataset["slug"])["consent"]["default_included"] == 3
    assert len(computed) == 2


def test_retiring_an_offer_changes_the_scopes_asked_about(client, platform, computed):
    dataset = listed(client, platform)
    assert report(client, dataset["slug"])["offered_scopes"] == ["ai-train", "ai-input"]
    retired = client.post(f"/api/v1/offers/{dataset['offers'][('ai-input',)]}/retire", headers=platform["headers"])
    assert retired.status_code == 200, retired.get_json()
    assert report(client, dataset["slug"])["offered_scopes"] == ["ai-train"]


def test_a_new_title_shows_at_once_though_the_report_is_kept(client, platform, computed):
    dataset = listed(client, platform)
    assert client.get(f"/datasets/{dataset['slug']}/transparency").status_code == 200
    changed = client.patch(f"/api/v1/datasets/{dataset['slug']}", json={"title": "Renamed posts"},
                           headers=platform["headers"])
    assert changed.status_code == 200, changed.get_json()
    assert b"Renamed posts" in client.get(f"/datasets/{dataset['slug']}/transparency").data
    assert len(computed) == 1


def test_zero_seconds_computes_every_view(app, client, platform, computed, monkeypatch):
    monkeypatch.setitem(app.extensions, "transparency_reports", ReportCache(0))
    dataset = listed(client, platform)
    report(client, dataset["slug"])
    report(client, dataset["slug"])
    assert len(computed) == 2


def test_a_kept_report_ages_out_and_the_oldest_goes_first():
    now = [0.0]
    kept = ReportCache(60, size=2, clock=lambda: now[0])
    kept.put(("a",), "report a")
    kept.put(("b",), "report b")
    assert kept.get(("a",)) == "report a"  # a is now the most recently used
    kept.put(("c",), "report c")
    assert (kept.get(("a",)), kept.get(("b",)), kept.get(("c",))) == ("report a", None, "report c")
    now[0] = 59.9
    assert kept.get(("c",)) == "report c"
    now[0] = 60.0
    assert kept.get(("c",)) is None
