"""The public catalog: full-text search and filters over published datasets.

SQLite searches an FTS5 table kept in step with `datasets.search_document` by
`index_dataset`; PostgreSQL searches the same column through a GIN-indexed
`to_tsvector('simple', …)` expression. Both match every word of the query as
a prefix, so "photo capt" finds "photography captions".
"""
from __future__ import annotations

import re

from sqlalchemy import and_, exists, func, literal_column, select, text
from sqlalchemy.orm import Session, selectinload

from marketplace.catalog.models import Dataset, DatasetLanguage, Offer, OfferScope

WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 12


def document_for(dataset: Dataset) -> str:
    parts = [dataset.title, dataset.summary or "", dataset.description or "", " ".join(dataset.tags or [])]
    return " ".join(parts).lower()


def index_dataset(session: Session, dataset: Dataset) -> None:
    """Bring the SQLite FTS5 row of `dataset` up to date (PostgreSQL indexes the column itself)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(text("DELETE FROM dataset_search WHERE rowid = :id"), {"id": dataset.id})
    session.execute(
        text("INSERT INTO dataset_search (rowid, document) VALUES (:id, :document)"),
        {"id": dataset.id, "document": dataset.search_document},
    )


def query_words(q: str) -> list[str]:
    return WORD.findall((q or "").lower())[:MAX_QUERY_WORDS]


def catalog_statement(session: Session, *, q="", scope=None, language=None, content_kind=None,
                      price_model=None):
    """SELECT of published datasets matching the filters, best match first."""
    # The cards show each dataset's latest version and offer scopes: load them in two queries.
    statement = (
        select(Dataset)
        .where(Dataset.status == "published")
        .options(selectinload(Dataset.versions), selectinload(Dataset.offers))
    )
    live_offer = and_(Offer.dataset_id == Dataset.id, Offer.retired_at.is_(None))
    if scope:
        statement = statement.where(
            exists().where(live_offer, OfferScope.offer_id == Offer.id, OfferScope.scope == scope)
        )
    if price_model:
        statement = statement.where(exists().where(live_offer, Offer.price_model == price_model))
    if language:
        statement = statement.where(
            exists().where(DatasetLanguage.dataset_id == Dataset.id, DatasetLanguage.code == language)
        )
    if content_kind:
        statement = statement.where(Dataset.content_kind == content_kind)
    words = query_words(q)
    if not words:
        return statement.order_by(Dataset.published_at.desc(), Dataset.id.desc())
    if session.get_bind().dialect.name == "sqlite":
        match = " ".join(f'"{word}"*' for word in words)
        ranked = (
            select(literal_column("rowid").label("id"), literal_column("bm25(dataset_search)").label("rank"))
            .select_from(text("dataset_search"))
            .where(text("dataset_search MATCH :match").bindparams(match=match))
            .subquery()
        )
        return statement.join(ranked, ranked.c.id == Dataset.id).order_by(ranked.c.rank, Dataset.id)
    tsquery = func.to_tsquery("simple", " & ".join(f"{word}:*" for word in words))
    vector = func.to_tsvector("simple", Dataset.search_document)
    return statement.where(vector.op("@@")(tsquery)).order_by(
        func.ts_rank(vector, tsquery).desc(), Dataset.id
    )
