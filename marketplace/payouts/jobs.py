"""Payout jobs: Stripe transfers after a run commits, and the daily run.

Not `jobs.task`: that wraps a job in one transaction, and a payout job needs
several (each transfer's outcome commits on its own; see runner.py).
"""
from __future__ import annotations

from huey import crontab

from marketplace import jobs


@jobs.huey.task()
def send_stripe_payouts() -> None:
    """Transfer every Stripe payout in transit (each outcome its own transaction)."""
    from marketplace.payouts import runner

    with jobs._state["app"].app_context():
        runner.send_transfers(None, runner.Outcome(run_id=0))


@jobs.huey.periodic_task(crontab(hour="6", minute="0"))
def daily_payout_run() -> None:
    """Every day at 06:00 UTC: a run (reserve in committed batches, then the Stripe transfers)."""
    from marketplace.payouts import runner

    with jobs._state["app"].app_context():
        runner.run(started_by="job")
