"""One license's export of one version: JSONL streamed in batches from a server-side cursor.

What goes in (SPEC.md "Consent rules", "Licensing and delivery"):

- the records the version froze (added at or before its revision, not taken down by then)
  that are live now (erased and taken-down records never) and whose contributor is eligible
  at the moment of the download for every scope of the license: the one eligibility rule,
  `consent.eligibility.eligible_sql`, asked as of that moment;
- each line `{external_id, text, created_at, contributor}`, `contributor` a pseudonym: an
  HMAC of the contributor's id under a key derived from the app's secret and the license,
  so two licenses' copies can't be joined;
- `text` redacted (SPEC.md "Personal data in records"): each stored finding becomes its typed
  placeholder, or the license's typed pseudonym when the version's report says pseudonyms,
  its kept types and allowed values staying as written; the text around stays as stored. The
  findings come one statement per batch (`pii.redacting`), deltas redacted the same way;
- three canary records derived from the license and the version (plausible text, stable),
  first, in the middle and last, so a leaked copy, even a partial one, names its license;
- with `since_version`, only the records added or changed since that version (and those of
  contributors whose consent changed since it was frozen, so one who came back is sent
  again), then `{external_id, deleted: true}` for the records of that version that this
  export no longer holds and for its canaries, then this version's canaries: applying it to
  the earlier export gives exactly this one.

The store keeps one copy of each record: a record changed after the version was frozen is
delivered as it stands now.

Memory stays flat: rows come `BATCH` at a time (`stream_results`, `yield_per`), and lines are
yielded in chunks of about a megabyte; nothing holds the whole export.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import DateTime, bindparam
from sqlalchemy.orm import Session

from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql
from marketplace.db import small_page_cache
from marketplace.pii.redacting import Redactor, Settings

BATCH = 5_000
CHUNK_BYTES = 1 << 20
CANARIES = 3
#: Words canary texts are made of: ordinary forum prose.
VOCABULARY = (
    "the a this my our that some any every one more most really just still also only even "
    "post thread forum reply answer question issue update version setup guide build release "
    "works broke fixed tried found noticed think guess agree wonder remember recommend "
    "yesterday today lately again finally quickly slowly honestly probably maybe sure "
    "keyboard laptop router phone battery screen driver kernel printer camera server "
    "settings config cable charger backup network update install cache login account "
    "after before with without because since while when until though and but so or"
).split()


@dataclass(frozen=True)
class ExportSpec:
    """Everything an export needs, as plain values (built by `services.export_spec`)."""

    license_id: int
    question: EligibilityQuestion      # the license's dataset and scopes, version, moment
    version_id: int
    version_number: str
    version_revision: int
    record_estimate: int               # the version's frozen record count
    first_record_at: datetime | None
    last_record_at: datetime | None
    since_version_id: int | None
    since_number: str | None
    since_revision: int | None
    since_frozen_at: datetime | None
    secret: str
    #: What the version's scan report froze: placeholders or pseudonyms, kept types, allowed values.
    pii: Settings = field(default_factory=Settings)

    @property
    def at(self) -> datetime:
        return self.question.at


@dataclass
class Tally:
    """What an export held, known once it has been streamed to its end."""

    records: int = 0
    deleted: int = 0
    bytes: int = 0
    digest: object = field(default_factory=hashlib.sha256)
    complete: bool = False

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


def _key(secret: str, purpose: str) -> bytes:
    return hmac.digest(secret.encode(), purpose.encode(), "sha256")


def pseudonym_key(secret: str, license_id: int) -> bytes:
    return _key(secret, f"dividend.delivery.pseudonym:{license_id}")


def pseudonym(key: bytes, contributor_id: int) -> str:
    """The contributor as this license's exports name them."""
    return "p" + hmac.digest(key, str(contributor_id).encode(), "sha256").hex()[:24]


def stamp(value) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` from what the driver returns (SQLite: text; else datetime)."""
    if isinstance(value, str):
        text = value.replace(" ", "T")
        return (text if "." in text else text + ".000000") + "Z"
    return value.isoformat(timespec="microseconds") + "Z"


def line(external_id: str, text: str, created_at: str, contributor: str) -> bytes:
    return orjson.dumps({"external_id": external_id, "text": text, "created_at": created_at,
                         "contributor": contributor}) + b"\n"


def tombstone(external_id: str) -> bytes:
    return orjson.dumps({"external_id": external_id, "deleted": True}) + b"\n"


@dataclass(frozen=True)
class Canary:
    external_id: str
    line: bytes


def canaries(secret: str, license_id: int, version_id: int, first: datetime | None,
             last: datetime | None) -> list[Canary]:
    """The license's canary records for one version: the same every time they are made."""
    key = _key(secret, f"dividend.delivery.canary:{license_id}:{version_id}")
    first = first or datetime(2024, 1, 1)
    span = max(int(((last or first) - first).total_seconds()), 1)
    made = []
    for index in range(CANARIES):
        h = hmac.digest(key, bytes([index]), "sha256") + hmac.digest(key, bytes([index, 1]), "sha256")
        external_id = str(10**9 + int.from_bytes(h[:5], "big") % (9 * 10**9))
        words = [VOCABULARY[b % len(VOCABULARY)] for b in h[5:19]]
        text = " ".join(words).capitalize() + "."
        moment = first + timedelta(seconds=int.from_bytes(h[19:23], "big") % span)
        contributor = "p" + h[23:35].hex()
        made.append(Canary(external_id, line(external_id, text, stamp(moment), contributor)))
    return made


def _statement(spec: ExportSpec, select_sql: str):
    prefix, params = eligible_sql(spec.question)
    params.update(export_dataset=spec.question.dataset_id, export_rev=spec.version_revision,
                  since_rev=spec.since_revision if spec.since_revision is not None else -1,
                  since_frozen=spec.since_frozen_at or spec.at)
    statement = bind(prefix + select_sql)
    if ":since_frozen" in select_sql:
        statement = statement.bindparams(bindparam("since_frozen", type_=DateTime()))
    return statement, params


IN_EXPORT = ("r.added_rev <= :export_rev AND r.taken_down_at IS NULL "
             "AND r.contributor_id IN (SELECT contributor_id FROM eligible)")

RECORDS = """
SELECT r.id, r.external_id, r.contributor_id, r.text, r.created_at, r.pii_version FROM records r
WHERE r.dataset_id = :export_dataset AND {in_export} {delta}
ORDER BY r.id"""

CHANGED_SINCE = """AND (r.added_rev > :since_rev OR r.modified_rev > :since_rev
     OR EXISTS (SELECT 1 FROM consents c WHERE c.contributor_id = r.contributor_id
                AND c.at > :since_frozen AND c.at <= :at))"""

# Records of the earlier version this export no longer holds: removed since, or left out now
# after a consent decision made since it was frozen (a contributor left out then and still,
# with no decision since, was never delivered under it: no tombstone names their records).
REMOVED_SINCE = """
SELECT r.external_id FROM records r
WHERE r.dataset_id = :export_dataset AND r.added_rev <= :since_rev
  AND (r.taken_down_rev IS NULL OR r.taken_down_rev > :since_rev)
  AND NOT ({in_export})
  AND (r.taken_down_at IS NOT NULL
       OR EXISTS (SELECT 1 FROM consents c WHERE c.contributor_id = r.contributor_id
                  AND c.at > :since_frozen AND c.at <= :at))
ORDER BY r.id"""


def _stream(session: Session, spec: ExportSpec, select_sql: str):
    statement, params = _statement(spec, select_sql)
    connection = session.connection()
    with small_page_cache(connection):
        result = connection.execute(statement, params,
                                    execution_options={"stream_results": True, "yield_per": BATCH})
        try:
            if connection.dialect.name == "sqlite":
                # BATCH rows at a time straight from the driver's cursor: plain tuples, no Row
                # object each (the statement is text: there is no result processing to skip).
                # Not on a server-side cursor: SQLAlchemy has already buffered its first row.
                cursor = result.cursor
                while rows := cursor.fetchmany(BATCH):
                    yield rows
            else:
                yield from result.partitions(BATCH)
        finally:
            result.close()


class Export:
    """The export's bytes, in chunks, counting into `tally` as they go (iterate once)."""

    def __init__(self, session: Session, spec: ExportSpec):
        self.session, self.spec, self.tally = session, spec, Tally()

    def __iter__(self) -> Iterator[bytes]:
        tally = self.tally
        for chunk in self._chunks():
            tally.bytes += len(chunk)
            tally.digest.update(chunk)
            yield chunk
        tally.complete = True

    def _chunks(self) -> Iterator[bytes]:
        spec = self.spec
        mine = canaries(spec.secret, spec.license_id, spec.version_id, spec.first_record_at, spec.last_record_at)
        delta = spec.since_version_id is not None
        buffer: list[bytes] = [] if delta else [mine[0].line]
        size = sum(map(len, buffer))
        middle = None if delta else max(spec.record_estimate // 2, 1)
        key = pseudonym_key(spec.secret, spec.license_id)
        names: dict[int, str] = {}
        sql = RECORDS.format(in_export=IN_EXPORT, delta=CHANGED_SINCE if delta else "")
        redactor = Redactor(self.session, spec.pii, secret=spec.secret, license_id=spec.license_id)
        for rows in _stream(self.session, spec, sql):
            # The batch's findings in one statement (rows come in id order: one id range); only
            # the records that have some (or are not scanned yet) are spliced.
            spans = redactor.spans_between(rows[0][0], rows[-1][0])
            for record_id, external_id, contributor_id, text, created_at, scanned in rows:
                if scanned is None or record_id in spans:
                    text = redactor.text(text, spans.get(record_id) if scanned is not None else None)
                name = names.get(contributor_id)
                if name is None:
                    if len(names) > 100_000:
                        names.clear()
                    name = names[contributor_id] = pseudonym(key, contributor_id)
                data = line(external_id, text, stamp(created_at), name)
                buffer.append(data)
                size += len(data)
                self.tally.records += 1
                if self.tally.records == middle:
                    buffer.append(mine[1].line)
                    size += len(mine[1].line)
            if size >= CHUNK_BYTES:
                yield b"".join(buffer)
                buffer, size = [], 0
        if delta:
            earlier = canaries(spec.secret, spec.license_id, spec.since_version_id, spec.first_record_at,
                               spec.last_record_at)
            buffer.extend(tombstone(canary.external_id) for canary in earlier)
            for rows in _stream(self.session, spec, REMOVED_SINCE.format(in_export=IN_EXPORT)):
                for (external_id,) in rows:
                    buffer.append(tombstone(external_id))
                    self.tally.deleted += 1
                if sum(map(len, buffer)) >= CHUNK_BYTES:
                    yield b"".join(buffer)
                    buffer = []
            buffer.extend(canary.line for canary in mine)
        else:
            if self.tally.records < middle:  # fewer live records than frozen: still three canaries
                buffer.append(mine[1].line)
            buffer.append(mine[2].line)
        yield b"".join(buffer)


LEFT_OUT = """
SELECT
  COALESCE(SUM(CASE WHEN r.erased_at IS NOT NULL THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN r.erased_at IS NULL AND r.taken_down_at IS NOT NULL THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN r.taken_down_at IS NULL AND e.contributor_id IS NULL
                     AND COALESCE(d.withdrawn, 0) > 0 THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN r.taken_down_at IS NULL AND e.contributor_id IS NULL
                     AND COALESCE(d.withdrawn, 0) = 0 AND k.region IN :regions THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN r.taken_down_at IS NULL AND e.contributor_id IS NULL
                     AND COALESCE(d.withdrawn, 0) = 0 AND k.region NOT IN :regions THEN 1 ELSE 0 END), 0)
FROM records r
JOIN contributors k ON k.id = r.contributor_id
LEFT JOIN eligible e ON e.contributor_id = r.contributor_id
LEFT JOIN decided d ON d.contributor_id = r.contributor_id
WHERE r.dataset_id = :export_dataset AND r.added_rev <= :export_rev
  AND (r.taken_down_rev IS NULL OR r.taken_down_rev > :export_rev)"""


def left_out(session: Session, spec: ExportSpec) -> dict[str, int]:
    """Records the version froze that this export leaves out, by why: erased; taken down; a
    contributor who withdrew a scope of the license; one in an opt-in region who has not
    granted; one who has not granted an opt-in dataset (`not_granted`). The reasons come from
    the rule's own decisions (`decided`) for the records the rule leaves out (`eligible`)."""
    statement, params = _statement(spec, LEFT_OUT)
    erased, taken_down, withdrawn, region, not_granted = session.execute(statement, params).one()
    return {"withdrawn": int(withdrawn), "erased": int(erased), "taken_down": int(taken_down),
            "region": int(region), "not_granted": int(not_granted)}


def manifest(session: Session, spec: ExportSpec) -> dict:
    """The export's manifest, by streaming the very same export once without sending it.

    So `bytes` and `sha256` are those of the body a download made at the same moment gets;
    a download made after a withdrawal or a take-down differs, and its own log row has its
    own bytes and sha256.
    """
    export = Export(session, spec)
    for _chunk in export:
        pass
    return {
        "license_id": spec.license_id, "version": spec.version_number, "since_version": spec.since_number,
        "records": export.tally.records, "deleted": export.tally.deleted,
        "bytes": export.tally.bytes, "sha256": export.tally.sha256,
        "left_out": left_out(session, spec), "generated_at": spec.at,
    }
