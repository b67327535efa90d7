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
    path = tmp_path / "records.ndjson"
    lines = [{"external_id": f"post-{i}", "contributor": {"external_id": f"member-{i % 4}", "region": "US"},
              "text": f"Tandem bicycle restoration notes, part {i}", "created_at": "2024-02-03T04:05:06Z"}
             for i in range(count)]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def sign_up(page, kind: str, name: str) -> str:
    email = f"{kind}{next(_n)}-{name.split()[0].lower()}@example.test"
    page.goto("/signup")
    page.get_by_label(re.compile("platform that hosts" if kind == "platform" else "buyer that licenses")).check()
    page.get_by_label("Organization name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    return email


def test_platform_publishes_and_the_catalog_finds_it(page, tmp_path):
    sign_up(page, "platform", "Velocipede Forum")
    expect(page).to_have_url(re.compile("/platform/datasets$"))
    page.get_by_role("button", name="New dataset").click()  # a link styled as a button (Pico)
    page.get_by_label(re.compile("^Slug")).fill("tandem-restorations")
    page.get_by_label("Title").fill("Tandem restoration threads")
    page.get_by_label(re.compile("^Summary")).fill("How members restore old tandem bicycles.")
    page.get_by_label(re.compile("^Languages")).fill("en")
    page.get_by_label(re.compile("^Tags")).fill("cycling, restoration")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("created as a draft")).to_be_visible()

    page.get_by_label("Records file").set_input_files(str(records_file(tmp_path)))
    page.get_by_role("button", name="Import records").click()
    expect(page.get_by_text("12 created, 0 updated")).to_be_visible()
    page.get_by_role("button", name="Freeze a new version").click()
    expect(page.get_by_text("Version 1.0.0 frozen: 12 records.")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Training, worldwide")
    page.get_by_label(re.compile("AI training")).check()
    page.get_by_label(re.compile("^Amount")).fill("250000")
    page.get_by_role("button", name="Create offer").click()
    expect(page.get_by_text("Offer 'Training, worldwide' created.")).to_be_visible()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text("Published: the dataset is in the catalog.")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Log out")).click()
    page.goto("/datasets")
    page.get_by_role("searchbox", name="Search").fill("tandem restor")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 dataset matching")).to_be_visible()
    page.get_by_role("link", name="Tandem restoration threads").click()
    expect(page.get_by_role("heading", name="Tandem restoration threads")).to_be_visible()
    expect(page.get_by_text("2,500.00 USD")).to_be_visible()
    page.screenshot(path=str(tmp_path / "dataset.png"), full_page=True)
