"""Running payouts outside a request: reservation batches, then the Stripe transfers.

Each step is its own committed transaction (`boundary.unit_of_work`):

1. the run's row and its skipped counts;
2. reservation batches (payable → in transit, per-payout keys), committed before
   any provider hears of them;
3. for every Stripe payout in transit (this run's and any earlier run's that a
   crash or a timeout left behind): the transfer, with idempotency key
   `payout:{id}`, called outside any database transaction; then its outcome,
   committed: created → paid; definitively refused → failed (the money returns
   to the payable); a timeout, 5xx or lost response → left in transit, and the
   next run calls again with the same key, so Stripe makes at most one transfer. Stripe
   prunes keys after 24 hours: a payout reserved longer ago than KEY_LIFETIME is first
   looked for among its run's transfer group, and recorded if Stripe has it.

A crash between any two steps leaves a state the next run finishes from.
Batch payouts wait in transit for the processor's results (batch.import_results).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from marketplace.boundary import unit_of_work
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.payments.gateway import GatewayError, PaymentGateway, TransferRefused
from marketplace.payouts import outcomes, services
from marketplace.payouts.models import PAYABLES, Payout, PayoutRun, PayoutStatus, Provider

#: Payouts reserved per committed transaction.
BATCH = 5000
#: Stripe keeps an idempotency key at least this long; after it, a retry looks before it creates.
KEY_LIFETIME = timedelta(hours=23)

Progress = Callable[[str, int], None]


@dataclass
class Outcome:
    run_id: int
    reserved: int = 0
    total: int = 0
    skipped: dict = field(default_factory=dict)
    #: Stripe transfers: created now, refused now, left in transit for the next run.
    sent: int = 0
    refused: int = 0
    retrying: int = 0


def _nothing(_what: str, _count: int) -> None:
    return None


def run(*, started_by: str, gateway: PaymentGateway | None = None, progress: Progress = _nothing,
        batch: int = BATCH) -> Outcome:
    """A whole run: reserve in committed batches, then send what the Stripe provider sends."""
    config = current_app.config
    session = db.session

    def start():
        started = services.start_run(session, currency=config["CURRENCY"], threshold=config["PAYOUT_THRESHOLD"],
                                     started_by=started_by)
        return started.id, started.due, {"below_threshold": started.below_threshold,
                                         "no_account": started.no_account, "negative": started.negative}

    run_id, due, skipped = unit_of_work(start)
    outcome = Outcome(run_id, skipped=skipped)
    progress("due", due)
    for account in PAYABLES:
        after = -1
        while True:
            def reserve(after=after, account=account):
                return services.reserve_batch(session, session.get(PayoutRun, run_id), account,
                                              after=after, limit=batch)

            done = unit_of_work(reserve)
            outcome.reserved += len(done.reserved)
            outcome.total += sum(ref.amount for ref in done.reserved)
            progress("reserved", len(done.reserved))
            if len(done.reserved) < batch:
                break
            after = done.last_owner
    send_transfers(gateway, outcome, progress)
    return outcome


def pending_transfer_ids() -> list[int]:
    return unit_of_work(lambda: list(db.session.scalars(
        select(Payout.id).where(Payout.provider == Provider.STRIPE, Payout.status == PayoutStatus.IN_TRANSIT)
        .order_by(Payout.id))), write=False)


def send_transfers(gateway: PaymentGateway | None, outcome: Outcome, progress: Progress = _nothing) -> Outcome:
    """Send every Stripe payout in transit, one at a time, each outcome committed on its own."""
    pending = pending_transfer_ids()
    progress("to_send", len(pending))
    for payout_id in pending:
        result = send_transfer(gateway, payout_id)
        setattr(outcome, result, getattr(outcome, result) + 1)
        progress("sent", 1)
    return outcome


def send_transfer(gateway: PaymentGateway | None, payout_id: int) -> str:
    """One Stripe payout: "sent", "refused" or "retrying" (left in transit)."""
    if gateway is None:
        gateway = current_app.extensions["payment_gateway"]
    facts = unit_of_work(lambda: _facts(payout_id), write=False)
    if facts is None:
        return "sent"  # settled meanwhile (another run): nothing to do
    try:
        if utcnow() - facts["created_at"] > KEY_LIFETIME:
            # Stripe may have pruned the key: a transfer an earlier call made would not be
            # replayed but made again. Look for it first.
            found = _already_made(gateway, payout_id, facts["run_id"])
            if found is not None:
                unit_of_work(lambda: outcomes.mark_paid(db.session, payout_id, transfer_id=found))
                return "sent"
        transfer = gateway.create_transfer(
            amount=facts["amount"], currency=facts["currency"], destination=facts["destination"],
            transfer_group=f"payout_run:{facts['run_id']}", metadata={"payout_id": str(payout_id)},
            idempotency_key=f"payout:{payout_id}")
    except TransferRefused as error:
        reason = f"Stripe refused: {error}"
        unit_of_work(lambda: outcomes.mark_failed(db.session, payout_id, reason))
        return "refused"
    except GatewayError:
        return "retrying"
    unit_of_work(lambda: outcomes.mark_paid(db.session, payout_id, transfer_id=transfer.id))
    return "sent"


def _already_made(gateway: PaymentGateway, payout_id: int, run_id: int) -> str | None:
    """The id of a transfer of the payout's run group that names this payout, if Stripe has one."""
    for transfer in gateway.list_transfers(transfer_group=f"payout_run:{run_id}"):
        if str(transfer.metadata.get("payout_id")) == str(payout_id):
            return transfer.id
    return None


def _facts(payout_id: int) -> dict | None:
    payout = db.session.get(Payout, payout_id)
    if payout is None or payout.status != PayoutStatus.IN_TRANSIT:
        return None
    return {"amount": payout.amount, "currency": payout.currency, "destination": payout.destination,
            "run_id": payout.run_id, "created_at": payout.created_at}
