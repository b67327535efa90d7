"""Web pages: a contributor has their records erased from the store."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from marketplace.accounts.forms import EmptyForm
from marketplace.accounts.guards import contributor_only, csrf_ok
from marketplace.boundary import attempt
from marketplace.catalog.contributors import identities
from marketplace.consent.presenters import names
from marketplace.contributors import erasure
from marketplace.extensions import db

bp = Blueprint("erasure", __name__)


@bp.route("/me/erasure")
@login_required
def page():
    contributor_only()
    people = identities(db.session, current_user.id)
    stored = {p.id: erasure.stored_record_count(db.session, p) for p in people}
    platforms, _ = names(db.session, {p.platform_id for p in people}, set())
    return render_template("contributors/erasure.html", people=people, stored=stored, platforms=platforms,
                           log=erasure.erasure_log(db.session, [p.id for p in people]), form=EmptyForm())


@bp.route("/me/erasure", methods=["POST"])
@login_required
def erase():
    contributor_only()
    csrf_ok()
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm: erased records can't be brought back.", "error")
        return redirect(url_for("erasure.page"))
    with attempt() as outcome:
        done = erasure.request_erasure(db.session, current_user.id, platform=request.form.get("platform") or None)
    if not outcome.ok:
        flash(outcome.message, "error")
        return redirect(url_for("erasure.page"))
    flash(f"{done.records_erased:,} record(s) erased from the store. Buyers are told to delete them; "
          "your earnings stay in your statement.", "success")
    return redirect(url_for("erasure.page"))
