"""Who may be paid for, and delivered, under a set of usage scopes: the one rule (SPEC.md).

A contributor of a version is eligible for a license's scopes at time T when,
for every scope, their effective consent as of T allows it:

- the effective consent for a scope is the most specific decision made at or
  before T: a dataset's over the platform-wide one, a named scope over "*",
  and among equals the latest;
- under an `opt_out` dataset, no decision means yes, unless the contributor's
  region requires opt-in; under `opt_in` (and in those regions) only "granted"
  means yes; "withdrawn" always means no.

`eligible_sql` expresses this as one SELECT over the version's frozen weights,
so allocation runs it inside the database over millions of contributors;
`is_eligible` asks the same SELECT about one contributor.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class EligibilityQuestion:
    """Everything the rule needs, as of one moment."""

    dataset_id: int
    platform_id: int
    consent_policy: str          # "opt_out" | "opt_in"
    weighting: str               # "records" | "tokens"
    version_ids: tuple[int, ...]
    scopes: tuple[str, ...]
    at: datetime
    opt_in_regions: frozenset[str]


def _scope_values(scopes: Iterable[str]) -> str:
    # Scopes are validated tokens (catalog.models.SCOPES), bound as parameters below.
    return " UNION ALL ".join(f"SELECT :scope_{i} AS scope" for i, _ in enumerate(scopes))


def eligible_sql(question: EligibilityQuestion, *, contributor_filter: str = "") -> tuple[str, dict]:
    """A WITH-prefix defining `eligible(contributor_id, weight, tiebreak)`, and its parameters.

    Weights are the frozen per-version weights (summed over the covered
    versions); contributors with zero weight are left out (they would get 0).
    """
    if not question.scopes or not question.version_ids:
        raise ValueError("eligibility needs at least one scope and one version")
    weight_column = "record_count" if question.weighting == "records" else "token_count"
    # Each scope once: a repeated scope would count one grant twice against n_scopes.
    scopes = sorted(set(question.scopes))
    params: dict = {f"scope_{i}": scope for i, scope in enumerate(scopes)}
    params.update(
        platform_id=question.platform_id,
        dataset_id=question.dataset_id,
        at=question.at,
        n_scopes=len(scopes),
        default_allows=1 if question.consent_policy == "opt_out" else 0,
        regions=sorted(question.opt_in_regions) or ["--"],
        version_ids=list(question.version_ids),
    )
    if len(question.version_ids) == 1:
        weights = (
            f"SELECT vc.contributor_id, vc.{weight_column} AS weight FROM version_contributors vc "
            "WHERE vc.version_id IN :version_ids"
        )
    else:
        weights = (
            f"SELECT vc.contributor_id, CAST(SUM(vc.{weight_column}) AS BIGINT) AS weight "
            "FROM version_contributors vc "
            "WHERE vc.version_id IN :version_ids GROUP BY vc.contributor_id"
        )
    sql = f"""
WITH license_scopes AS ({_scope_values(scopes)}),
applicable AS (
  SELECT c.contributor_id, ls.scope AS license_scope, c.status,
         ROW_NUMBER() OVER (
           PARTITION BY c.contributor_id, ls.scope
           ORDER BY CASE WHEN c.dataset_id IS NULL THEN 0 ELSE 1 END DESC,
                    CASE WHEN c.scope = '*' THEN 0 ELSE 1 END DESC,
                    c.at DESC, c.id DESC) AS precedence
  FROM consents c JOIN license_scopes ls ON (c.scope = ls.scope OR c.scope = '*')
  WHERE c.platform_id = :platform_id
    AND (c.dataset_id = :dataset_id OR c.dataset_id IS NULL)
    AND c.at <= :at
),
decided AS (
  SELECT contributor_id,
         SUM(CASE WHEN status = 'granted' THEN 1 ELSE 0 END) AS granted,
         SUM(CASE WHEN status = 'withdrawn' THEN 1 ELSE 0 END) AS withdrawn
  FROM applicable WHERE precedence = 1 GROUP BY contributor_id
),
weights AS ({weights}),
eligible AS (
  SELECT w.contributor_id, w.weight, k.external_id AS tiebreak
  FROM weights w
  JOIN contributors k ON k.id = w.contributor_id
  LEFT JOIN decided d ON d.contributor_id = w.contributor_id
  WHERE w.weight > 0 {contributor_filter}
    AND COALESCE(d.withdrawn, 0) = 0
    AND (COALESCE(d.granted, 0) = :n_scopes
         OR (:default_allows = 1 AND k.region NOT IN :regions))
)"""
    return sql, params


def bind(sql: str):
    """A text() with the expanding IN-list parameters of `eligible_sql` declared."""
    return text(sql).bindparams(
        bindparam("regions", expanding=True),
        bindparam("version_ids", expanding=True),
        # Typed, so SQLite compares it in the stored text format.
        bindparam("at", type_=DateTime()),
    )


def is_eligible(session: Session, question: EligibilityQuestion, contributor_id: int) -> bool:
    """The same rule for one contributor of the question's versions."""
    sql, params = eligible_sql(question, contributor_filter="AND w.contributor_id = :one")
    params["one"] = contributor_id
    found = session.execute(bind(sql + " SELECT COUNT(*) FROM eligible"), params).scalar()
    return bool(found)
