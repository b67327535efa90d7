"""JSON API: a contributor has their records erased from the store."""
from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.contributors.erasure import request_erasure
from marketplace.contributors.schemas import ErasureRequestSchema, ErasureSchema
from marketplace.extensions import db

blp = Blueprint("erasure_api", __name__, description="Erasure")


@blp.route("/me/erasure", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.arguments(ErasureRequestSchema)
@blp.response(201, ErasureSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
@blp.alt_response(404, description="No identity of yours on that platform.")
def erase(body):
    """Delete your records on a platform from the store; earnings stay in the ledger."""
    done = request_erasure(db.session, api_principal().user.id, platform=body["platform"])
    return {"platform": body["platform"], "records_erased": done.records_erased, "requested_at": done.requested_at}
