"""Marshmallow schemas of the catalog: the one place its input shapes are validated.

The JSON API loads them through flask-smorest; the web forms load the same
schemas, so a rule can't differ between the two skins.
"""
from __future__ import annotations

import re

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates

from marketplace.catalog.models import (
    CONTENT_KINDS,
    PII_ALLOW_MAX,
    PII_KEEPABLE,
    SCOPES,
    Billing,
    ConsentPolicy,
    PiiRedaction,
    PriceModel,
    Weighting,
)
from marketplace.catalog.offers import PROCESSOR_MAX_CHARGE, max_charge
from marketplace.fields import String, UtcDateTime
from marketplace.pagination import PageArgs
from marketplace.regions import ISO_3166_ALPHA2
from marketplace.text import SLUG_SHAPE

LANGUAGE_SHAPE = re.compile(r"^[a-z]{2,3}$")
TAG_SHAPE = re.compile(r"^[a-z0-9][a-z0-9 +#.-]{0,39}$")


# List items document their rule in the OpenAPI document (the lists' validators below check it
# and name the first bad item).
def Language() -> String:  # noqa: N802 (a field factory, read like a field class)
    return String(metadata={"pattern": LANGUAGE_SHAPE.pattern})


def Tag() -> String:  # noqa: N802
    return String(metadata={"pattern": TAG_SHAPE.pattern})


def Region() -> String:  # noqa: N802
    return String(metadata={"enum": ["*", *sorted(ISO_3166_ALPHA2)]})


class MoneySchema(Schema):
    amount = fields.Integer(required=True, strict=True)
    currency = String(required=True)


class DatasetUpdateSchema(Schema):
    title = String(validate=validate.Length(min=3, max=200))
    summary = String(validate=validate.Length(max=500))
    description = String(validate=validate.Length(max=20000))
    content_kind = String(validate=validate.OneOf(CONTENT_KINDS))
    languages = fields.List(Language(), validate=validate.Length(min=1, max=20))
    tags = fields.List(Tag(), validate=validate.Length(max=20))
    consent_policy = String(validate=validate.OneOf(list(ConsentPolicy)))
    weighting = String(validate=validate.OneOf(list(Weighting)))
    pii_redaction = String(
        validate=validate.OneOf(list(PiiRedaction)),
        metadata={"description": "Exports replace personal data by typed placeholders (<EMAIL>) "
                                 "or by typed pseudonyms per license (<EMAIL_5f2c9a1b>)."})
    pii_keep = fields.List(
        String(), validate=validate.Length(max=20),
        metadata={"description": "Types exported as written: handle, profile_url (no other)."})
    pii_allow = fields.List(
        String(validate=validate.Length(min=1, max=500)), validate=validate.Length(max=PII_ALLOW_MAX),
        metadata={"description": "Exact values never redacted (at most 1,000)."})

    @validates("pii_keep")
    def _pii_keep(self, value, **_):
        bad = [kind for kind in value if kind not in PII_KEEPABLE]
        if bad:
            raise ValidationError(
                f"Only handle and profile_url may be kept as written; {bad[0]!r} is always redacted.")

    @validates("languages")
    def _languages(self, value, **_):
        bad = [code for code in value if not LANGUAGE_SHAPE.match(code)]
        if bad:
            raise ValidationError(f"Use ISO 639 codes in lower case, like \"en\"; got {bad[0]!r}.")

    @validates("tags")
    def _tags(self, value, **_):
        bad = [tag for tag in value if not TAG_SHAPE.match(tag)]
        if bad:
            raise ValidationError(
                f"Tags are 1-40 lower-case letters, digits, spaces or -+#.; got {bad[0]!r}."
            )


class DatasetCreateSchema(DatasetUpdateSchema):
    slug = String(required=True, metadata={"example": "forum-posts-2024"})
    title = String(required=True, validate=validate.Length(min=3, max=200))
    summary = String(load_default="", validate=validate.Length(max=500))
    description = String(load_default="", validate=validate.Length(max=20000))
    content_kind = String(required=True, validate=validate.OneOf(CONTENT_KINDS))
    languages = fields.List(Language(), required=True, validate=validate.Length(min=1, max=20))
    tags = fields.List(Tag(), load_default=list, validate=validate.Length(max=20))
    consent_policy = String(load_default="opt_out", validate=validate.OneOf(list(ConsentPolicy)))
    weighting = String(load_default="records", validate=validate.OneOf(list(Weighting)))
    pii_redaction = String(load_default="placeholder", validate=validate.OneOf(list(PiiRedaction)))
    pii_keep = fields.List(String(), load_default=list, validate=validate.Length(max=20))
    pii_allow = fields.List(String(validate=validate.Length(min=1, max=500)), load_default=list,
                            validate=validate.Length(max=PII_ALLOW_MAX))

    @validates("slug")
    def _slug(self, value, **_):
        if not SLUG_SHAPE.match(value):
            raise ValidationError(
                "Use 1-80 lower-case letters, digits and hyphens, starting and ending with a "
                "letter or digit."
            )


class PriceSchema(Schema):
    model = String(required=True, validate=validate.OneOf(list(PriceModel)))
    amount = fields.Integer(
        required=True, strict=True,
        validate=validate.Range(min=1, max=PROCESSOR_MAX_CHARGE,
                                error="Must be between {min} and {max} minor units: the card processor takes at "
                                      "most {max} in one payment."),
        metadata={"description": "Minor units: the flat price, or the price per 1k records / 1M tokens. "
                                 "At most what the card processor takes in one payment (99,999,999, or "
                                 "the lower DIVIDEND_MAX_CHARGE), also once priced on the latest version."},
    )
    currency = String(required=True)

    @validates("amount")
    def _amount(self, value, **_):
        if value > max_charge():
            raise ValidationError(f"Must be between 1 and {max_charge()} minor units: this marketplace takes "
                                  f"at most {max_charge()} in one payment.")

    @validates("currency")
    def _currency(self, value, **_):
        expected = current_app.config["CURRENCY"]
        if value != expected:
            raise ValidationError(f"This marketplace sells in {expected!r} only.")


class OfferCreateSchema(Schema):
    name = String(required=True, validate=validate.Length(min=2, max=120))
    scopes = fields.List(
        String(validate=validate.OneOf(SCOPES)), required=True,
        validate=validate.Length(min=1, max=len(SCOPES)),
    )
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=120))
    territory = fields.List(Region(), load_default=lambda: ["*"], validate=validate.Length(min=1))
    exclusive = fields.Boolean(load_default=False)
    price = fields.Nested(PriceSchema, required=True)
    billing = String(load_default="one_time", validate=validate.OneOf(list(Billing)))
    contributor_share_bps = fields.Integer(required=True, strict=True)

    @validates("scopes")
    def _scopes(self, value, **_):
        if len(set(value)) != len(value):
            raise ValidationError("List each scope once.")

    @validates("territory")
    def _territory(self, value, **_):
        if value == ["*"]:
            return
        bad = [code for code in value if code not in ISO_3166_ALPHA2]
        if bad:
            raise ValidationError(
                f'Use ["*"] or ISO 3166-1 alpha-2 codes in upper case; {bad[0]!r} is not one.'
            )
        if len(set(value)) != len(value):
            raise ValidationError("List each region once.")

    @validates("contributor_share_bps")
    def _share(self, value, **_):
        floor = current_app.config["MIN_CONTRIBUTOR_SHARE_BPS"]
        if not floor <= value <= 10000:
            raise ValidationError(
                f"Contributors get at least {floor} basis points of the net (at most 10000)."
            )


class CatalogArgs(PageArgs):
    q = String(load_default="", validate=validate.Length(max=200))
    scope = String(load_default=None, validate=validate.OneOf(SCOPES))
    language = String(load_default=None, validate=validate.Regexp(LANGUAGE_SHAPE))
    content_kind = String(load_default=None, validate=validate.OneOf(CONTENT_KINDS))
    price_model = String(load_default=None, validate=validate.OneOf(list(PriceModel)))


# ---- output ---------------------------------------------------------------------------


class PlatformRefSchema(Schema):
    name = fields.String()
    slug = fields.String()


class VersionSchema(Schema):
    number = fields.String()
    record_count = fields.Integer()
    token_count = fields.Integer()
    contributor_count = fields.Integer()
    sha256 = fields.String()
    first_record_at = UtcDateTime(allow_none=True)
    last_record_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class OfferSchema(Schema):
    id = fields.Integer()
    dataset = fields.String(attribute="dataset.slug")
    name = fields.String()
    scopes = fields.List(fields.String())
    term_months = fields.Integer()
    territory = fields.List(fields.String())
    exclusive = fields.Boolean()
    price = fields.Method("_price")
    billing = fields.String()
    contributor_share_bps = fields.Integer()
    quote = fields.Method(
        "_quote", allow_none=True,
        metadata={"description": "What a license costs now, on the latest version's counts."},
    )
    retired_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()

    def _price(self, offer):
        return {"model": offer.price_model, "amount": offer.price_amount, "currency": offer.currency}

    def _quote(self, offer):
        from marketplace.catalog.offers import quote

        money = quote(offer, offer.dataset.latest_version)
        return money.as_dict() if money else None


class DatasetSummarySchema(Schema):
    slug = fields.String()
    title = fields.String()
    summary = fields.String()
    content_kind = fields.String()
    languages = fields.List(fields.String())
    tags = fields.List(fields.String())
    consent_policy = fields.String()
    weighting = fields.String()
    status = fields.String()
    platform = fields.Nested(PlatformRefSchema)
    counts = fields.Method("_counts", allow_none=True)
    scopes = fields.Method("_scopes")
    published_at = UtcDateTime(allow_none=True)

    def _counts(self, dataset):
        version = dataset.latest_version
        if version is None:
            return None
        return {
            "records": version.record_count,
            "tokens": version.token_count,
            "contributors": version.contributor_count,
        }

    def _scopes(self, dataset):
        return sorted({s for offer in dataset.offers if offer.is_active for s in offer.scopes})


class DatasetSchema(DatasetSummarySchema):
    description = fields.String()
    pii_redaction = fields.String()
    pii_keep = fields.List(fields.String())
    pii_allow = fields.List(fields.String())
    versions = fields.List(fields.Nested(VersionSchema))
    offers = fields.List(fields.Nested(OfferSchema))
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
