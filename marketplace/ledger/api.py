"""JSON API: the admin's ledger check."""
from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, require_api
from marketplace.extensions import db
from marketplace.ledger.check import run_check
from marketplace.ledger.schemas import LedgerCheckSchema

blp = Blueprint("ledger_api", __name__, description="Ledger health (admins)")


@blp.route("/admin/ledger/check", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("admin")
@blp.response(200, LedgerCheckSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Admins only.")
def ledger_check():
    """Verify every ledger invariant now and answer; nothing is recorded (a GET never writes:
    the admin page's "Run check" and `flask ledger check` record their runs)."""
    return run_check(db.session)
