"""JSON API: payout accounts and history (contributors, platforms); runs, results, reconciliation (admins)."""
from __future__ import annotations

from flask import Response, current_app, request, stream_with_context
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.body_limits import large_body
from marketplace.boundary import after_commit
from marketplace.errors import Invalid
from marketplace.extensions import PAYOUT_ACCOUNT_CHANGES, db, limiter
from marketplace.fields import BIG_ID
from marketplace.pagination import PageArgs
from marketplace.payments.services import gateway, processor_call
from marketplace.payouts import accounts, batch, reconcile, services
from marketplace.payouts.jobs import send_stripe_payouts
from marketplace.payouts.payees import payables_of, payee_of
from marketplace.payouts.schemas import (
    PayoutAccountArgs,
    PayoutAccountSchema,
    PayoutPageSchema,
    PayoutRunSchema,
    ReconcileSchema,
    ResultsSchema,
)

blp = Blueprint("payouts_api", __name__, description="Payouts")


def account_json(state: accounts.AccountState) -> dict:
    account = state.account
    return {"provider": account.provider, "status": account.status, "email": account.email,
            "onboarding_url": state.onboarding_url}


def payout_json(payout) -> dict:
    return {"id": payout.id, "amount": {"amount": payout.amount, "currency": payout.currency},
            "status": payout.status, "failure_reason": payout.failure_reason, "created_at": payout.created_at,
            "settled_at": payout.settled_at}


def set_account(principal, body: dict) -> accounts.AccountState:
    """The one way both the API and the page set a payout account."""
    payee = payee_of(principal)
    if body["provider"] == "batch":
        return accounts.set_batch_account(db.session, payee, body["email"])
    with processor_call("could not set up the Stripe account"):
        return accounts.set_stripe_account(
            db.session, payee, gateway(), email=body.get("email") or principal.user.email,
            return_url=f"{current_app.config['BASE_URL'].rstrip('/')}/me/payout-account")


@blp.route("/me/payout-account", methods=["PUT"])
@limiter.limit(PAYOUT_ACCOUNT_CHANGES)
@blp.doc(security=BEARER)
@require_api("contributor", "platform")
@blp.arguments(PayoutAccountArgs)
@blp.response(200, PayoutAccountSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts and platforms only.")
@blp.alt_response(422, description="Bad provider or e-mail (named).")
@blp.alt_response(429, description="Too many changes from this address: see Retry-After.")
@blp.alt_response(502, description="Stripe refused or failed: nothing is saved.")
def put_payout_account(body):
    """Where your earnings are paid: `batch` (an e-mail, ready at once) or `stripe` (Connect Express:
    `onboarding` with Stripe's link until Stripe reports payouts enabled)."""
    return account_json(set_account(api_principal(), body))


@blp.route("/me/payouts", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("contributor", "platform")
@blp.arguments(PageArgs, location="query")
@blp.response(200, PayoutPageSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts and platforms only.")
def my_payouts(args):
    """Your payouts, newest first (a contributor's: every claimed identity's)."""
    payables = payables_of(db.session, payee_of(api_principal()))
    items, total = services.payouts_of(db.session, payables, page=args["page"], per_page=args["per_page"])
    return {"items": [payout_json(p) for p in items], "total": total, "page": args["page"],
            "per_page": args["per_page"]}


def start_run(started_by: str) -> dict:
    """Reserve every payable due in this request's transaction; Stripe transfers go after the commit."""
    config = current_app.config
    run = services.start_run(db.session, currency=config["CURRENCY"], threshold=config["PAYOUT_THRESHOLD"],
                             started_by=started_by)
    reserved = services.reserve_all(db.session, run)
    # Stripe payouts (this run's, and any an earlier run left in transit) after the commit.
    after_commit(send_stripe_payouts)
    return {"id": run.id, "payouts": len(reserved),
            "total": {"amount": sum(ref.amount for ref in reserved), "currency": run.currency},
            "skipped": {"below_threshold": run.below_threshold, "no_account": run.no_account,
                        "negative": run.negative}}


@blp.route("/admin/payout-runs", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("admin")
@blp.response(201, PayoutRunSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Admins only.")
def create_run():
    """Reserve every payable at or above the threshold with a ready account (payable → in transit),
    once: a second run pays nothing twice. Stripe payouts are transferred after the commit."""
    return start_run(f"api:{api_principal().user.id}")


@blp.route(f"/admin/payout-runs/<{BIG_ID}:run_id>/batch.csv", methods=["GET"])
@blp.doc(security=BEARER, responses={"200": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
@require_api("admin")
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Admins only.")
@blp.alt_response(404, description="No such run.")
def batch_file(run_id: int):
    """The batch provider's file (PayPal Payouts mass payment, no header): e-mail, amount in major
    units, currency, payout id (reference), note, wallet."""
    lines = batch.file_lines(db.session, run_id)
    first = next(lines)
    return Response(stream_with_context(_chain(first, lines)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="payout-run-{run_id}.csv"'})


def _chain(first, rest):
    yield first
    yield from rest


def results_text() -> str:
    try:
        return request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The results must be UTF-8 text.", {"body": ["Not UTF-8."]}) from None


@blp.route(f"/admin/payout-runs/<{BIG_ID}:run_id>/results", methods=["POST"])
@large_body
@blp.doc(security=BEARER, requestBody={"required": True, "content": {"text/csv": {"schema": {
    "type": "string", "description": "payout_id,status[,reason] lines; status paid or failed."}}}})
@require_api("admin")
@blp.response(200, ResultsSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Admins only.")
@blp.alt_response(404, description="No such run.")
@blp.alt_response(409, description="A line contradicts a payout's settled outcome (named); nothing is written.")
@blp.alt_response(422, description="A bad line (named: \"line N\"); nothing is written.")
def results(run_id: int):
    """The processor's results: paid → paid out, failed → back to the payable; repeats change nothing."""
    return batch.import_results(db.session, run_id, results_text())


@blp.route("/admin/payouts/reconcile", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("admin")
@blp.response(200, ReconcileSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Admins only.")
@blp.alt_response(502, description="Stripe could not be listed.")
def reconcile_payouts():
    """The ledger's payouts against Stripe's transfers and the batch processor's results."""
    with processor_call("could not list transfers"):
        return reconcile.reconcile(db.session, gateway()).as_dict()
