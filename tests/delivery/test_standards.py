"""RSL license.xml, Croissant (validated by mlcroissant, offline), robots.txt and the Link header."""
from __future__ import annotations

import hashlib
import socket
import xml.etree.ElementTree as ET

import mlcroissant
import pytest

from tests import factories
from tests.delivery.helpers import listed
from tests.test_demo import PUBLISHED, load

RSL = "{https://rslstandard.org/rsl}"


@pytest.fixture
def offline(monkeypatch):
    """Any connection to a non-local address fails the test: the validation must not fetch."""
    real = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            raise AssertionError(f"network access to {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def test_license_xml_is_rsl_with_a_license_per_offer(client, platform):
    dataset = listed(client, platform, billing="annual")
    slug = dataset["slug"]
    body = factories.offer_body(name="Eval in the US", scopes=["ai-eval", "search"], territory=["US", "CA"],
                                price={"model": "flat", "amount": 123_456, "currency": "usd"})
    assert client.post(f"/api/v1/datasets/{slug}/offers", json=body, headers=platform["headers"]).status_code == 201
    response = client.get(f"/datasets/{slug}/license.xml")
    assert response.status_code == 200 and response.mimetype == "application/rsl+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{RSL}rsl"
    content = root.find(f"{RSL}content")
    assert content.get("url") == f"http://127.0.0.1:5000/datasets/{slug}"
    licenses = content.findall(f"{RSL}license")
    assert len(licenses) == 2
    first, second = licenses
    assert [p.text for p in first.findall(f"{RSL}permits")] == ["ai-train"]
    assert first.find(f"{RSL}payment").get("type") == "subscription"
    amount = first.find(f"{RSL}payment/{RSL}amount")
    assert (amount.get("currency"), amount.text) == ("USD", "1000.00")
    assert first.find(f"{RSL}legal").attrib == {"type": "warranty"}
    assert first.find(f"{RSL}legal").text == "privacy-consent"
    assert [(p.get("type"), p.text) for p in second.findall(f"{RSL}permits")] == [("usage", "ai-eval search"),
                                                                               ("geo", "CA US")]
    assert second.find(f"{RSL}payment").get("type") == "purchase"
    assert second.find(f"{RSL}payment/{RSL}amount").text == "1234.56"
    terms_url, digest = second.find(f"{RSL}terms").text.split("#sha256=")
    terms = client.get(terms_url.replace("http://127.0.0.1:5000", ""))
    assert terms.status_code == 200 and hashlib.sha256(terms.data).hexdigest() == digest
    assert terms.get_json()["scopes"] == ["ai-eval", "search"]
    assert client.get("/datasets/nope/license.xml").status_code == 404


def test_drafts_have_no_standards_documents(client, platform):
    draft = factories.create_dataset(client, platform)
    for path in ("license.xml", "croissant.json"):
        assert client.get(f"/datasets/{draft['slug']}/{path}").status_code == 404
    assert f"{draft['slug']}/license.xml" not in client.get("/robots.txt").get_data(as_text=True)


def test_robots_and_the_dataset_page_point_at_the_terms(client, platform):
    dataset = listed(client, platform)
    slug = dataset["slug"]
    robots = client.get("/robots.txt")
    assert robots.mimetype == "text/plain"
    assert f"License: http://127.0.0.1:5000/datasets/{slug}/license.xml" in robots.get_data(as_text=True).splitlines()
    page = client.get(f"/datasets/{slug}")
    assert page.headers["Link"] == (f'<http://127.0.0.1:5000/datasets/{slug}/license.xml>; rel="license"; '
                                    'type="application/rsl+xml"')
    text = page.get_data(as_text=True)
    assert f'href="/datasets/{slug}/license.xml"' in text and f'href="/datasets/{slug}/croissant.json"' in text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # rdflib's, inside mlcroissant's JSON-LD expansion
def test_croissant_loads_in_mlcroissant_for_every_demo_dataset(client, runner, offline):
    load(runner)
    for slug in PUBLISHED:
        response = client.get(f"/datasets/{slug}/croissant.json")
        assert response.status_code == 200 and response.mimetype == "application/ld+json"
        document = response.get_json()
        dataset = mlcroissant.Dataset(jsonld=document)
        assert dataset.metadata.ctx.issues.errors == set(), dataset.metadata.ctx.issues.report()
        assert dataset.metadata.version == document["version"]
        assert [field.name for field in dataset.metadata.record_sets[0].fields] == [
            "external_id", "text", "created_at", "contributor"]
        for key in ("rai:dataCollection", "rai:personalSensitiveInformation", "rai:dataUseCases"):
            assert document[key].strip()
        assert "opt-in regions (" in document["rai:dataCollection"]
        assert document["distribution"][0]["sha256"] == client.get(f"/api/v1/datasets/{slug}").get_json()[
            "versions"][0]["sha256"]
