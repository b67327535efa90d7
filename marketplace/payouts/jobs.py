"""Payout jobs: Stripe transfers after a run commits, and the daily run.

`transaction=False`: a payout job needs several transactions (each transfer's outcome
commits on its own; see runner.py), so it opens its own.
"""
from __future__ import annotations

from huey import crontab

from marketplace import jobs


@jobs.task(transaction=False)
def send_stripe_payouts() -> None:
    """Transfer every Stripe payout in transit (each outcome its own transaction)."""
    from marketplace.payouts import runner

    runner.send_transfers(None, runner.Outcome(run_id=0))


@jobs.periodic_task(crontab(hour="6", minute="0"), transaction=False)
def daily_payout_run() -> None:
    """Every day at 06:00 UTC: a run (reserve in committed batches, then the Stripe transfers)."""
    from marketplace.payouts import runner

    runner.run(started_by="job")
