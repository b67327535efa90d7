"""Jinja filters and globals shared by every page."""
from __future__ import annotations

from flask import Flask
from flask_login import current_user

from marketplace.accounts.forms import EmptyForm
from marketplace.money import Money

SCOPE_LABELS = {
    "ai-train": "AI training",
    "ai-input": "AI input (retrieval, grounding)",
    "ai-index": "AI indexing",
    "search": "Search",
    "ai-eval": "AI evaluation",
    "ad-targeting": "Ad targeting",
}
PRICE_MODEL_LABELS = {
    "flat": "flat",
    "per_1k_records": "per 1,000 records",
    "per_1m_tokens": "per 1M tokens",
}

#: Statuses in words (licenses, payments, payment purposes); the slug stays in a tooltip or code.
STATUS_LABELS = {
    "pending_payment": "waiting for payment",
    "active": "active",
    "canceled": "canceled",
    "expired": "expired",
    "refunded": "refunded",
    "revoked": "revoked",
    "requires_payment": "waiting for the card",
    "processing": "card accepted, being confirmed",
    "succeeded": "paid",
    "failed": "declined",
    "initial": "first payment",
    "renewal": "renewal",
    "draft": "draft",
    "published": "published",
    "unpublished": "unpublished",
}


def money(value, currency: str | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, Money):
        return str(value)
    return str(Money(int(value), currency or "usd"))


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["status_label"] = lambda s: STATUS_LABELS.get(str(s), str(s).replace("_", " "))
    app.jinja_env.filters["thousands"] = lambda n: f"{n:,}" if n is not None else "—"
    app.jinja_env.filters["scope_label"] = lambda s: SCOPE_LABELS.get(s, s)
    app.jinja_env.filters["price_model_label"] = lambda s: PRICE_MODEL_LABELS.get(s, s)
    app.jinja_env.filters["date"] = lambda d: d.strftime("%Y-%m-%d") if d else "—"

    @app.context_processor
    def globals_for_templates():
        return {
            "current_user": current_user,
            "logout_form": EmptyForm(),
            "scope_labels": SCOPE_LABELS,
        }
