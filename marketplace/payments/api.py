"""`POST /webhooks/stripe`: the processor's signed events."""
from __future__ import annotations

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace.boundary import after_commit
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.payments import webhooks
from marketplace.payments.gateway import SignatureError, verify_event
from marketplace.payments.jobs import settle_payment

blp = Blueprint("payments_webhooks", __name__, description="Payment processor webhooks")


class BadSignature(DomainError):
    code = 400


class WebhookAnswerSchema(Schema):
    received = fields.Boolean()
    duplicate = fields.Boolean()


@blp.route("/webhooks/stripe", methods=["POST"])
@blp.doc(
    parameters=[{"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"}}],
    requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
)
@blp.response(200, WebhookAnswerSchema)
@blp.alt_response(400, description="Bad or stale signature, not an event, or a field of the event that is not "
                                   "what the processor sends (named in errors): nothing is written.")
def stripe_webhook():
    """Record the event once and apply it; the payment's allocation runs as a job after the commit."""
    try:
        event = verify_event(request.get_data(), request.headers.get("Stripe-Signature", ""),
                             current_app.config["STRIPE_WEBHOOK_SECRET"])
    except SignatureError as error:
        raise BadSignature(str(error)) from error
    webhooks.checked(event)
    if not webhooks.handled(event["type"]):
        return {"received": True, "duplicate": False}
    if not webhooks.record(db.session, event):
        return {"received": True, "duplicate": True}
    settle_id = webhooks.handle(db.session, event)
    if settle_id is not None:
        after_commit(settle_payment, settle_id)
    return {"received": True, "duplicate": False}
