"""Fresh data as deltas, and naming the license a leaked file came from."""
from __future__ import annotations

from tests import factories
from tests.consent.helpers import decide
from tests.contributors_factory import claimed
from tests.delivery.helpers import download, freeze, listed, parsed, urls
from tests.sales import sell


def apply(export: list[dict], delta: list[dict]) -> dict[str, dict]:
    """A buyer's sync: upsert every line, delete every tombstone."""
    held = {line["external_id"]: line for line in export}
    for line in delta:
        if line.get("deleted"):
            held.pop(line["external_id"], None)
        else:
            held[line["external_id"]] = line
    return held


def test_a_since_version_export_applied_to_the_earlier_export_gives_the_later_one(client, app, platform, buyer,
                                                                                   stripe_gateway):
    dataset = listed(client, platform, billing="annual")
    slug = dataset["slug"]
    license = sell(client, app, buyer, dataset["offer"])
    eve = claimed(platform, "eve")
    assert decide(client, eve, dataset=slug, scope="*", status="withdrawn").status_code == 200
    earlier_body, earlier_manifest = download(client, buyer, license["id"])
    earlier = parsed(earlier_body)
    assert earlier_manifest["records"] == 7  # ana 3, cy 1, fay 2, gus 1

    # Then: r0 changed, two new records, r1 taken down, cy withdraws, eve comes back; version 2.0.0.
    factories.import_records(client, platform, slug, [
        factories.record(0, contributor="ana", text="post number 0, edited"),
        factories.record(15, contributor="hal"), factories.record(16, contributor="hal")])
    assert client.delete(f"/api/v1/datasets/{slug}/records/r1", headers=platform["headers"]).status_code == 204
    assert freeze(client, platform, slug)["number"] == "2.0.0"
    cy = claimed(platform, "cy")
    assert decide(client, cy, dataset=slug, scope="ai-train", status="withdrawn").status_code == 200
    assert decide(client, eve, dataset=slug, scope="*", status="granted").status_code == 200

    later_body, later_manifest = download(client, buyer, license["id"])
    later = parsed(later_body)
    assert later_manifest["version"] == "2.0.0" and later_manifest["records"] == 9  # ana 2, eve 2, fay 2, gus, hal 2
    delta_body, delta_manifest = download(client, buyer, license["id"], since_version="1.0.0")
    delta = parsed(delta_body)

    assert apply(earlier, delta) == {line["external_id"]: line for line in later}
    upserts = {line["external_id"] for line in delta if not line.get("deleted")}
    tombstones = {line["external_id"] for line in delta if line.get("deleted")}
    canaries_before = {line["external_id"] for line in earlier} - {f"r{n}" for n in range(17)}
    canaries_after = {line["external_id"] for line in later} - {f"r{n}" for n in range(17)}
    assert upserts == {"r0", "r10", "r11", "r15", "r16"} | canaries_after
    assert tombstones == {"r1", "r5"} | canaries_before
    assert len(canaries_before) == len(canaries_after) == 3 and not canaries_before & canaries_after
    assert (delta_manifest["since_version"], delta_manifest["records"], delta_manifest["deleted"]) == ("1.0.0", 5, 2)
    assert all(line == {"external_id": line["external_id"], "deleted": True} for line in delta if line.get("deleted"))


def test_the_license_page_lists_covered_versions_with_what_changed(client, app, platform, buyer, stripe_gateway):
    dataset = listed(client, platform, billing="annual")
    slug = dataset["slug"]
    license = sell(client, app, buyer, dataset["offer"])
    factories.import_records(client, platform, slug, [
        factories.record(0, contributor="ana", text="post number 0, edited"), factories.record(15, contributor="hal")])
    assert client.delete(f"/api/v1/datasets/{slug}/records/r1", headers=platform["headers"]).status_code == 204
    freeze(client, platform, slug)
    factories.login(client, buyer)
    page = client.get(f"/licenses/{license['id']}").get_data(as_text=True)
    assert "2.0.0 (since 1.0.0): 1 added, 1 changed, 1 removed" in page
    assert "1.0.0: 15 added, 0 changed, 0 removed" in page


def _export_file(tmp_path, body: bytes, keep) -> str:
    lines = body.splitlines(keepends=True)
    path = tmp_path / "leak.jsonl"
    path.write_bytes(b"".join(keep(lines)))
    return str(path)


def test_trace_names_the_license_from_the_last_tenth_of_a_file(client, app, platform, buyer, runner, tmp_path,
                                                               stripe_gateway):
    dataset = listed(client, platform)
    others = [sell(client, app, factories.signup(client, "buyer", "Other"), dataset["offer"]) for _ in range(2)]
    leaker = sell(client, app, buyer, dataset["offer"])
    body, _ = download(client, buyer, leaker["id"])
    tail = _export_file(tmp_path, body, lambda lines: lines[-max(len(lines) // 10, 1):])
    result = runner.invoke(args=["delivery", "trace", tail])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(f"License {leaker['id']}: buyer {buyer['name']}, dataset {dataset['slug']}")
    assert "canary" in result.output
    assert all(f"License {other['id']}:" not in result.output for other in others)


def test_trace_names_the_license_from_pseudonyms_when_no_canary_is_left(client, app, platform, buyer, runner,
                                                                        tmp_path, stripe_gateway):
    dataset = listed(client, platform)
    sell(client, app, factories.signup(client, "buyer", "Other"), dataset["offer"])
    leaker = sell(client, app, buyer, dataset["offer"])
    body, _ = download(client, buyer, leaker["id"])
    records_only = _export_file(tmp_path, body, lambda lines: [line for line in lines if b'"r' in line[:17]][-2:])
    result = runner.invoke(args=["delivery", "trace", records_only])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"License {leaker['id']}: buyer {buyer['name']}, dataset {dataset['slug']} (2 pseudonym lines)"]
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_bytes(b'{"external_id": "zz", "text": "x", "created_at": "2024-01-01T00:00:00Z", "contributor": "p0"}\n')
    assert runner.invoke(args=["delivery", "trace", str(unknown)]).exit_code == 1
    assert urls(client, buyer, leaker["id"])  # the buyer still downloads


def test_a_delta_across_a_change_of_redaction_is_refused(client, app, platform, buyer, stripe_gateway):
    """Version 1 kept handles as written, version 2 redacts them: a delta would resend only changed
    records, leaving the buyer's unchanged ones with the handles the full export removes."""
    dataset = listed(client, platform, billing="annual")
    slug = dataset["slug"]
    assert client.patch(f"/api/v1/datasets/{slug}", json={"pii_keep": ["handle"]},
                        headers=platform["headers"]).status_code == 200
    factories.import_records(client, platform, slug, [factories.record(20, contributor="ana", text="ask @mod_team")])
    assert freeze(client, platform, slug)["number"] == "1.1.0"
    license = sell(client, app, buyer, dataset["offer"])
    assert client.patch(f"/api/v1/datasets/{slug}", json={"pii_keep": []}, headers=platform["headers"]).status_code == 200
    factories.import_records(client, platform, slug, [factories.record(21, contributor="ana")])
    assert freeze(client, platform, slug)["number"] == "1.2.0"
    refused = client.post(f"/api/v1/licenses/{license['id']}/downloads", json={"since_version": "1.1.0"},
                          headers=buyer["headers"])
    assert refused.status_code == 409 and "redacted differently" in refused.get_json()["message"]
    whole, _manifest = download(client, buyer, license["id"])
    assert b"@mod_team" not in whole and b"<HANDLE>" in whole
