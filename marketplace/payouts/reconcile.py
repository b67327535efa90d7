"""Reconciliation: the ledger's payouts against the processors' word.

Ledger side: per payout, what its `payout:{id}:paid` and `payout:{id}:reversed`
transactions left on `paid_out` (the ledger's entries, not the payouts table).
Processor side: Stripe's transfers carrying our `payout_id` metadata, net of
their reversals; the batch processor's imported `paid` results at the amount
the file sent. Every difference is listed: money the ledger says left that the
processor doesn't show (`missing_at_processor`), money the processor moved that
the ledger doesn't show (`missing_in_ledger`), and different amounts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.ledger.models import LedgerEntry, LedgerTransaction
from marketplace.payments.gateway import PaymentGateway
from marketplace.payouts.models import Payout, PayoutAccount, PayoutResult, Provider


@dataclass
class Reconciliation:
    matched: int = 0
    missing_at_processor: list[dict] = field(default_factory=list)
    missing_in_ledger: list[dict] = field(default_factory=list)
    amount_mismatch: list[dict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing_at_processor or self.missing_in_ledger or self.amount_mismatch)

    def as_dict(self) -> dict:
        return {"matched": self.matched, "missing_at_processor": self.missing_at_processor,
                "missing_in_ledger": self.missing_in_ledger, "amount_mismatch": self.amount_mismatch}


def ledger_paid_out(session: Session) -> dict[int, int]:
    """Per payout id, the net amount its postings left on `paid_out`."""
    totals: dict[int, int] = {}
    rows = session.execute(
        select(LedgerTransaction.idempotency_key, LedgerEntry.amount)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.kind == "payout", LedgerEntry.account == "paid_out"))
    for key, amount in rows:
        payout_id = int(key.split(":")[1])
        totals[payout_id] = totals.get(payout_id, 0) + int(amount)
    return totals


def _uses_stripe(session: Session) -> bool:
    return session.scalar(select(PayoutAccount.id).where(PayoutAccount.stripe_account_id.is_not(None)).limit(1)) \
        is not None or session.scalar(select(Payout.id).where(Payout.provider == Provider.STRIPE).limit(1)) is not None


def processor_paid(session: Session, gateway: PaymentGateway | None) -> tuple[dict[int, dict], list[dict]]:
    """Per payout id, what the processor paid ({amount, provider, transfer_id}), and Stripe transfers
    that name no payout of ours. :raise GatewayError: Stripe could not be listed."""
    paid: dict[int, dict] = {}
    strangers: list[dict] = []
    rows = session.execute(select(PayoutResult.payout_id, Payout.amount)
                           .join(Payout, Payout.id == PayoutResult.payout_id).where(PayoutResult.status == "paid"))
    for payout_id, amount in rows:
        paid[int(payout_id)] = {"amount": int(amount), "provider": "batch", "transfer_id": None}
    if gateway is not None and _uses_stripe(session):
        for transfer in gateway.list_transfers():
            raw = str(transfer.metadata.get("payout_id", ""))
            net = transfer.amount - transfer.amount_reversed
            if not raw.isdecimal():
                strangers.append({"payout_id": None, "transfer_id": transfer.id, "ledger": 0, "processor": net})
                continue
            paid[int(raw)] = {"amount": net, "provider": "stripe", "transfer_id": transfer.id}
    return paid, strangers


def reconcile(session: Session, gateway: PaymentGateway | None) -> Reconciliation:
    """Compare; raises GatewayError when Stripe can't be listed."""
    ledger = ledger_paid_out(session)
    processor, strangers = processor_paid(session, gateway)
    result = Reconciliation(missing_in_ledger=list(strangers))
    for payout_id in sorted(set(ledger) | set(processor)):
        booked = ledger.get(payout_id, 0)
        seen = processor.get(payout_id)
        paid = seen["amount"] if seen else 0
        item = {"payout_id": payout_id, "transfer_id": seen["transfer_id"] if seen else None,
                "ledger": booked, "processor": paid}
        if booked == paid:
            if booked:
                result.matched += 1
        elif paid == 0:
            result.missing_at_processor.append(item)
        elif booked == 0:
            result.missing_in_ledger.append(item)
        else:
            result.amount_mismatch.append(item)
    return result
