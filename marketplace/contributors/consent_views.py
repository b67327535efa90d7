"""Web pages: the contributor's consent page (blueprint "consent"). It lives with the contributor's
other pages: it shows what the consent rules decide and what buyers acknowledged (delivery), and
consent itself imports neither."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from marketplace.accounts.forms import EmptyForm
from marketplace.accounts.guards import contributor_only, csrf_ok
from marketplace.boundary import attempt
from marketplace.catalog.contributors import identities
from marketplace.catalog.models import SCOPES
from marketplace.consent import services
from marketplace.consent.presenters import consent_items, names
from marketplace.consent.schemas import SCOPE_CHOICES
from marketplace.delivery.withdrawals import contributor_acknowledgments
from marketplace.extensions import db

bp = Blueprint("consent", __name__)

SCOPE_LABELS = {
    "*": "every use", "ai-train": "training AI models", "ai-input": "AI answers (retrieval, grounding)",
    "ai-index": "AI indexing", "search": "search engines", "ai-eval": "evaluating AI models",
    "ad-targeting": "ad targeting",
}


@bp.route("/me/consent")
@login_required
def page():
    contributor_only()
    regions = current_app.config["OPT_IN_REGIONS"]
    people = identities(db.session, current_user.id)
    ids = [p.id for p in people]
    platforms, _ = names(db.session, {p.platform_id for p in people}, set())
    return render_template(
        "consent/page.html", people=people, platforms=platforms, opt_in_regions=regions,
        standings=services.standings(db.session, people, regions),
        current=consent_items(db.session, services.current_consents(db.session, ids)),
        history=consent_items(db.session, services.history(db.session, ids)),
        scopes=SCOPES, scope_choices=SCOPE_CHOICES, scope_labels=SCOPE_LABELS, form=EmptyForm(),
        acknowledgments=contributor_acknowledgments(db.session, ids, opt_in_regions=regions),
    )


@bp.route("/me/consent", methods=["POST"])
@login_required
def decide():
    contributor_only()
    csrf_ok()
    form = request.form
    with attempt() as outcome:
        services.decide(db.session, current_user.id, platform=form.get("platform") or None,
                        dataset=form.get("dataset") or None, scope=form.get("scope", ""),
                        status=form.get("status", ""))
    if not outcome.ok:
        flash(outcome.message, "error")
        return redirect(url_for("consent.page"))
    what = f"dataset {form['dataset']}" if form.get("dataset") else f"everything on {form.get('platform')}"
    verb = "granted" if form.get("status") == "granted" else "withdrawn"
    flash(f"Consent {verb} for {SCOPE_LABELS.get(form.get('scope'), form.get('scope'))} ({what}). "
          "It applies to every payment from now on; money already shared stays yours.", "success")
    return redirect(url_for("consent.page"))
