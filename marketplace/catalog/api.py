"""JSON API: datasets, records, versions, offers (platform) and the catalog (anyone)."""
from __future__ import annotations

import io

from flask import request
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api, viewer_organization_id
from marketplace.body_limits import large_body
from marketplace.catalog import importer, offers, search, services, versions
from marketplace.catalog.schemas import (
    CatalogArgs,
    DatasetCreateSchema,
    DatasetSchema,
    DatasetSummarySchema,
    DatasetUpdateSchema,
    ImportResultSchema,
    OfferCreateSchema,
    OfferSchema,
    VersionSchema,
)
from marketplace.extensions import db
from marketplace.pagination import page_schema, paginate

blp = Blueprint("catalog_api", __name__, description="Datasets, records, versions, offers, catalog")

PLATFORM = ("platform",)
NDJSON_BODY = {
    "required": True,
    "content": {
        "application/x-ndjson": {
            "schema": {"type": "string", "format": "binary"},
            "example": '{"external_id": "p1", "contributor": {"external_id": "u1", "region": "US"}, '
            '"text": "First post", "created_at": "2024-05-01T12:00:00Z"}\n',
        }
    },
    "description": "One record per line: {external_id, contributor: {external_id, region}, "
    "text, created_at, tokens?}. Atomic: one bad line and nothing is written.",
}


def _platform_id() -> int:
    return api_principal().organization.id


@blp.route("/datasets", methods=["POST"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.arguments(DatasetCreateSchema)
@blp.response(201, DatasetSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms list datasets.")
@blp.alt_response(409, description="The slug is taken.")
def create_dataset(body):
    """Create a draft dataset."""
    dataset = services.create_dataset(db.session, _platform_id(), body)
    return dataset


@blp.route("/datasets", methods=["GET"])
@blp.arguments(CatalogArgs, location="query")
@blp.response(200, page_schema(DatasetSummarySchema, "DatasetPage"))
def list_datasets(args):
    """The catalog: published datasets, searched and filtered, best match first."""
    statement = search.catalog_statement(
        db.session, q=args["q"], scope=args["scope"], language=args["language"],
        content_kind=args["content_kind"], price_model=args["price_model"],
    )
    items, total = paginate(db.session, statement, args["page"], args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/datasets/<slug>", methods=["GET"])
@blp.response(200, DatasetSchema)
@blp.alt_response(404, description="Unknown, or another platform's draft.")
def get_dataset(slug: str):
    """A dataset with its versions, offers (with today's quote) and counts."""
    return services.visible_dataset(db.session, slug, viewer_organization_id())


@blp.route("/datasets/<slug>", methods=["PATCH"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.arguments(DatasetUpdateSchema)
@blp.response(200, DatasetSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms edit datasets.")
@blp.alt_response(404, description="Not one of yours.")
def update_dataset(body, slug: str):
    """Edit any field but the slug."""
    dataset = services.owned_dataset(db.session, _platform_id(), slug)
    services.update_dataset(db.session, dataset, body)
    return dataset


@blp.route("/datasets/<slug>/records", methods=["POST"])
@large_body
@blp.doc(security=BEARER, requestBody=NDJSON_BODY)
@require_api(*PLATFORM)
@blp.response(200, ImportResultSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms import records.")
@blp.alt_response(404, description="Not one of yours.")
@blp.alt_response(422, description='Bad lines: errors = {"lines": [{line, field, message}]}.')
def import_records(slug: str):
    """Upsert records from an NDJSON body, atomically."""
    dataset = services.owned_dataset(db.session, _platform_id(), slug)
    # Buffered: line iteration then runs in C instead of the raw stream's Python readline.
    body = io.BufferedReader(request.stream, 1 << 20)
    result = importer.import_records(db.session, dataset, importer.ndjson_objects(body))
    return result


@blp.route("/datasets/<slug>/records/<path:external_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.response(204)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms take records down.")
@blp.alt_response(404, description="No such record in one of your datasets.")
def take_down_record(slug: str, external_id: str):
    """Take a record down: it leaves later versions and exports."""
    dataset = services.owned_dataset(db.session, _platform_id(), slug)
    services.take_down(db.session, dataset, external_id)


@blp.route("/datasets/<slug>/versions", methods=["POST"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.response(201, VersionSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms freeze versions.")
@blp.alt_response(404, description="Not one of yours.")
@blp.alt_response(409, description="No live records, nothing changed since the last version, or records "
                  "not yet scanned for personal data ({message, scanned, total}).")
def freeze_version(slug: str):
    """Freeze the live records as the next version (semver)."""
    dataset = services.owned_dataset(db.session, _platform_id(), slug)
    version = versions.freeze_version(db.session, dataset)
    return version


@blp.route("/datasets/<slug>/offers", methods=["POST"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.arguments(OfferCreateSchema)
@blp.response(201, OfferSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms make offers.")
@blp.alt_response(404, description="Not one of yours.")
def create_offer(body, slug: str):
    """Offer the dataset under these terms."""
    dataset = services.owned_dataset(db.session, _platform_id(), slug)
    offer = offers.create_offer(db.session, dataset, body)
    return offer


@blp.route("/offers/<int:offer_id>/retire", methods=["POST"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.response(200, OfferSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms retire offers.")
@blp.alt_response(404, description="Not one of yours.")
def retire_offer(offer_id: int):
    """Take no new licenses under this offer; existing ones keep their terms."""
    offer = offers.retire_offer(db.session, offers.owned_offer(db.session, _platform_id(), offer_id))
    return offer


@blp.route("/datasets/<slug>/publish", methods=["POST"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.response(200, DatasetSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms publish.")
@blp.alt_response(404, description="Not one of yours.")
@blp.alt_response(409, description="No frozen version or no live offer yet.")
def publish(slug: str):
    """List the dataset in the public catalog."""
    dataset = services.publish(db.session, services.owned_dataset(db.session, _platform_id(), slug))
    return dataset


@blp.route("/datasets/<slug>/unpublish", methods=["POST"])
@blp.doc(security=BEARER)
@require_api(*PLATFORM)
@blp.response(200, DatasetSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms unpublish.")
@blp.alt_response(404, description="Not one of yours.")
def unpublish(slug: str):
    """Hide the dataset from the catalog; licenses already sold go on."""
    dataset = services.unpublish(db.session, services.owned_dataset(db.session, _platform_id(), slug))
    return dataset
