"""Admin page: ledger totals by account kind and the last check."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select

from marketplace.accounts.guards import admin_only, csrf_ok
from marketplace.extensions import db
from marketplace.ledger.check import record_check, run_check, totals_by_account_kind
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
    admin_only()
    csrf_ok()
    result = run_check(db.session)
    record_check(db.session, result)
    db.session.commit()
    flash("Every invariant holds." if result.balanced else f"{len(result.violations)} violation(s) found.",
          "success" if result.balanced else "error")
    return redirect(url_for("ledger.overview"))
