"""The scan through HTTP: findings stored on import, the freeze waiting for it, the report, the
platform's findings (never a value, nobody else's), a contributor's own counts, the settings."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from marketplace.catalog.models import Record
from marketplace.extensions import db
from marketplace.pii import detector, evaluation
from marketplace.pii import jobs as pii_jobs
from marketplace.pii import services as pii_services
from marketplace.pii.models import PiiFinding
from tests import factories
from tests.asserts import assert_error, field_messages
from tests.contributors_factory import claimed
from tests.pii.helpers import removed_on_page


def line(external_id: str, text: str, contributor: str = "ann") -> dict:
    return {"external_id": external_id, "contributor": {"external_id": contributor, "region": "US"},
            "text": text, "created_at": "2024-05-01T12:00:00Z"}


@pytest.fixture
def fixture_lines():
    """60 held-out texts: the first 40 with planted values, then 20 without."""
    items = evaluation.load("held_out")
    planted = [item for item in items if item["spans"]][:40]
    clean = [item for item in items if not item["spans"]][:20]
    return [line(f"r{n:03d}", item["text"], f"u{n % 5}") for n, item in enumerate(planted + clean)]


@pytest.fixture
def config(app):
    """Set app config for one test."""
    saved = {}

    def set_(**values):
        for name, value in values.items():
            saved.setdefault(name, app.config[name])
            app.config[name] = value

    yield set_
    app.config.update(saved)


@pytest.fixture
def held_jobs(monkeypatch):
    """Scan jobs queued by imports are held here instead of running (a scan under way)."""
    held = []
    monkeypatch.setattr(pii_services, "after_commit", lambda work, *args: held.append((work, args)))
    return held


def freeze(client, owner, slug):
    return client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=owner["headers"])


def all_findings(client, owner, slug, **query):
    items, page = [], 1
    while True:
        body = client.get(f"/api/v1/datasets/{slug}/pii/findings", query_string={**query, "page": page,
                          "per_page": 200}, headers=owner["headers"]).get_json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items, body["total"]
        page += 1


def expected_findings(lines):
    return sorted((entry["external_id"], kind, start, end)
                  for entry in lines for kind, start, end in detector.scan(entry["text"]))


def test_an_import_stores_each_finding_and_the_frozen_report_counts_them(client, platform, fixture_lines):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, fixture_lines)
    items, total = all_findings(client, platform, slug)
    assert sorted((i["external_id"], i["type"], i["start"], i["end"]) for i in items) == expected_findings(fixture_lines)
    assert total == len(items) and all(set(item) == {"external_id", "type", "start", "end"} for item in items)
    # Every planted value of the fixture is covered by a finding of its type.
    by_record = {entry["external_id"]: entry for entry in fixture_lines}
    planted = [(external_id, span) for external_id, entry in by_record.items()
               for item in evaluation.load("held_out") if item["text"] == entry["text"] for span in item["spans"]]
    assert len(planted) >= 40
    assert sum(1 for ext, span in planted if any(
        i["external_id"] == ext and i["type"] == span["type"] and i["start"] <= span["start"]
        and span["end"] <= i["end"] for i in items)) == len(planted)

    assert freeze(client, platform, slug).status_code == 201
    report = client.get(f"/api/v1/datasets/{slug}/versions/1.0.0/pii", headers=platform["headers"]).get_json()
    evaluation_figures = report.pop("evaluation")
    assert report == {
        "dataset": slug, "version": "1.0.0", "detector": detector.DETECTOR,
        "detector_version": detector.DETECTOR_VERSION, "records_scanned": 60,
        "records_with_findings": len({i["external_id"] for i in items}),
        "redaction": "placeholder", "findings": dict(sorted(Counter(i["type"] for i in items).items())),
        "kept": {}, "allowed": 0, "not_scanned": list(detector.NOT_SCANNED),
    }
    assert "person_name" in report["not_scanned"]
    # The report quotes the pristine held-out part, the one no tuning has seen.
    assert evaluation_figures["fixture"] == "tests/pii/fixture/held_out_3.jsonl"
    assert evaluation_figures == {k: v for k, v in evaluation.evaluate(
        evaluation.load("held_out_3"), "held_out_3").as_dict().items()
        if k in ("fixture", "recall", "precision", "precision_by_type", "clean_changed")}
    assert evaluation_figures["recall"]["email"] >= 0.95 and 0 < evaluation_figures["precision"] <= 1


def test_the_findings_are_the_platforms_alone(client, platform, other_platform, buyer, fixture_lines):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, fixture_lines[:5])
    factories.import_records(client, other_platform, factories.create_dataset(client, other_platform)["slug"],
                             [line("x", "nothing here", "zed")])
    person = claimed(platform, "u1")
    path = f"/api/v1/datasets/{slug}/pii/findings"
    for headers in (other_platform["headers"], buyer["headers"], person["headers"], {}):
        assert_error(client.get(path, headers=headers), 404, slug)
    assert client.get(path, headers=platform["headers"]).status_code == 200
    assert_error(client.get(path, query_string={"type": "name"}, headers=platform["headers"]), 422, "type")


def test_the_report_is_public_once_published_and_the_platforms_before(client, platform, buyer):
    dataset = factories.create_dataset(client, platform)
    slug = dataset["slug"]
    factories.import_records(client, platform, slug, [line("a", "mail me: a.b@example.org")])
    assert freeze(client, platform, slug).status_code == 201
    path = f"/api/v1/datasets/{slug}/versions/1.0.0/pii"
    assert_error(client.get(path), 404)
    assert_error(client.get(path, headers=buyer["headers"]), 404)
    assert client.get(path, headers=platform["headers"]).get_json()["findings"] == {"email": 1}
    assert_error(client.get(f"/api/v1/datasets/{slug}/versions/9.9.9/pii", headers=platform["headers"]), 404)
    client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(), headers=platform["headers"])
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    assert client.get(path).get_json()["records_with_findings"] == 1
    page = client.get(f"/datasets/{slug}")
    assert b"1 values in 1 records (1 email)" in page.data
    assert b"a.b@example.org" not in page.data and b"&lt;EMAIL&gt;" in page.data


def test_freezing_during_a_scan_is_a_409_with_the_counts(client, platform, runner, config, held_jobs):
    config(PII_INLINE_SCAN_MAX=0)
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [line(f"r{i}", f"post {i}, call +1 415 867 530{i}")
                                                      for i in range(8)])
    assert held_jobs == [(pii_jobs.scan_dataset, (held_jobs[0][1][0],))]
    body = assert_error(freeze(client, platform, slug), 409, "scan")
    assert (body["scanned"], body["total"]) == (0, 8)
    result = runner.invoke(args=["pii", "scan", slug, "--processes", "2"])
    assert result.exit_code == 0, result.output
    assert "Scanned 8 records" in result.output
    assert freeze(client, platform, slug).status_code == 201
    items, total = all_findings(client, platform, slug, type="phone")
    assert total == 8 and {(i["start"], i["end"]) for i in items} == {(13, 28)}


def test_a_large_import_is_scanned_by_the_job(client, platform, config):
    config(PII_INLINE_SCAN_MAX=3, PII_JOB_SLICE=4)
    slug = factories.create_dataset(client, platform)["slug"]
    lines = [line(f"r{i}", f"ping me @user{i} or mail user{i}@example.org") for i in range(10)]
    factories.import_records(client, platform, slug, lines)  # the job ran (immediate) in slices
    assert freeze(client, platform, slug).status_code == 201
    assert all_findings(client, platform, slug)[0] and sorted(
        (i["external_id"], i["type"], i["start"], i["end"]) for i in all_findings(client, platform, slug)[0]
    ) == expected_findings(lines)


def test_a_changed_record_is_scanned_again(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [line("a", "mail a.b@example.org"), line("b", "none")])
    assert [i["type"] for i in all_findings(client, platform, slug)[0]] == ["email"]
    factories.import_records(client, platform, slug, [line("a", "no more mail here, ring 020 7183 8750")])
    assert [(i["external_id"], i["type"], i["start"], i["end"]) for i in all_findings(client, platform, slug)[0]] \
        == [("a", "phone", 24, 37)]


def test_a_detector_version_change_scans_everything_again(client, platform, config, held_jobs, monkeypatch):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [line(f"r{i}", f"mail me{i}@example.org") for i in range(4)])
    assert freeze(client, platform, slug).status_code == 201
    monkeypatch.setattr(detector, "DETECTOR_VERSION", detector.DETECTOR_VERSION + 1)
    config(PII_INLINE_SCAN_MAX=0)
    factories.import_records(client, platform, slug, [line("r9", "a new post")])
    body = assert_error(freeze(client, platform, slug), 409)
    assert (body["scanned"], body["total"]) == (0, 5)
    monkeypatch.undo()  # the held job, and after_commit, back to normal; the new version stays
    monkeypatch.setattr(detector, "DETECTOR_VERSION", detector.DETECTOR_VERSION + 1)
    pii_jobs.scan_stale.call_local()
    assert freeze(client, platform, slug).status_code == 201
    versions = db.session.scalars(select(PiiFinding.detector_version)).all()
    assert versions == [detector.DETECTOR_VERSION] * 4
    report = client.get(f"/api/v1/datasets/{slug}/versions/1.1.0/pii", headers=platform["headers"]).get_json()
    assert (report["detector_version"], report["findings"]) == (detector.DETECTOR_VERSION, {"email": 4})


def test_pii_settings_on_create_and_patch(client, platform):
    body = factories.dataset_body(pii_keep=["email"])
    refused = assert_error(client.post("/api/v1/datasets", json=body, headers=platform["headers"]), 422, "pii_keep")
    assert field_messages(refused, "pii_keep") == [
        "Only handle and profile_url may be kept as written; 'email' is always redacted."]
    for kind in ("phone", "payment_card", "iban", "ip_address"):
        assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(pii_keep=[kind]),
                                 headers=platform["headers"]), 422, "pii_keep")
    slug = factories.create_dataset(client, platform, pii_redaction="pseudonym", pii_keep=["handle"])["slug"]
    patched = client.patch(f"/api/v1/datasets/{slug}", headers=platform["headers"], json={
        "pii_keep": ["profile_url", "handle", "handle"], "pii_allow": ["help@forum.example", "help@forum.example"]})
    assert patched.status_code == 200
    body = patched.get_json()
    assert (body["pii_redaction"], body["pii_keep"], body["pii_allow"]) == (
        "pseudonym", ["handle", "profile_url"], ["help@forum.example"])
    assert_error(client.patch(f"/api/v1/datasets/{slug}", headers=platform["headers"],
                              json={"pii_allow": [f"v{i}" for i in range(1001)]}), 422, "pii_allow")
    assert_error(client.patch(f"/api/v1/datasets/{slug}", headers=platform["headers"],
                              json={"pii_redaction": "mask"}), 422, "pii_redaction")
    assert_error(client.patch(f"/api/v1/datasets/{slug}", headers=platform["headers"],
                              json={"pii_keep": ["email"]}), 422, "pii_keep")


def test_kept_types_and_allowed_values_are_counted_apart(client, platform):
    slug = factories.create_dataset(client, platform, pii_keep=["handle"],
                                    pii_allow=["help@forum.example"])["slug"]
    factories.import_records(client, platform, slug, [
        line("a", "Write help@forum.example, not me: ann.lee@gmail.com"),
        line("b", "thanks @kate_w, see help@forum.example"),
    ])
    assert freeze(client, platform, slug).status_code == 201
    report = client.get(f"/api/v1/datasets/{slug}/versions/1.0.0/pii", headers=platform["headers"]).get_json()
    assert (report["findings"], report["kept"], report["allowed"], report["records_with_findings"]) == (
        {"email": 1}, {"handle": 1}, 2, 1)


def test_a_contributor_sees_what_was_removed_from_their_own_records(client, platform, other_platform):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [
        line("a", "mail ann@example.org or ann.b@example.org", "ann"),
        line("b", "call +44 20 7183 8750", "ann"),
        line("c", "nothing personal", "ann"),
        line("d", "bob@example.org", "bob"),
        line("e", "version 4.2.1.8 costs $1,299.99, order #112-4567890", "cy"),
    ])
    client.delete(f"/api/v1/datasets/{slug}/records/b", headers=platform["headers"])  # taken down: not exported
    person = claimed(platform, "ann")
    assert client.get("/api/v1/me/pii", headers=person["headers"]).get_json() == {
        "records_with_findings": 1, "findings": {"email": 2}}
    assert_error(client.get("/api/v1/me/pii", headers=platform["headers"]), 403)
    factories.login(client, person)
    page = client.get("/me/statement").get_data(as_text=True)
    assert removed_on_page(page) == (1, {"email": 2})
    assert "pii-removed-empty" not in page

    # A contributor whose records hold nothing the scan looks for sees the empty state.
    quiet = claimed(platform, "cy")
    assert client.get("/api/v1/me/pii", headers=quiet["headers"]).get_json() == {
        "records_with_findings": 0, "findings": {}}
    factories.login(client, quiet)
    page = client.get("/me/statement").get_data(as_text=True)
    assert 'id="pii-removed-empty"' in page and "Nothing has been removed from your records" in page
    assert removed_on_page(page) == (0, {})


def test_the_findings_page_allows_a_value_in_one_action(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [line("a", "Our support desk: help@forum.example, open 9-5")])
    factories.login(client, platform)
    page = client.get(f"/platform/datasets/{slug}/pii")
    assert page.status_code == 200
    assert b"Our support desk: <mark>help@forum.example</mark>, open 9-5" in page.data
    allowed = client.post(f"/platform/datasets/{slug}/pii/allow", data={
        "external_id": "a", "start": "18", "csrf_token": factories.token_from(page)})
    assert allowed.status_code == 303
    assert client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["pii_allow"] == [
        "help@forum.example"]
    assert b"<em>allowed</em>" in client.get(f"/platform/datasets/{slug}/pii").data
    assert client.post(f"/platform/datasets/{slug}/pii/allow", data={
        "external_id": "a", "start": "3", "csrf_token": factories.token_from(page)}).status_code == 303
    assert db.session.scalar(select(Record.text).where(Record.external_id == "a")).startswith("Our support")


def test_the_findings_page_is_the_platforms_alone(client, platform, other_platform, buyer):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [line("a", "write me at ann.lee@example.org", "ann")])
    factories.login(client, platform)
    assert b"<mark>ann.lee@example.org</mark>" in client.get(f"/platform/datasets/{slug}/pii").data
    person = claimed(platform, "ann")  # even the contributor whose record it is
    for who, status in ((other_platform, 404), (buyer, 403), (person, 403)):
        factories.login(client, who)
        page = client.get(f"/platform/datasets/{slug}/pii")
        assert page.status_code == status and b"ann.lee" not in page.data, who["email"]
        allowed = client.post(f"/platform/datasets/{slug}/pii/allow", data={"external_id": "a", "start": "12"})
        assert allowed.status_code == status, who["email"]
    assert client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["pii_allow"] == []
