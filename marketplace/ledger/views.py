"""Admin page: ledger totals by account kind and the last check."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_required
from huey.exceptions import TaskException
from sqlalchemy import select

from marketplace.accounts.guards import admin_only, csrf_ok
from marketplace.boundary import after_commit
from marketplace.extensions import db
from marketplace.ledger.check import totals_by_account_kind
from marketplace.ledger.jobs import run_ledger_check
from marketplace.ledger.models import LedgerCheck

bp = Blueprint("ledger", __name__)


@bp.route("/admin/ledger")
@login_required
def overview():
    admin_only()
    last = db.session.scalar(select(LedgerCheck).order_by(LedgerCheck.id.desc()).limit(1))
    return render_template("ledger/overview.html", totals=totals_by_account_kind(db.session), last=last)


@bp.route("/admin/ledger/check", methods=["POST"])
@login_required
def check():
    """Run the check as a job once this request has committed (marketplace/ledger/jobs.py says why)."""
    admin_only()
    csrf_ok()
    after_commit(_start_check)
    return redirect(url_for("ledger.overview"))


def _start_check() -> None:
    """Enqueue the check and tell the admin its result, or that it is running.

    Runs after the commit but still inside the request, before its session cookie is saved, so
    the flash reaches the page the redirect opens.
    """
    pending = run_ledger_check()
    try:
        outcome = pending.get() if pending is not None else None  # None: not run yet (a worker will)
    except TaskException:
        flash("The check failed before it could finish: see the worker's log.", "error")
        return
    if outcome is None:
        flash("The check is running: reload this page for its result.", "info")
        return
    balanced, violations = outcome
    flash("Every invariant holds." if balanced else f"{violations} violation(s) found.",
          "success" if balanced else "error")
