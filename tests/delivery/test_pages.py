"""The license page's download, log and withdrawals; the contributor's and the public views."""
from __future__ import annotations

import hashlib

from tests import factories
from tests.consent.helpers import decide
from tests.contributors_factory import claimed
from tests.delivery.helpers import download, listed
from tests.sales import sell


def test_the_license_page_downloads_lists_the_log_and_acknowledges(client, app, platform, buyer, stripe_gateway,
                                                                   request):
    dataset = listed(client, platform, billing="one_time")
    license = sell(client, app, buyer, dataset["offer"])
    factories.login(client, buyer)
    request.getfixturevalue("csrf")  # forms checked from here on
    page = client.get(f"/licenses/{license['id']}")
    text = page.get_data(as_text=True)
    assert "Download version 1.0.0" in text and "No download yet." in text and "Nothing to delete." in text
    assert "Changes since" not in text  # a one-time license

    token = factories.token_from(page)
    sent = client.post(f"/licenses/{license['id']}/download", data={"csrf_token": token, "version": "1.0.0"})
    assert sent.status_code == 303 and f"/api/v1/licenses/{license['id']}/export/" in sent.headers["Location"]
    body = client.get(sent.headers["Location"]).get_data()
    manifest = client.post(f"/licenses/{license['id']}/download",
                           data={"csrf_token": token, "version": "1.0.0", "what": "manifest"})
    assert manifest.status_code == 303
    assert client.get(manifest.headers["Location"]).get_json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert client.post(f"/licenses/{license['id']}/download", data={"version": "1.0.0"}).status_code == 400  # no CSRF

    cy = claimed(platform, "cy")
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    page = client.get(f"/licenses/{license['id']}")
    text = page.get_data(as_text=True)
    assert f"{hashlib.sha256(body).hexdigest()[:16]}…" in text  # the log
    assert "<code>r5</code>" in text and "consent withdrawn" in text
    assert "Acknowledge: we deleted all 1" in text
    through = text.split('name="through" value="')[1].split('"')[0]
    done = client.post(f"/licenses/{license['id']}/withdrawals/ack",
                       data={"csrf_token": factories.token_from(page), "through": through})
    assert done.status_code == 302
    text = client.get(f"/licenses/{license['id']}").get_data(as_text=True)
    assert "Acknowledged through" in text and "Acknowledge: we deleted" not in text
    bad = client.post(f"/licenses/{license['id']}/withdrawals/ack",
                      data={"csrf_token": factories.token_from(page), "through": "not a time"}, follow_redirects=True)
    assert "through: Not a time" in bad.get_data(as_text=True)


def test_the_page_offers_changes_since_for_an_annual_license(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform, billing="annual")
    license = sell(client, app, buyer, dataset["offer"])
    factories.import_records(client, platform, dataset["slug"], [factories.record(20, contributor="hal")])
    client.post(f"/api/v1/datasets/{dataset['slug']}/versions", json={}, headers=platform["headers"])
    factories.login(client, buyer)
    text = client.get(f"/licenses/{license['id']}").get_data(as_text=True)
    assert "Download version 1.1.0" in text and "Changes since" in text and "<option>1.0.0</option>" in text


def test_the_contributor_sees_whether_each_buyer_acknowledged(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    download(client, buyer, license["id"])
    cy = claimed(platform, "cy")
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    factories.login(client, {"email": cy["email"], "password": cy["password"]})
    text = client.get("/me/consent").get_data(as_text=True)
    assert f'<tr data-license="{license["id"]}"><td>{buyer["name"]}</td>' in text
    assert 'data-acknowledged="no"' in text

    items = client.get(f"/api/v1/licenses/{license['id']}/withdrawals", headers=buyer["headers"]).get_json()["items"]
    assert client.post(f"/api/v1/licenses/{license['id']}/withdrawals/ack",
                       json={"through": items[0]["withdrawn_at"]}, headers=buyer["headers"]).status_code == 200
    assert 'data-acknowledged="yes"' in client.get("/me/consent").get_data(as_text=True)


def test_the_transparency_report_counts_licenses_with_overdue_acknowledgments(client, app, platform, buyer,
                                                                              stripe_gateway):
    dataset = listed(client, platform)
    slug = dataset["slug"]
    license = sell(client, app, buyer, dataset["offer"])
    other_buyer = factories.signup(client, "buyer", "Lab")
    other = sell(client, app, other_buyer, dataset["offer"])
    download(client, buyer, license["id"])
    download(client, other_buyer, other["id"])

    def overdue() -> int:
        report = client.get(f"/api/v1/datasets/{slug}/transparency")
        assert report.status_code == 200
        body = report.get_json()
        assert "licenses_sold" in body and "consent" in body  # the existing fields stay
        return body["licenses_ack_overdue"]

    cy = claimed(platform, "cy")
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    assert overdue() == 0  # withdrawn just now: not 30 days old
    app.config["ACK_OVERDUE_DAYS"] = 0
    try:
        assert overdue() == 2
        items = client.get(f"/api/v1/licenses/{license['id']}/withdrawals", headers=buyer["headers"]).get_json()["items"]
        assert client.post(f"/api/v1/licenses/{license['id']}/withdrawals/ack",
                           json={"through": items[-1]["withdrawn_at"]}, headers=buyer["headers"]).status_code == 200
        assert overdue() == 1
        assert 'data-figure="licenses_ack_overdue"' in client.get(f"/datasets/{slug}/transparency").get_data(as_text=True)
    finally:
        app.config["ACK_OVERDUE_DAYS"] = 30


def test_the_platform_sees_every_download_of_its_datasets(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    download(client, buyer, license["id"])
    factories.login(client, platform)
    text = client.get("/platform/downloads").get_data(as_text=True)
    assert f"<td>#{license['id']}</td><td>{buyer['name']}</td><td>{dataset['slug']}</td><td>1.0.0</td>" in text
