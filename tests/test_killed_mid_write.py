"""kill -9 in the middle of writing money: the job worker while it allocates payments, and
`flask payouts run` while it reserves payouts, each killed at random moments and started again.

Afterwards `flask ledger check` passes, each payment is allocated by exactly one ledger
transaction, and each payable is paid out exactly once (never twice).

The payments' settlement jobs are lost on purpose (queued in this process's memory and dropped):
what the worker finds is what a worker killed after taking a job from the queue leaves, a
succeeded payment with no allocation, which every worker start settles
(payments.jobs.settle_stranded_payments). The processes are real: children forked by
tests/killable.py, each running the `flask` command, on a database and a job queue of their own.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace import jobs
from marketplace.accounts import services as accounts
from marketplace.catalog.models import Contributor
from marketplace.contributors.identities import link
from marketplace.extensions import db
from marketplace.payments.gateway import StripeGateway
from marketplace.payouts import batch
from marketplace.payouts.accounts import Payee, set_batch_account
from tests import factories, isolated
from tests.conftest import BACKEND, ROOT
from tests.ledger import helpers as ledger
from tests.licensing import helpers

pytestmark = pytest.mark.isolated_db

KILLS = 10
#: Contributors of the dataset: each allocation writes one ledger entry per contributor, enough
#: rows that a settlement takes long enough to be killed halfway through it.
CONTRIBUTORS = 3_000
PAYMENTS = 16
PRICE = 1_000_000
#: Contributors with a payout account, reserved a few per committed batch by `payouts run`.
PAYEES = 240
PAYOUT_BATCH = 4


@pytest.fixture
def market(app, tmp_path, localstripe_url):
    """An app on a database of its own (SQLite file or PostgreSQL schema), its URL, and the
    environment of processes working on it (a SQLite job queue of their own)."""
    if BACKEND == "postgresql":
        context = isolated.isolated_app("killed", connections=4)
    else:
        context = isolated.app_on(f"sqlite:///{tmp_path / 'killed.sqlite3'}")
    with context as made:
        made.extensions["payment_gateway"] = StripeGateway(made.config["STRIPE_SECRET_KEY"], localstripe_url)
        made.config["PII_INLINE_SCAN_MAX"] = 2 * CONTRIBUTORS * 3  # the records are scanned before the freeze
        env = {
            **os.environ,
            "DIVIDEND_DATABASE_URL": made.config["SQLALCHEMY_DATABASE_URI"],
            "DIVIDEND_JOBS": str(tmp_path / "jobs.sqlite3"),
            "DIVIDEND_SECRET_KEY": "killed-test-secret-not-real",
            "DIVIDEND_STRIPE_SECRET_KEY": made.config["STRIPE_SECRET_KEY"],
            "DIVIDEND_STRIPE_API_BASE": localstripe_url,
            "DIVIDEND_RATELIMIT_STORAGE_URI": "memory://",
            "DIVIDEND_PAYOUT_THRESHOLD": "100",
        }
        yield made, env


class Launcher:
    """tests/killable.py: forks a `flask` command on request; the test kills it by pid."""

    def __init__(self, env: dict, logs: Path):
        self.logs = logs
        self.process = subprocess.Popen([sys.executable, "-m", "tests.killable", str(logs)], env=env, cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._answer() == "ready"

    def _answer(self) -> str:
        line = self.process.stdout.readline().strip()
        assert line, f"the launcher died ({self.process.poll()})"
        return line

    def run(self, *args: str) -> int:
        self.process.stdin.write(f"run {' '.join(args)}\n")
        self.process.stdin.flush()
        return int(self._answer())

    def wait(self, pid: int) -> int:
        self.process.stdin.write(f"wait {pid}\n")
        self.process.stdin.flush()
        return int(self._answer())

    def log(self, pid: int) -> str:
        path = self.logs / f"{pid}.log"
        return path.read_text(errors="replace") if path.exists() else ""  # not opened yet

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


def count(made, sql: str, **params) -> int:
    with made.app_context():
        try:
            return int(db.session.execute(sa.text(sql), params).scalar())
        finally:
            db.session.remove()


def payments_lost_in_the_queue(made) -> list[str]:
    """PAYMENTS licenses bought and paid (signed webhook events), whose settlement jobs are lost:
    queued in memory while jobs don't run inline, then dropped. Returns their PaymentIntent ids."""
    client = made.test_client()
    with made.app_context():
        organization, _user, key = accounts.sign_up(
            db.session, "platform", "Killed Co", "killed@example.test", "long enough password")
        people = [(f"p{n:05d}", "US", 1 + n % 3) for n in range(CONTRIBUTORS)]
        slug = ledger.dataset(organization, people).slug
        platform_id = organization.id
        db.session.commit()
        db.session.remove()
    owner = factories.bearer(key.secret)
    offer = client.post(f"/api/v1/datasets/{slug}/offers", headers=owner, json=factories.offer_body(
        price={"model": "flat", "amount": PRICE, "currency": "usd"}))
    assert offer.status_code == 201, offer.get_json()
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=owner).status_code == 200
    intents = []
    jobs.huey.immediate = False
    try:
        for n in range(PAYMENTS):
            buyer = factories.signup(client, "buyer", f"Killed Lab {n}")
            bought = helpers.buy(client, buyer, offer.get_json()["id"])
            assert bought.status_code == 201, bought.get_json()
            license = bought.get_json()
            answer = helpers.post_event(client, made, helpers.succeeded(license, f"ch_killed_{n}"))
            assert answer.status_code == 200, answer.get_json()
            intents.append(license["payment"]["payment_intent_id"])
    finally:
        jobs.huey.immediate = True  # a fresh in-memory queue: the settlement jobs are gone
    with made.app_context():
        # Payout accounts: PAYEES contributors claimed by their own accounts, and the platform.
        contributors = db.session.scalars(sa.select(Contributor).where(Contributor.platform_id == platform_id)
                                          .order_by(Contributor.id).limit(PAYEES)).all()
        for contributor in contributors:
            user = accounts.create_user(db.session, f"{contributor.external_id}@example.test",
                                               "long enough password", role="contributor")
            link(db.session, contributor, user)
            set_batch_account(db.session, Payee(user_id=user.id), f"{contributor.external_id}@paypal.test")
        set_batch_account(db.session, Payee(organization_id=platform_id), "killed-co@paypal.test")
        db.session.commit()
        db.session.remove()
    return intents


def measured(launcher: Launcher, command: list[str], progress, started_work) -> tuple[float, float]:
    """Run `command` until it has made two steps of progress, then kill it. Returns the seconds
    from the moment it started working to its first step, and between its first two steps.

    `started_work()`, called before each start, returns a test of the started pid."""
    working = started_work()
    pid = launcher.run(*command)
    began = wait_for(lambda: working(pid), 120, launcher, pid)
    base = progress()
    first = wait_for(lambda: progress() > base, 120, launcher, pid)
    after_first = progress()
    second = wait_for(lambda: progress() > after_first, 120, launcher, pid)
    os.kill(pid, signal.SIGKILL)
    assert launcher.wait(pid) == -signal.SIGKILL, launcher.log(pid)
    return first - began, second - first


def wait_for(condition, timeout: float, launcher: Launcher, pid: int) -> float:
    """Poll until `condition()`; returns the time it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, launcher.log(pid)
        time.sleep(0.01)
    return time.monotonic()


def kill_at_random(launcher: Launcher, command: list[str], rng: random.Random, started_work, progress, *,
                   total: int, steps: int, step: int, lead: float, each: float) -> list[tuple[int, int]]:
    """KILLS times: start `command`; once it started working (see `measured`), let it complete a
    random number of steps (0 to `steps` - 1; a step advances `progress` by `step`), then kill -9
    it at a random moment of the next one (`lead` seconds for the first step, `each` after).
    Returns each kill's (progress before, progress after)."""
    kills = []
    for _ in range(KILLS):
        before, working = progress(), started_work()
        pid = launcher.run(*command)
        wait_for(lambda pid=pid, working=working: working(pid), 120, launcher, pid)
        done = rng.randrange(steps)
        target = min(total, before + done * step)
        wait_for(lambda target=target: progress() >= target, 120, launcher, pid)
        time.sleep(rng.uniform(0, each if done else lead))
        os.kill(pid, signal.SIGKILL)
        assert launcher.wait(pid) == -signal.SIGKILL, launcher.log(pid)
        kills.append((before, progress()))
    return kills


def test_killed_ten_times_while_allocating_and_paying_out(market, tmp_path):
    made, env = market
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    began = time.monotonic()
    intents = payments_lost_in_the_queue(made)
    print(f"\nset-up: {PAYMENTS} payments over {CONTRIBUTORS} contributors, {PAYEES} payees, "
          f"{time.monotonic() - began:.1f} s")
    keys = [f"payment:{intent}" for intent in intents]
    allocated = lambda: count(made, "SELECT COUNT(*) FROM allocations")
    assert allocated() == 0

    logs = tmp_path / "logs"
    logs.mkdir()
    launcher = Launcher(env, logs)
    try:
        # The worker: each start settles the stranded payments, one transaction each. Each kill
        # lands after 0 or 1 settlements, somewhere in the next.
        worker = ["worker", "-w", "2", "--no-periodic"]
        def sweep():
            return lambda pid: "Executing marketplace.payments.jobs.settle_stranded_payments" in launcher.log(pid)

        first, each = measured(launcher, worker, allocated, sweep)
        kills = kill_at_random(launcher, worker, rng, sweep, allocated, total=PAYMENTS, steps=2, step=1,
                               lead=first, each=each)
        interrupted = sum(1 for _before, after in kills if after < PAYMENTS)
        print(f"seed {seed}: a settlement takes {each:.2f} s, the first {first:.2f} s after the sweep "
              f"starts; allocations before and after each kill: {kills}")
        assert interrupted >= KILLS // 3, (seed, kills)  # kills landed while there was work

        pid = launcher.run("worker", "-w", "2", "--no-periodic")
        deadline = time.monotonic() + 120
        while allocated() < PAYMENTS and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)  # a clean stop: the queue is empty
        assert launcher.wait(pid) == 0, launcher.log(pid)

        # Each payment allocated by exactly one ledger transaction, and licenses active.
        with made.app_context():
            per_key = dict(db.session.execute(sa.text(
                "SELECT idempotency_key, COUNT(*) FROM ledger_transactions WHERE kind = 'allocation' "
                "GROUP BY idempotency_key")).all())
            per_allocation = dict(db.session.execute(sa.text(
                "SELECT payment_key, COUNT(*) FROM allocations GROUP BY payment_key")).all())
            statuses = db.session.execute(sa.text("SELECT status, COUNT(*) FROM licenses GROUP BY status")).all()
            db.session.remove()
        assert per_key == {key: 1 for key in keys}, (seed, per_key)
        assert per_allocation == {key: 1 for key in keys}
        assert dict(statuses) == {"active": PAYMENTS}

        # What each payee is owed, then payout runs killed while they reserve.
        owed = payables(made)
        assert len(owed) == PAYEES + 1 and all(amount >= 100 for amount in owed.values())
        payouts = lambda: count(made, "SELECT COUNT(*) FROM payouts")
        run = ["payouts", "run", "--batch-size", str(PAYOUT_BATCH)]
        # Each kill lands after 0 to 3 reservation batches (from the run's row, committed first),
        # somewhere in the next.
        def run_started():
            known = count(made, "SELECT COUNT(*) FROM payout_runs")
            return lambda _pid: count(made, "SELECT COUNT(*) FROM payout_runs") > known

        first, each = measured(launcher, run, payouts, run_started)
        kills = kill_at_random(launcher, run, rng, run_started, payouts, total=len(owed), steps=4,
                               step=PAYOUT_BATCH, lead=first, each=each)
        interrupted = sum(1 for _before, after in kills if after < len(owed))
        print(f"seed {seed}: a batch of {PAYOUT_BATCH} payouts takes {each:.2f} s; payouts before and after "
              f"each kill: {kills}")
        assert interrupted >= KILLS // 3, (seed, kills)

        pid = launcher.run(*run)
        assert launcher.wait(pid) == 0, launcher.log(pid)
        ledger_check = launcher.run("ledger", "check")
        assert launcher.wait(ledger_check) == 0, launcher.log(ledger_check)
        assert "OK: every invariant holds." in launcher.log(ledger_check)
    finally:
        launcher.close()

    # Each payable reserved once, for what it was owed; then the processor pays every line once.
    with made.app_context():
        rows = db.session.execute(sa.text(
            "SELECT account, owner_id, COUNT(*), SUM(amount) FROM payouts GROUP BY account, owner_id")).all()
        assert {(account, owner): (int(n), int(total)) for account, owner, n, total in rows} == {
            payable: (1, amount) for payable, amount in owed.items()}
        for run_id in db.session.scalars(sa.text("SELECT DISTINCT run_id FROM payouts ORDER BY run_id")).all():
            lines = db.session.scalars(sa.text("SELECT id FROM payouts WHERE run_id = :run"), {"run": run_id}).all()
            results = "".join(f"{payout_id},paid\n" for payout_id in lines)
            db.session.commit()
            assert batch.import_results(db.session, run_id, results)["paid"] == len(lines)
            db.session.commit()
        paid = dict(db.session.execute(sa.text(
            "SELECT status, COUNT(*) FROM payouts GROUP BY status")).all())
        assert paid == {"paid": len(owed)}
        assert ledger_total(made, "paid_out") == sum(owed.values())
        assert ledger_total(made, "payouts_in_transit") == 0
        from marketplace.ledger.check import run_check

        result = run_check(db.session)
        assert result.balanced, result.violations
        db.session.remove()


def payables(made) -> dict[tuple[str, int], int]:
    """Each payable with a ready payout account and its balance."""
    with made.app_context():
        rows = db.session.execute(sa.text(
            "SELECT e.account, e.owner_id, SUM(e.amount) FROM ledger_entries e "
            "WHERE e.account IN ('contributor_payable', 'platform_payable') AND ("
            " (e.account = 'contributor_payable' AND e.owner_id IN (SELECT c.id FROM contributors c "
            "   JOIN payout_accounts pa ON pa.user_id = c.user_id)) OR "
            " (e.account = 'platform_payable' AND e.owner_id IN (SELECT organization_id FROM payout_accounts "
            "   WHERE organization_id IS NOT NULL))) "
            "GROUP BY e.account, e.owner_id")).all()
        db.session.remove()
    return {(account, int(owner)): int(amount) for account, owner, amount in rows}


def ledger_total(made, account: str) -> int:
    return count(made, "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = :account",
                 account=account)
