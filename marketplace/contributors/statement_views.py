"""Web pages: the contributor's statement, its CSV and the ledger entries behind each line."""
from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from flask_login import current_user, login_required
from marshmallow import ValidationError

from marketplace.accounts.auth import web_principal
from marketplace.accounts.guards import contributor_only
from marketplace.contributors import ledger_entries, statements
from marketplace.contributors.statement_api import filters_from
from marketplace.contributors.statement_schemas import StatementArgs, StatementFilterArgs
from marketplace.extensions import db
from marketplace.fields import BIG_ID, utc_text
from marketplace.payouts.views import payee_overview
from marketplace.text import spreadsheet_safe

bp = Blueprint("statement", __name__)

PER_PAGE = 50
CSV_HEADER = ("date", "kind", "dataset", "buyer", "scopes", "amount_minor", "currency", "license_id",
              "transaction_id")


def _query_args() -> dict:
    """The query string without empty fields: the filter form sends every field, filled or not."""
    return {key: value for key, value in request.args.items() if value != ""}


@bp.route("/me/statement")
@login_required
def page():
    contributor_only()
    given = _query_args()
    try:
        args = StatementArgs().load({key: value for key, value in given.items() if key != "per_page"})
    except ValidationError as error:
        # The totals and the form still show (the page lists no line until the filters are right).
        unfiltered = statements.statement(db.session, current_user.id, currency=current_app.config["CURRENCY"],
                                          per_page=PER_PAGE)
        return render_template("contributors/statement.html", statement=unfiltered, args=given,
                               errors=error.messages, **payee_overview(web_principal())), 422
    found = statements.statement(db.session, current_user.id, currency=current_app.config["CURRENCY"],
                                 filters=filters_from(args), page=args["page"], per_page=PER_PAGE)
    return render_template("contributors/statement.html", statement=found, args=given, errors=None,
                           **payee_overview(web_principal()))


@bp.route("/me/statement.csv", endpoint="csv")
@login_required
def csv_export():
    """Every line the filters keep, streamed in batches: an export of any length holds one batch."""
    contributor_only()
    try:
        args = StatementFilterArgs().load({k: v for k, v in _query_args().items() if k in ("from", "to", "dataset")})
    except ValidationError as error:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.messages.items())
        abort(422, f"Check the filters: {problems}")
    lines = statements.iter_lines(db.session, current_user.id, currency=current_app.config["CURRENCY"],
                                  filters=filters_from(args))
    return Response(stream_with_context(_csv_rows(lines)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="statement.csv"'})


def _csv_rows(lines):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for n, line in enumerate(lines, 1):
        # The date is written as the API writes it (UTC with a Z); the dataset is its slug
        # (letters, digits, hyphens); the buyer names itself.
        writer.writerow((utc_text(line.created_at), line.kind, line.dataset, spreadsheet_safe(line.buyer),
                         ";".join(line.scopes), line.amount.amount, line.amount.currency,
                         "" if line.license_id is None else line.license_id, line.transaction_id))
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.route(f"/me/ledger/<{BIG_ID}:transaction_id>")
@login_required
def ledger_entry(transaction_id: int):
    # No role check: an account with no entry in the transaction (any buyer, platform or other
    # contributor) gets the service's 404, so the page never says whose a transaction is.
    detail = ledger_entries.entry_detail(db.session, current_user.id, transaction_id)
    return render_template("contributors/ledger_entry.html", detail=detail)
