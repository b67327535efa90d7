"""The demo's history: consent people gave, licenses bought and paid, one refund, a claimed person.

So that a newcomer's first look at statements and transparency pages shows real figures.
Everything goes through the services the app uses: consent through the platform import,
licenses through `create_license`, payments through `mark_succeeded` and `settle` (the
webhook's own path: activation, allocation, the ledger). Only the processor is left out: the
demo loads before the local Stripe server starts, so its payments are recorded as already
made (intent ids `pi_demo_…`), and refunding them through the processor isn't possible.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organization, User
from marketplace.catalog.models import Contributor, Dataset, Offer
from marketplace.consent import imports
from marketplace.contributors.identities import link
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.licensing.services import create_license
from marketplace.money import Money
from marketplace.payments import services as payments
from marketplace.payments.models import Payment

#: (dataset slug, offer name) bought by the demo buyer, in this order.
PURCHASES = (
    ("threadline-posts", "Model training, worldwide, 12 months"),
    ("threadline-posts", "Retrieval and grounding, renewed yearly"),
    ("threadline-replies", "Evaluation sets"),
    ("aperture-captions", "Indexing and search"),
    ("aperture-alt-text", "Accessibility evaluation"),
)
#: The purchase refunded in part, and how much of its price in percent (a complaint about coverage).
REFUNDED, REFUND_PERCENT = 2, 25
#: Of contributors in opt-in regions, the share who granted every use when their platform asked.
GRANTED = 0.45
#: Of the others, the share who withdrew from AI training.
WITHDREW_TRAINING = 0.06


@dataclass(frozen=True)
class Person:
    """A demo contributor with a Dividend account: identities on both platforms."""

    email: str
    password: str
    identities: tuple[str, ...]


PERSON = Person("maya@people.example.test", "demo-contributor-pass", ("tl-00000", "ap-00000"))


def import_consent(seed: int, platform: Organization, people: list[tuple[str, str]],
                   opt_in_regions: frozenset[str]) -> int:
    """Decisions the platform collected in its own onboarding survey, imported with that source."""
    rng = random.Random(f"{seed}/consent/{platform.slug}")
    # People whom no record names were never created as contributors.
    known = set(db.session.scalars(select(Contributor.external_id).where(Contributor.platform_id == platform.id)))

    def lines():
        n = 0
        for external_id, region in people:
            if external_id in PERSON.identities or external_id not in known:
                continue  # the demo person decides for themself
            if region in opt_in_regions and rng.random() < GRANTED:
                status, scope = "granted", "*"
            elif region not in opt_in_regions and rng.random() < WITHDREW_TRAINING:
                status, scope = "withdrawn", "ai-train"
            else:
                continue
            n += 1
            yield n, {"contributor": external_id, "dataset": None, "scope": scope, "status": status,
                      "at": "2024-06-01T09:00:00Z"}

    return imports.import_consents(db.session, platform.id, lines(), source="onboarding survey 2024",
                                   recorded_by=None).imported


def paid_license(buyer: Organization, user: User, offer_id: int, *, tag: str):
    """A license for `offer_id`, paid without a card processor: the payment recorded as the webhook
    records one (ids `pi_<tag>_…`), then settled. Returns (license, payment, allocation)."""
    license, _ = create_license(db.session, buyer=buyer, user=user, offer_id=offer_id)
    payment = Payment(license_id=license.id, payment_intent_id=f"pi_{tag}_{license.id}",
                      client_secret=f"pi_{tag}_{license.id}_secret_{tag}", amount=license.price_amount,
                      currency=license.currency, purpose="initial")
    db.session.add(payment)
    db.session.flush()
    payments.mark_succeeded(db.session, payment, charge_id=f"ch_{tag}_{license.id}", at=utcnow())
    payments.settle(db.session, payment.id)
    return license, payment, payments.allocation_of(db.session, payment)


def sell(buyer: Organization, user: User, purchases: range | None = None) -> list[str]:
    """Buy and pay PURCHASES (or those numbered in `purchases`); refund one in part. Returns a line
    per sale."""
    done = []
    for n, (slug, offer_name) in enumerate(PURCHASES):
        if purchases is not None and n not in purchases:
            continue
        offer = db.session.scalar(select(Offer).join(Dataset).where(Dataset.slug == slug, Offer.name == offer_name))
        license, payment, allocation = paid_license(buyer, user, offer.id, tag="demo")
        line = (f"license #{license.id}: {slug} / {offer_name}, {Money(license.price_amount, license.currency)} "
                f"shared among {allocation.eligible_count:,} contributors")
        if n == REFUNDED:
            refund = payment.amount * REFUND_PERCENT // 100
            payments.record_refunded_total(db.session, payment, refund, key=f"demo-refund:{payment.id}")
            line += f", {Money(refund, payment.currency)} refunded"
        done.append(line)
    return done


#: Other claimed people (no log-in printed): how many per platform.
OTHER_CLAIMED = 3


def claim_others(platform_ids: list[int], skip: set[str]) -> list[User]:
    """A few more people who claimed one identity each, the first contributors of each platform."""
    people = []
    for platform_id in platform_ids:
        found = db.session.scalars(select(Contributor).where(
            Contributor.platform_id == platform_id, Contributor.user_id.is_(None),
            Contributor.external_id.not_in(skip)).order_by(Contributor.external_id).limit(OTHER_CLAIMED))
        for contributor in found:
            user = accounts.create_user(db.session, f"{contributor.external_id}@people.example.test",
                                        "demo-contributor-pass", role="contributor")
            link(db.session, contributor, user)
            people.append(user)
    return people


def pay_out(payees: list[User], platforms: list[Organization], *, currency: str, threshold: int,
            settle: bool) -> str:
    """Batch payout accounts for `payees` and `platforms` (PayPal-style e-mails), then a run: every
    payable due reserved; with `settle`, the processor's results imported as all paid."""
    from marketplace.payouts import batch as payout_batch
    from marketplace.payouts import services as payouts
    from marketplace.payouts.accounts import Payee, account_of, set_batch_account

    for user in payees:
        if account_of(db.session, Payee(user_id=user.id)) is None:
            set_batch_account(db.session, Payee(user_id=user.id), user.email.replace("people", "paypal"))
    for platform in platforms:
        if account_of(db.session, Payee(organization_id=platform.id)) is None:
            set_batch_account(db.session, Payee(organization_id=platform.id), f"payouts@{platform.slug}.example.test")
    run = payouts.start_run(db.session, currency=currency, threshold=threshold, started_by="demo")
    reserved = payouts.reserve_all(db.session, run)
    line = f"payout run #{run.id}: {len(reserved)} payouts, {Money(sum(r.amount for r in reserved), currency)}"
    if settle:
        payout_batch.import_results(db.session, run.id, "".join(f"{r.id},paid\n" for r in reserved))
        return line + ", paid (the processor's results imported)"
    return line + ", in transit (its batch file awaits the processor)"


def claim_person(platform_ids: list[int]) -> User:
    """PERSON's account, holding their identity on each demo platform."""
    user = accounts.create_user(db.session, PERSON.email, PERSON.password, role="contributor")
    for external_id in PERSON.identities:
        contributor = db.session.scalar(select(Contributor).where(
            Contributor.platform_id.in_(platform_ids), Contributor.external_id == external_id))
        link(db.session, contributor, user)
    return user
