"""API.md's list envelope: `?page=&per_page=` in, `{items, total, page, per_page}` out."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

MAX_PER_PAGE = 200
MAX_PAGE = 10_000_000


class PageArgs(Schema):
    # Bounded so that the OFFSET stays a 64-bit integer on every database (a 422, not a 500).
    page = fields.Integer(load_default=1, validate=[validate.Range(min=1), validate.Range(max=MAX_PAGE)])
    per_page = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error="must be between 1 and 200"),
    )


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A schema for one page of `item_schema`, named for the OpenAPI document."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
        },
        name=name,
    )


def paginate(session, statement, page: int, per_page: int):
    """Run `statement` for one page; returns (rows, total)."""
    from sqlalchemy import func, select

    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total
