"""Every page of the site, per role: the URL map's HTML pages, filled with one small world's
values (a published dataset, a paid license, a claimed contributor, an admin). Shared by the
phone-width and the accessibility checks; `world` is a session fixture in conftest.py."""
from __future__ import annotations

import itertools

import requests
from playwright.sync_api import expect

from tests.licensing.test_over_http import confirm_with_test_card, publish, wait_for_status

#: Not pages: machine-readable documents, downloads, the API and its docs.
NOT_PAGES = ("/api/", "/static/", "/webhooks/")
NOT_PAGE_SUFFIXES = (".csv", ".json", ".xml", ".txt", ".ico")
_n = itertools.count(1)
PASSWORD = "correct horse battery"


def organization(base: str, kind: str) -> dict:
    n = next(_n)
    email = f"phone-{kind}-{n}@example.test"
    response = requests.post(f"{base}/api/v1/organizations", timeout=10, json={
        "kind": kind, "name": f"Phone {kind} {n}", "owner": {"email": email, "password": PASSWORD}})
    assert response.status_code == 201, response.text
    return {"email": email, "headers": {"Authorization": f"Bearer {response.json()['api_key']}"}}


def log_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def build_world(live_server, localstripe_url):
    base = live_server.url
    platform, buyer = organization(base, "platform"), organization(base, "buyer")
    offer = publish(base, platform["headers"], [("phone-ana", "US", 3), ("phone-bo", "DE", 2)])
    license = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]}, headers=buyer["headers"],
                            timeout=30).json()
    confirm_with_test_card(localstripe_url, license)
    wait_for_status(base, buyer["headers"], license["id"], "active")
    code = requests.post(f"{base}/api/v1/contributors/phone-ana/claim-codes", headers=platform["headers"],
                         timeout=10).json()["code"]
    contributor_email = f"phone-ana-{next(_n)}@example.test"
    claimed = requests.post(f"{base}/api/v1/contributors/claim", timeout=10,
                            json={"code": code, "email": contributor_email, "password": PASSWORD})
    assert claimed.status_code == 201, claimed.text
    statement = requests.get(f"{base}/api/v1/me/statement", timeout=10,
                             headers={"Authorization": f"Bearer {claimed.json()['api_key']}"}).json()
    admin_email = f"phone-admin-{next(_n)}@example.test"
    made = live_server.flask("admin", "create", admin_email, "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    return {
        "values": {"slug": offer["dataset"], "license_id": license["id"], "offer_id": offer["id"],
                   "transaction_id": statement["items"][0]["transaction_id"], "external_id": "phone-ana"},
        "roles": {"anonymous": None, "platform": platform["email"], "buyer": buyer["email"],
                  "contributor": contributor_email, "admin": admin_email},
    }


def pages(app, values: dict) -> list[str]:
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith(NOT_PAGES) or rule.rule.endswith(NOT_PAGE_SUFFIXES):
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"teach this test to fill {missing} for {rule.rule}"
        urls.append(rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1])
    return urls


