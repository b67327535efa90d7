"""Web pages of the catalog: the public side and the platform's workbench.

Forms post plain fields; they are validated by the same marshmallow schemas as
the JSON API and handed to the same services.
"""
from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from marshmallow import ValidationError

from marketplace.accounts.auth import viewer_organization_id
from marketplace.accounts.guards import csrf_ok, platform_organization
from marketplace.body_limits import large_body
from marketplace.boundary import attempt
from marketplace.catalog import importer, offers, search, services, uploads, versions
from marketplace.catalog.models import CONTENT_KINDS, SCOPES, PriceModel
from marketplace.catalog.offers import BPS
from marketplace.catalog.schemas import (
    CatalogArgs,
    DatasetCreateSchema,
    DatasetUpdateSchema,
    OfferCreateSchema,
)
from marketplace.extensions import db
from marketplace.money import Money, hundredths
from marketplace.pagination import paginate

bp = Blueprint("catalog", __name__)


# ---- public ----------------------------------------------------------------------------


@bp.route("/favicon.ico")
def favicon():
    """Browsers and tools ask for /favicon.ico whatever the page links: send them to the icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/")
def home():
    statement = search.catalog_statement(db.session)
    latest, total = paginate(db.session, statement, 1, 6)
    return render_template("catalog/home.html", latest=latest, total=total)


@bp.route("/datasets")
def browse():
    try:
        args = CatalogArgs().load({k: v for k, v in request.args.items() if v != ""})
    except ValidationError as error:
        return render_template("catalog/browse.html", args=request.args, errors=error.messages,
                               items=[], total=0, page=1, pages=0, **_choices()), 422
    statement = search.catalog_statement(
        db.session, q=args["q"], scope=args["scope"], language=args["language"],
        content_kind=args["content_kind"], price_model=args["price_model"],
    )
    per_page = min(args["per_page"], 24)
    items, total = paginate(db.session, statement, args["page"], per_page)
    pages = (total + per_page - 1) // per_page
    return render_template("catalog/browse.html", args=args, errors=None, items=items, total=total,
                           page=args["page"], pages=pages, **_choices())


def _choices() -> dict:
    return {"scopes": SCOPES, "content_kinds": CONTENT_KINDS, "price_models": list(PriceModel)}


@bp.route("/datasets/<slug>")
def dataset_page(slug: str):
    dataset = services.visible_dataset(db.session, slug, viewer_organization_id())
    sample = services.sample_records(db.session, dataset.id)
    quotes = {offer.id: offers.quote(offer, dataset.latest_version) for offer in dataset.offers}
    is_owner = viewer_organization_id() == dataset.platform_id
    response = make_response(render_template("catalog/dataset.html", dataset=dataset, sample=sample,
                                             quotes=quotes, is_owner=is_owner))
    if dataset.is_public and dataset.latest_version is not None:
        # RSL's discovery: the dataset's machine-readable terms (delivery serves them).
        terms = current_app.config["BASE_URL"].rstrip("/") + url_for("delivery.license_xml", slug=dataset.slug)
        response.headers["Link"] = f'<{terms}>; rel="license"; type="application/rsl+xml"'
    return response


# ---- platform workbench ----------------------------------------------------------------


@bp.route("/platform/datasets")
@login_required
def manage_datasets():
    datasets = services.platform_datasets(db.session, platform_organization().id)
    return render_template("catalog/platform_datasets.html", datasets=datasets)


def _dataset_form_data(form) -> dict:
    data = {key: form.get(key, "").strip() for key in
            ("slug", "title", "summary", "description", "content_kind", "consent_policy", "weighting")}
    data["languages"] = [c.strip().lower() for c in form.get("languages", "").split(",") if c.strip()]
    data["tags"] = [t.strip().lower() for t in form.get("tags", "").split(",") if t.strip()]
    return data


@bp.route("/platform/datasets/new", methods=["GET", "POST"])
@login_required
def new_dataset():
    platform_id = platform_organization().id
    values, errors = {"consent_policy": "opt_out", "weighting": "records"}, {}
    if request.method == "POST":
        csrf_ok()
        values = _dataset_form_data(request.form)
        with attempt() as outcome:
            dataset = services.create_dataset(db.session, platform_id, DatasetCreateSchema().load(values))
        if outcome.ok:
            flash(f"Dataset {dataset.title!r} created as a draft. Import records next.", "success")
            return redirect(url_for("catalog.manage_dataset", slug=dataset.slug))
        errors = outcome.errors
    return render_template("catalog/dataset_form.html", values=values, errors=errors, creating=True,
                           content_kinds=CONTENT_KINDS), 422 if errors else 200


@bp.route("/platform/datasets/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit_dataset(slug: str):
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    values = {
        "slug": dataset.slug, "title": dataset.title, "summary": dataset.summary,
        "description": dataset.description, "content_kind": dataset.content_kind,
        "consent_policy": dataset.consent_policy, "weighting": dataset.weighting,
        "languages": dataset.languages, "tags": dataset.tags,
    }
    errors = {}
    if request.method == "POST":
        csrf_ok()
        values = _dataset_form_data(request.form)
        values.pop("slug")
        with attempt() as outcome:
            services.update_dataset(db.session, dataset, DatasetUpdateSchema().load(values))
        if outcome.ok:
            flash("Saved.", "success")
            return redirect(url_for("catalog.manage_dataset", slug=slug))
        errors = outcome.errors
        values["slug"] = slug
    return render_template("catalog/dataset_form.html", values=values, errors=errors, creating=False,
                           dataset=dataset, content_kinds=CONTENT_KINDS), 422 if errors else 200


@bp.route("/platform/datasets/<slug>")
@login_required
def manage_dataset(slug: str, offer_values=None, offer_errors=None, import_errors=None, status=200):
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    return render_template(
        "catalog/manage_dataset.html",
        dataset=dataset,
        live_records=services.live_record_count(db.session, dataset.id),
        quotes={offer.id: offers.quote(offer, dataset.latest_version) for offer in dataset.offers},
        offer_values=offer_values or {"term_months": 12, "contributor_share_percent": "50",
                                      "price_model": "flat", "billing": "one_time", "territory": "*"},
        offer_errors=offer_errors or {},
        import_errors=import_errors,
        scopes=SCOPES, price_models=list(PriceModel),
    ), status


@bp.route("/platform/datasets/<slug>/records", methods=["POST"])
@large_body
@login_required
def upload_records(slug: str):
    csrf_ok()
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return manage_dataset(slug, import_errors={"message": "Choose a file to upload."}, status=422)
    with attempt() as outcome:
        objects = uploads.file_objects(upload.stream, upload.filename, name="The file")
        result = importer.import_records(db.session, dataset, objects)
    if not outcome.ok:
        lines = (outcome.error.errors or {}).get("lines", [])  # the importer's bad lines, if any
        return manage_dataset(slug, import_errors={"message": outcome.message, "lines": lines}, status=422)
    flash(f"Imported {upload.filename}: {result.created:,} created, {result.updated:,} updated.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=slug))


@bp.route("/platform/datasets/<slug>/versions", methods=["POST"])
@login_required
def freeze(slug: str):
    csrf_ok()
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    with attempt() as outcome:
        version = versions.freeze_version(db.session, dataset)
    if not outcome.ok:
        flash(outcome.message, "error")
    else:
        flash(f"Version {version.number} frozen: {version.record_count:,} records.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=slug))


def _offer_form_data(form) -> tuple[dict, dict]:
    """The offer form as the API's body: people type the price in the currency's major units
    ("2,500.00") and the contributors' share in percent ("60" or "62.5"); both convert exactly
    to minor units and basis points. Returns (body, field messages for what didn't convert)."""
    territory = [t.strip().upper() for t in form.get("territory", "*").split(",") if t.strip()]
    errors = {}
    term = form.get("term_months", "").strip()
    amount = hundredths(form.get("price_amount", "").strip().lstrip("$€£"))
    if amount is None:
        errors["price"] = ["Type the price like 2500 or 2,500.00 (at most two decimals)."]
    elif amount > offers.max_charge():
        ceiling = Money(offers.max_charge(), current_app.config["CURRENCY"])
        errors["price"] = [f"At most {ceiling}: the card processor takes no more in one payment."]
    share = hundredths(form.get("contributor_share_percent", "").strip().rstrip("%"))
    floor = current_app.config["MIN_CONTRIBUTOR_SHARE_BPS"]
    if share is None or not floor <= share <= BPS:
        errors["contributor_share_percent"] = [
            f"Contributors get at least {floor / 100:g}% of the net (at most 100%)."]
    body = {
        "name": form.get("name", "").strip(),
        "scopes": form.getlist("scopes"),
        "term_months": int(term) if term.isdecimal() else term,
        "territory": ["*"] if territory in ([], ["*"]) else territory,
        "exclusive": form.get("exclusive") == "on",
        "price": {"model": form.get("price_model", ""), "amount": amount, "currency": form.get("currency", "")},
        "billing": form.get("billing", "one_time"),
        "contributor_share_bps": share,
    }
    return body, errors


@bp.route("/platform/datasets/<slug>/offers", methods=["POST"])
@login_required
def create_offer(slug: str):
    csrf_ok()
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    data, typed_errors = _offer_form_data(request.form)
    with attempt() as outcome:
        offer = offers.create_offer(db.session, dataset, OfferCreateSchema().load(data))
    if typed_errors or not outcome.ok:
        values = {**request.form.to_dict(), "scopes": request.form.getlist("scopes")}
        errors = {**{k: v for k, v in outcome.errors.items() if k != "contributor_share_bps"}, **typed_errors}
        if "contributor_share_bps" in outcome.errors and "contributor_share_percent" not in errors:
            errors["contributor_share_percent"] = outcome.errors["contributor_share_bps"]
        return manage_dataset(slug, offer_values=values, offer_errors=errors, status=422)
    flash(f"Offer {offer.name!r} created.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=slug))


@bp.route("/platform/offers/<int:offer_id>/retire", methods=["POST"])
@login_required
def retire_offer(offer_id: int):
    csrf_ok()
    offer = offers.retire_offer(db.session, offers.owned_offer(db.session, platform_organization().id, offer_id))
    flash(f"Offer {offer.name!r} retired: no new licenses under it.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=offer.dataset.slug))


@bp.route("/platform/datasets/<slug>/publish", methods=["POST"])
@login_required
def publish(slug: str):
    csrf_ok()
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    with attempt() as outcome:
        services.publish(db.session, dataset)
    if not outcome.ok:
        flash(outcome.message, "error")
    else:
        flash("Published: the dataset is in the catalog.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=slug))


@bp.route("/platform/datasets/<slug>/unpublish", methods=["POST"])
@login_required
def unpublish(slug: str):
    csrf_ok()
    services.unpublish(db.session, services.owned_dataset(db.session, platform_organization().id, slug))
    flash("Unpublished: hidden from the catalog; licenses already sold go on.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=slug))


@bp.route("/platform/datasets/<slug>/takedown", methods=["POST"])
@login_required
def take_down(slug: str):
    csrf_ok()
    dataset = services.owned_dataset(db.session, platform_organization().id, slug)
    external_id = request.form.get("external_id", "").strip()
    with attempt() as outcome:
        services.take_down(db.session, dataset, external_id)
    if not outcome.ok:
        flash(outcome.message, "error")
    else:
        flash(f"Record {external_id!r} taken down; later versions leave it out.", "success")
    return redirect(url_for("catalog.manage_dataset", slug=slug))
