"""Naming the license a leaked export came from, from the file alone (even a partial copy).

Two kinds of evidence, both recomputed from the app's secret rather than stored:

- canaries: every export carries its license's canary records for the version (export.py),
  one of them as its very last line; a line equal to one names the license outright;
- pseudonyms: a record line's `contributor` is an HMAC under the license's key; for a few
  record lines the real record is looked up by its external id, and the licenses of its
  dataset whose key gives that pseudonym are the candidates.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization
from marketplace.catalog.models import Dataset, DatasetVersion, Record
from marketplace.delivery.export import canaries, pseudonym, pseudonym_key
from marketplace.licensing.models import License, LicenseVersion

#: Record lines whose pseudonyms are checked when no canary is found.
SAMPLE = 200


@dataclass(frozen=True)
class Trace:
    license_id: int
    buyer: str
    dataset: str
    how: str          # "canary" or "pseudonym"
    evidence: int     # lines that match


def _canary_index(session: Session, secret: str) -> dict[str, tuple[int, bytes]]:
    """Every canary external id → (license id, its whole line)."""
    index = {}
    rows = session.execute(select(LicenseVersion.license_id, DatasetVersion.id, DatasetVersion.first_record_at,
                                  DatasetVersion.last_record_at)
                           .join(DatasetVersion, DatasetVersion.id == LicenseVersion.version_id)).all()
    for license_id, version_id, first, last in rows:
        for canary in canaries(secret, license_id, version_id, first, last):
            index[canary.external_id] = (license_id, canary.line)
    return index


def trace(session: Session, secret: str, lines: Iterable[bytes]) -> list[Trace]:
    """The licenses the lines point at, strongest evidence first (empty when none)."""
    index = _canary_index(session, secret)
    by_canary: Counter[int] = Counter()
    sample: dict[str, str] = {}
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # a line cut in half at the copy's start
        if not isinstance(item, dict) or not isinstance(item.get("external_id"), str):
            continue
        hit = index.get(item["external_id"])
        if hit is not None and orjson.loads(hit[1]) == item:
            by_canary[hit[0]] += 1
        elif isinstance(item.get("contributor"), str) and len(sample) < SAMPLE:
            sample[item["external_id"]] = item["contributor"]
    if by_canary:
        return _named(session, by_canary, "canary")
    return _named(session, _by_pseudonym(session, secret, sample), "pseudonym")


def _by_pseudonym(session: Session, secret: str, sample: dict[str, str]) -> Counter[int]:
    found: Counter[int] = Counter()
    if not sample:
        return found
    records = session.execute(select(Record.external_id, Record.dataset_id, Record.contributor_id)
                              .where(Record.external_id.in_(list(sample)))).all()
    licenses: dict[int, list[int]] = {}
    for external_id, dataset_id, contributor_id in records:
        if dataset_id not in licenses:
            licenses[dataset_id] = list(session.scalars(select(License.id).where(License.dataset_id == dataset_id)))
        for license_id in licenses[dataset_id]:
            if pseudonym(pseudonym_key(secret, license_id), contributor_id) == sample[external_id]:
                found[license_id] += 1
    return found


def _named(session: Session, counts: Counter[int], how: str) -> list[Trace]:
    out = []
    for license_id, evidence in counts.most_common():
        license = session.get(License, license_id)
        buyer = session.get(Organization, license.buyer_id)
        dataset = session.get(Dataset, license.dataset_id)
        out.append(Trace(license_id, buyer.name, dataset.slug, how, evidence))
    return out
