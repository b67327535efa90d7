"""The contributor's consent page: where they stand, dataset by dataset and use by use."""
from __future__ import annotations

import re

from tests import factories
from tests.consent.helpers import listed
from tests.contributors_factory import claimed


def cells(html: bytes, title: bytes) -> list[str]:
    row = re.search(rb"<tr>\s*<th scope=\"row\"><a[^>]*>" + re.escape(title) + rb"</a>(.*?)</tr>", html, re.S)
    return re.findall(r'class="(yes|no)"', row.group(1).decode())


def test_a_withdrawal_on_the_page_changes_what_it_shows(client, platform):
    dataset = listed(client, platform)
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    page = client.get("/me/consent")
    assert page.status_code == 200
    title = factories.dataset_body()["title"].encode()
    assert cells(page.data, title) == ["yes"] * 6  # US, opt-out dataset: included everywhere

    response = client.post("/me/consent", data={"platform": platform["slug"], "dataset": dataset["slug"],
                                                "scope": "ai-train", "status": "withdrawn"}, follow_redirects=True)
    assert b"Consent withdrawn for training AI models" in response.data
    assert cells(response.data, title) == ["no"] + ["yes"] * 5


def test_an_opt_in_region_is_explained_and_left_out_until_granted(client, platform):
    listed(client, platform)
    bo = claimed(platform, "bo")
    factories.login(client, bo)
    page = client.get("/me/consent")
    assert b"People in FR are included only when they say yes" in page.data
    assert cells(page.data, factories.dataset_body()["title"].encode()) == ["no"] * 6
    granted = client.post("/me/consent", data={"platform": platform["slug"], "scope": "*", "status": "granted"},
                          follow_redirects=True)
    assert cells(granted.data, factories.dataset_body()["title"].encode()) == ["yes"] * 6


def test_a_bad_decision_is_explained_and_the_page_is_for_contributors(client, platform, buyer):
    listed(client, platform)
    ana = claimed(platform, "ana")
    factories.login(client, ana)
    response = client.post("/me/consent", data={"platform": platform["slug"], "scope": "all", "status": "granted"},
                           follow_redirects=True)
    assert b"Must be &#34;*&#34; or one of" in response.data or b'Must be "*" or one of' in response.data
    client.post("/logout")
    factories.login(client, buyer)
    assert client.get("/me/consent").status_code == 403
