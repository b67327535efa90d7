"""A buyer with an active license downloads the export from the license page; the file has the
manifest's sha256."""
from __future__ import annotations

import hashlib
import json

import pytest
from playwright.sync_api import expect

from tests.e2e.checkout import license_and_pay
from tests.e2e.test_platform_journey import sign_up
from tests.licensing.test_over_http import publish
from tests.licensing.test_over_http import sign_up as api_sign_up

pytestmark = [pytest.mark.e2e]


def test_buyer_downloads_the_export_and_it_matches_the_manifest(page, live_server, tmp_path):
    platform = api_sign_up(live_server.url, "platform")
    offer = publish(live_server.url, platform, [("ines", "US", 3), ("jon", "BR", 2), ("kai", "FR", 2)])
    sign_up(page, "buyer", "Download Models")
    license_and_pay(page, offer["dataset"])
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=20_000)
    license_url = page.url
    page.reload()
    expect(page.get_by_text("No download yet.")).to_be_visible()

    with page.expect_download() as started:
        page.get_by_role("button", name="Download version 1.0.0").click()
    download = started.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    body = path.read_bytes()
    lines = [json.loads(line) for line in body.splitlines()]
    records = sorted(line["external_id"] for line in lines if not line["external_id"].isdigit())  # canaries: digits
    assert records == ["ines-0", "ines-1", "ines-2", "jon-0", "jon-1"]  # kai (FR) has not granted
    assert len(lines) == 5 + 3

    page.goto(license_url)
    page.get_by_role("button", name="Manifest of version 1.0.0").click()
    manifest = json.loads(page.locator("body").inner_text())
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert (manifest["records"], manifest["bytes"], manifest["left_out"]["region"]) == (5, len(body), 2)

    page.goto(license_url)
    expect(page.locator("#delivery table code").first).to_have_text(manifest["sha256"][:16] + "…")
