"""`flask demo`: what it loads, seen through the catalog, the log-in page and the API."""
from __future__ import annotations

import re

from marketplace import demo
from tests import factories

#: --scale small: records per published dataset.
PUBLISHED = {"threadline-posts": 1_100, "threadline-replies": 700, "aperture-captions": 550,
             "aperture-alt-text": 200}
DRAFT = "threadline-questions"
SCOPES = {"ai-train", "ai-input", "ai-index", "search", "ai-eval", "ad-targeting"}


def load(runner, *options: str) -> str:
    result = runner.invoke(args=["demo", "--scale", "small", *options])
    assert result.exit_code == 0, result.output
    return result.output


def printed_login(output: str, role: str) -> tuple[str, str]:
    """The e-mail and password printed on the log-in table's row for `role`."""
    row = rf"^{re.escape(role)}\s+(\S+@\S+\.example\.test)\s+(\S+)\s"
    match = re.search(row, output, re.MULTILINE)
    assert match, output
    return match.group(1), match.group(2)


def printed_key(output: str, account: str) -> str:
    match = re.search(rf"^{account}\s+(dvd_\S+)\s*$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def catalog(client) -> dict:
    response = client.get("/api/v1/datasets?per_page=200")
    assert response.status_code == 200
    return response.get_json()


def test_catalog_lists_the_published_datasets_with_their_offers(app, runner, client):
    load(runner, "--if-empty")  # an empty database: --if-empty loads

    listing = catalog(client)
    assert listing["total"] == len(PUBLISHED)
    counts = {item["slug"]: item["counts"] for item in listing["items"]}
    assert {slug: c["records"] for slug, c in counts.items()} == PUBLISHED
    forum_people, photo_people = 150, 75
    assert all(0 < c["contributors"] <= forum_people for s, c in counts.items() if "thread" in s)
    assert all(0 < c["contributors"] <= photo_people for s, c in counts.items() if "aperture" in s)
    platforms = {item["platform"]["name"] for item in listing["items"]}
    assert platforms == {"Threadline Forums", "Aperture Photo Community"}
    by = {key: {i["slug"] for i in listing["items"] if i[key] == value}
          for key, value in [("consent_policy", "opt_in"), ("weighting", "tokens")]}
    assert by == {"consent_policy": {"aperture-captions"},
                  "weighting": {"threadline-replies", "aperture-alt-text"}}

    offers = []
    for slug in PUBLISHED:
        dataset = client.get(f"/api/v1/datasets/{slug}").get_json()
        assert dataset["status"] == "published"
        assert [v["number"] for v in dataset["versions"]] == ["1.0.0"]
        assert 1 <= len(dataset["offers"]) <= 3
        offers += dataset["offers"]
    assert {o["price"]["model"] for o in offers} == {"flat", "per_1k_records", "per_1m_tokens"}
    assert {o["price"]["currency"] for o in offers} == {app.config["CURRENCY"]}
    assert {s for o in offers for s in o["scopes"]} == SCOPES
    assert any(o["billing"] == "annual" for o in offers)
    assert any(o["exclusive"] for o in offers)
    assert min(o["contributor_share_bps"] for o in offers) >= 5000
    assert all(o["quote"]["amount"] >= 50 for o in offers)

    page = client.get("/datasets/aperture-captions")
    assert page.status_code == 200
    assert b"Aperture photo captions" in page.data
    assert client.get(f"/api/v1/datasets/{DRAFT}").status_code == 404


def test_the_printed_log_ins_and_keys_work(app, runner, client):
    output = load(runner)
    for role, start in [("photo operator", "/platform/datasets"), ("buyer", "/datasets"),
                        ("admin", "/admin/ledger"), ("contributor", "/me/statement")]:
        email, password = printed_login(output, role)
        response = app.test_client().post("/login", data={"email": email, "password": password})
        assert (response.status_code, response.headers["Location"]) == (302, start), role

    email, password = printed_login(output, "forum operator")
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/platform/datasets")
    workbench = client.get("/platform/datasets")
    assert workbench.status_code == 200
    assert b"Threadline questions and accepted answers" in workbench.data  # the draft
    assert b"status-draft" in workbench.data

    draft = client.get(f"/api/v1/datasets/{DRAFT}",
                       headers=factories.bearer(printed_key(output, "Threadline")))
    assert (draft.status_code, draft.get_json()["status"]) == (200, "draft")
    buyer_key = factories.bearer(printed_key(output, "Northwind"))
    assert client.get("/api/v1/api-keys", headers=buyer_key).status_code == 200

    # The printed claim code claims the forum's contributor tl-00001, once.
    code = re.search(r"claim code for contributor tl-00001 .*shown once: (\S+) ", output).group(1)
    body = {"code": code, "email": "tried-the-demo@example.test", "password": "correct horse battery"}
    claimed = client.post("/api/v1/contributors/claim", json=body)
    assert claimed.status_code == 201, claimed.get_json()
    assert [(i["platform"], i["external_id"]) for i in claimed.get_json()["identities"]] == [
        ("threadline-forums", "tl-00001")]
    assert client.post("/api/v1/contributors/claim", json={**body, "email": "again@example.test"}).status_code == 409


def test_loading_again_changes_nothing(runner, client):
    load(runner)
    before = catalog(client)

    output = load(runner, "--if-empty")
    assert "already there" in output
    assert printed_login(output, "buyer")[0] == "data@northwind.example.test"
    refused = runner.invoke(args=["demo", "--scale", "small"])
    assert refused.exit_code == 1
    assert "exist already" in refused.output

    assert catalog(client) == before


def test_a_seed_gives_the_same_records_and_a_good_share_of_opt_in_regions(app):
    people = demo.contributors(7, "tl", 3000)
    opt_in = sum(region in app.config["OPT_IN_REGIONS"] for _id, region in people) / len(people)
    assert 0.3 < opt_in < 0.5
    for plan in demo.PLANS:
        first = list(demo.records(plan, 7, people, 50))
        assert first == list(demo.records(plan, 7, people, 50))
        assert first != list(demo.records(plan, 8, people, 50))
        assert len({record["text"] for _n, record in first}) > 25


def test_the_printed_summary_speaks_money_in_currency(runner):
    """Each sale's line says its price (and the part refunded) as money people read, not minor units."""
    output = load(runner)
    sales = re.findall(r"^\s*license #\d+: .+$", output, re.MULTILINE)
    assert sales, output
    for line in sales:
        assert re.search(r", [\d,]+\.\d\d USD shared among [\d,]+ contributors", line), line
    assert re.search(r", [\d,]+\.\d\d USD refunded$", "\n".join(sales), re.MULTILINE), sales
    runs = re.findall(r"^\s*payout run #\d+: .+$", output, re.MULTILINE)
    assert runs and all(re.search(r"payouts, [\d,]+\.\d\d USD", line) for line in runs), runs
