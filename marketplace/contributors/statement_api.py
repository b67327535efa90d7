"""JSON API: the contributor's statement and the ledger transaction behind each line."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.contributors import ledger_entries, statements
from marketplace.contributors.statement_schemas import (
    ContributorStatementSchema,
    LedgerTransactionOfMineSchema,
    StatementArgs,
)
from marketplace.extensions import db
from marketplace.fields import BIG_ID

blp = Blueprint("statement_api", __name__, description="Contributor statements")


def filters_from(args: dict) -> statements.Filters:
    return statements.Filters(start=args.get("start"), end=args.get("end"), dataset=args.get("dataset"))


@blp.route("/me/statement", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.arguments(StatementArgs, location="query")
@blp.response(200, ContributorStatementSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
@blp.alt_response(422, description="Bad page, per_page (max 200), from or to (YYYY-MM-DD, from ≤ to), dataset.")
def my_statement(args):
    """Every allocation (positive) and reversal (negative) line of all your identities, newest
    first; `balance`, `lifetime` and `paid_out` are over all lines, whatever the filters."""
    found = statements.statement(db.session, api_principal().user.id, currency=current_app.config["CURRENCY"],
                                 filters=filters_from(args), page=args["page"], per_page=args["per_page"])
    return {"balance": found.totals.balance, "lifetime": found.totals.lifetime, "paid_out": found.totals.paid_out,
            "items": found.items, "total": found.total, "page": found.page, "per_page": found.per_page}


@blp.route(f"/me/ledger/<{BIG_ID}:transaction_id>", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.response(200, LedgerTransactionOfMineSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
@blp.alt_response(404, description="No entry of yours in that transaction.")
def my_ledger_transaction(transaction_id: int):
    """A statement line's ledger transaction: your entries in it and the allocation's facts."""
    return detail_json(ledger_entries.entry_detail(db.session, api_principal().user.id, transaction_id))


def detail_json(detail: ledger_entries.EntryDetail) -> dict:
    transaction, allocation = detail.transaction, detail.allocation
    body = {"transaction_id": transaction.id, "kind": transaction.kind, "created_at": transaction.created_at,
            "idempotency_key": transaction.idempotency_key, "reverses_id": transaction.reverses_id,
            "refunded_total": transaction.refunded_total, "entries": detail.entries, "allocation": None}
    if allocation is not None:
        money = {name: {"amount": getattr(allocation, name), "currency": allocation.currency}
                 for name in ("gross", "fee", "to_platform", "pool", "unallocated")}
        body["allocation"] = {
            "id": allocation.id, "license_id": allocation.license_id, "dataset": detail.dataset.slug,
            "dataset_title": detail.dataset.title, "buyer": detail.buyer, "scopes": allocation.scopes,
            "paid_at": allocation.paid_at, "fee_bps": allocation.fee_bps,
            "contributor_share_bps": allocation.contributor_share_bps, "weighting": allocation.weighting,
            "total_weight": allocation.total_weight, "eligible_count": allocation.eligible_count,
            "shares": detail.shares, "history": detail.history, **money,
        }
    return body
