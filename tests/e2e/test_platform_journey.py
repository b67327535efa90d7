"""A platform signs up, lists a dataset and publishes it; anyone finds it by search."""
from __future__ import annotations

import itertools
import re

import orjson
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e]
_n = itertools.count(1)


def records_file(tmp_path, count: int = 12):
    """`count` NDJSON records by four members, all about restoring tandem bicycles."""
    path = tmp_path / "records.ndjson"
    lines = [{"external_id": f"post-{i}",
              "contributor": {"external_id": f"member-{i % 4}", "region": "US"},
              "text": f"Tandem bicycle restoration notes, part {i}",
              "created_at": "2024-02-03T04:05:06Z"}
             for i in range(count)]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def sign_up(page, kind: str, name: str) -> str:
    """Create an organization of `kind` through /signup; returns the owner's e-mail."""
    email = f"{kind}{next(_n)}-{name.split()[0].lower()}@example.test"
    page.goto("/signup")
    kind_label = "platform that hosts" if kind == "platform" else "buyer that licenses"
    page.get_by_label(re.compile(kind_label)).check()
    page.get_by_label("Organization name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    return email


def flash(page, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def test_platform_publishes_and_the_catalog_finds_it(page, tmp_path):
    sign_up(page, "platform", "Velocipede Forum")
    expect(page).to_have_url(re.compile("/platform/datasets$"))
    expect(page.get_by_role("heading", name="Velocipede Forum: datasets")).to_be_visible()

    page.get_by_role("button", name="New dataset").click()  # a link styled as a button (Pico)
    page.get_by_label("Slug").fill("tandem-restorations")
    page.get_by_label("Title").fill("Tandem restoration threads")
    page.get_by_label("Summary").fill("How members restore old tandem bicycles.")
    page.get_by_label("Languages").fill("en")
    page.get_by_label("Tags").fill("cycling, restoration")
    page.get_by_role("button", name="Create draft").click()
    expect(page).to_have_url(re.compile("/platform/datasets/tandem-restorations$"))
    flash(page, "created as a draft")

    page.get_by_label("Records file").set_input_files(records_file(tmp_path))
    page.get_by_role("button", name="Import records").click()
    flash(page, "Imported records.ndjson: 12 created, 0 updated.")
    expect(page.get_by_text("12 live records.")).to_be_visible()

    page.get_by_role("button", name="Freeze a new version").click()
    flash(page, "Version 1.0.0 frozen: 12 records.")
    versions = page.get_by_role("region", name="2. Versions")
    expect(versions.get_by_role("row", name=re.compile(r"^1\.0\.0 .* 12 "))).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Training, worldwide")
    page.get_by_role("checkbox", name=re.compile("^AI training")).check()
    page.get_by_label("Price (USD)").fill("2,500.00")
    # The price is previewed as it is typed, in the currency, before anything is saved.
    expect(page.locator("#price-preview")).to_have_text("A buyer pays 2,500.00 USD today for version 1.0.0.")
    page.get_by_role("button", name="Create offer").click()
    flash(page, "Offer 'Training, worldwide' created.")

    page.get_by_role("button", name="Publish", exact=True).click()
    flash(page, "Published: the dataset is in the catalog.")
    expect(page.get_by_role("button", name="Unpublish")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Log out")).click()
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Catalog").click()
    expect(page).to_have_url(re.compile("/datasets$"))
    page.get_by_role("searchbox", name="Search").fill("tandem restor")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 dataset matching “tandem restor”.")).to_be_visible()

    page.get_by_role("link", name="Tandem restoration threads").click()
    expect(page).to_have_url(re.compile("/datasets/tandem-restorations$"))
    expect(page.get_by_role("heading", name="Tandem restoration threads", level=1)).to_be_visible()
    expect(page.get_by_role("row", name="Records 12", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name="Contributors 4", exact=True)).to_be_visible()
    offer = page.get_by_role("row", name=re.compile("^Training, worldwide"))
    expect(offer).to_contain_text("2,500.00 USD flat")
    expect(offer.get_by_role("button", name="License under Training, worldwide")).to_be_visible()
    sample = page.get_by_role("region", name="Sample records")
    record = sample.get_by_text(re.compile(r"^Tandem bicycle restoration notes, part \d+"))
    expect(record.first).to_be_visible()
