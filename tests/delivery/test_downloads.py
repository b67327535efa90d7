"""Downloads through HTTP: exactly the eligible records, signed URLs, the manifest, the log."""
from __future__ import annotations

import gzip
import hashlib
from datetime import timedelta

from sqlalchemy import select

from marketplace.db import utcnow
from marketplace.delivery.models import Download
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import decide
from tests.contributors_factory import claimed
from tests.delivery.helpers import download, issue, listed, parsed, records_of, urls
from tests.sales import sell


def canary_ids(lines_, known):
    return {line["external_id"] for line in lines_ if line["external_id"] not in known}


def test_an_active_license_downloads_exactly_its_eligible_records(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    eve = claimed(platform, "eve")
    gus = claimed(platform, "gus")
    assert decide(client, eve, dataset=dataset["slug"], scope="ai-train", status="withdrawn").status_code == 200
    assert client.post("/api/v1/me/erasure", json={"platform": platform["slug"]}, headers=gus["headers"]).status_code == 201
    taken = client.delete(f"/api/v1/datasets/{dataset['slug']}/records/r12", headers=platform["headers"])
    assert taken.status_code == 204

    body, manifest = download(client, buyer, license["id"])
    lines_ = parsed(body)
    expected = sorted(records_of("ana") + records_of("cy") + ["r13"])
    real = [line for line in lines_ if line["external_id"] in set(expected)]
    # bo (FR) and dee (DE) never granted; eve withdrew; r12 taken down; gus erased.
    assert sorted(line["external_id"] for line in real) == expected
    assert len(lines_) == len(expected) + 3  # three canaries
    assert {tuple(sorted(line)) for line in lines_} == {("contributor", "created_at", "external_id", "text")}
    by_id = {line["external_id"]: line for line in real}
    assert by_id["r0"]["text"] == "post number 0 about things"
    assert by_id["r0"]["created_at"] == "2024-05-01T12:00:00.000000Z"
    assert by_id["r0"]["contributor"] == by_id["r1"]["contributor"] != by_id["r5"]["contributor"]
    assert "ana" not in by_id["r0"]["contributor"]
    assert manifest == {
        "license_id": license["id"], "version": "1.0.0", "since_version": None, "records": 5, "deleted": 0,
        "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
        "left_out": {"withdrawn": 2, "erased": 1, "taken_down": 1, "region": 6, "not_granted": 0},
        "generated_at": manifest["generated_at"],
    }
    logged = db.session.scalars(select(Download).where(Download.license_id == license["id"])).all()
    assert [(d.bytes, d.records, d.sha256, d.complete, d.gzip) for d in logged] == [
        (len(body), 5, hashlib.sha256(body).hexdigest(), True, False)]
    assert logged[0].user_id is not None


def test_after_a_withdrawal_the_next_download_leaves_the_record_out(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    first, _ = download(client, buyer, license["id"])
    assert {"r0", "r5"} <= {line["external_id"] for line in parsed(first)}
    cy = claimed(platform, "cy")
    assert decide(client, cy, platform=platform["slug"], scope="*", status="withdrawn").status_code == 200
    second, manifest = download(client, buyer, license["id"])
    ids = {line["external_id"] for line in parsed(second)}
    assert "r5" not in ids and "r0" in ids
    # 15 frozen: bo and dee (FR, DE: 6) never granted, cy withdrew.
    assert (manifest["records"], manifest["left_out"]["withdrawn"], manifest["left_out"]["region"]) == (8, 1, 6)


def test_expired_tampered_and_other_license_urls_are_refused(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    mine = sell(client, app, buyer, dataset["offer"])
    other_buyer = factories.signup(client, "buyer", "Other Lab")
    theirs = sell(client, app, other_buyer, dataset["offer"])
    signed = urls(client, buyer, mine["id"])
    url, manifest_url = signed["url"], signed["manifest_url"]
    token = url.rsplit("/", 1)[1]

    tampered = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    assert_error(client.get(tampered), 403, "not valid")
    elsewhere = url.replace(f"/licenses/{mine['id']}/", f"/licenses/{theirs['id']}/")
    assert_error(client.get(elsewhere), 403, "not valid here")
    as_manifest = manifest_url.rsplit("/", 1)[0] + "/" + token  # the export's token for the manifest
    assert_error(client.get(as_manifest), 403, "not valid here")

    app.config["DOWNLOAD_TTL_SECONDS"] = -1
    try:
        expired = urls(client, buyer, mine["id"])
    finally:
        app.config["DOWNLOAD_TTL_SECONDS"] = 900
    assert_error(client.get(expired["url"]), 403, "expired")
    assert_error(client.get(expired["manifest_url"]), 403, "expired")
    assert db.session.scalars(select(Download)).all() == []
    assert client.get(url).status_code == 200


def test_only_an_active_license_gets_a_download(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    pending = client.post("/api/v1/licenses", json={"offer_id": dataset["offer"]}, headers=buyer["headers"])
    assert pending.status_code == 201
    assert_error(issue(client, buyer, pending.get_json()["id"]), 409, "pending_payment")

    license = sell(client, app, factories.signup(client, "buyer", "Lab"), dataset["offer"])
    assert_error(issue(client, buyer, license["id"]), 404)  # another buyer's license

    mine = sell(client, app, buyer, dataset["offer"])
    signed = urls(client, buyer, mine["id"])
    from marketplace.licensing.models import License

    row = db.session.get(License, mine["id"])
    row.period_end = utcnow() - timedelta(seconds=1)  # the term is over (expiry shown on read)
    db.session.commit()
    assert_error(issue(client, buyer, mine["id"]), 409, "expired")
    assert_error(client.get(signed["url"]), 409, "expired")  # a link issued before is no good either


def test_bad_versions_are_422_naming_the_field(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    assert_error(issue(client, buyer, license["id"], version="9.0.0"), 422, "version")
    assert_error(issue(client, buyer, license["id"], version="latest"), 422, "version")
    assert_error(issue(client, buyer, license["id"], since_version="1.0.0"), 422, "since_version")
    body = issue(client, buyer, license["id"], version="1.0.0").get_json()
    assert body["version"] == "1.0.0" and body["since_version"] is None
    assert body["url"].startswith(app.config["BASE_URL"])


def test_two_licenses_exports_of_one_version_share_no_pseudonym(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    first = sell(client, app, buyer, dataset["offer"])
    second_buyer = factories.signup(client, "buyer", "Second Lab")
    second = {**sell(client, app, second_buyer, dataset["offer"]), "buyer_account": second_buyer}
    one, _ = download(client, buyer, first["id"])
    two_lines = parsed(download(client, second["buyer_account"], second["id"])[0])
    one_lines = parsed(one)
    assert {line["external_id"] for line in one_lines} & {line["external_id"] for line in two_lines} >= {"r0", "r5"}
    assert not {line["contributor"] for line in one_lines} & {line["contributor"] for line in two_lines}
    again, _ = download(client, buyer, first["id"])
    assert again == one  # stable per license


def test_gzip_only_when_asked(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    signed = urls(client, buyer, license["id"])
    plain = client.get(signed["url"])
    plain.get_data()  # each streamed body read before the next request (one request context at a time)
    assert plain.headers["Content-Type"] == "application/x-ndjson"
    assert "Content-Length" not in plain.headers and "Content-Encoding" not in plain.headers
    zipped = client.get(signed["url"], headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.data
    refused = client.get(signed["url"], headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert refused.get_data() == plain.data
    assert "Content-Encoding" not in refused.headers
    logged = db.session.scalars(select(Download).order_by(Download.id)).all()
    assert [(d.gzip, d.bytes) for d in logged] == [(False, len(plain.data)), (True, len(plain.data)),
                                                   (False, len(plain.data))]


def test_the_download_log_lists_each_download(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform)
    license = sell(client, app, buyer, dataset["offer"])
    first, _ = download(client, buyer, license["id"])
    signed = urls(client, buyer, license["id"])
    client.get(signed["url"], headers={"Accept-Encoding": "gzip"}).get_data()
    response = client.get(f"/api/v1/licenses/{license['id']}/downloads", headers=buyer["headers"])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 50)
    assert [(d["user"], d["version"], d["since_version"], d["records"], d["bytes"], d["sha256"], d["complete"])
            for d in body["items"]] == [(buyer["email"], "1.0.0", None, 9, len(first),
                                         hashlib.sha256(first).hexdigest(), True)] * 2
    other = factories.signup(client, "buyer", "Other")
    assert_error(client.get(f"/api/v1/licenses/{license['id']}/downloads", headers=other["headers"]), 404)
    assert_error(client.get(f"/api/v1/licenses/{license['id']}/downloads?per_page=500", headers=buyer["headers"]), 422,
                 "per_page")
