"""Set-up and looks shared by the payments tests: a paid license, SPEC.md's split rule worked by
hand, and what the ledger, the payments tables and the license's `split` hold for it.

Every state is reached through the API, localstripe and signed webhook events (tests/licensing
/helpers.py); rows are only read here, except a license's deadline that the clock passes.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import LedgerEntry, LedgerTransaction
from marketplace.licensing.models import License
from marketplace.payments.gateway import GatewayError
from marketplace.payments.models import Payment, Refund
from tests import factories
from tests.licensing.helpers import buy, get, pay, post_event, succeeded

PRICE = 100_000        # factories.offer_body's flat price
FEE_BPS = 500          # MARKETPLACE_FEE_BPS's default
SHARE_BPS = 5000       # factories.offer_body's contributor share
#: factories.record(i) for i in 0..9 gives u0..u6 the weights 2, 2, 2, 1, 1, 1, 1 (records).
WEIGHTS = [("u0", 2), ("u1", 2), ("u2", 2), ("u3", 1), ("u4", 1), ("u5", 1), ("u6", 1)]
SHARES = ("marketplace_fee", "to_platform", "to_contributors", "unallocated")


# SPEC.md's money rules, by hand (not the application's own split: the tests hold it to SPEC).

def rule(gross: int, fee_bps: int = FEE_BPS, share_bps: int = SHARE_BPS) -> tuple[int, int, int]:
    """(fee, platform, pool) for a gross: every step floored in integers."""
    fee = gross * fee_bps // 10_000
    net = gross - fee
    pool = net * share_bps // 10_000
    return fee, net - pool, pool


def largest_remainder(pool: int, weights=WEIGHTS) -> list[int]:
    """Each contributor's floor, then one cent each to the largest remainders (ties: id ascending)."""
    total = sum(weight for _, weight in weights)
    parts = [divmod(pool * weight, total) for _, weight in weights]
    amounts = [floor for floor, _ in parts]
    order = sorted(range(len(weights)), key=lambda i: (-parts[i][1], weights[i][0].encode()))
    for i in order[:pool - sum(amounts)]:
        amounts[i] += 1
    return amounts


def expected_split(refunded: int, gross: int = PRICE, share_bps: int = SHARE_BPS) -> dict:
    """The license's `split` amounts once `refunded` of a `gross` payment is held back."""
    fee, to_platform, pool = rule(gross - refunded, share_bps=share_bps)
    people = sum(1 for amount in largest_remainder(pool) if amount)
    return {"paid": gross, "refunded": refunded, "marketplace_fee": fee, "to_platform": to_platform,
            "to_contributors": pool, "unallocated": 0, "contributors_paid": people}


# Set-up through the public surface.

def offer(client, platform, **overrides) -> int:
    """A published offer (factories.offer_body with `overrides`) on 10 records by u0..u6."""
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(10)])
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).status_code == 201
    made = client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(**overrides),
                       headers=platform["headers"])
    assert made.status_code == 201, made.get_json()
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    return made.get_json()["id"]


def bought(client, buyer, offer_id: int) -> dict:
    response = buy(client, buyer, offer_id)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver(client, app, body: dict) -> dict:
    """Post a signed event; it must be accepted. Returns the webhook's answer."""
    response = post_event(client, app, body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def paid_license(client, app, gateway, buyer, offer_id: int) -> dict:
    """An active license whose PaymentIntent was really charged on localstripe (so it can be
    refunded there): the license JSON plus its `payment` and `charge_id`."""
    license = bought(client, buyer, offer_id)
    charge = pay(gateway, license)
    deliver(client, app, succeeded(license, charge))
    body = get(client, buyer, license["id"])
    assert body["status"] == "active", body
    return {**body, "payment": license["payment"], "charge_id": charge}


def let_pay_by_pass(license_id: int) -> None:
    """The clock passes the license's 30-minute deadline to pay (the expiry job has not run yet).

    The one row these tests write themselves: time passing is not something the API can do."""
    row = db.session.get(License, license_id)
    row.pay_by = utcnow() - timedelta(seconds=1)
    db.session.commit()


def split_of(client, buyer, license_id: int) -> dict | None:
    """The license's `split` as plain amounts (None before any payment is allocated)."""
    split = get(client, buyer, license_id)["split"]
    if split is None:
        return None
    return {name: value["amount"] if isinstance(value, dict) else value for name, value in split.items()}


def refund_by_admin(client, admin: dict, license_id: int, amount):
    return client.post(f"/api/v1/admin/licenses/{license_id}/refunds", json={"amount": amount}, headers=admin)


# What the rows say.

def ledger_size() -> tuple[int, int]:
    """(transactions, entries) in the whole ledger (each test starts from an empty one)."""
    return (db.session.scalar(select(func.count()).select_from(LedgerTransaction)),
            db.session.scalar(select(func.count()).select_from(LedgerEntry)))


def transaction(key: str) -> LedgerTransaction | None:
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))


def entries(key: str) -> dict[str, int]:
    """The amounts a ledger transaction posted, summed by account kind (accounts with 0 left out)."""
    rows = db.session.execute(
        select(LedgerEntry.account, func.sum(LedgerEntry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.idempotency_key == key).group_by(LedgerEntry.account)).all()
    return {account: int(amount) for account, amount in rows if amount}


def balances() -> dict[str, int]:
    """Every account kind's balance over the whole ledger."""
    rows = db.session.execute(select(LedgerEntry.account, func.sum(LedgerEntry.amount))
                              .group_by(LedgerEntry.account)).all()
    return {account: int(amount) for account, amount in rows}


def contributor_balances() -> list[int]:
    """Each contributor's balance, largest first (the ledger holds one license's payments)."""
    rows = db.session.scalars(select(func.sum(LedgerEntry.amount))
                              .where(LedgerEntry.account == "contributor_payable")
                              .group_by(LedgerEntry.owner_id)).all()
    return sorted((int(amount) for amount in rows), reverse=True)


def payments_of(license_id: int) -> list[Payment]:
    db.session.expire_all()
    return list(db.session.scalars(select(Payment).where(Payment.license_id == license_id).order_by(Payment.id)))


def refunds_of(license_id: int) -> list[Refund]:
    db.session.expire_all()
    return list(db.session.scalars(select(Refund).join(Payment, Payment.id == Refund.payment_id)
                                   .where(Payment.license_id == license_id).order_by(Refund.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


class RefusingGateway:
    """The processor, refusing the named calls with GatewayError and passing the others to `real`.

    `calls` lists every call made, so a test can tell a refusal from a call never attempted.
    """

    def __init__(self, real, refused):
        self.real, self.refused, self.calls = real, set(refused), []

    def create_intent(self, **kwargs):
        return self._call("create_intent", **kwargs)

    def confirm_with_card_token(self, intent_id, token, **kwargs):
        return self._call("confirm_with_card_token", intent_id, token, **kwargs)

    def refund(self, **kwargs):
        return self._call("refund", **kwargs)

    def _call(self, name, *args, **kwargs):
        self.calls.append(name)
        if name in self.refused:
            raise GatewayError(f"{name} refused by the test processor")
        return getattr(self.real, name)(*args, **kwargs)
