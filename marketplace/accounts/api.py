"""JSON API: organizations and API keys."""
from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.accounts import services
from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.accounts.schemas import (
    ApiKeyCreatedSchema,
    ApiKeyCreateSchema,
    ApiKeyListSchema,
    OrganizationCreatedSchema,
    OrganizationCreateSchema,
)
from marketplace.extensions import SIGNUPS, db, limiter

blp = Blueprint("accounts_api", __name__, description="Organizations and API keys")


@blp.route("/organizations", methods=["POST"])
@limiter.limit(SIGNUPS, methods=["POST"])
@blp.arguments(OrganizationCreateSchema)
@blp.response(201, OrganizationCreatedSchema)
@blp.alt_response(409, description="The owner's e-mail is already registered.")
@blp.alt_response(429, description="Too many sign-ups from this address.")
def create_organization(body):
    """Sign up a platform or buyer organization; answers its first API key once."""
    owner = body["owner"]
    organization, _user, issued = services.sign_up(
        db.session, body["kind"], body["name"], owner["email"], owner["password"]
    )
    return {
        "id": organization.id,
        "kind": organization.kind,
        "name": organization.name,
        "slug": organization.slug,
        "api_key": issued.secret,
    }


@blp.route("/api-keys", methods=["POST"])
@blp.doc(security=BEARER)
@require_api()
@blp.arguments(ApiKeyCreateSchema, required=False)
@blp.response(201, ApiKeyCreatedSchema)
@blp.alt_response(401, description="No or bad API key.")
def create_api_key(body):
    """Make another key for the caller's organization (or account)."""
    principal = api_principal()
    issued = services.issue_api_key(db.session, principal.user, label=(body or {}).get("label", ""))
    return {"id": issued.key.id, "prefix": issued.key.prefix, "api_key": issued.secret}


@blp.route("/api-keys", methods=["GET"])
@blp.doc(security=BEARER)
@require_api()
@blp.response(200, ApiKeyListSchema)
@blp.alt_response(401, description="No or bad API key.")
def list_api_keys():
    """The caller's live keys, by prefix (secrets are never shown again)."""
    keys = services.list_api_keys(db.session, api_principal().user)
    return {"items": keys}


@blp.route("/api-keys/<int:key_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@require_api()
@blp.response(204)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(404, description="No such live key among the caller's.")
def revoke_api_key(key_id: int):
    """Revoke a key; it authenticates nothing from now on."""
    services.revoke_api_key(db.session, api_principal().user, key_id)
