"""Claim codes: a platform hands one to a contributor, who claims their identity with it.

A code is 16 random Crockford base32 characters (80 bits), shown as XXXX-XXXX-XXXX-XXXX and
typed back however the person likes: case, spaces, hyphens and the letters Crockford reads as
digits (O as 0, I and L as 1) don't matter. Only the SHA-256 of the normalized code is stored.
A code is open while it is neither used, revoked nor expired; issuing a new one revokes the
contributor's open codes. The bulk export gives codes only to those who hold no open code;
re-issuing everyone's is a separate call that names how many open codes it revokes. Earnings
accrued before the claim are ledger entries on the Contributor row, so linking the row to the
account is all a claim needs to make them theirs.

Services flush and never commit; the request or the command commits once.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from tempfile import SpooledTemporaryFile
from typing import IO, NamedTuple

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization, User
from marketplace.accounts.services import create_user, issue_api_key, validate_credentials
from marketplace.catalog.contributors import identities
from marketplace.catalog.models import Contributor
from marketplace.contributors.identities import link
from marketplace.contributors.models import ClaimCode
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, NotFound, field_errors, invalid_field
from marketplace.text import has_nul

#: Crockford's base32: no I, L, O or U, so a code read aloud or typed by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
CSV_HEADER = ("external_id", "region", "code", "expires_at")
DEFAULT_DAYS = 30

_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)
_READ_AS_DIGITS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-]+")
_SHAPE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
CODE_SHAPE_MESSAGE = "A claim code is 16 letters and digits, like 7K3M-Q9XD-2HBT-V0PN."
EMAIL_TAKEN = "Already registered: log in and link the code to that account."


# ---- codes -------------------------------------------------------------------------------


def _fresh() -> tuple[str, str]:
    """(a new code as shown to people, XXXX-XXXX-XXXX-XXXX; its hash)."""
    # 10 random bytes are exactly 16 base32 characters; RFC 4648's digits map onto Crockford's.
    raw = base64.b32encode(secrets.token_bytes(10)).decode().translate(_TO_CROCKFORD)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:12]}-{raw[12:]}", hashlib.sha256(raw.encode()).hexdigest()


def new_code() -> str:
    """A fresh random code, as shown to people (XXXX-XXXX-XXXX-XXXX)."""
    return _fresh()[0]


def normalize(code: str) -> str | None:
    """The 16 characters a typed code stands for, or None when it can't be a code."""
    text = _SEPARATORS.sub("", (code or "").upper()).translate(_READ_AS_DIGITS)
    return text if _SHAPE.match(text) else None


def code_hash(code: str) -> str:
    """Hex SHA-256 of a code as typed (normalized first). :raise Invalid: not a code's shape."""
    normalized = normalize(code)
    if normalized is None:
        raise invalid_field("code", CODE_SHAPE_MESSAGE)
    return hashlib.sha256(normalized.encode()).hexdigest()


def lifetime(days: int | None = None) -> timedelta:
    """How long a new code stays open: `days`, else the CLAIM_CODE_DAYS setting."""
    if days is None:
        days = current_app.config.get("CLAIM_CODE_DAYS", DEFAULT_DAYS)
    return timedelta(days=max(1, days))


def _is_open(now: datetime):
    return ClaimCode.used_at.is_(None) & ClaimCode.revoked_at.is_(None) & (ClaimCode.expires_at > now)


# ---- issuing and revoking (platforms) ----------------------------------------------------


class IssuedCode(NamedTuple):
    """A new code: the text, shown once, and its row."""

    code: str
    claim_code: ClaimCode


def _platform_contributor(session: Session, platform_id: int, external_id: str, *,
                          lock: bool = False) -> Contributor:
    if has_nul(external_id):  # no id holds one; PostgreSQL would refuse to compare it (a 500)
        raise NotFound(f"No contributor {external_id!r} on your platform.")
    statement = select(Contributor).where(Contributor.platform_id == platform_id,
                                          Contributor.external_id == external_id)
    # Two operators issuing at once must not leave two open codes (PostgreSQL; SQLite has one writer).
    contributor = session.scalar(statement.with_for_update() if lock else statement)
    if contributor is None:
        raise NotFound(f"No contributor {external_id!r} on your platform.")
    return contributor


def issue(session: Session, platform_id: int, external_id: str, issued_by: int | None, *,
          days: int | None = None) -> IssuedCode:
    """A new code for the platform's contributor `external_id`, revoking their open codes.

    :raise NotFound: no such contributor on this platform (another platform's is unknown here).
    :raise Conflict: the identity is already claimed.
    """
    contributor = _platform_contributor(session, platform_id, external_id, lock=True)
    if contributor.user_id is not None:
        raise Conflict(f"Contributor {external_id!r} has already claimed their identity; no code is needed.")
    now = utcnow()
    session.execute(update(ClaimCode).where(ClaimCode.contributor_id == contributor.id, _is_open(now))
                    .values(revoked_at=now))
    code = new_code()
    row = ClaimCode(contributor_id=contributor.id, code_hash=code_hash(code), created_at=now,
                    expires_at=now + lifetime(days), issued_by=issued_by)
    session.add(row)
    session.flush()
    return IssuedCode(code, row)


def revoke(session: Session, platform_id: int, external_id: str) -> int:
    """Revoke the contributor's open codes; returns how many. :raise NotFound: as `issue`."""
    contributor = _platform_contributor(session, platform_id, external_id)
    now = utcnow()
    result = session.execute(update(ClaimCode).where(ClaimCode.contributor_id == contributor.id, _is_open(now))
                             .values(revoked_at=now))
    return result.rowcount


# ---- codes in bulk (platforms) -------------------------------------------------------------
#
# The export hands codes to the unclaimed contributors who hold no open code and leaves every
# open code alone: a code already mailed (or issued one by one, or printed by the demo) keeps
# working. Re-issuing everyone's codes revokes those, so it is a separate call that must name
# how many open codes it revokes (`confirm_revoking`): nobody does it blind.


def _unclaimed(platform_id: int):
    return (Contributor.platform_id == platform_id) & Contributor.user_id.is_(None)


def _open_codes_of_unclaimed(platform_id: int, now: datetime):
    """The open codes of the platform's unclaimed contributors (a claimed one's code claims nothing)."""
    return ClaimCode.contributor_id.in_(select(Contributor.id).where(_unclaimed(platform_id))) & _is_open(now)


class ExportPlan(NamedTuple):
    """What an export would do now, counted without writing (for the page, the API and the CLI)."""

    #: Unclaimed contributors: a re-issue gives each a new code.
    unclaimed: int
    #: Unclaimed contributors holding an open code: the export skips them, their code still works.
    holding_open_code: int
    #: Open codes of unclaimed contributors: what a re-issue revokes (its `confirm_revoking`).
    open_codes: int

    @property
    def to_issue(self) -> int:
        """Codes the (default) export issues: one per unclaimed contributor without an open code."""
        return self.unclaimed - self.holding_open_code


class Exported(NamedTuple):
    """What an export did: codes issued (the CSV's lines), contributors skipped because they hold an
    open code, and open codes revoked first (a re-issue; 0 otherwise)."""

    issued: int
    skipped: int
    revoked: int


def export_plan(session: Session, platform_id: int) -> ExportPlan:
    """Count what `export` would issue, skip and (re-issuing) revoke now; writes nothing."""
    now = utcnow()
    held = _open_codes_of_unclaimed(platform_id, now)
    row = session.execute(select(
        select(func.count()).select_from(Contributor).where(_unclaimed(platform_id)).scalar_subquery(),
        select(func.count(func.distinct(ClaimCode.contributor_id))).where(held).scalar_subquery(),
        select(func.count()).select_from(ClaimCode).where(held).scalar_subquery(),
    )).one()
    return ExportPlan(*row)


def _lock_platform(session: Session, platform_id: int) -> None:
    """Serialize the platform's exports (PostgreSQL; SQLite has one writer): a second export waits
    for the first to commit and then finds the codes it issued open, instead of doubling them."""
    session.execute(select(Organization.id).where(Organization.id == platform_id).with_for_update())


def _revoke_for_reissue(session: Session, platform_id: int, confirm_revoking: int | None, now: datetime) -> int:
    """Revoke the open codes of the platform's unclaimed contributors, if there are `confirm_revoking` of them.

    :raise Conflict: `confirm_revoking` is missing or not the number of open codes (saying that number);
        nothing is revoked.
    """
    open_codes = export_plan(session, platform_id).open_codes
    if confirm_revoking != open_codes:
        raise _reissue_refused(open_codes, confirm_revoking)
    revoked = session.execute(
        update(ClaimCode).where(_open_codes_of_unclaimed(platform_id, now)).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if revoked != open_codes:  # a code issued or used meanwhile (PostgreSQL): the caller rolls back
        raise _reissue_refused(revoked, confirm_revoking)
    return revoked


def _reissue_refused(open_codes: int, confirm_revoking: int | None) -> Conflict:
    codes = f"{open_codes:,} open claim code{'' if open_codes == 1 else 's'}"
    told = "" if confirm_revoking is None else f", not {confirm_revoking:,}"
    message = (f"Re-issuing revokes {codes}{told}: codes already handed out stop working. "
               f"To go ahead, confirm that number (confirm_revoking: {open_codes}).")
    return Conflict(message, {"json": field_errors("confirm_revoking", [f"Must be {open_codes}."])})


def export_codes(session: Session, platform_id: int, out: IO[str], *, issued_by: int | None = None,
                 batch: int = 5000, progress: Callable[[int], None] | None = None,
                 days: int | None = None) -> int:
    """A new code for every unclaimed contributor of the platform who holds no open code, written
    to `out` as CSV (external_id, region, code, expires_at; by external id). Open codes are left
    alone: a contributor holding one is skipped and their code keeps working.

    Set-based: keyset batches of `batch` unclaimed contributors; per batch one query finds those
    holding an open code and one multi-row INSERT issues the rest. `progress(n)` is called after
    each batch with the n contributors it looked at. Returns the number of codes written.
    """
    now = utcnow()
    expires_at = now + lifetime(days)
    _lock_platform(session, platform_id)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    expires_text = expires_at.replace(microsecond=0).isoformat() + "Z"
    written, after = 0, None
    while True:
        page = select(Contributor.id, Contributor.external_id, Contributor.region).where(_unclaimed(platform_id))
        if after is not None:
            page = page.where(Contributor.external_id > after)
        # KEY SHARE (PostgreSQL): an operator's `issue` for one of these waits for this export, or
        # this export for it; the query below, a statement of its own, then sees that issue's code.
        rows = session.execute(page.order_by(Contributor.external_id).limit(batch)
                               .with_for_update(read=True, key_share=True)).all()
        if not rows:
            return written
        holding = set(session.scalars(select(ClaimCode.contributor_id).where(
            ClaimCode.contributor_id.in_([row.id for row in rows]), _is_open(now))))
        needing = [row for row in rows if row.id not in holding]
        fresh = [_fresh() for _ in needing]
        if needing:
            # The table, not the mapped class: the ORM's per-row bookkeeping would double the time.
            session.execute(insert(ClaimCode.__table__), [
                {"contributor_id": row.id, "code_hash": digest, "created_at": now, "expires_at": expires_at,
                 "issued_by": issued_by} for row, (_code, digest) in zip(needing, fresh, strict=True)])
        writer.writerows((row.external_id, row.region, code, expires_text)
                         for row, (code, _digest) in zip(needing, fresh, strict=True))
        written += len(needing)
        after = rows[-1].external_id
        if progress is not None:
            progress(len(rows))


def export(session: Session, platform_id: int, out: IO[str], *, reissue: bool = False,
           confirm_revoking: int | None = None, issued_by: int | None = None,
           progress: Callable[[int], None] | None = None, days: int | None = None) -> Exported:
    """`export_codes` into `out`, and what it did. By default only the unclaimed contributors
    without an open code get one. With `reissue`, every open code of the unclaimed contributors is
    revoked first, so every unclaimed contributor gets a new one; `confirm_revoking` must be the
    number of open codes that revokes (`export_plan(...).open_codes`).

    :raise Conflict: `reissue` without `confirm_revoking` equal to the number of open codes it
        would revoke (the message says that number); nothing is revoked or issued.
    """
    _lock_platform(session, platform_id)
    revoked = _revoke_for_reissue(session, platform_id, confirm_revoking, utcnow()) if reissue else 0
    looked_at = 0

    def step(n: int) -> None:
        nonlocal looked_at
        looked_at += n
        if progress is not None:
            progress(n)

    issued = export_codes(session, platform_id, out, issued_by=issued_by, progress=step, days=days)
    return Exported(issued, looked_at - issued, revoked)


def spooled_export(session: Session, platform_id: int, issued_by: int | None, *, reissue: bool = False,
                   confirm_revoking: int | None = None) -> tuple[IO[bytes], Exported]:
    """`export` into a temporary file (memory first, disk past 8 MB), rewound to read; returns
    (file, what the export did), to stream with `chunks` once the codes are committed.

    :raise Conflict: as `export` (the file is closed).
    """
    spool = SpooledTemporaryFile(max_size=8 << 20, mode="w+b")
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    try:
        exported = export(session, platform_id, text, reissue=reissue, confirm_revoking=confirm_revoking,
                          issued_by=issued_by)
        text.flush()
    except BaseException:
        spool.close()
        raise
    text.detach()  # closing the wrapper later must not close the file under the response
    spool.seek(0)
    return spool, exported


def chunks(spool: IO[bytes], size: int = 64 << 10) -> Iterator[bytes]:
    """Read the file to its end, then close it (the response is streamed from here)."""
    try:
        while block := spool.read(size):
            yield block
    finally:
        spool.close()


# ---- claiming (contributors) -------------------------------------------------------------


def _open_code(session: Session, code: str) -> tuple[ClaimCode, Contributor]:
    """The open code `code` and its unclaimed contributor.

    :raise Invalid: not a code's shape. :raise NotFound: no such code.
    :raise Conflict: used, revoked or expired (saying which), or the identity is claimed.
    """
    # Locked (PostgreSQL): a second claim of the same code, a double click say, waits for the
    # first to commit and then finds it used (a 409), instead of racing it to the e-mail's
    # unique index (a 500). SQLite's writers already run one at a time.
    row = session.scalar(select(ClaimCode).where(ClaimCode.code_hash == code_hash(code)).with_for_update())
    if row is None:
        raise _code_error(NotFound, "No such claim code: check it against the one your platform sent you.")
    if row.used_at is not None:
        raise _code_error(Conflict, "This claim code was already used: each code claims once.")
    if row.revoked_at is not None:
        raise _code_error(Conflict, "This claim code was revoked: the platform issued a newer one; use that.")
    if row.expires_at <= utcnow():
        raise _code_error(Conflict, f"This claim code expired on {row.expires_at:%Y-%m-%d}; "
                                    "ask the platform for a new one.")
    contributor = session.get(Contributor, row.contributor_id)
    if contributor.user_id is not None:
        raise _code_error(Conflict, "This identity was already claimed.")
    return row, contributor


def _code_error(kind, message: str):
    return kind(message, {"json": field_errors("code", [message])})


def redeem(session: Session, code: str, user: User) -> Contributor:
    """Use the code: mark it used by `user` and link its identity to the account.

    :raise Invalid, NotFound, Conflict: see `_open_code`; also Conflict when the account
        already holds an identity on that platform, or another claim won the race.
    """
    row, contributor = _open_code(session, code)
    held = session.scalar(select(Contributor.external_id).where(
        Contributor.user_id == user.id, Contributor.platform_id == contributor.platform_id))
    if held is not None:
        raise _code_error(Conflict, f"Your account already holds the identity {held!r} on this platform; "
                                    "one identity per platform.")
    now = utcnow()
    # The row lock a concurrent claim of the same code waits on; the loser matches nothing.
    claimed = session.execute(
        update(ClaimCode)
        .where(ClaimCode.id == row.id, ClaimCode.used_at.is_(None), ClaimCode.revoked_at.is_(None))
        .values(used_at=now, used_by=user.id)
    )
    if claimed.rowcount != 1:
        raise _code_error(Conflict, "This claim code was just used or revoked.")
    link(session, contributor, user)
    return contributor


class Claimed(NamedTuple):
    user: User
    #: The new account's API key (shown once), or None when not asked for.
    api_key: str | None
    identities: list[Contributor]


def claim(session: Session, code: str, email: str, password: str, *, with_api_key: bool = True) -> Claimed:
    """Create a contributor account with `email` and `password` holding the code's identity.

    :raise Invalid: bad e-mail or password (naming the field), or not a code's shape.
    :raise NotFound: no such code. :raise Conflict: the code is used, revoked or expired, the
        identity is claimed, or the e-mail is registered (log in and link the code instead).
    """
    email = validate_credentials(email, password)
    _open_code(session, code)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"An account with {email} already exists: log in and link the code to it.",
                       {"json": field_errors("email", [EMAIL_TAKEN])})
    user = create_user(session, email, password, role="contributor")
    redeem(session, code, user)
    issued = issue_api_key(session, user, label="made when claiming") if with_api_key else None
    return Claimed(user, issued.secret if issued else None, identities(session, user.id))


def link_code(session: Session, user: User, code: str) -> Contributor:
    """Link the code's identity (typically on another platform) to a contributor account.

    :raise Forbidden: not a contributor account. :raise Invalid, NotFound, Conflict: see `redeem`.
    """
    if user.role != "contributor":
        raise Forbidden("Only contributor accounts hold identities.")
    return redeem(session, code, user)


# ---- the platform's list -----------------------------------------------------------------


@dataclass(frozen=True)
class ContributorRow:
    external_id: str
    region: str
    claimed: bool
    claimed_at: datetime | None
    #: When the latest open code expires; None without an open code.
    code_expires_at: datetime | None


def list_contributors(session: Session, platform_id: int, *, q: str | None = None, claimed: bool | None = None,
                      page: int = 1, per_page: int = 50) -> tuple[list[ContributorRow], int]:
    """One page of the platform's contributors by external id, and how many match.

    `q` keeps external ids starting with it (case-sensitive on every database); `claimed`
    keeps the claimed (True) or unclaimed (False) ones.
    """
    conditions = [Contributor.platform_id == platform_id]
    if q:
        conditions.append(func.substr(Contributor.external_id, 1, len(q)) == q)
    if claimed is not None:
        conditions.append(Contributor.user_id.is_not(None) if claimed else Contributor.user_id.is_(None))
    open_until = (select(func.max(ClaimCode.expires_at))
                  .where(ClaimCode.contributor_id == Contributor.id, _is_open(utcnow()))
                  .correlate(Contributor).scalar_subquery())
    total = session.scalar(select(func.count()).select_from(Contributor).where(*conditions))
    rows = session.execute(
        select(Contributor.external_id, Contributor.region, Contributor.user_id, Contributor.claimed_at,
               open_until.label("code_expires_at"))
        .where(*conditions).order_by(Contributor.external_id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return [ContributorRow(r.external_id, r.region, r.user_id is not None, r.claimed_at, r.code_expires_at)
            for r in rows], total


def has_contributors(session: Session, platform_id: int) -> bool:
    """Whether the platform has any contributor at all (the list's empty state)."""
    return session.scalar(select(Contributor.id).where(Contributor.platform_id == platform_id).limit(1)) is not None


def identity_items(session: Session, people: list[Contributor]) -> list[dict]:
    """An account's identities as the API and pages show them: platform slug and name, external id…"""
    platforms = {o.id: o for o in session.scalars(
        select(Organization).where(Organization.id.in_({p.platform_id for p in people})))}
    return [{"platform": platforms[p.platform_id].slug, "platform_name": platforms[p.platform_id].name,
             "external_id": p.external_id, "region": p.region, "claimed_at": p.claimed_at} for p in people]
