"""Web pages: the contributor's consent page and erasure."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.accounts.forms import EmptyForm
from marketplace.accounts.guards import contributor_only, csrf_ok
from marketplace.catalog.models import SCOPES, Contributor, Dataset, Record
from marketplace.consent import services
from marketplace.consent.presenters import consent_items, names
from marketplace.consent.schemas import SCOPE_CHOICES
from marketplace.contributors import erasure
from marketplace.contributors.identities import identities
from marketplace.errors import DomainError
from marketplace.delivery.withdrawals import contributor_acknowledgments
from marketplace.extensions import db

bp = Blueprint("consent", __name__)

SCOPE_LABELS = {
    "*": "every use", "ai-train": "training AI models", "ai-input": "AI answers (retrieval, grounding)",
    "ai-index": "AI indexing", "search": "search engines", "ai-eval": "evaluating AI models",
    "ad-targeting": "ad targeting",
}


@dataclass(frozen=True)
class DatasetStanding:
    dataset: Dataset
    #: scope → included now (by the eligibility rule), over the latest version.
    included: dict[str, bool]


def _datasets_with_records(contributor: Contributor) -> list[Dataset]:
    """The platform's datasets holding a record of this person (indexed by dataset, contributor)."""
    datasets = db.session.scalars(select(Dataset).where(Dataset.platform_id == contributor.platform_id)
                                  .order_by(Dataset.title)).all()
    return [d for d in datasets if db.session.scalar(
        select(Record.id).where(Record.dataset_id == d.id, Record.contributor_id == contributor.id).limit(1))]


@bp.route("/me/consent")
@login_required
def page():
    contributor_only()
    regions = current_app.config["OPT_IN_REGIONS"]
    people = identities(db.session, current_user.id)
    ids = [p.id for p in people]
    current = services.current_consents(db.session, ids)
    standings = {
        person.id: [DatasetStanding(d, services.included_by_scope(db.session, person, d, regions))
                    for d in _datasets_with_records(person)]
        for person in people
    }
    platforms, _ = names(db.session, {p.platform_id for p in people}, set())
    return render_template(
        "consent/page.html", people=people, platforms=platforms, standings=standings, opt_in_regions=regions,
        current=consent_items(db.session, current), history=consent_items(db.session, services.history(db.session, ids)),
        scopes=SCOPES, scope_choices=SCOPE_CHOICES, scope_labels=SCOPE_LABELS, form=EmptyForm(),
        acknowledgments=contributor_acknowledgments(db.session, ids, opt_in_regions=regions),
    )


@bp.route("/me/consent", methods=["POST"])
@login_required
def decide():
    contributor_only()
    csrf_ok()
    form = request.form
    try:
        services.decide(db.session, current_user.id, platform=form.get("platform") or None,
                        dataset=form.get("dataset") or None, scope=form.get("scope", ""),
                        status=form.get("status", ""))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("consent.page"))
    db.session.commit()
    what = f"dataset {form['dataset']}" if form.get("dataset") else f"everything on {form.get('platform')}"
    verb = "granted" if form.get("status") == "granted" else "withdrawn"
    flash(f"Consent {verb} for {SCOPE_LABELS.get(form.get('scope'), form.get('scope'))} ({what}). "
          "It applies to every payment from now on; money already shared stays yours.", "success")
    return redirect(url_for("consent.page"))


@bp.route("/me/erasure")
@login_required
def erasure_page():
    contributor_only()
    people = identities(db.session, current_user.id)
    stored = {p.id: erasure.stored_record_count(db.session, p) for p in people}
    platforms, _ = names(db.session, {p.platform_id for p in people}, set())
    return render_template("consent/erasure.html", people=people, stored=stored, platforms=platforms,
                           log=erasure.erasure_log(db.session, [p.id for p in people]), form=EmptyForm())


@bp.route("/me/erasure", methods=["POST"])
@login_required
def erase():
    contributor_only()
    csrf_ok()
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm: erased records can't be brought back.", "error")
        return redirect(url_for("consent.erasure_page"))
    try:
        target = services.resolve_target(db.session, current_user.id, platform=request.form.get("platform") or None,
                                         dataset=None)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("consent.erasure_page"))
    done = erasure.erase(db.session, target.contributor, current_user.id)
    db.session.commit()
    flash(f"{done.records_erased:,} record(s) erased from the store. Buyers are told to delete them; "
          "your earnings stay in your statement.", "success")
    return redirect(url_for("consent.erasure_page"))
