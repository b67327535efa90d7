"""JSON API: a license's signed downloads, the export and its manifest, the download log."""
from __future__ import annotations

from flask import current_app, request, url_for
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.db import utcnow
from marketplace.delivery import jobs, services, tokens, withdrawals
from marketplace.delivery.export import Export, manifest
from marketplace.delivery.responses import JSONL, export_response, wants_gzip
from marketplace.delivery.schemas import (
    AckCreateSchema,
    AckSchema,
    DownloadCreateSchema,
    DownloadLogArgs,
    DownloadLogSchema,
    DownloadSchema,
    ManifestSchema,
    WithdrawalArgs,
    WithdrawalPageSchema,
)
from marketplace.extensions import DOWNLOADS, db, limiter
from marketplace.licensing.services import buyer_license

blp = Blueprint("delivery_api", __name__, description="Delivery: signed downloads, manifests, withdrawals")


def signed_urls(license_id: int, issued: services.IssuedDownload) -> dict:
    """The issued tokens as absolute URLs under BASE_URL."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return {
        "url": base + url_for("delivery_api.export", license_id=license_id, token=issued.export_token),
        "manifest_url": base + url_for("delivery_api.export_manifest", license_id=license_id,
                                       token=issued.manifest_token),
        "expires_at": issued.expires_at, "version": issued.version, "since_version": issued.since_version,
    }


@blp.route("/licenses/<int:license_id>/downloads", methods=["POST"])
@limiter.limit(DOWNLOADS)
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.arguments(DownloadCreateSchema)
@blp.response(201, DownloadSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(409, description="The license is not active.")
@blp.alt_response(422, description="version or since_version not covered by the license.")
@blp.alt_response(429, description="Too many downloads from this address: see Retry-After.")
def create_download(body, license_id: int):
    """Signed URLs for the export of a covered version (and its manifest), valid DOWNLOAD_TTL_SECONDS."""
    principal = api_principal()
    license = buyer_license(db.session, principal.organization.id, license_id)
    issued = services.issue_download(
        db.session, license, user_id=principal.user.id, secret=current_app.config["SECRET_KEY"],
        ttl_seconds=current_app.config["DOWNLOAD_TTL_SECONDS"], version=body.get("version"),
        since_version=body.get("since_version"))
    return signed_urls(license.id, issued)


@blp.route("/licenses/<int:license_id>/downloads", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.arguments(DownloadLogArgs, location="query")
@blp.response(200, DownloadLogSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(422, description="Bad page or per_page.")
def list_downloads(args, license_id: int):
    """The license's download log (license, user, version, bytes, time), newest first."""
    license = buyer_license(db.session, api_principal().organization.id, license_id)
    items, total = services.download_log(db.session, license.id, page=args["page"], per_page=args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


def _log(grant: tokens.Grant, at):
    def on_end(tally, gzip: bool) -> None:
        jobs.log_download(license_id=grant.license_id, user_id=grant.user_id, version_id=grant.version_id,
                          since_version_id=grant.since_version_id, at=at, bytes_sent=tally.bytes,
                          records=tally.records, sha256=tally.sha256 if tally.complete else None,
                          complete=tally.complete, gzip=gzip)
    return on_end


@blp.route("/licenses/<int:license_id>/export/<token>", methods=["GET"])
@limiter.limit(DOWNLOADS)
@blp.response(200, content_type=JSONL, description="The export: one JSON object a line "
              "{external_id, text, created_at, contributor}, or {external_id, deleted: true} in a since_version "
              "export; gzip when Accept-Encoding asks. No Content-Length: it is streamed.")
@blp.alt_response(403, description="Expired, tampered, or another license's link.")
@blp.alt_response(409, description="The license is no longer active.")
@blp.alt_response(429, description="Too many downloads from this address: see Retry-After.")
def export(license_id: int, token: str):
    """The export a signed URL names, streamed. The download is logged once the body is sent
    (by a job: this GET writes nothing itself)."""
    at = utcnow()
    secret = current_app.config["SECRET_KEY"]
    grant = tokens.verify(secret, token, kind=tokens.EXPORT, license_id=license_id, now=at)
    spec = services.export_spec(db.session, license_id, grant, secret=secret,
                                opt_in_regions=current_app.config["OPT_IN_REGIONS"], at=at)
    name = f"license-{license_id}-{spec.version_number}" + (f"-since-{spec.since_number}" if spec.since_number else "")
    return export_response(Export(db.session, spec), gzip=wants_gzip(request.accept_encodings),
                           filename=f"{name}.jsonl", on_end=_log(grant, at))


@blp.route("/licenses/<int:license_id>/manifest/<token>", methods=["GET"])
@blp.response(200, ManifestSchema)
@blp.alt_response(403, description="Expired, tampered, or another license's link.")
@blp.alt_response(409, description="The license is no longer active.")
def export_manifest(license_id: int, token: str):
    """The manifest of the export: counts, bytes and sha256 of the body a download made now
    gets (computed by streaming the same export once, unsent), and what was left out and why."""
    at = utcnow()
    secret = current_app.config["SECRET_KEY"]
    grant = tokens.verify(secret, token, kind=tokens.MANIFEST, license_id=license_id, now=at)
    spec = services.export_spec(db.session, license_id, grant, secret=secret,
                                opt_in_regions=current_app.config["OPT_IN_REGIONS"], at=at)
    return manifest(db.session, spec)


@blp.route("/licenses/<int:license_id>/withdrawals", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.arguments(WithdrawalArgs, location="query")
@blp.response(200, WithdrawalPageSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(422, description="Bad since, page or per_page.")
def list_withdrawals(args, license_id: int):
    """Ids this license received that it may no longer hold (consent withdrawn, erased, taken
    down), oldest first, with the buyer's receipt time."""
    license = buyer_license(db.session, api_principal().organization.id, license_id)
    items, total = withdrawals.withdrawals(db.session, license, opt_in_regions=current_app.config["OPT_IN_REGIONS"],
                                           since=args.get("since"), page=args["page"], per_page=args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"],
            "acknowledged_through": withdrawals.acknowledged_through(db.session, license.id)}


@blp.route("/licenses/<int:license_id>/withdrawals/ack", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.arguments(AckCreateSchema)
@blp.response(200, AckSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(409, description="Earlier than the license's receipt: it never moves backwards.")
@blp.alt_response(422, description="through missing, malformed or in the future.")
def acknowledge_withdrawals(body, license_id: int):
    """The buyer attests it deleted every withdrawal up to `through`."""
    principal = api_principal()
    license = buyer_license(db.session, principal.organization.id, license_id)
    through = withdrawals.acknowledge(db.session, license, body["through"], user_id=principal.user.id)
    return {"acknowledged_through": through}
