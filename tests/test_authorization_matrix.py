"""Who may do what: every route of the URL map, every method, as every role, against one table.

Routes are read from `app.url_map`: a route (or a method of one) missing from MATRIX fails
`test_every_route_is_in_the_matrix`, so a new route can't be forgotten. Each cell is one request,
run inside a SAVEPOINT that is rolled back after it, so writes by the roles allowed to make them
(publishing, erasing, logging out…) don't change what the next cell sees.

Path parameters name the resources of `platform`, `buyer` and `contributor` (one of each owns
them); `platform2`, `buyer2` and `contributor2` own resources of their own elsewhere, so their
column shows what another organization or person gets: 404 for a private resource. Pages send
the role's session cookie, /api/ routes its API key; writes send an empty form or JSON body
(CSRF off here: tests/test_web_security.py posts every form without a token).

Cells: a status code, or `login` for a redirect to the log-in page (a page, no session).
"""
from __future__ import annotations

import os

import re

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from marketplace.transparency.cache import report_cache
from tests import factories
from tests.contributors_factory import claimed
from tests.sales import sell

ROLES = ("anonymous", "platform", "platform2", "buyer", "buyer2", "contributor", "contributor2", "admin")

#: method, rule, then one cell per role in ROLES' order.
MATRIX = """
# rule                                                      anon  plat plat2 buyer buyr2 contr cont2 admin
GET    /                                                     200   200   200   200   200   200   200   200
GET    /account/keys                                       login   200   200   200   200   200   200   200
POST   /account/keys                                       login   200   200   200   200   200   200   200
POST   /account/keys/<int:key_id>/revoke                   login   302   404   404   404   404   404   404
GET    /admin/ledger                                       login   403   403   403   403   403   403   200
POST   /admin/ledger/check                                 login   403   403   403   403   403   403   302
GET    /admin/licenses                                     login   403   403   403   403   403   403   200
POST   /admin/licenses/<int:license_id>/refunds            login   403   403   403   403   403   403   302
GET    /admin/payouts                                      login   403   403   403   403   403   403   200
GET    /admin/payouts/reconcile                            login   403   403   403   403   403   403   200
POST   /admin/payouts/runs                                 login   403   403   403   403   403   403   302
GET    /admin/payouts/runs/<int:run_id>/batch.csv          login   403   403   403   403   403   403   200
POST   /admin/payouts/runs/<int:run_id>/results            login   403   403   403   403   403   403   422
GET    /api/docs                                             200   200   200   200   200   200   200   200
GET    /api/v1/admin/ledger/check                            401   403   403   403   403   403   403   200
POST   /api/v1/admin/licenses/<int:license_id>/refunds       401   403   403   403   403   403   403   422
POST   /api/v1/admin/payout-runs                             401   403   403   403   403   403   403   201
GET    /api/v1/admin/payout-runs/<int:run_id>/batch.csv      401   403   403   403   403   403   403   200
POST   /api/v1/admin/payout-runs/<int:run_id>/results        401   403   403   403   403   403   403   422
GET    /api/v1/admin/payouts/reconcile                       401   403   403   403   403   403   403   200
GET    /api/v1/api-keys                                      401   200   200   200   200   200   200   200
POST   /api/v1/api-keys                                      401   201   201   201   201   201   201   201
DELETE /api/v1/api-keys/<int:key_id>                         401   204   404   404   404   404   404   404
POST   /api/v1/claim-codes/export                            401   200   200   403   403   403   403   403
GET    /api/v1/claim-codes/open-count                        401   200   200   403   403   403   403   403
POST   /api/v1/consents/import                               401   422   422   403   403   403   403   403
GET    /api/v1/contributors                                  401   200   200   403   403   403   403   403
DELETE /api/v1/contributors/<path:external_id>/claim-codes   401   200   404   403   403   403   403   403
POST   /api/v1/contributors/<path:external_id>/claim-codes   401   409   404   403   403   403   403   403
POST   /api/v1/contributors/claim                            422   422   422   422   422   422   422   422
GET    /api/v1/datasets                                      200   200   200   200   200   200   200   200
POST   /api/v1/datasets                                      401   422   422   403   403   403   403   403
GET    /api/v1/datasets/<slug>                               200   200   200   200   200   200   200   200
PATCH  /api/v1/datasets/<slug>                               401   200   404   403   403   403   403   403
POST   /api/v1/datasets/<slug>/offers                        401   422   422   403   403   403   403   403
GET    /api/v1/datasets/<slug>/pii/findings                  404   200   404   404   404   404   404   404
POST   /api/v1/datasets/<slug>/publish                       401   200   404   403   403   403   403   403
POST   /api/v1/datasets/<slug>/records                       401   422   404   403   403   403   403   403
DELETE /api/v1/datasets/<slug>/records/<path:external_id>    401   204   404   403   403   403   403   403
GET    /api/v1/datasets/<slug>/transparency                  200   200   200   200   200   200   200   200
POST   /api/v1/datasets/<slug>/unpublish                     401   200   404   403   403   403   403   403
POST   /api/v1/datasets/<slug>/versions                      401   409   404   403   403   403   403   403
GET    /api/v1/datasets/<slug>/versions/<number>/pii         200   200   200   200   200   200   200   200
GET    /api/v1/licenses                                      401   403   403   200   200   403   403   403
POST   /api/v1/licenses                                      401   422   422   422   422   403   403   403
GET    /api/v1/licenses/<int:license_id>                     401   403   403   200   404   403   403   403
POST   /api/v1/licenses/<int:license_id>/cancel              401   403   403   409   404   403   403   403
GET    /api/v1/licenses/<int:license_id>/downloads           401   403   403   200   404   403   403   403
POST   /api/v1/licenses/<int:license_id>/downloads           401   403   403   201   404   403   403   403
GET    /api/v1/licenses/<int:license_id>/export/<token>      200   200   200   200   200   200   200   200
GET    /api/v1/licenses/<int:license_id>/manifest/<token>    200   200   200   200   200   200   200   200
POST   /api/v1/licenses/<int:license_id>/renewals            401   403   403   409   404   403   403   403
GET    /api/v1/licenses/<int:license_id>/withdrawals         401   403   403   200   404   403   403   403
POST   /api/v1/licenses/<int:license_id>/withdrawals/ack     401   403   403   200   404   403   403   403
GET    /api/v1/me/consents                                   401   403   403   403   403   200   200   403
PUT    /api/v1/me/consents                                   401   403   403   403   403   422   422   403
POST   /api/v1/me/erasure                                    401   403   403   403   403   422   422   403
GET    /api/v1/me/identities                                 401   403   403   403   403   200   200   403
POST   /api/v1/me/identities                                 401   403   403   403   403   422   422   403
GET    /api/v1/me/ledger/<int:transaction_id>                401   403   403   403   403   200   404   403
PUT    /api/v1/me/payout-account                             401   422   422   403   403   422   422   403
GET    /api/v1/me/payouts                                    401   200   200   403   403   200   200   403
GET    /api/v1/me/pii                                        401   403   403   403   403   200   200   403
GET    /api/v1/me/statement                                  401   403   403   403   403   200   200   403
POST   /api/v1/offers/<int:offer_id>/retire                  401   200   404   403   403   403   403   403
GET    /api/v1/openapi.json                                  200   200   200   200   200   200   200   200
POST   /api/v1/organizations                                 422   422   422   422   422   422   422   422
GET    /api/v1/platform/report                               401   200   200   403   403   403   403   403
GET    /claim                                                200   302   302   302   302   302   302   302
POST   /claim                                                422   302   302   302   302   302   302   302
GET    /datasets                                             200   200   200   200   200   200   200   200
GET    /datasets/<slug>                                      200   200   200   200   200   200   200   200
GET    /datasets/<slug>/croissant.json                       200   200   200   200   200   200   200   200
GET    /datasets/<slug>/license.xml                          200   200   200   200   200   200   200   200
GET    /datasets/<slug>/offers/<int:offer_id>/terms.json     200   200   200   200   200   200   200   200
GET    /datasets/<slug>/transparency                         200   200   200   200   200   200   200   200
GET    /favicon.ico                                          301   301   301   301   301   301   301   301
GET    /licenses                                           login   403   403   200   200   403   403   403
GET    /licenses/<int:license_id>                          login   403   403   200   404   403   403   200
POST   /licenses/<int:license_id>/cancel                   login   403   403   302   404   403   403   403
POST   /licenses/<int:license_id>/download                 login   403   403   303   404   403   403   403
GET    /licenses/<int:license_id>/pay                      login   403   403   200   404   403   403   403
POST   /licenses/<int:license_id>/pay                      login   403   403   302   404   403   403   403
POST   /licenses/<int:license_id>/withdrawals/ack          login   403   403   302   404   403   403   403
GET    /login                                                200   302   302   302   302   302   302   302
POST   /login                                                422   422   422   422   422   422   422   422
POST   /logout                                               302   302   302   302   302   302   302   302
GET    /me/consent                                         login   403   403   403   403   200   200   403
POST   /me/consent                                         login   403   403   403   403   302   302   403
GET    /me/erasure                                         login   403   403   403   403   200   200   403
POST   /me/erasure                                         login   403   403   403   403   302   302   403
GET    /me/identities                                      login   403   403   403   403   200   200   403
POST   /me/identities                                      login   403   403   403   403   422   422   403
GET    /me/ledger/<int:transaction_id>                     login   404   404   404   404   200   404   404
GET    /me/payout-account                                  login   200   200   403   403   200   200   403
POST   /me/payout-account                                  login   422   422   403   403   422   422   403
GET    /me/statement                                       login   403   403   403   403   200   200   403
GET    /me/statement.csv                                   login   403   403   403   403   200   200   403
GET    /offers/<int:offer_id>/checkout                     login   403   403   200   200   403   403   403
POST   /offers/<int:offer_id>/checkout                     login   403   403   302   302   403   403   403
GET    /platform/contributors                              login   200   200   403   403   403   403   403
POST   /platform/contributors/codes                        login   404   404   403   403   403   403   403
POST   /platform/contributors/codes.csv                    login   200   200   403   403   403   403   403
GET    /platform/contributors/codes/reissue                login   200   200   403   403   403   403   403
POST   /platform/contributors/codes/revoke                 login   404   404   403   403   403   403   403
GET    /platform/datasets                                  login   200   200   403   403   403   403   403
GET    /platform/datasets/<slug>                           login   200   404   403   403   403   403   403
GET    /platform/datasets/<slug>/edit                      login   200   404   403   403   403   403   403
POST   /platform/datasets/<slug>/edit                      login   422   404   403   403   403   403   403
POST   /platform/datasets/<slug>/offers                    login   422   404   403   403   403   403   403
GET    /platform/datasets/<slug>/pii                       login   200   404   403   403   403   403   403
POST   /platform/datasets/<slug>/pii/allow                 login   303   404   403   403   403   403   403
POST   /platform/datasets/<slug>/publish                   login   302   404   403   403   403   403   403
POST   /platform/datasets/<slug>/records                   login   422   404   403   403   403   403   403
POST   /platform/datasets/<slug>/takedown                  login   302   404   403   403   403   403   403
POST   /platform/datasets/<slug>/unpublish                 login   302   404   403   403   403   403   403
POST   /platform/datasets/<slug>/versions                  login   302   404   403   403   403   403   403
GET    /platform/datasets/new                              login   200   200   403   403   403   403   403
POST   /platform/datasets/new                              login   422   422   403   403   403   403   403
GET    /platform/downloads                                 login   200   200   403   403   403   403   403
POST   /platform/offers/<int:offer_id>/retire              login   302   404   403   403   403   403   403
GET    /platform/report                                    login   200   200   403   403   403   403   403
GET    /platform/sales                                     login   200   200   403   403   403   403   403
GET    /platform/sales/<int:license_id>                    login   200   404   403   403   403   403   403
GET    /robots.txt                                           200   200   200   200   200   200   200   200
GET    /signup                                               200   302   302   302   302   302   302   302
POST   /signup                                               422   302   302   302   302   302   302   302
GET    /static/<path:filename>                               200   200   200   200   200   200   200   200
POST   /webhooks/stripe                                      400   400   400   400   400   400   400   400
"""

ADMIN_PASSWORD = "admin-password-1"


def parse_matrix(text: str) -> dict[tuple[str, str], dict[str, str]]:
    table: dict[tuple[str, str], dict[str, str]] = {}
    for line in text.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        method, rule, *cells = line.split()
        assert len(cells) == len(ROLES), f"{method} {rule}: {len(cells)} cells for {len(ROLES)} roles"
        assert (method, rule) not in table, f"{method} {rule} is in the table twice"
        table[(method, rule)] = dict(zip(ROLES, cells, strict=True))
    return table


def table_rule(rule) -> str:
    """The rule as MATRIX writes it: a converter's arguments (`<int(max=…):run_id>`) are not
    a permission, so the table says `<int:run_id>`."""
    return re.sub(r"<(\w+)\([^)]*\):", r"<\1:", rule.rule)


def routes(app) -> list[tuple[str, str, object]]:
    """(method, rule, Rule) for every route and method but HEAD and OPTIONS (Flask's own)."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, table_rule(rule), rule))
    return sorted(found, key=lambda item: (item[1], item[0]))


def test_every_route_is_in_the_matrix(app):
    table = parse_matrix(MATRIX)
    present = {(method, rule) for method, rule, _ in routes(app)}
    missing = sorted(present - set(table))
    stale = sorted(set(table) - present)
    assert not missing, f"add these routes to MATRIX (who may call them?): {missing}"
    assert not stale, f"these MATRIX rows name no route any more: {stale}"


@pytest.fixture
def world(app, client, runner, stripe_gateway):
    """The resources the path parameters name, and a log-in for every role."""
    platform = factories.signup(client, "platform", "Forum Co")
    platform2 = factories.signup(client, "platform", "Photo Co")
    buyer = factories.signup(client, "buyer", "Model Lab")
    buyer2 = factories.signup(client, "buyer", "Other Lab")
    dataset = factories.published_dataset(client, platform, n_records=4)
    dataset2 = factories.published_dataset(client, platform2, n_records=2)
    offer_id = dataset["offers"][0]["id"]
    license = sell(client, app, buyer, offer_id)
    sell(client, app, buyer2, dataset2["offers"][0]["id"])
    contributor = claimed(platform, "u3")  # platform2 has no u3: its column tests another's id
    contributor2 = claimed(platform2, "u1")
    email = "matrix-admin@example.test"
    created = runner.invoke(args=["admin", "create", email, "--password", ADMIN_PASSWORD])
    assert created.exit_code == 0, created.output
    admin = {"email": email, "password": ADMIN_PASSWORD,
             "headers": factories.bearer(created.stdout.strip().splitlines()[-1])}
    transaction_id = db.session.scalar(select(LedgerTransaction.id).where(
        LedgerTransaction.kind == "allocation").order_by(LedgerTransaction.id).limit(1))
    download = client.post(f"/api/v1/licenses/{license['id']}/downloads", json={}, headers=buyer["headers"])
    assert download.status_code == 201, download.get_json()
    urls = download.get_json()
    token = urls["url"].rstrip("/").rsplit("/", 1)[1]
    manifest_token = urls["manifest_url"].rstrip("/").rsplit("/", 1)[1]
    run = client.post("/api/v1/admin/payout-runs", json={}, headers=admin["headers"])
    assert run.status_code == 201, run.get_json()
    keys = client.get("/api/v1/api-keys", headers=platform["headers"]).get_json()["items"]
    values = {"slug": dataset["slug"], "license_id": license["id"], "offer_id": offer_id,
              "transaction_id": transaction_id, "external_id": "u3", "token": token,
              "manifest_token": manifest_token,
              "run_id": run.get_json()["id"], "number": "1.0.0", "key_id": keys[0]["id"],
              "filename": "css/dividend.css"}
    people = {"anonymous": None, "platform": platform, "platform2": platform2, "buyer": buyer,
              "buyer2": buyer2, "contributor": contributor, "contributor2": contributor2,
              "admin": admin}
    return values, people


#: Where one route needs another value for a path parameter than `world`'s (or a body to get
#: past validation to the permission check).
PARAMETERS_FOR = {
    "/api/v1/datasets/<slug>/records/<path:external_id>": {"external_id": "r3"},
    "/api/v1/licenses/<int:license_id>/manifest/<token>": {"token": "manifest_token"},
}
BODIES = {
    ("POST", "/api/v1/licenses/<int:license_id>/withdrawals/ack"): {"through": "2026-01-01T00:00:00Z"},
}


def url_for_rule(rule, values) -> str:
    chosen = {name: values[name] for name in rule.arguments}
    for name, value in PARAMETERS_FOR.get(table_rule(rule), {}).items():
        chosen[name] = values.get(value, value)
    return rule.build(chosen, append_unknown=False)[1]


def observe(app, values, who, method: str, url: str, session_cookie, body=None) -> str:
    """One cell: the request in a savepoint rolled back after it; `login` or the status."""
    client = app.test_client()
    if session_cookie is not None:
        client.set_cookie("session", session_cookie)
    headers = who["headers"] if who is not None and url.startswith("/api/") else {}
    kwargs = {}
    if method != "GET":
        kwargs = {"json": body or {}} if url.startswith("/api/") else {"data": body or {}}
    db.session.remove()
    connection = db.engines[None]  # the test's connection (conftest's `_rolled_back`)
    savepoint = connection.begin_nested()
    try:
        with app.app_context():  # its own `g` (the logged-in user) and session
            response = client.open(url, method=method, headers=headers, **kwargs)
            response.get_data()
            response.close()
            db.session.remove()
    finally:
        savepoint.rollback()
        report_cache().clear()
    if response.status_code == 302 and response.location.startswith("/login"):
        return "login"
    return str(response.status_code)


def test_authorization_matrix(app, world):
    values, people = world
    table = parse_matrix(MATRIX)
    cookies = {}
    for role, who in people.items():
        if who is not None and "email" in who:
            client = app.test_client()
            factories.login(client, who)
            cookies[role] = client.get_cookie("session").value
    observed: dict[tuple[str, str], dict[str, str]] = {}
    for method, rule_text, rule in routes(app):
        url = url_for_rule(rule, values)
        body = BODIES.get((method, rule_text))
        observed[(method, rule_text)] = {
            role: observe(app, values, who, method, url, cookies.get(role), body) for role, who in people.items()}
    if os.environ.get("MATRIX_PRINT"):
        width = max(len(rule) for _, rule in observed)
        for (method, rule), cells in observed.items():
            print(f"{method:<6} {rule:<{width}} " + " ".join(f"{cells[r]:>5}" for r in ROLES))
    wrong = [f"{method} {rule} as {role}: expected {table[(method, rule)][role]}, got {got}"
             for (method, rule), cells in observed.items() if (method, rule) in table
             for role, got in cells.items() if table[(method, rule)][role] != got]
    assert not wrong, "\n".join(wrong)
