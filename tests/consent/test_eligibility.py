"""The consent rule (SPEC.md "Consent rules"), one decision at a time."""
from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.consent.eligibility import EligibilityQuestion, is_eligible
from marketplace.consent.services import record_consent
from marketplace.errors import Invalid
from marketplace.extensions import db
from tests.ledger import helpers

T = helpers.PAID_AT


def question(made, scopes=("ai-train",), at=T) -> EligibilityQuestion:
    return EligibilityQuestion(
        dataset_id=made.id, platform_id=made.platform_id, consent_policy=made.consent_policy,
        weighting=made.weighting, version_ids=(made.latest_version.id,), scopes=tuple(scopes), at=at,
        opt_in_regions=helpers.OPT_IN)


@pytest.fixture
def made(app):
    return helpers.dataset(helpers.platform(), [("us", "US", 1), ("fr", "FR", 1), ("kr", "KR", 1)])


def eligible(made, person, **kwargs) -> bool:
    return is_eligible(db.session, question(made, **kwargs), helpers.contributor(made, person).id)


def decide(made, person, status, *, scope="*", dataset_level=True, minutes=-10):
    record_consent(db.session, helpers.contributor(made, person), status=status, scope=scope,
                   dataset=made if dataset_level else None, source="test", at=T + timedelta(minutes=minutes))


def test_opt_out_includes_by_default_except_opt_in_regions(made):
    assert eligible(made, "us")
    assert not eligible(made, "fr")
    assert not eligible(made, "kr")


def test_an_opt_in_region_counts_once_granted(made):
    decide(made, "fr", "granted")
    assert eligible(made, "fr")


def test_an_opt_in_dataset_needs_a_grant_from_everyone(app):
    made = helpers.dataset(helpers.platform(), [("us", "US", 1)], policy="opt_in")
    assert not eligible(made, "us")
    decide(made, "us", "granted", dataset_level=False)
    assert eligible(made, "us")


def test_a_withdrawal_excludes(made):
    decide(made, "us", "withdrawn", scope="ai-train")
    assert not eligible(made, "us")
    assert eligible(made, "us", scopes=("ai-input",))
    assert not eligible(made, "us", scopes=("ai-input", "ai-train"))  # every scope of the license


def test_the_dataset_decision_beats_the_platform_wide_one(made):
    decide(made, "us", "withdrawn", dataset_level=False, minutes=-1)
    decide(made, "us", "granted", dataset_level=True, minutes=-5)
    assert eligible(made, "us")  # more specific, though older


def test_a_dataset_wide_decision_beats_a_platform_scope_one(made):
    decide(made, "us", "withdrawn", dataset_level=False, scope="ai-train", minutes=-1)
    decide(made, "us", "granted", dataset_level=True, scope="*", minutes=-5)
    assert eligible(made, "us")


def test_a_named_scope_beats_all_scopes(made):
    decide(made, "fr", "granted", scope="ai-train", minutes=-5)
    decide(made, "fr", "withdrawn", scope="*", minutes=-1)
    assert eligible(made, "fr")
    assert not eligible(made, "fr", scopes=("search",))


def test_the_latest_wins_among_equals(made):
    decide(made, "fr", "granted", minutes=-5)
    decide(made, "fr", "withdrawn", minutes=-3)
    assert not eligible(made, "fr")
    decide(made, "fr", "granted", minutes=-1)
    assert eligible(made, "fr")


def test_decisions_after_the_payment_do_not_count(made):
    decide(made, "us", "withdrawn", minutes=+1)
    assert eligible(made, "us")
    assert not eligible(made, "us", at=T + timedelta(minutes=2))


def test_allocations_record_the_decision_at_payment_time(made):
    decide(made, "fr", "granted", minutes=-1)
    first = helpers.pay(made, 10_000)
    decide(made, "us", "withdrawn", scope="ai-train", minutes=+1)
    later = helpers.pay(made, 10_000, at=T + timedelta(minutes=2))
    input_only = helpers.pay(made, 10_000, at=T + timedelta(minutes=2), scopes=("ai-input",))
    from marketplace.ledger.allocation import contributor_amounts

    assert sorted(helpers.by_external_id(made, contributor_amounts(db.session, first))) == ["fr", "us"]
    assert sorted(helpers.by_external_id(made, contributor_amounts(db.session, later))) == ["fr"]
    assert sorted(helpers.by_external_id(made, contributor_amounts(db.session, input_only))) == ["fr", "us"]
    # Money already allocated stays allocated.
    assert helpers.by_external_id(made, contributor_amounts(db.session, first))["us"] == 2375


def test_bad_decisions_are_refused(made):
    person = helpers.contributor(made, "us")
    with pytest.raises(Invalid, match="status"):
        record_consent(db.session, person, status="maybe", source="test")
    with pytest.raises(Invalid, match="scope"):
        record_consent(db.session, person, status="granted", scope="mining", source="test")
