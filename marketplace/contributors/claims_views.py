"""Web pages: claiming an identity, linking more, and the platform's contributors and codes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from marketplace.accounts.forms import EmptyForm, email_field, no_nul
from marketplace.accounts.guards import contributor_only, csrf_ok, platform_organization
from marketplace.accounts.views import home_for
from marketplace.boundary import attempt
from marketplace.catalog.contributors import identities as held_identities
from marketplace.contributors import claims
from marketplace.contributors.claims_api import export_response
from marketplace.contributors.schemas import ExportArgs
from marketplace.errors import DomainError, NotFound, flatten_errors
from marketplace.extensions import CLAIMS, db, limiter
from marketplace.text import NUL

bp = Blueprint("claims", __name__)

PER_PAGE = 50
#: The list filter's choices: "" all, "yes" claimed only, "no" unclaimed only.
CLAIMED_FILTER = {"": None, "yes": True, "no": False}


class CodeForm(FlaskForm):
    code = StringField("Claim code", validators=[DataRequired(), Length(max=100), no_nul])


class ClaimForm(CodeForm):
    email = email_field
    password = PasswordField("Choose a password", validators=[
        DataRequired(), Length(min=8, max=1000, message="Use at least 8 characters.")])


def _show_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service error on the field it names (code, email, password), else on the form."""
    placed = False
    for path, message in flatten_errors(((error.errors or {}).get("json")) or {}):
        field = getattr(form, path, None)
        if field is not None:
            field.errors = [*field.errors, message]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


# ---- contributors ------------------------------------------------------------------------


@bp.route("/claim", methods=["GET", "POST"])
@limiter.limit(CLAIMS, methods=["POST"])
def claim():
    if current_user.is_authenticated:
        if current_user.role == "contributor":
            return redirect(url_for("claims.identities"))
        flash(f"You are logged in as {current_user.email}, an organization's account: log out to claim "
              "a contributor identity.", "info")
        return redirect(home_for(current_user))
    form = ClaimForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            claimed = claims.claim(db.session, form.code.data, form.email.data, form.password.data,
                                   with_api_key=False)
        if outcome.ok:
            login_user(claimed.user)
            names = ", ".join(f"{i['external_id']} on {i['platform_name']}"
                              for i in claims.identity_items(db.session, claimed.identities))
            flash(f"Welcome to Dividend. The identity {names} is yours now, with everything it earned so far.",
                  "success")
            return redirect(url_for("statement.page"))
        _show_error(form, outcome.error)
    return render_template("contributors/claim.html", form=form), 422 if form.errors else 200


def _identities_page(form: CodeForm, status: int = 200):
    items = claims.identity_items(db.session, held_identities(db.session, current_user.id))
    return render_template("contributors/identities.html", items=items, form=form), status


@bp.route("/me/identities")
@login_required
def identities():
    contributor_only()
    return _identities_page(CodeForm())


@bp.route("/me/identities", methods=["POST"])
@login_required
@limiter.limit(CLAIMS)
def link():
    contributor_only()
    form = CodeForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            contributor = claims.link_code(db.session, current_user, form.code.data)
        if outcome.ok:
            item = claims.identity_items(db.session, [contributor])[0]
            flash(f"Linked {item['external_id']} on {item['platform_name']}: its earnings join your statement.",
                  "success")
            return redirect(url_for("claims.identities"))
        _show_error(form, outcome.error)
    return _identities_page(form, 422)


# ---- platforms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCode:
    """A code just issued, shown once on the page that answers the POST."""

    external_id: str
    code: str
    expires_at: datetime


def _list_args() -> dict:
    """The list's search, filter and page, from the query (GET) or the hidden fields (POST)."""
    values = request.values
    page = values.get("page", "1")
    claimed = values.get("claimed", "")
    return {"q": values.get("q", "").strip()[:200].replace(NUL, ""),
            "claimed": claimed if claimed in CLAIMED_FILTER else "",
            "page": int(page) if page.isdecimal() and 0 < int(page) < 10**9 else 1}


def _list_url(args: dict) -> str:
    return url_for("claims.platform_contributors", **{k: v for k, v in args.items() if v and v != 1})


@dataclass(frozen=True)
class ReissueStep:
    """The confirmation step of a re-issue: what it revokes now, and why it was asked again (if so)."""

    plan: claims.ExportPlan
    error: str | None = None


@bp.route("/platform/contributors")
@login_required
def platform_contributors(new_code: NewCode | None = None, reissue: ReissueStep | None = None):
    platform = platform_organization()
    args = _list_args()
    rows, total = claims.list_contributors(db.session, platform.id, q=args["q"] or None,
                                           claimed=CLAIMED_FILTER[args["claimed"]], page=args["page"],
                                           per_page=PER_PAGE)
    has_any = total > 0 or claims.has_contributors(db.session, platform.id)
    return render_template(
        "contributors/platform_contributors.html", rows=rows, total=total, has_any=has_any, args=args,
        page=args["page"], pages=max(1, -(-total // PER_PAGE)), new_code=new_code, form=EmptyForm(),
        days=claims.lifetime().days, plan=claims.export_plan(db.session, platform.id), reissue=reissue,
    )


@bp.route("/platform/contributors/codes/reissue")
@login_required
def confirm_reissue():
    """The step before a re-issue: how many open codes it revokes, and the button that does it."""
    platform = platform_organization()
    return platform_contributors(reissue=ReissueStep(claims.export_plan(db.session, platform.id)))


@bp.route("/platform/contributors/codes", methods=["POST"])
@login_required
def issue_code():
    platform = platform_organization()
    csrf_ok()
    external_id = request.form.get("external_id", "")
    with attempt() as outcome:
        issued = claims.issue(db.session, platform.id, external_id, current_user.id)
    if isinstance(outcome.error, NotFound):
        raise outcome.error  # an unknown contributor is a 404 page, as in the API
    if not outcome.ok:
        flash(outcome.message, "error")
        return redirect(_list_url(_list_args()))
    return platform_contributors(NewCode(external_id, issued.code, issued.claim_code.expires_at))


@bp.route("/platform/contributors/codes/revoke", methods=["POST"])
@login_required
def revoke_codes():
    platform = platform_organization()
    csrf_ok()
    external_id = request.form.get("external_id", "")
    revoked = claims.revoke(db.session, platform.id, external_id)
    if revoked:
        flash(f"Revoked the open claim code of {external_id}: it no longer works.", "success")
    else:
        flash(f"{external_id} had no open claim code.", "info")
    return redirect(_list_url(_list_args()))


@bp.route("/platform/contributors/codes.csv", methods=["POST"])
@login_required
def export_codes():
    """The CSV of new codes; with reissue=1 and confirm_revoking=N (the confirmation step's form),
    every open code is revoked first. A count that no longer holds shows the step again, recounted."""
    platform = platform_organization()
    csrf_ok()
    with attempt() as outcome:
        args = ExportArgs().load({name: request.form[name] for name in ("reissue", "confirm_revoking")
                                  if request.form.get(name)})
        response, exported = export_response(platform, current_user.id, reissue=args["reissue"],
                                             confirm_revoking=args["confirm_revoking"])
    if not outcome.ok:
        plan = claims.export_plan(db.session, platform.id)
        changed = isinstance(outcome.error, DomainError)  # a Conflict: the count no longer holds
        message = (f"The number of open codes changed since this step was shown: it is {plan.open_codes:,} now. "
                   "Check it and confirm again." if changed else outcome.message)
        return platform_contributors(reissue=ReissueStep(plan, message)), outcome.error.code if changed else 422
    flash(_exported_message(exported), "success")
    return response


def _exported_message(exported: claims.Exported) -> str:
    """What the download did, shown on the next page (the download itself leaves the page as it is)."""
    issued = f"{exported.issued:,} new claim code{'' if exported.issued == 1 else 's'}"
    if exported.revoked:
        return (f"Revoked {exported.revoked:,} open claim code{'' if exported.revoked == 1 else 's'} and "
                f"downloaded {issued}.")
    kept = (f" {exported.skipped:,} contributor{' holds' if exported.skipped == 1 else 's hold'} an open code "
            "already and kept it." if exported.skipped else "")
    return f"Downloaded {issued}.{kept}"
