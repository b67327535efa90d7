"""Web pages: the platform's findings page (allow a false alarm in one action), and the scan
report and redacted samples the catalog's pages show (Jinja globals: the catalog doesn't import us)."""
from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from marketplace.accounts.guards import csrf_ok, platform_organization
from marketplace.boundary import attempt
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Record
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.pii import detector, presenters, redaction, services
from marketplace.pii.models import PiiFinding
from marketplace.pii.schemas import FindingsArgs

bp = Blueprint("pii", __name__)
PER_PAGE = 50


@bp.route("/platform/datasets/<slug>/pii")
@login_required
def findings_page(slug: str):
    dataset = catalog.owned_dataset(db.session, platform_organization().id, slug)
    errors = FindingsArgs().validate(request.args)
    args = FindingsArgs().load({} if errors else request.args)
    items, total = services.findings_in_context(db.session, dataset.id, args["type"], args["page"], PER_PAGE)
    scanned, live = services.scanning.pending_count(db.session, dataset.id)
    return render_template("pii/findings.html", dataset=dataset, items=items, total=total,
                           page=args["page"], per_page=PER_PAGE, kind=args["type"], types=detector.TYPES,
                           scanned=scanned, live=live, errors=errors), 422 if errors else 200


@bp.route("/platform/datasets/<slug>/pii/allow", methods=["POST"])
@login_required
def allow_value(slug: str):
    """One action: the finding's value goes on the dataset's allow-list (a false alarm)."""
    csrf_ok()
    dataset = catalog.owned_dataset(db.session, platform_organization().id, slug)
    start = request.form.get("start", "")
    with attempt() as outcome:
        if not start.isdecimal() or len(start) > 9:
            raise NotFound("No such finding.")
        value = services.allow_finding(db.session, dataset, request.form.get("external_id", ""), int(start))
    if not outcome.ok:
        flash(outcome.message, "error")
        return redirect(url_for("pii.findings_page", slug=slug)), 303
    flash(f"{value!r} is on the allow-list: exports of the next version keep it as written.", "success")
    return redirect(url_for("pii.findings_page", slug=slug, type=request.form.get("type") or None)), 303


def _redacted_sample(dataset_id: int, external_id: str, text: str) -> str:
    """A sample record as a buyer's export shows it (placeholders), for the public dataset page."""
    spans = db.session.execute(
        select(PiiFinding.type, PiiFinding.start, PiiFinding.end)
        .join(Record, Record.id == PiiFinding.record_id)
        .where(Record.dataset_id == dataset_id, Record.external_id == external_id)).all()
    if not spans:
        # Not scanned yet (a large import's job is under way): scan it here, never show it raw.
        spans = detector.scan(text)
    return redaction.redact(text, [tuple(span) for span in spans])


def _latest_report(dataset):
    row = services.latest_report(db.session, dataset)
    if row is None:
        return None
    return {"row": row, "words": presenters.in_words(row)}


def _removed_for_user(user_id: int) -> dict:
    return services.removed_for_user(db.session, user_id)


def register(app: Flask) -> None:
    app.jinja_env.globals.update(pii_redacted_sample=_redacted_sample, pii_latest_report=_latest_report,
                                 pii_removed_for_user=_removed_for_user)
