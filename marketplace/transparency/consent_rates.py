"""Consent rates for the transparency reports, by the one eligibility rule (consent.eligibility).

The consent counts reuse eligibility's own SQL (its `decided` tally of the applying decisions),
so the report can't drift from who is actually paid and delivered.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.models import SCOPES, Dataset, DatasetVersion, Offer, OfferScope
from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql


@dataclass(frozen=True)
class ConsentCounts:
    """Contributors with live records in the dataset, by where they stand (see consent_counts)."""

    granted: int = 0
    withdrawn: int = 0
    default: int = 0
    #: Of `default`: those the dataset's policy includes without a decision (opt-out, outside
    #: the opt-in regions). granted + default_included = included for every offered scope.
    default_included: int = 0

    @property
    def total(self) -> int:
        return self.granted + self.withdrawn + self.default


def offered_scopes(session: Session, dataset_id: int) -> list[str]:
    """The scopes of the dataset's open offers; of all its offers when none is open; else all."""
    rows = session.execute(
        select(OfferScope.scope, Offer.retired_at.is_(None)).join(Offer, Offer.id == OfferScope.offer_id)
        .where(Offer.dataset_id == dataset_id)).all()
    open_scopes = {scope for scope, is_open in rows if is_open}
    found = open_scopes or {scope for scope, _ in rows} or set(SCOPES)
    return [scope for scope in SCOPES if scope in found]


def consent_question(session: Session, dataset: Dataset, scopes: list[str], regions: frozenset[str],
                     at: datetime) -> EligibilityQuestion | None:
    """The eligibility rule's question for `scopes` at `at`, over the latest version; None before
    any version (nobody can be paid yet). `consent_counts` and `eligible_now_by_scope` take it."""
    version_id = session.scalar(select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset.id)
                                .order_by(DatasetVersion.id.desc()).limit(1))
    if version_id is None:
        return None
    return EligibilityQuestion(
        dataset_id=dataset.id, platform_id=dataset.platform_id, consent_policy=dataset.consent_policy,
        weighting=dataset.weighting, version_ids=(version_id,), scopes=tuple(scopes), at=at,
        opt_in_regions=regions)


def consent_counts(session: Session, question: EligibilityQuestion | None) -> ConsentCounts:
    """Where the contributors with live records in the question's dataset stand, for its scopes
    (the dataset's offered ones).

    For each contributor and each offered scope, the decision that applies is the eligibility
    rule's: the most specific made by `at` (this dataset's over platform-wide, a named scope
    over "*"), then the latest. A contributor is then counted once, as
      - `withdrawn` when the applying decision for at least one offered scope is a withdrawal;
      - `granted` when it is a grant for every offered scope;
      - `default` otherwise: no decision for some offered scope, so the dataset's policy
        (and the opt-in regions) decides; `default_included` says for how many that means yes.
    Zeros before any version (the rule's question needs one; nobody can be paid yet either).
    """
    if question is None:
        return ConsentCounts()
    # eligible_sql's `decided` CTE is the rule's per-contributor tally over the scopes: how
    # many of them the applying decisions grant and withdraw. Reusing it keeps one rule.
    prefix, params = eligible_sql(question)
    rows = session.execute(bind(prefix + """,
standing AS (
  SELECT CASE WHEN COALESCE(d.withdrawn, 0) > 0 THEN 'withdrawn'
              WHEN COALESCE(d.granted, 0) = :n_scopes THEN 'granted'
              ELSE 'default' END AS standing,
         CASE WHEN :default_allows = 1 AND k.region NOT IN :regions THEN 1 ELSE 0 END AS policy_includes
  FROM contributors k
  LEFT JOIN decided d ON d.contributor_id = k.id
  -- Driven from the platform's contributors with one index probe each for a live record
  -- (records by dataset and contributor). From a DISTINCT over the records instead, SQLite
  -- scanned `decided` once per person: minutes at a million contributors.
  WHERE k.platform_id = :platform_id
    AND EXISTS (SELECT 1 FROM records r WHERE r.dataset_id = :dataset_id AND r.contributor_id = k.id
                AND r.taken_down_at IS NULL)
)
SELECT standing, policy_includes, COUNT(*) FROM standing GROUP BY standing, policy_includes"""),
        params).all()
    counts: dict[str, int] = defaultdict(int)
    for standing, policy_includes, n in rows:
        counts[standing] += int(n)
        if standing == "default" and policy_includes:
            counts["default_included"] += int(n)
    return ConsentCounts(**counts)


def eligible_now_by_scope(session: Session, question: EligibilityQuestion | None) -> dict[str, int]:
    """Per scope of the question: how many contributors of its version the one eligibility rule
    includes at its time (a license for that scope paid then would share among them). Empty
    before a version."""
    if question is None:
        return {}
    answers = {}
    for scope in question.scopes:
        sql, params = eligible_sql(replace(question, scopes=(scope,)))
        answers[scope] = int(session.execute(bind(sql + "\nSELECT COUNT(*) FROM eligible"), params).scalar())
    return answers
