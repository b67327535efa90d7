"""The withdrawals feed: ids a license received that it may no longer hold, and deletion receipts.

Nothing is stored per record per download. What a license received is derived from its
downloads (license, version, time), and what it may no longer hold from two append-only
histories:

- removals: a record of a downloaded version taken down or erased after that download
  (`taken_down_at`; erasure also sets it), reason `taken_down` or `erased`;
- consent: a contributor the one eligibility rule allowed at a download's time and refuses
  now. Only contributors with a consent decision after the license's first download can have
  changed (the rule reads nothing else that moves with time), so the rule is asked about
  those alone, as of each download and as of now; their records of the versions delivered
  while they were eligible are listed, reason `consent_withdrawn`, at their first decision
  after the last download that delivered them.

A record listed for several reasons is listed once, at its earliest time. Buyers acknowledge
the feed up to a time (`acknowledge`); the receipts only move forward.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, String, bindparam, func, select, text
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset, DatasetVersion
from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql
from marketplace.consent.models import Consent
from marketplace.db import utcnow
from marketplace.delivery.models import Download, WithdrawalAck
from marketplace.errors import Conflict, invalid_field
from marketplace.licensing.models import License

CANDIDATES = ("AND w.contributor_id IN (SELECT c2.contributor_id FROM consents c2 "
              "WHERE c2.platform_id = :platform_id AND c2.at > :first_download AND c2.at <= :now)")


@dataclass(frozen=True)
class Withdrawal:
    external_id: str
    withdrawn_at: datetime
    reason: str  # "consent_withdrawn" | "erased" | "taken_down"
    contributor_id: int


def _eligible_candidates(session: Session, question: EligibilityQuestion, first_download: datetime,
                         now: datetime) -> set[int]:
    sql, params = eligible_sql(question, contributor_filter=CANDIDATES)
    params.update(first_download=first_download, now=now)
    statement = bind(sql + " SELECT contributor_id FROM eligible").bindparams(
        bindparam("first_download", type_=DateTime()), bindparam("now", type_=DateTime()))
    return set(session.execute(statement, params).scalars())


def _consent_withdrawals(session: Session, license: License, dataset: Dataset, downloads: list,
                         opt_in_regions: frozenset[str], now: datetime) -> list[tuple[int, datetime, int, datetime]]:
    """(contributor, withdrawn at, latest revision delivered, last delivered at) for each contributor
    eligible at some download and not now."""
    first = downloads[0][2]
    if session.scalar(select(Consent.id).where(Consent.platform_id == dataset.platform_id, Consent.at > first,
                                               Consent.at <= now).limit(1)) is None:
        return []

    def question(version_id: int, at: datetime) -> EligibilityQuestion:
        return EligibilityQuestion(
            dataset_id=dataset.id, platform_id=dataset.platform_id, consent_policy=dataset.consent_policy,
            weighting=dataset.weighting, version_ids=(version_id,), scopes=tuple(license.terms["scopes"]),
            at=at, opt_in_regions=opt_in_regions)

    # Among the candidates, eligibility at a moment depends only on which of their decisions were
    # made by then: downloads of a version between the same two decisions give the same answer,
    # so the rule is asked once per (version, interval), as of the latest download in it.
    changes = list(session.scalars(select(Consent.at).where(
        Consent.platform_id == dataset.platform_id, Consent.at > first, Consent.at <= now).distinct()
        .order_by(Consent.at)))
    latest: dict[tuple[int, int], tuple[int, int, datetime]] = {}
    for version_id, revision, at in downloads:
        latest[(version_id, bisect_right(changes, at))] = (version_id, revision, at)
    now_by_version: dict[int, set[int]] = {}
    delivered: dict[int, tuple[datetime, int]] = {}  # contributor → (last delivered at, highest revision)
    for version_id, revision, at in latest.values():
        if version_id not in now_by_version:
            now_by_version[version_id] = _eligible_candidates(session, question(version_id, now), first, now)
        for contributor_id in _eligible_candidates(session, question(version_id, at), first, now):
            if contributor_id in now_by_version[version_id]:
                continue
            last, high = delivered.get(contributor_id, (at, revision))
            delivered[contributor_id] = (max(last, at), max(high, revision))
    out = []
    for contributor_id, (last, high) in delivered.items():
        when = session.scalar(select(func.min(Consent.at)).where(
            Consent.contributor_id == contributor_id, Consent.platform_id == dataset.platform_id,
            (Consent.dataset_id == dataset.id) | Consent.dataset_id.is_(None), Consent.at > last, Consent.at <= now))
        if when is not None:
            out.append((contributor_id, when, high, last))
    return out


REMOVALS = """
SELECT r.external_id, r.taken_down_at AS withdrawn_at,
       CASE WHEN r.erased_at IS NOT NULL THEN 'erased' ELSE 'taken_down' END AS reason, r.contributor_id
FROM records r
WHERE r.dataset_id = :dataset_id AND r.taken_down_at IS NOT NULL AND r.taken_down_at <= :now
  AND EXISTS (SELECT 1 FROM downloads d JOIN dataset_versions v ON v.id = d.version_id
              WHERE d.license_id = :license_id AND d.at < r.taken_down_at AND r.added_rev <= v.revision)"""

CONSENTED = """
SELECT r.external_id, w.withdrawn_at, 'consent_withdrawn' AS reason, r.contributor_id
FROM records r JOIN w ON w.contributor_id = r.contributor_id
WHERE r.dataset_id = :dataset_id AND r.added_rev <= w.max_rev
  AND (r.taken_down_at IS NULL OR r.taken_down_at > w.delivered_at)"""


def _feed_sql(license: License, dataset: Dataset, consented: list, now: datetime):
    params: dict = {"dataset_id": dataset.id, "license_id": license.id, "now": now}
    binds = [bindparam("now", type_=DateTime())]
    parts = [REMOVALS]
    prefix = ""
    if consented:
        rows = []
        for i, (contributor_id, when, high, last) in enumerate(consented):
            rows.append(f"(:wc{i}, :ww{i}, :wr{i}, :wd{i})")
            params.update({f"wc{i}": contributor_id, f"ww{i}": when, f"wr{i}": high, f"wd{i}": last})
            binds += [bindparam(f"ww{i}", type_=DateTime()), bindparam(f"wd{i}", type_=DateTime())]
        prefix = f"w(contributor_id, withdrawn_at, max_rev, delivered_at) AS (VALUES {', '.join(rows)}),\n"
        parts.append(CONSENTED)
    ranked = (f"WITH {prefix}items AS ({' UNION ALL '.join(parts)}),\n"
              "ranked AS (SELECT external_id, withdrawn_at, reason, contributor_id, ROW_NUMBER() OVER "
              "(PARTITION BY external_id ORDER BY withdrawn_at, reason) AS n FROM items)\n")
    return ranked, params, binds


def withdrawals(session: Session, license: License, *, opt_in_regions: frozenset[str], since: datetime | None = None,
                page: int = 1, per_page: int = 50, contributor_ids: list[int] | None = None,
                now: datetime | None = None) -> tuple[list[Withdrawal], int]:
    """One page of the license's withdrawals after `since`, oldest first, and how many in all."""
    now = now or utcnow()
    downloads = session.execute(
        select(Download.version_id, DatasetVersion.revision, Download.at)
        .join(DatasetVersion, DatasetVersion.id == Download.version_id)
        .where(Download.license_id == license.id, Download.at <= now).order_by(Download.at)).all()
    if not downloads:
        return [], 0
    dataset = session.get(Dataset, license.dataset_id)
    consented = _consent_withdrawals(session, license, dataset, downloads, opt_in_regions, now)
    ranked, params, binds = _feed_sql(license, dataset, consented, now)
    where = "WHERE n = 1"
    if since is not None:
        where += " AND withdrawn_at > :since"
        params["since"] = since
        binds.append(bindparam("since", type_=DateTime()))
    if contributor_ids is not None:
        where += " AND contributor_id IN :contributors"
        params["contributors"] = list(contributor_ids) or [-1]
        binds.append(bindparam("contributors", expanding=True))
    total = session.execute(text(ranked + f"SELECT COUNT(*) FROM ranked {where}").bindparams(*binds), params).scalar()
    params.update(limit=per_page, offset=(page - 1) * per_page)
    rows = session.execute(
        text(ranked + f"SELECT external_id, withdrawn_at, reason, contributor_id FROM ranked {where} "
             "ORDER BY withdrawn_at, external_id LIMIT :limit OFFSET :offset")
        .bindparams(*binds).columns(external_id=String, withdrawn_at=DateTime, reason=String,
                                    contributor_id=Integer), params).all()
    return [Withdrawal(*row) for row in rows], int(total)


def acknowledged_through(session: Session, license_id: int) -> datetime | None:
    return session.scalar(select(func.max(WithdrawalAck.through)).where(WithdrawalAck.license_id == license_id))


def acknowledge(session: Session, license: License, through: datetime, *, user_id: int,
                now: datetime | None = None) -> datetime:
    """Record the buyer's attestation that it deleted every withdrawal up to `through`.

    Acknowledging the same time again changes nothing. Returns the license's receipt time.
    :raise Invalid: `through` is in the future.
    :raise Conflict: `through` is earlier than the license's receipt (it never moves backwards).
    """
    now = now or utcnow()
    if through > now:
        raise invalid_field("through", "Must not be in the future.")
    current = acknowledged_through(session, license.id)
    if current is not None and through < current:
        raise Conflict(f"Withdrawals are acknowledged through {current.isoformat()}Z already; "
                       "an acknowledgment never moves backwards.",
                       {"json": {"through": [f"Must be at or after {current.isoformat()}Z."]}})
    if current is None or through > current:
        session.add(WithdrawalAck(license_id=license.id, through=through, acknowledged_by=user_id, at=now))
        session.flush()
    return through if current is None else max(through, current)


def first_unacknowledged(session: Session, license: License, *, opt_in_regions: frozenset[str],
                         now: datetime | None = None) -> Withdrawal | None:
    """The oldest withdrawal after the license's receipt, if any."""
    items, _ = withdrawals(session, license, opt_in_regions=opt_in_regions, since=acknowledged_through(
        session, license.id), page=1, per_page=1, now=now)
    return items[0] if items else None


def overdue_licenses(session: Session, dataset_id: int, *, days: int, opt_in_regions: frozenset[str],
                     now: datetime | None = None) -> int:
    """Licenses of the dataset with a withdrawal older than `days` that they have not acknowledged."""
    now = now or utcnow()
    license_ids = session.scalars(select(Download.license_id).join(License, License.id == Download.license_id)
                                  .where(License.dataset_id == dataset_id).distinct()).all()
    overdue = 0
    for license_id in license_ids:
        oldest = first_unacknowledged(session, session.get(License, license_id), opt_in_regions=opt_in_regions,
                                      now=now)
        if oldest is not None and oldest.withdrawn_at <= now - timedelta(days=days):
            overdue += 1
    return overdue


@dataclass(frozen=True)
class BuyerAcknowledgment:
    """For a contributor: a buyer that received their records and must delete some of them."""

    license_id: int
    buyer: str
    dataset: str
    withdrawn: int
    latest_withdrawn_at: datetime
    acknowledged_through: datetime | None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_through is not None and self.acknowledged_through >= self.latest_withdrawn_at


def contributor_acknowledgments(session: Session, contributor_ids: list[int], *,
                                opt_in_regions: frozenset[str]) -> list[BuyerAcknowledgment]:
    """Per license that downloaded these contributors' records and must now delete some: whether
    the buyer acknowledged it."""
    from marketplace.accounts.models import Organization
    from marketplace.catalog.models import Contributor

    if not contributor_ids:
        return []
    platforms = select(Contributor.platform_id).where(Contributor.id.in_(contributor_ids))
    licenses = session.scalars(
        select(License).join(Dataset, Dataset.id == License.dataset_id)
        .where(Dataset.platform_id.in_(platforms),
               License.id.in_(select(Download.license_id).distinct())).order_by(License.id)).all()
    out = []
    for license in licenses:
        items, total = withdrawals(session, license, opt_in_regions=opt_in_regions, per_page=200,
                                   contributor_ids=contributor_ids)
        if not total:
            continue
        latest = max(item.withdrawn_at for item in items) if total <= 200 else withdrawals(
            session, license, opt_in_regions=opt_in_regions, page=(total - 1) // 200 + 1, per_page=200,
            contributor_ids=contributor_ids)[0][-1].withdrawn_at
        out.append(BuyerAcknowledgment(
            license.id, session.get(Organization, license.buyer_id).name, license.terms["dataset"]["title"],
            total, latest, acknowledged_through(session, license.id)))
    return out
