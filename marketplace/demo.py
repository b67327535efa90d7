"""`flask demo`: realistic demo data, generated deterministically from a seed.

Two platforms (a discussion forum and a photo community), a few thousand
contributors across regions (a good share in opt-in regions: EU, GB, KR), tens
of thousands of records, published datasets with offers, a draft, a buyer and
an admin — all made through the same services the app uses.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask import current_app
from rich.console import Console
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organization, User
from marketplace.catalog import importer, offers, services, versions
from marketplace.catalog.schemas import DatasetCreateSchema, OfferCreateSchema
from marketplace.db import begin_immediate
from marketplace.extensions import db

# Obviously fake demo credentials, printed for the newcomer.
PASSWORDS = {"forum": "demo-forum-pass", "photo": "demo-photo-pass", "buyer": "demo-buyer-pass",
             "admin": "demo-admin-pass"}
EMAILS = {"forum": "ops@threadline.example.test", "photo": "ops@aperture.example.test",
          "buyer": "data@northwind.example.test", "admin": "admin@dividend.example.test"}

REGIONS = (["US"] * 30 + ["CA"] * 6 + ["BR"] * 6 + ["IN"] * 8 + ["JP"] * 5 + ["AU"] * 4 + ["MX"] * 3
           + ["FR"] * 6 + ["DE"] * 7 + ["ES"] * 4 + ["IT"] * 3 + ["NL"] * 3 + ["PL"] * 2 + ["SE"] * 2
           + ["GB"] * 6 + ["KR"] * 4 + ["NG"] * 1)

TOPICS = {
    "programming": (["Python", "Rust", "the borrow checker", "async code", "SQL indexes", "unit tests",
                     "a memory leak", "type hints", "CI pipelines", "regular expressions"],
                    ["I finally understood", "Does anyone else struggle with", "Quick tip about",
                     "After a week of debugging", "My team switched to", "A beginner question on"]),
    "hardware": (["mechanical keyboards", "a used ThinkPad", "my home NAS", "GPU prices", "a Raspberry Pi",
                  "ECC memory", "thermal paste", "an old CRT"],
                 ["Upgraded", "Repaired", "Benchmarked", "Finally replaced", "Thinking about buying"]),
    "cooking": (["sourdough", "miso soup", "a cast-iron pan", "fresh pasta", "kimchi", "a slow cooker",
                 "lemon tart", "dal"],
                ["First attempt at", "Family recipe for", "What went wrong with", "Weeknight version of"]),
    "cycling": (["a gravel bike", "tubeless tyres", "a 200 km ride", "winter commuting", "bike fitting",
                 "chain wax", "a mountain pass"],
                ["Ride report:", "Advice needed on", "Lessons from", "Gear review:"]),
}
REPLIES = ["Thanks, this helped a lot.", "I had the same problem last year.", "Have you tried turning it off?",
           "Great write-up, bookmarked.", "Strongly disagree, and here is why.", "Source for that claim?",
           "This is the way.", "Following, same question here.", "Worked for me after a reboot.",
           "Depends on your budget, honestly."]
DETAILS = ["It took longer than expected but the result was worth it.",
           "The documentation was thin, so I wrote down every step.",
           "Happy to share more details if anyone is interested.",
           "I measured before and after; the difference is noticeable.",
           "Would do it again, with a few changes.", "Still not sure this was the right call.",
           "Credit to the people in the last thread who pointed me here."]
SCENES = ["sunset over", "fog rolling across", "a street market in", "rain on the windows of",
          "first snow in", "an empty platform in", "children playing in", "the harbour of",
          "wildflowers near", "a night skyline of"]
PLACES = ["Lisbon", "the Alps", "Kyoto", "a small village", "Brooklyn", "the Scottish Highlands", "Seoul",
          "the Atacama desert", "Lake Bled", "Marrakesh", "Reykjavik", "the old town"]
GEAR = ["35mm film", "a vintage 50mm lens", "a phone camera", "a medium-format camera", "a wide-angle lens",
        "a long exposure", "available light only"]


@dataclass(frozen=True)
class Scale:
    forum_users: int
    photo_users: int
    posts: int
    comments: int
    captions: int
    qa: int


SCALES = {
    "full": Scale(forum_users=3000, photo_users=1500, posts=22000, comments=16000, captions=15000, qa=5000),
    "small": Scale(forum_users=150, photo_users=80, posts=1100, comments=800, captions=750, qa=250),
}


def _moment(rng: random.Random) -> str:
    start = datetime(2022, 1, 1)
    moment = start + timedelta(seconds=rng.randrange(3 * 365 * 24 * 3600))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _users(rng: random.Random, prefix: str, count: int) -> list[tuple[str, str]]:
    return [(f"{prefix}-{n:05d}", rng.choice(REGIONS)) for n in range(count)]


def _forum_post(rng: random.Random) -> str:
    topic = rng.choice(list(TOPICS))
    subjects, openers = TOPICS[topic]
    return f"{rng.choice(openers)} {rng.choice(subjects)}. {' '.join(rng.sample(DETAILS, 2))}"


def _records(rng: random.Random, prefix: str, users: list[tuple[str, str]], count: int,
             make_text) -> Iterator[tuple[int, dict]]:
    for n in range(count):
        external_id, region = users[min(int(rng.paretovariate(1.2)) - 1, len(users) - 1)
                                    if rng.random() < 0.5 else rng.randrange(len(users))]
        yield n + 1, {"external_id": f"{prefix}-{n:07d}",
                      "contributor": {"external_id": external_id, "region": region},
                      "text": make_text(rng), "created_at": _moment(rng)}


def _dataset(platform: Organization, fields: dict, records, offer_list: list[dict], publish: bool = True):
    dataset = services.create_dataset(db.session, platform.id, DatasetCreateSchema().load(fields))
    importer.import_records(db.session, dataset, records)
    versions.freeze_version(db.session, dataset)
    for offer in offer_list:
        offers.create_offer(db.session, dataset, OfferCreateSchema().load(offer))
    if publish:
        services.publish(db.session, dataset)
    return dataset


def _offer(name, scopes, model, amount, *, term=12, billing="one_time", exclusive=False, share=5000,
           territory=("*",)) -> dict:
    return {"name": name, "scopes": list(scopes), "term_months": term, "territory": list(territory),
            "exclusive": exclusive, "billing": billing, "contributor_share_bps": share,
            "price": {"model": model, "amount": amount, "currency": current_app.config["CURRENCY"]}}


def load(scale: Scale, seed: int, console: Console) -> dict[str, str]:
    """Create everything; returns the API key of each organization, by role."""
    rng = random.Random(seed)
    keys = {}
    forum, _user, issued = accounts.sign_up(db.session, "platform", "Threadline Forums", EMAILS["forum"],
                                            PASSWORDS["forum"])
    keys["forum"] = issued.secret
    photo, _user, issued = accounts.sign_up(db.session, "platform", "Aperture Photo Community",
                                            EMAILS["photo"], PASSWORDS["photo"])
    keys["photo"] = issued.secret
    buyer, _user, issued = accounts.sign_up(db.session, "buyer", "Northwind AI Lab", EMAILS["buyer"],
                                            PASSWORDS["buyer"])
    keys["buyer"] = issued.secret
    admin_key = accounts.create_admin(db.session, EMAILS["admin"])
    admin_key.key.user.password_hash = accounts.hash_password(PASSWORDS["admin"])
    keys["admin"] = admin_key.secret

    forum_users = _users(rng, "tl", scale.forum_users)
    photo_users = _users(rng, "ap", scale.photo_users)
    with console.status("Threadline: technology and hobby posts…"):
        _dataset(forum, {
            "slug": "threadline-posts-2022-2024", "title": "Threadline forum posts 2022–2024",
            "summary": "Opening posts from a hobby and technology forum: programming, hardware, cooking, cycling.",
            "description": "Every public opening post from Threadline's four largest boards, January 2022 to "
                           "December 2024.\n\nDeleted and moderated posts are excluded; usernames are replaced "
                           "by stable pseudonymous ids.",
            "content_kind": "post", "languages": ["en"], "tags": ["forum", "technology", "hobbies"],
            "consent_policy": "opt_out", "weighting": "records",
        }, _records(rng, "tlp", forum_users, scale.posts, _forum_post), [
            _offer("Training, worldwide, 12 months", ["ai-train"], "per_1k_records", 400),
            _offer("Retrieval and grounding, annual", ["ai-input", "search"], "flat", 250_000, billing="annual"),
        ])
    with console.status("Threadline: replies (tokens)…"):
        _dataset(forum, {
            "slug": "threadline-replies", "title": "Threadline replies",
            "summary": "Short replies and comments, weighted by tokens.",
            "description": "Replies to opening posts, with their word counts as token counts.",
            "content_kind": "comment", "languages": ["en"], "tags": ["forum", "dialogue"],
            "consent_policy": "opt_out", "weighting": "tokens",
        }, _records(rng, "tlr", forum_users, scale.comments,
                    lambda r: f"{r.choice(REPLIES)} {r.choice(DETAILS)}"), [
            _offer("Evaluation sets", ["ai-eval"], "per_1m_tokens", 90_000, term=6),
        ])
    with console.status("Threadline: Q&A draft…"):
        _dataset(forum, {
            "slug": "threadline-qa-draft", "title": "Threadline questions and accepted answers",
            "summary": "Questions with the answer the asker accepted. Draft: not yet published.",
            "content_kind": "qa", "languages": ["en"], "tags": ["qa"], "consent_policy": "opt_in",
            "weighting": "records",
        }, _records(rng, "tlq", forum_users, scale.qa,
                    lambda r: f"Q: {_forum_post(r)} A: {r.choice(REPLIES)}"), [], publish=False)
    with console.status("Aperture: photo captions…"):
        _dataset(photo, {
            "slug": "aperture-captions", "title": "Aperture photo captions",
            "summary": "Photographers' own captions of their photos: scenes, places and gear.",
            "description": "Captions written by photographers for their uploads, 2022–2024, in English, "
                           "French and German. Images are not included.",
            "content_kind": "image-caption", "languages": ["en", "fr", "de"],
            "tags": ["photography", "captions", "vision"], "consent_policy": "opt_in", "weighting": "records",
        }, _records(rng, "apc", photo_users, scale.captions,
                    lambda r: f"{r.choice(SCENES).capitalize()} {r.choice(PLACES)}, shot on {r.choice(GEAR)}."), [
            _offer("Caption training, exclusive in the EU", ["ai-train"], "flat", 1_200_000, exclusive=True,
                   territory=("FR", "DE", "IT", "ES", "NL")),
            _offer("Indexing and search", ["ai-index", "search"], "per_1k_records", 150, share=6000),
        ])
    return keys


def print_logins(console: Console, keys: dict[str, str] | None) -> None:
    base = current_app.config["BASE_URL"]
    rows = [
        ("platform operator (forum)", EMAILS["forum"], PASSWORDS["forum"], f"{base}/platform/datasets"),
        ("platform operator (photos)", EMAILS["photo"], PASSWORDS["photo"], f"{base}/platform/datasets"),
        ("buyer", EMAILS["buyer"], PASSWORDS["buyer"], f"{base}/datasets"),
        ("admin", EMAILS["admin"], PASSWORDS["admin"], f"{base}/admin/ledger"),
    ]
    console.print(f"Demo log-ins (obviously fake), at {base}/login:", soft_wrap=True)
    for role, email, password, start in rows:
        console.print(f"  {role:<27} {email:<32} {password:<17} then {start}", soft_wrap=True)
    if keys:
        console.print("API keys (shown once):", soft_wrap=True)
        for role, key in keys.items():
            console.print(f"  {role:<6} {key}", soft_wrap=True)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (but print the log-ins) if data exists.")
@click.option("--scale", type=click.Choice(sorted(SCALES)), default="full", show_default=True)
@click.option("--seed", type=int, default=2024, show_default=True)
def demo_command(if_empty: bool, scale: str, seed: int) -> None:
    """Load realistic demo data: two platforms, a buyer, an admin, published datasets."""
    console = Console(stderr=False, highlight=False)
    if db.session.scalar(select(Organization.id).limit(1)) is not None:
        if if_empty:
            console.print("Demo data is already there.")
            print_logins(console, None)
            return
    if db.session.scalar(select(User.id).where(User.email.in_(EMAILS.values())).limit(1)) is not None:
        raise click.ClickException("The demo accounts exist already: use a fresh database.")
    begin_immediate(db.session)
    keys = load(SCALES[scale], seed, console)
    db.session.commit()
    console.print(f"Demo data loaded ({scale} scale, seed {seed}).")
    print_logins(console, keys)
