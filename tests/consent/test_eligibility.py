"""The consent rule (SPEC.md "Consent rules"), asked one contributor at a time through
`is_eligible`, and seen in what allocations pay."""
from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.allocation.reversal import contributor_amounts
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
def owner(app):
    return helpers.platform()


@pytest.fixture
def made(owner):
    return helpers.dataset(owner, [("us", "US", 1), ("fr", "FR", 1), ("kr", "KR", 1), ("br", "BR", 1)])


def eligible(made, person, **kwargs) -> bool:
    return is_eligible(db.session, question(made, **kwargs), helpers.contributor(made, person).id)


def decide(made, person, status, *, scope="*", dataset_level=True, minutes=-10, dataset=None):
    record_consent(db.session, helpers.contributor(made, person), status=status, scope=scope,
                   dataset=(dataset or made) if dataset_level else None, source="test",
                   at=T + timedelta(minutes=minutes))


def paid(allocation) -> dict[str, int]:
    return helpers.by_external_id(contributor_amounts(db.session, allocation))


# ---- the rule, one contributor at a time ---------------------------------------------------------

def test_opt_out_includes_everyone_by_default_except_opt_in_regions(made):
    assert [eligible(made, p) for p in ("us", "br", "fr", "kr")] == [True, True, False, False]


def test_an_opt_in_region_counts_only_once_granted(made):
    decide(made, "fr", "granted")
    assert eligible(made, "fr")
    assert not eligible(made, "kr")
    decide(made, "kr", "granted", dataset_level=False)  # platform-wide grants count too
    assert eligible(made, "kr")


def test_an_opt_in_dataset_needs_a_grant_from_everyone(owner):
    made = helpers.dataset(owner, [("us", "US", 1), ("br", "BR", 1), ("fr", "FR", 1)], policy="opt_in")
    assert [eligible(made, p) for p in ("us", "br", "fr")] == [False, False, False]
    decide(made, "us", "granted", dataset_level=False)
    decide(made, "fr", "granted", scope="ai-train")
    assert [eligible(made, p) for p in ("us", "br", "fr")] == [True, False, True]


def test_a_withdrawal_excludes_for_its_scope(made):
    decide(made, "us", "withdrawn", scope="ai-train")
    assert not eligible(made, "us")
    assert eligible(made, "us", scopes=("ai-input",))


def test_a_license_with_two_scopes_needs_consent_for_both(made):
    decide(made, "fr", "granted", scope="ai-train")
    assert eligible(made, "fr", scopes=("ai-train",))
    assert not eligible(made, "fr", scopes=("ai-train", "ai-input"))
    decide(made, "fr", "granted", scope="ai-input")
    assert eligible(made, "fr", scopes=("ai-train", "ai-input"))
    # Under opt-out, a withdrawal of either scope excludes from a license granting both.
    decide(made, "us", "withdrawn", scope="ai-input")
    assert eligible(made, "us", scopes=("ai-train",))
    assert not eligible(made, "us", scopes=("ai-train", "ai-input"))
    # A scope named twice is still one scope.
    assert eligible(made, "fr", scopes=("ai-train", "ai-train"))


def test_the_dataset_decision_beats_the_platform_wide_one(made):
    decide(made, "us", "withdrawn", dataset_level=False, minutes=-1)
    decide(made, "us", "granted", dataset_level=True, minutes=-5)
    assert eligible(made, "us")  # more specific, though older
    decide(made, "fr", "granted", dataset_level=False, minutes=-1)
    decide(made, "fr", "withdrawn", dataset_level=True, minutes=-5)
    assert not eligible(made, "fr")


def test_a_dataset_wide_decision_beats_a_platform_scope_one(made):
    decide(made, "us", "withdrawn", dataset_level=False, scope="ai-train", minutes=-1)
    decide(made, "us", "granted", dataset_level=True, scope="*", minutes=-5)
    assert eligible(made, "us")


def test_a_named_scope_beats_all_scopes(made):
    decide(made, "fr", "granted", scope="ai-train", minutes=-5)
    decide(made, "fr", "withdrawn", scope="*", minutes=-1)
    assert eligible(made, "fr")
    assert not eligible(made, "fr", scopes=("search",))
    decide(made, "us", "withdrawn", scope="ai-train", minutes=-5)
    decide(made, "us", "granted", scope="*", minutes=-1)
    assert not eligible(made, "us")
    assert eligible(made, "us", scopes=("ai-input",))


def test_the_latest_wins_among_equals(made):
    decide(made, "fr", "granted", minutes=-5)
    decide(made, "fr", "withdrawn", minutes=-3)
    assert not eligible(made, "fr")
    decide(made, "fr", "granted", minutes=-1)
    assert eligible(made, "fr")
    # Recorded in another order than their times: the time decides, not the order of recording.
    decide(made, "us", "granted", minutes=-2)
    decide(made, "us", "withdrawn", minutes=-4)
    assert eligible(made, "us")


def test_another_datasets_decision_does_not_apply(owner, made):
    other = helpers.dataset(owner, [("us", "US", 1), ("fr", "FR", 1)])
    decide(made, "us", "withdrawn", dataset=other)
    decide(made, "fr", "granted", dataset=other)
    assert eligible(made, "us") and not eligible(made, "fr")
    assert not eligible(other, "us") and eligible(other, "fr")


def test_decisions_after_the_payment_do_not_count(made):
    decide(made, "us", "withdrawn", minutes=+1)
    decide(made, "fr", "granted", minutes=+1)
    assert eligible(made, "us") and not eligible(made, "fr")
    assert not eligible(made, "us", at=T + timedelta(minutes=2))
    assert eligible(made, "fr", at=T + timedelta(minutes=2))
    decide(made, "br", "withdrawn", minutes=0)  # at the payment's very time: it counts
    assert not eligible(made, "br")


# ---- the same rule in what allocations pay -------------------------------------------------------

def test_allocations_decide_eligibility_at_payment_time(made):
    decide(made, "fr", "granted", minutes=-1)
    first = helpers.pay(made, 10_000)
    decide(made, "us", "withdrawn", scope="ai-train", minutes=+1)
    later = helpers.pay(made, 10_000, at=T + timedelta(minutes=2))
    input_only = helpers.pay(made, 10_000, at=T + timedelta(minutes=2), scopes=("ai-input",))
    # Pool 4750 among us, fr, br (kr never granted): 1583.33 each → 1584 to the first key, "br".
    assert paid(first) == {"br": 1584, "fr": 1583, "us": 1583}
    # The withdrawal excludes us from the later ai-train payment only: 4750 / 2.
    assert paid(later) == {"br": 2375, "fr": 2375}
    assert paid(input_only) == {"br": 1584, "fr": 1583, "us": 1583}
    # Money already allocated stays allocated.
    assert paid(first)["us"] == 1583


def test_an_opt_in_dataset_allocates_only_to_those_who_granted(owner):
    made = helpers.dataset(owner, [("us", "US", 3), ("br", "BR", 1), ("fr", "FR", 1)], policy="opt_in")
    nobody = helpers.pay(made, 10_000)
    assert (nobody.eligible_count, nobody.unallocated) == (0, 4750)
    decide(made, "fr", "granted", scope="ai-train", minutes=-1)
    decide(made, "us", "granted", dataset_level=False, minutes=-1)
    two = helpers.pay(made, 10_000, scopes=("ai-train", "ai-input"))
    assert paid(two) == {"us": 4750}  # fr granted ai-train only
    both = helpers.pay(made, 10_000, scopes=("ai-train", "ai-train"))
    # A scope named twice is one scope: 3562.5 and 1187.5, the tied half unit to "fr" (< "us").
    assert paid(both) == {"us": 3562, "fr": 1188}
    assert both.scopes == ["ai-train"]


def test_bad_decisions_are_refused(owner, made):
    person = helpers.contributor(made, "us")
    with pytest.raises(Invalid, match="status"):
        record_consent(db.session, person, status="maybe", source="test")
    with pytest.raises(Invalid, match="scope"):
        record_consent(db.session, person, status="granted", scope="mining", source="test")
    foreign = helpers.dataset(helpers.platform(), [("x", "US", 1)])
    with pytest.raises(Invalid, match="dataset"):
        record_consent(db.session, person, status="granted", dataset=foreign, source="test")
