"""A GET never writes: every GET route of the URL map, as every role, on a database connection
that refuses any write statement while the request runs.

Routes are read from `app.url_map`, so a new GET route is tested as soon as it exists; one whose
path parameter this test can't fill fails here until `PARAMETERS` learns it. Jobs a read queues
for after it (the API key's last use) are held in the queue, not run: they are the job's writes,
not the request's.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from marketplace import jobs
from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from tests import factories
from tests.contributors_factory import claimed
from tests.licensing import helpers
from tests.sales import sell

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|TRUNCATE)\b", re.IGNORECASE)


class WroteOnRead(AssertionError):
    pass


@contextmanager
def writes_refused():
    """Any write statement on any connection raises while the block runs."""
    seen: list[str] = []

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if WRITES.match(statement):
            seen.append(statement)
            raise WroteOnRead(statement[:200])

    event.listen(Engine, "before_cursor_execute", refuse)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", refuse)


@contextmanager
def jobs_held():
    """Queue jobs instead of running them inline (JOBS=immediate in tests)."""
    was = jobs.huey.immediate
    jobs.huey.immediate = False
    try:
        yield
    finally:
        jobs.huey.flush()
        jobs.huey.immediate = was


@pytest.fixture
def world(client, runner, platform, buyer, stripe_gateway, app):
    """One of everything a GET route can name, and a log-in for each role."""
    dataset = factories.published_dataset(client, platform, n_records=5)
    offer_id = dataset["offers"][0]["id"]
    license = sell(client, app, buyer, offer_id)
    person = claimed(platform, "u0")
    admin = helpers.admin_headers(runner)
    transaction_id = db.session.scalar(select(LedgerTransaction.id).order_by(LedgerTransaction.id).limit(1))
    download = client.post(f"/api/v1/licenses/{license['id']}/downloads", json={}, headers=buyer["headers"])
    assert download.status_code == 201, download.get_json()
    token = download.get_json()["url"].rstrip("/").rsplit("/", 1)[1]
    run = client.post("/api/v1/admin/payout-runs", json={}, headers=admin)
    assert run.status_code == 201, run.get_json()
    return {
        "values": {"slug": dataset["slug"], "license_id": license["id"], "offer_id": offer_id,
                   "transaction_id": transaction_id, "external_id": "u0", "token": token,
                   "run_id": run.get_json()["id"], "number": "1.0.0"},
        "roles": {"anonymous": None, "platform": platform, "buyer": buyer, "contributor": person,
                  "admin": {"headers": admin}},
    }


#: How each path parameter is filled from `world`.
PARAMETERS = {"slug", "license_id", "offer_id", "transaction_id", "external_id", "token", "run_id", "number"}
SKIPPED_ENDPOINTS = {"static"}


def get_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" in rule.methods and rule.endpoint not in SKIPPED_ENDPOINTS:
            yield rule


def test_every_get_parameter_is_known(app):
    unknown = {(rule.rule, name) for rule in get_rules(app) for name in rule.arguments if name not in PARAMETERS}
    assert not unknown, f"teach this test how to fill these path parameters: {sorted(unknown)}"


def test_no_get_route_writes_as_any_role(app, world):
    answered = 0
    for role, who in world["roles"].items():
        client = app.test_client()
        headers = {}
        if who is not None:
            headers = who["headers"]
            if "email" in who:
                factories.login(client, who)
        for rule in get_rules(app):
            url = rule.build({name: world["values"][name] for name in rule.arguments}, append_unknown=False)[1]
            with jobs_held(), writes_refused() as seen:
                response = client.get(url, headers=headers if url.startswith("/api/") else {})
                response.get_data()  # a streamed body (the export) runs to its end inside the guard
                response.close()
            assert not seen, f"GET {url} as {role} wrote: {seen[0][:200]}"
            assert response.status_code < 500, f"GET {url} as {role}: {response.status_code}"
            answered += 1
    assert answered >= 5 * 40


def test_the_guard_catches_a_write(app):
    """The guard can fail: a write statement while it is on raises and is reported."""
    with writes_refused() as seen, pytest.raises(Exception) as raised:
        db.session.execute(text("UPDATE organizations SET name = name WHERE 1 = 0"))
    db.session.rollback()
    assert seen and "WroteOnRead" in repr(raised.value)
