"""The machine-readable terms every published dataset speaks: RSL 1.0, Croissant 1.1, robots.txt.

Each document is built from the dataset, its open offers (quoted on the latest version, as
a buyer would pay now) and its latest version; nothing here writes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from marketplace.catalog.models import Dataset
from marketplace.catalog.offers import quote
from marketplace.errors import NotFound
from marketplace.licensing.terms import canonical, terms_for, terms_sha256
from marketplace.pii.models import VersionPiiReport
from marketplace.pii.presenters import in_words
from marketplace.text import has_nul

RSL_NAMESPACE = "https://rslstandard.org/rsl"
RSL_TYPE = "application/rsl+xml"
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
#: Currencies without minor units (ISO 4217 exponent 0); every other one has two.
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})
SCOPE_WORDS = {
    "ai-train": "training AI models", "ai-input": "AI input (retrieval, grounding)",
    "ai-index": "AI indexing", "search": "search", "ai-eval": "evaluating AI models",
    "ad-targeting": "ad targeting",
}


def major_units(amount: int, currency: str) -> str:
    """Minor units as a decimal string in major units (12345 usd → "123.45"), exactly."""
    if currency.lower() in ZERO_DECIMAL:
        return str(amount)
    whole, cents = divmod(amount, 100)
    return f"{whole}.{cents:02d}"


def published_dataset(session: Session, slug: str) -> Dataset:
    """:raise NotFound: unknown, unpublished, or without a version."""
    dataset = None if has_nul(slug) else session.scalar(select(Dataset).where(Dataset.slug == slug))
    if dataset is None or not dataset.is_public or dataset.latest_version is None:
        raise NotFound(f"No published dataset {slug!r}.")
    return dataset


def published_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(Dataset.slug).where(Dataset.status == "published").order_by(Dataset.slug)))


@dataclass(frozen=True)
class OfferTerms:
    offer_id: int
    terms: dict
    sha256: str
    body: bytes


def offer_terms(dataset: Dataset, offer_id: int) -> OfferTerms:
    """The terms a buyer accepting the offer now agrees to, as canonical JSON with its sha256.

    :raise NotFound: not an open offer of the dataset.
    """
    offer = next((o for o in dataset.offers if o.id == offer_id and o.is_active), None)
    if offer is None:
        raise NotFound(f"No open offer {offer_id} on {dataset.slug!r}.")
    terms = terms_for(offer, dataset.latest_version, quote(offer, dataset.latest_version))
    return OfferTerms(offer.id, terms, terms_sha256(terms), canonical(terms))


def rsl_document(dataset: Dataset, *, base: str) -> bytes:
    """RSL 1.0: the dataset as `<content>`, one `<license>` per open offer (usage scopes, geo,
    payment in major units, the privacy-consent warranty, the terms' URL and sha256)."""
    ET.register_namespace("", RSL_NAMESPACE)
    q = f"{{{RSL_NAMESPACE}}}"
    root = ET.Element(f"{q}rsl")
    version = dataset.latest_version
    content = ET.SubElement(root, f"{q}content", {
        "url": f"{base}/datasets/{dataset.slug}", "server": base,
        "lastmod": version.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    for offer in dataset.offers:
        if not offer.is_active:
            continue
        terms = offer_terms(dataset, offer.id)
        license = ET.SubElement(content, f"{q}license")
        ET.SubElement(license, f"{q}permits", {"type": "usage"}).text = " ".join(offer.scopes)
        if offer.territory != ["*"]:
            ET.SubElement(license, f"{q}permits", {"type": "geo"}).text = " ".join(offer.territory)
        payment = ET.SubElement(license, f"{q}payment", {
            "type": "subscription" if offer.billing == "annual" else "purchase"})
        price = terms.terms["price"]
        ET.SubElement(payment, f"{q}amount", {"currency": price["currency"].upper()}).text = major_units(
            price["amount"], price["currency"])
        ET.SubElement(payment, f"{q}standard").text = f"{base}/offers/{offer.id}/checkout"
        ET.SubElement(license, f"{q}legal", {"type": "warranty"}).text = "privacy-consent"
        ET.SubElement(license, f"{q}terms").text = (
            f"{base}/datasets/{dataset.slug}/offers/{offer.id}/terms.json#sha256={terms.sha256}")
    ET.SubElement(content, f"{q}schema").text = f"{base}/datasets/{dataset.slug}/croissant.json"
    ET.SubElement(content, f"{q}copyright", {"type": "organization"}).text = (
        f"{dataset.platform.name} and the contributors of its content")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def croissant_context() -> dict:
    """Croissant 1.1's JSON-LD @context (the spec's own, inline: readers need fetch nothing)."""
    return {
        "@language": "en", "@vocab": "https://schema.org/", "arrayShape": "cr:arrayShape",
        "citeAs": "cr:citeAs", "column": "cr:column", "conformsTo": "dct:conformsTo",
        "containedIn": "cr:containedIn", "cr": "http://mlcommons.org/croissant/",
        "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
        "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
        "description": {"@container": "@language"}, "equivalentProperty": "cr:equivalentProperty",
        "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract", "field": "cr:field",
        "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet",
        "format": "cr:format", "includes": "cr:includes", "isArray": "cr:isArray",
        "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5",
        "name": {"@container": "@language"}, "parentField": "cr:parentField", "path": "cr:path",
        "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
        "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
        "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source",
        "subField": "cr:subField", "transform": "cr:transform",
    }


def _field(name: str, data_type: str, description: str) -> dict:
    return {"@type": "cr:Field", "@id": f"records/{name}", "name": name, "description": description,
            "dataType": data_type,
            "source": {"fileObject": {"@id": "export"}, "extract": {"column": name}}}


def personal_information(dataset: Dataset) -> str:
    """Croissant's rai:personalSensitiveInformation: the latest version's scan report in words,
    then what every export does with contributors' identities."""
    version = dataset.latest_version
    report = object_session(dataset).get(VersionPiiReport, version.id)
    scanned = in_words(report) if report is not None else (
        f"Version {version.number} was frozen before personal data was scanned for: its records are free text "
        "written by people and may contain personal information they chose to write.")
    return (scanned + " Contributor ids are replaced by pseudonyms (an HMAC per license) in every export, so two "
            "buyers' copies cannot be joined. Erased and taken-down records are never delivered.")


def croissant_document(dataset: Dataset, *, base: str, opt_in_regions: frozenset[str]) -> dict:
    """Croissant 1.1 with the Responsible-AI fields, filled from the dataset."""
    version = dataset.latest_version
    offers = [offer for offer in dataset.offers if offer.is_active]
    scopes = sorted({scope for offer in offers for scope in offer.scopes})
    page = f"{base}/datasets/{dataset.slug}"
    policy = ("opt-out: every contributor is included unless they withdrew their consent"
              if dataset.consent_policy == "opt_out" else "opt-in: only contributors who granted consent are included")
    regions = ", ".join(sorted(opt_in_regions)) or "none"
    span = (f"{version.first_record_at:%Y-%m-%d} to {version.last_record_at:%Y-%m-%d}"
            if version.first_record_at and version.last_record_at else "unknown")
    return {
        "@context": croissant_context(),
        "@type": "sc:Dataset",
        "name": dataset.title,
        "description": dataset.summary or dataset.title,
        "conformsTo": CROISSANT_1_1,
        "url": page,
        "license": f"{page}/license.xml",
        "version": version.number,
        "datePublished": f"{(dataset.published_at or version.created_at):%Y-%m-%d}",
        "dateModified": f"{version.created_at:%Y-%m-%d}",
        "isLiveDataset": any(offer.billing == "annual" for offer in offers),
        "creator": {"@type": "sc:Organization", "name": dataset.platform.name},
        "publisher": {"@type": "sc:Organization", "name": "Dividend"},
        "citeAs": f"{dataset.platform.name}. {dataset.title}, version {version.number}. Dividend, {page}",
        "keywords": list(dataset.tags),
        "inLanguage": dataset.languages,
        "rai:dataCollection": (
            f"User-generated content ({dataset.content_kind}) hosted by {dataset.platform.name}, imported by the "
            f"platform through Dividend. Consent: {policy}; contributors in the opt-in regions ({regions}) are "
            "included only if they granted, whatever the policy. Consent is per contributor and per use; a "
            "withdrawal takes effect for every later delivery."),
        "rai:dataCollectionType": "Secondary data: content written by the platform's users.",
        "rai:dataCollectionTimeframe": span,
        "rai:personalSensitiveInformation": personal_information(dataset),
        "rai:dataUseCases": ("Licensed uses: " + ", ".join(SCOPE_WORDS.get(s, s) for s in scopes) + "."
                             if scopes else "No use is offered at the moment."),
        "rai:dataLimitations": (
            "Each license's export holds only the records whose contributors are eligible for every use it "
            "grants at the time of the download; the manifest counts what was left out and why."),
        "rai:dataReleaseMaintenancePlan": (
            "New versions are frozen as the platform imports content (semantic versions: minor when records "
            "are added, major when removed or changed). Each license has a withdrawals feed of records it "
            "must delete, acknowledged by the buyer."),
        "distribution": [{
            "@type": "cr:FileObject", "@id": "export", "name": "export",
            "description": (f"A license's JSONL export: POST {base}/api/v1/licenses/{{id}}/downloads gives a "
                            "signed URL. sha256 is the frozen version's canonical export's (personal data replaced "
                            "by typed placeholders); each license's export differs from it (pseudonyms, "
                            "eligibility at download)."),
            "contentUrl": page, "encodingFormat": "application/jsonlines", "sha256": version.sha256,
        }],
        "recordSet": [{
            "@type": "cr:RecordSet", "@id": "records", "name": "records",
            "description": f"One {dataset.content_kind} a line; {version.record_count} records in version "
                           f"{version.number}.",
            "key": {"@id": "records/external_id"},
            "field": [
                _field("external_id", "sc:Text", "The platform's id of the record, unique in the dataset."),
                _field("text", "sc:Text", "The content."),
                _field("created_at", "sc:DateTime", "When it was written (UTC)."),
                _field("contributor", "sc:Text", "The author, as a pseudonym unique to the license."),
            ],
        }],
    }


def robots_txt(slugs: list[str], *, base: str) -> str:
    """robots.txt with a `License:` line per published dataset (RSL's discovery)."""
    lines = ["User-agent: *", "Allow: /", ""]
    lines += [f"License: {base}/datasets/{slug}/license.xml" for slug in slugs]
    return "\n".join(lines) + "\n"
