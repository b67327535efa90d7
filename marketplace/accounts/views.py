"""Web pages: sign-up, log-in, log-out, API keys."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import devices, services
from marketplace.accounts.forms import KIND_CHOICES, ApiKeyForm, EmptyForm, LogInForm, SignUpForm
from marketplace.boundary import attempt
from marketplace.errors import DomainError, flatten_errors
from marketplace.extensions import (
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    SIGNUPS,
    db,
    limiter,
)

bp = Blueprint("accounts", __name__)


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    parts = urlsplit(target)
    # Browsers read /\host as //host, another site: no backslash either.
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    if local and not parts.netloc:
        return target
    return default


def home_for(user) -> str:
    if user.role == "admin":
        return url_for("ledger.overview")
    if user.role == "contributor":
        return url_for("statement.page")
    if user.organization is not None and user.organization.is_platform:
        return url_for("catalog.manage_datasets")
    return url_for("catalog.browse")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(SIGNUPS, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        flash(f"You are logged in as {current_user.email}; log out first to open another account.", "info")
        return redirect(home_for(current_user))
    form = SignUpForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            _org, user, _issued = services.sign_up(
                db.session, form.kind.data, form.name.data, form.email.data, form.password.data
            )
        if outcome.ok:
            login_user(user)
            flash(f"Welcome to Dividend, {user.organization.name}.", "success")
            return redirect(home_for(user))
        _attach_errors(form, outcome.error)
    return render_template("accounts/signup.html", form=form, kind_choices=KIND_CHOICES), (
        422 if form.errors else 200)


def _login_account() -> str:
    """The account a log-in names: its failures count together from every address."""
    return "login-account:" + devices.normalized(request.form.get("email"))


def _from_known_device() -> bool:
    return devices.is_known(request.form.get("email"))


def _failed_login(response) -> bool:
    return response.status_code == 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_PER_ADDRESS, methods=["POST"])
@limiter.limit(LOGIN_FAILURES_PER_ACCOUNT, methods=["POST"], key_func=_login_account,
               deduct_when=_failed_login, exempt_when=_from_known_device)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(home_for(current_user)))
    form = LogInForm()
    if form.validate_on_submit():
        user = services.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            response = redirect(_safe_next(home_for(user)))
            devices.remember(response, user.email)
            return response
        form.password.errors = ["Wrong e-mail or password."]
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400, "The log-out form expired; try again.")
    if current_user.is_authenticated:
        # Not just this browser's cookie: a copy of it (saved, stolen) must stop working too.
        services.end_sessions(db.session, current_user)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("catalog.home"))


@bp.route("/account/keys", methods=["GET", "POST"])
@login_required
def api_keys():
    form = ApiKeyForm()
    new_secret = None
    if form.validate_on_submit():
        issued = services.issue_api_key(db.session, current_user, label=form.label.data)
        new_secret = issued.secret
        form = ApiKeyForm(formdata=None)
    keys = services.list_api_keys(db.session, current_user)
    return render_template(
        "accounts/keys.html", form=form, keys=keys, new_secret=new_secret, revoke_form=EmptyForm()
    )


@bp.route("/account/keys/<int:key_id>/revoke", methods=["POST"])
@login_required
def revoke_key(key_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400, "The form expired; try again.")
    key = services.revoke_api_key(db.session, current_user, key_id)
    flash(f"Key {key.prefix}… revoked.", "success")
    return redirect(url_for("accounts.api_keys"))


def _attach_errors(form, error: DomainError) -> None:
    """Put a service error's messages on the form's fields (the API's owner.email is `email`)."""
    fields = ((error.errors or {}).get("json") or {}) if error.errors else {}
    placed = False
    for path, message in flatten_errors(fields):
        field = getattr(form, path.rpartition(".")[2], None)
        if field is not None:
            field.errors = list(field.errors) + [message]
            placed = True
    if not placed:
        form.form_errors.append(error.message)
