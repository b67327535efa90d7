"""The statement's web pages: totals, filters, the monthly chart, lines, CSV and ledger entries.

Amounts as in test_statement_api.py: ana earns 35_625 from each 100_000 sale; refunds totalling
40_000 reverse 14_250 of it.
"""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import pytest
from sqlalchemy import event

from marketplace.contributors import statements
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from tests import factories
from tests.consent.helpers import listed
from tests.contributors_factory import claimed
from tests.sales import refund, sell

CSV_HEADER = "date,kind,dataset,buyer,scopes,amount_minor,currency,license_id,transaction_id"


@pytest.fixture
def posted_at():
    """Set the time stamped on the ledger transactions posted next (they can't be edited afterwards)."""
    clock: dict[str, datetime] = {}

    def stamp(_mapper, _connection, transaction: LedgerTransaction) -> None:
        if "now" in clock:
            transaction.created_at = clock["now"]

    event.listen(LedgerTransaction, "before_insert", stamp)
    yield lambda when: clock.update(now=when)
    event.remove(LedgerTransaction, "before_insert", stamp)


def api_lines(client, person: dict, **query) -> list[dict]:
    response = client.get("/api/v1/me/statement", query_string={"per_page": 200, **query}, headers=person["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def chart_data(page) -> dict:
    found = re.search(rb'<script type="application/json" id="statement-months">(.*?)</script>', page.data, re.DOTALL)
    assert found, page.data[:2000]
    return json.loads(found.group(1))


def ledger_links(page) -> list[int]:
    return [int(n) for n in re.findall(rb'href="/me/ledger/(\d+)"', page.data)]


def test_someone_with_no_earnings_sees_the_empty_state(client, platform):
    listed(client, platform)
    factories.login(client, claimed(platform, "ana"))
    page = client.get("/me/statement")
    assert page.status_code == 200
    assert b"Earnings show up here when a buyer licenses a dataset with your records" in page.data
    assert b"0.00 USD" in page.data and b"statement-chart" not in page.data


def test_the_page_shows_totals_the_chart_and_lines_linked_to_the_ledger(client, app, platform, buyer,
                                                                        stripe_gateway):
    dataset = listed(client, platform)
    trained = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    sell(client, app, buyer, dataset["offers"][("ai-input",)])
    refund(client, app, trained, 40_000)
    ana = claimed(platform, "ana")
    factories.login(client, ana)

    page = client.get("/me/statement")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r"Balance</small><strong>570\.00 USD</strong>", text)
    assert re.search(r"Lifetime earnings</small><strong>570\.00 USD</strong>", text)
    assert re.search(r"Paid out</small><strong>0\.00 USD</strong>", text)
    assert text.count("356.25 USD") == 2 and "-142.50 USD" in text and buyer["name"] in text
    assert ledger_links(page) == [line["transaction_id"] for line in api_lines(client, ana)]
    assert "vendor/chartjs/chart.umd.min.js" in text
    month = utcnow().strftime("%Y-%m")
    assert chart_data(page) == {"currency": "usd", "months": [month], "earned": [71_250], "reversed": [-14_250]}
    assert 'href="/me/statement.csv"' in text


def test_the_statement_pages_are_for_contributors(client, platform, buyer):
    assert client.get("/me/statement").status_code == 302  # to the log-in page
    factories.login(client, buyer)
    page = client.get("/me/statement")
    assert page.status_code == 403 and b"claim your identity" in page.data
    assert client.get("/me/statement.csv").status_code == 403


def test_lines_page_fifty_at_a_time(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    for refunded in range(1_000, 56_000, 1_000):  # each refund changes ana's share: 55 reversal lines
        refund(client, app, sold, refunded)
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    every = [line["transaction_id"] for line in api_lines(client, ana)]
    assert len(every) == 56

    first, second = client.get("/me/statement"), client.get("/me/statement?page=2")
    assert ledger_links(first) == every[:50] and ledger_links(second) == every[50:]
    assert b"Page 1 of 2" in first.data and b"56 lines" in first.data
    beyond = client.get("/me/statement?page=3")
    assert beyond.status_code == 200 and ledger_links(beyond) == [] and b"Back to the first" in beyond.data


def test_filters_and_months_follow_the_ledgers_dates(client, app, platform, buyer, stripe_gateway, posted_at):
    first, second = listed(client, platform), listed(client, platform)
    posted_at(datetime(2024, 3, 15, 12))
    sold = sell(client, app, buyer, first["offers"][("ai-train",)])
    posted_at(datetime(2024, 5, 31, 23, 59))
    refund(client, app, sold, 40_000)
    sell(client, app, buyer, second["offers"][("ai-train",)])
    ana = claimed(platform, "ana")
    factories.login(client, ana)

    everything = chart_data(client.get("/me/statement"))
    assert everything["months"] == ["2024-03", "2024-04", "2024-05"]  # April: no line, still on the axis
    assert (everything["earned"], everything["reversed"]) == ([35_625, 0, 35_625], [0, 0, -14_250])

    may = client.get("/me/statement?from=2024-04-01&to=2024-05-31")
    assert chart_data(may) == {"currency": "usd", "months": ["2024-05"], "earned": [35_625], "reversed": [-14_250]}
    assert b"2 lines match the filters" in may.data and b"570.00 USD" in may.data  # the totals stay whole
    assert len(ledger_links(client.get("/me/statement?to=2024-05-30"))) == 1
    only_second = client.get(f"/me/statement?dataset={second['slug']}&from=&to=")
    assert chart_data(only_second)["earned"] == [35_625] and len(ledger_links(only_second)) == 1

    found = statements.statement(db.session, ana["user_id"], currency="usd",
                                 filters=statements.Filters(dataset=first["slug"]))
    assert [(m.month, m.net, m.lines) for m in found.months] == [("2024-03", 35_625, 1), ("2024-04", 0, 0),
                                                                  ("2024-05", -14_250, 1)]
    assert (found.total, found.filtered_sum, found.totals.lifetime.amount) == (2, 21_375, 57_000)


def test_bad_filters_on_the_page_say_which_field(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    factories.login(client, claimed(platform, "ana"))
    page = client.get("/me/statement?from=2024-02-30")
    assert page.status_code == 422
    assert b'id="from-error"' in page.data and b"356.25 USD" in page.data and ledger_links(page) == []
    backwards = client.get("/me/statement?from=2024-05-02&to=2024-05-01")
    assert backwards.status_code == 422 and b'id="to-error"' in backwards.data
    assert client.get("/me/statement.csv?to=yesterday").status_code == 422


def test_the_csv_has_the_same_lines_as_the_api(client, app, platform, buyer, stripe_gateway):
    first, second = listed(client, platform), listed(client, platform)
    sold = sell(client, app, buyer, first["offers"][("ai-train",)])
    sell(client, app, buyer, second["offers"][("ai-input",)])
    refund(client, app, sold, 40_000)
    ana = claimed(platform, "ana")
    factories.login(client, ana)

    def rows(response) -> list[dict]:
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == 'attachment; filename="statement.csv"'
        text = response.get_data(as_text=True)
        assert text.splitlines()[0] == CSV_HEADER
        return list(csv.DictReader(io.StringIO(text)))

    def as_csv(line: dict) -> dict:
        return {"date": line["created_at"], "kind": line["kind"], "dataset": line["dataset"], "buyer": line["buyer"],
                "scopes": ";".join(line["scopes"]), "amount_minor": str(line["amount"]["amount"]),
                "currency": line["amount"]["currency"], "license_id": str(line["license_id"]),
                "transaction_id": str(line["transaction_id"])}

    everything = rows(client.get("/me/statement.csv"))
    assert everything == [as_csv(line) for line in api_lines(client, ana)]
    assert [row["amount_minor"] for row in everything] == ["-14250", "35625", "35625"]
    filtered = rows(client.get(f"/me/statement.csv?dataset={first['slug']}"))
    assert filtered == [as_csv(line) for line in api_lines(client, ana, dataset=first["slug"])]
    assert len(filtered) == 2


def test_streaming_reads_in_batches_and_misses_no_line(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    for refunded in (10_000, 20_000, 30_000, 40_000):
        refund(client, app, sold, refunded)
    ana = claimed(platform, "ana")
    streamed = list(statements.iter_lines(db.session, ana["user_id"], currency="usd", batch=2))
    assert [line.entry_id for line in streamed] == sorted((line.entry_id for line in streamed), reverse=True)
    assert [line.transaction_id for line in streamed] == [line["transaction_id"] for line in api_lines(client, ana)]
    assert sum(line.amount.amount for line in streamed) == 21_375


def test_a_ledger_entry_page_shows_your_entry_and_hides_others(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    sold = sell(client, app, buyer, dataset["offers"][("ai-train",)])
    refund(client, app, sold, 40_000)
    ana, bo = claimed(platform, "ana"), claimed(platform, "bo")
    reversal, allocation = (line["transaction_id"] for line in api_lines(client, ana))
    factories.login(client, ana)

    page = client.get(f"/me/ledger/{allocation}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<code>ana</code>" in text and "356.25 USD" in text and "1,000.00 USD" in text  # her entry, the gross
    assert "47,500 × 3 ÷ 4\n      = 35,625 and 0/4" in text  # her exact share, in whole units and a remainder
    assert "after refunds and disputes your share is <strong>213.75 USD</strong>" in text
    assert "<code>cy</code>" not in text  # cy has an entry in the same transaction: not shown
    assert f'href="/me/ledger/{reversal}"' in text

    undone = client.get(f"/me/ledger/{reversal}")
    assert undone.status_code == 200 and b"-142.50 USD" in undone.data and b"a pool of 285.00 USD" in undone.data

    factories.login(client, bo)
    assert client.get(f"/me/ledger/{allocation}").status_code == 404
    factories.login(client, buyer)
    assert client.get(f"/me/ledger/{allocation}").status_code == 404
    assert client.get(f"/me/ledger/{allocation}", headers={"Accept": "application/json"}).status_code == 404


def test_the_csv_keeps_buyer_names_from_running_as_formulas(client, app, platform, stripe_gateway):
    """A buyer's name is chosen by the buyer: a spreadsheet opening the contributor's CSV must
    show it as text (a leading quote), not run it."""
    dataset = listed(client, platform)
    sharp = factories.signup(client, "buyer", "@SUM(1)")
    sell(client, app, sharp, dataset["offers"][("ai-train",)])
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    [row] = list(csv.DictReader(io.StringIO(client.get("/me/statement.csv").get_data(as_text=True))))
    assert row["dataset"] == dataset["slug"]
    assert row["buyer"].startswith("'@SUM(1) ")
    assert row["amount_minor"] == "35625"
