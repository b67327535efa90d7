"""Dividend: the app factory.

Importing the package imports nothing else: a process that needs one pure module (the
personal-data scan's pool workers import only `marketplace.pii.detector`) doesn't load Flask,
SQLAlchemy and Alembic for it. `create_app` imports the web stack.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def _database_id_converter():
    from werkzeug.routing import IntegerConverter

    from marketplace.fields import MAX_ID

    class DatabaseIdConverter(IntegerConverter):
        """`<int:…>` in every route, at most `fields.MAX_ID` (PostgreSQL's 32-bit `integer` keys): a
        larger number in a path is a 404 like any unknown id, not an out-of-range error in the
        database (a 500). A route naming a `db.BigId` row says `<int(max=MAX_BIG_ID):…>`."""

        def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's name)
            kwargs.setdefault("max", MAX_ID)
            super().__init__(map, *args, **kwargs)

    return DatabaseIdConverter


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config from the environment, then `overrides` (tests use them)."""
    from marketplace import config as config_module
    from marketplace.boundary import BoundaryFlask

    app = BoundaryFlask(
        "marketplace",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(config_module.load())
    if overrides:
        app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    # Before any route is added: rules pick their converters when they are added.
    app.url_map.converters["int"] = _database_id_converter()
    from marketplace import security

    # First: it refuses the development key, and its headers go on after the extensions' own.
    security.register(app)
    security.trust_proxies(app, app.config["PROXY_HOPS"])
    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    from marketplace import errors, templating

    errors.register(app)
    templating.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from marketplace import body_limits, boundary, jobs, models  # noqa: F401  (models: the whole metadata)
    from marketplace.accounts import auth
    from marketplace.accounts import jobs as account_jobs  # noqa: F401  (registers its tasks)
    from marketplace.allocation import check as allocation_check
    from marketplace.delivery import jobs as delivery_jobs  # noqa: F401  (registers its tasks)
    from marketplace.delivery.presenters import license_delivery
    from marketplace.extensions import api, csrf, db, limiter, login_manager, migrate
    from marketplace.licensing import jobs as licensing_jobs  # noqa: F401  (registers its tasks)
    from marketplace.licensing.presenters import register_license_page_section
    from marketplace.licensing.settlement import LicenseSettlement
    from marketplace.payments import jobs as payment_jobs  # noqa: F401  (registers its tasks)
    from marketplace.payments import services as payments
    from marketplace.payments import settlement
    from marketplace.payouts import check as payout_check
    from marketplace.payouts import jobs as payout_jobs  # noqa: F401  (registers its tasks)
    from marketplace.payouts import webhooks as payout_webhooks
    from marketplace.pii import jobs as pii_jobs  # noqa: F401  (registers its tasks)
    from marketplace.pii import services as pii

    body_limits.init_app(app)  # first: the CSRF check below reads form bodies
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    auth.init_login(login_manager)
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app, spec_kwargs=_spec_kwargs())
    jobs.init_app(app)
    boundary.init_app(app)
    allocation_check.register()
    app.extensions["payment_gateway"] = payments.build_gateway(app.config)
    settlement.register(LicenseSettlement())
    register_license_page_section("delivery", lambda session, license: license_delivery(
        session, license, opt_in_regions=app.config["OPT_IN_REGIONS"]))
    payout_webhooks.register()
    payout_check.register()
    pii.register()


def _spec_kwargs() -> dict:
    from marketplace.body_limits import DocumentTooLarge

    return {
        "extra_plugins": [DocumentTooLarge()],
        "info": {
            "description": "Dividend's public JSON API (see API.md). Errors share one shape: "
            '{"code", "status", "message", "errors"}.'
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}
            }
        },
    }


def _register_blueprints(app: Flask) -> None:
    from marketplace.accounts import api as accounts_api
    from marketplace.accounts import views as accounts_views
    from marketplace.catalog import api as catalog_api
    from marketplace.catalog import views as catalog_views
    from marketplace.consent import api as consent_api
    from marketplace.contributors import (
        claims_api,
        claims_views,
        consent_views,
        erasure_api,
        erasure_views,
        statement_api,
        statement_views,
    )
    from marketplace.delivery import api as delivery_api
    from marketplace.delivery import views as delivery_views
    from marketplace.extensions import api, csrf
    from marketplace.ledger import api as ledger_api
    from marketplace.ledger import views as ledger_views
    from marketplace.licensing import api as licensing_api
    from marketplace.licensing import views as licensing_views
    from marketplace.payments import api as payments_api
    from marketplace.payouts import api as payouts_api
    from marketplace.payouts import views as payouts_views
    from marketplace.pii import api as pii_api
    from marketplace.pii import views as pii_views
    from marketplace.transparency import api as transparency_api
    from marketplace.transparency import views as transparency_views

    for blueprint in (accounts_api.blp, catalog_api.blp, ledger_api.blp, licensing_api.blp,
                      claims_api.blp, statement_api.blp, consent_api.blp, erasure_api.blp,
                      transparency_api.blp, delivery_api.blp, payouts_api.blp,
                      pii_api.blp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    csrf.exempt(payments_api.blp)
    api.register_blueprint(payments_api.blp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(catalog_views.bp)
    app.register_blueprint(ledger_views.bp)
    app.register_blueprint(licensing_views.bp)
    app.register_blueprint(claims_views.bp)
    app.register_blueprint(statement_views.bp)
    app.register_blueprint(consent_views.bp)
    app.register_blueprint(erasure_views.bp)
    app.register_blueprint(transparency_views.bp)
    app.register_blueprint(delivery_views.bp)
    app.register_blueprint(payouts_views.bp)
    app.register_blueprint(pii_views.bp)
    pii_views.register(app)


def _register_cli(app: Flask) -> None:
    from marketplace import demo, jobs
    from marketplace.accounts import cli as accounts_cli
    from marketplace.catalog import cli as catalog_cli
    from marketplace.contributors import cli as contributors_cli
    from marketplace.delivery import cli as delivery_cli
    from marketplace.ledger import cli as ledger_cli
    from marketplace.payouts import cli as payouts_cli
    from marketplace.pii import cli as pii_cli

    app.cli.add_command(catalog_cli.records)
    app.cli.add_command(accounts_cli.admin)
    app.cli.add_command(ledger_cli.ledger)
    app.cli.add_command(contributors_cli.claim_codes)
    app.cli.add_command(demo.demo_command)
    app.cli.add_command(jobs.worker_command)
    app.cli.add_command(delivery_cli.delivery)
    app.cli.add_command(payouts_cli.payouts)
    app.cli.add_command(pii_cli.pii)
