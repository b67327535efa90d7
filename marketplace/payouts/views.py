"""Web pages: a payee's payout account and history; the admin's runs, files and results."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from marketplace.accounts.auth import web_principal
from marketplace.accounts.guards import admin_only, csrf_ok
from marketplace.boundary import attempt
from marketplace.errors import DomainError
from marketplace.extensions import PAYOUT_ACCOUNT_CHANGES, db, limiter
from marketplace.fields import BIG_ID
from marketplace.money import Money
from marketplace.payments.gateway import GatewayError
from marketplace.payments.services import gateway
from marketplace.payouts import accounts, batch, reconcile, services
from marketplace.payouts.api import set_account, start_run
from marketplace.payouts.payees import payables_of, payee_of
from marketplace.payouts.schemas import PayoutAccountArgs

bp = Blueprint("payouts", __name__)


def _payee_principal():
    principal = web_principal()
    if principal.kind not in ("contributor", "platform"):
        abort(403, "Payout accounts are for contributors and platforms.")
    return principal


def payee_overview(principal, limit: int = 10) -> dict:
    """The account and the latest payouts, for this page, the statement and the platform report."""
    payee = payee_of(principal)
    payables = payables_of(db.session, payee)
    items, total = services.payouts_of(db.session, payables, per_page=limit)
    currency = current_app.config["CURRENCY"]
    return {"account": accounts.account_of(db.session, payee), "payouts": items, "payouts_total": total,
            "payouts_paid_out": Money(services.paid_out(db.session, payables, currency), currency)}


@bp.route("/me/payout-account", methods=["GET", "POST"])
@limiter.limit(PAYOUT_ACCOUNT_CHANGES, methods=["POST"])
@login_required
def account_page():
    principal = _payee_principal()
    errors, onboarding_url, status = None, None, 200
    if request.method == "POST":
        csrf_ok()
        with attempt() as outcome:
            body = PayoutAccountArgs().load({key: value for key, value in request.form.items()
                                             if key in ("provider", "email") and value != ""})
            state = set_account(principal, body)
        if outcome.ok:
            if state.onboarding_url:
                return redirect(state.onboarding_url)
            flash("Your payout account is saved: the next run pays what you are owed.", "success")
            return redirect(url_for("payouts.account_page"))
        errors, status = outcome.errors, 422
        flash(outcome.message, "error")
    return render_template("payouts/account.html", errors=errors, onboarding_url=onboarding_url,
                           **payee_overview(principal, limit=50)), status


@bp.route("/admin/payouts")
@login_required
def admin_runs():
    admin_only()
    return render_template("payouts/admin.html", runs=services.runs(db.session))


@bp.route("/admin/payouts/runs", methods=["POST"])
@login_required
def admin_start_run():
    admin_only()
    csrf_ok()
    started = start_run(f"page:{current_user.id}")
    flash(f"Run {started['id']} reserved {started['payouts']} payouts.", "success")
    return redirect(url_for("payouts.admin_runs"))


@bp.route(f"/admin/payouts/runs/<{BIG_ID}:run_id>/batch.csv")
@login_required
def admin_batch_file(run_id: int):
    admin_only()
    lines = batch.file_lines(db.session, run_id)
    first = next(lines)

    def chain():
        yield first
        yield from lines

    return Response(stream_with_context(chain()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="payout-run-{run_id}.csv"'})


@bp.route(f"/admin/payouts/runs/<{BIG_ID}:run_id>/results", methods=["POST"])
@login_required
def admin_results(run_id: int):
    admin_only()
    csrf_ok()
    upload = request.files.get("results")
    if upload is None or not upload.filename:
        flash("Choose the processor's results file.", "error")
        return render_template("payouts/admin.html", runs=services.runs(db.session)), 422
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        flash("The results must be UTF-8 text.", "error")
        return render_template("payouts/admin.html", runs=services.runs(db.session)), 422
    with attempt() as outcome:
        counts = batch.import_results(db.session, run_id, text)
    if not outcome.ok:
        if isinstance(outcome.error, DomainError) and outcome.error.code == 404:
            abort(404)
        flash(outcome.message, "error")
        return render_template("payouts/admin.html", runs=services.runs(db.session)), 422
    flash(f"Results imported: {counts['paid']} paid, {counts['failed']} failed.", "success")
    return redirect(url_for("payouts.admin_runs"))


@bp.route("/admin/payouts/reconcile")
@login_required
def admin_reconcile():
    """The ledger's payouts against the processors' word, read now (nothing is written)."""
    admin_only()
    try:
        result, unavailable = reconcile.reconcile(db.session, gateway()), None
    except GatewayError as error:
        result, unavailable = None, str(error)
    return render_template("payouts/reconcile.html", result=result, unavailable=unavailable,
                           currency=current_app.config["CURRENCY"]), 502 if unavailable else 200
