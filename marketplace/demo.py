"""`flask demo`: realistic demo data, generated deterministically from a seed.

Two platforms (a discussion forum and a photo community), a few thousand
contributors across regions (a good share in the opt-in regions: EU, GB, KR),
tens of thousands of records, published datasets with offers, a draft, a buyer
and an admin, all made through the services the app itself uses. Texts come
from word lists and templates through `random.Random`, one generator per
dataset seeded with `--seed` and the dataset's slug, so a seed always gives
the same records (only API keys and creation times differ).
"""
from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask import current_app
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from marketplace import demo_history as history
from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organization, User
from marketplace.catalog import importer, offers, services, versions
from marketplace.catalog.schemas import DatasetCreateSchema, OfferCreateSchema
from marketplace.cli_support import in_one_transaction
from marketplace.contributors import claims
from marketplace.extensions import db
from marketplace.pii import scanning

# ---- who ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    #: Short enough that the log-in table fits an 80-column terminal.
    role: str
    #: None: the marketplace's own staff (an admin).
    organization: str | None
    email: str
    #: Obviously fake, printed for the newcomer.
    password: str
    #: The page to open after logging in.
    start: str


FORUM = Account("forum operator", "Threadline Forums", "ops@threadline.example.test",
                "demo-forum-pass", "/platform/datasets")
PHOTO = Account("photo operator", "Aperture Photo Community", "ops@aperture.example.test",
                "demo-photo-pass", "/platform/datasets")
BUYER = Account("buyer", "Northwind AI Lab", "data@northwind.example.test", "demo-buyer-pass",
                "/datasets")
ADMIN = Account("admin", None, "admin@dividend.example.test", "demo-admin-pass", "/admin/ledger")
ACCOUNTS = (FORUM, PHOTO, BUYER, ADMIN)

#: Percent of contributors per region; the opt-in ones (EU countries, GB, KR) make up 40.
REGION_WEIGHTS = {
    "US": 28, "CA": 5, "BR": 6, "IN": 8, "JP": 4, "AU": 3, "MX": 3, "NG": 1, "ZA": 1, "AR": 1,
    "FR": 7, "DE": 8, "ES": 4, "IT": 3, "NL": 3, "PL": 2, "SE": 2, "GB": 7, "KR": 4,
}
START, END = datetime(2022, 1, 1), datetime(2025, 1, 1)

# ---- forum text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    subjects: tuple[str, ...]
    #: Sentences; {s} is the subject, {n} {m} {k} {money} are numbers.
    details: tuple[str, ...]


BOARDS = (
    Board(("asyncio", "the Rust borrow checker", "Postgres query plans", "SQLite in production",
           "flaky integration tests", "Python type hints", "a memory leak in a Node service",
           "git rebase", "regular expressions", "Docker image sizes", "a legacy Perl script",
           "Kotlin coroutines", "WebAssembly", "CI caching", "property-based testing",
           "a slow ORM query", "Go generics"),
          ("The fix turned out to be a missing index.", "Our build went from {n} minutes to {m}.",
           "I read the docs twice and still missed the part about cancellation.",
           "Profiling showed most of the time went into serialisation.",
           "Pairing with a colleague found it in ten minutes.",
           "The error message pointed at completely the wrong line.",
           "Writing a minimal reproduction was the real breakthrough.",
           "We pinned the dependency and moved on.",
           "Tests pass locally but fail on CI one run in {k}.",
           "Nobody on the team wanted to touch {s}, so I volunteered.")),
    Board(("a mechanical keyboard", "a used ThinkPad T480", "my home NAS", "a Raspberry Pi 5",
           "ECC memory", "thermal paste", "an old CRT monitor", "a 3D printer",
           "a UPS for the home lab", "a quiet PC build", "second-hand GPUs", "a soldering station"),
          ("Idle temperatures dropped by {k} degrees.", "It draws about {n} watts at idle.",
           "The seller threw in the original box.",
           "Replacing the fans made the biggest difference.", "Total cost was under {money}.",
           "Firmware update first, everything else after.",
           "I should have checked the BIOS version before ordering parts.",
           "My partner says {s} is the loudest thing in the flat.")),
    Board(("sourdough", "miso soup", "a cast-iron pan", "fresh pasta", "kimchi", "a slow cooker",
           "lemon tart", "dal", "pho broth", "a Sunday roast", "homemade ramen noodles", "pierogi"),
          ("It rested for {k} hours in the fridge.", "Next time I will use less salt.",
           "My grandmother never measured anything, so this is my best guess.",
           "Browning the onions properly took twice as long as the recipe said.",
           "It froze well for a couple of weeks.",
           "The kids asked for seconds, which never happens.",
           "A pinch of sugar balanced the acidity.",
           "Ingredients came to about {money} for six people.")),
    Board(("a gravel bike", "tubeless tyres", "a 200 km audax", "winter commuting",
           "a professional bike fit", "chain wax", "climbing the Stelvio", "a first century ride",
           "bikepacking bags", "disc brake rub", "indoor trainers"),
          ("We averaged {k} km/h into a headwind.", "The last {n} km were pure suffering.",
           "Two punctures before lunch, none after switching.",
           "Saddle height was off by almost a centimetre.",
           "Bring more food than you think you need.", "The café stop at halfway saved the day.",
           "I have done {n} rides since and not regretted it.")),
    Board(("tomatoes on a balcony", "a compost heap", "raised beds", "slugs",
           "a wildflower meadow", "pruning apple trees", "chilli seedlings", "a rain barrel",
           "clay soil"),
          ("Germination took about {k} days on a heat mat.", "Mulching cut the watering in half.",
           "The neighbours' cat disagrees with my layout.",
           "The harvest was roughly {k} kilos this year.",
           "I started far too many seedlings again.", "A cold week in May undid most of it.")),
)
TITLES = (
    "Finally figured out {s}", "Does anyone else struggle with {s}?", "Quick tip about {s}",
    "{S}: what I learned after a year", "Beginner question about {s}",
    "Is {s} still worth it in {year}?", "Long write-up: {s}", "Help, {s} is driving me mad",
    "Unpopular opinion on {s}", "Update on {s}, six months later",
)
QUESTIONS = ("What is the best way to start with {s}?", "Any advice on {s}?", "Is {s} worth it?",
             "Where did I go wrong with {s}?", "How do you all deal with {s}?")
OPENERS = ("Long-time lurker, first post.", "Some context first.",
           "Posting this in case it helps someone.", "Following up on last month's thread.",
           "Bit of a rant, sorry.")
CLOSERS = ("Happy to share more details if anyone is interested.",
           "Would do it again, with a few changes.", "Still not sure this was the right call.",
           "Credit to the people who pointed me here.", "Any advice welcome.",
           "Thanks for reading this far.", "Edit: thanks everyone, marking as solved.")
REPLIES = ("Thanks, this helped a lot.", "I had the same problem with {s} last year.",
           "Great write-up, bookmarked.", "Strongly disagree about {s}, and here is why.",
           "Source for that claim?", "+1, following.", "Depends on your budget, honestly.",
           "Came here to say this.", "Not sure {s} is the real problem.",
           "Did you ever find a fix?", "This thread is why I still read this forum.",
           "Counterpoint: {s} was fine for me for {k} years.", "Saving this for the weekend.",
           "What did it cost you in the end?", "Same experience, almost word for word.",
           "Have you asked in the {s} megathread?", "Photos or it didn't happen.")

# ---- photo text: captions in the photographer's language, and alt text ---------------------

#: language: (moments, scenes, remarks); a caption is "place, moment: scene. [remark]".
CAPTIONS = {
    "en": (("early morning", "golden hour", "blue hour", "just after a storm", "midday",
            "last light"),
           ("fog rolling over the river", "the morning market", "rain on the tram windows",
            "first snow on the rooftops", "an empty railway platform",
            "fishing boats in the harbour", "wildflowers by the path",
            "the skyline from the old bridge", "a heron waiting on the bank",
            "a cyclist crossing the square", "laundry lines between old houses",
            "lanterns along the canal"),
           ("I waited forty minutes for the clouds to move.", "Nobody else was around.",
            "My first roll with this camera.", "Straight out of camera.", "Cropped slightly.")),
    "fr": (("au lever du jour", "à l'heure dorée", "à l'heure bleue", "après l'orage",
            "en plein midi", "dernière lumière"),
           ("brume sur le fleuve", "le marché du matin", "pluie sur les vitres du tram",
            "premières neiges sur les toits", "un quai de gare désert", "bateaux de pêche au port",
            "fleurs sauvages au bord du chemin", "la ville depuis le pont",
            "un héron au bord de l'eau", "un cycliste sur la place", "du linge entre les façades",
            "des lanternes le long du canal"),
           ("J'ai attendu quarante minutes que les nuages passent.",
            "Personne d'autre aux alentours.", "Ma première pellicule avec cet appareil.",
            "Sans retouche.", "Légèrement recadrée.")),
    "de": (("früh am Morgen", "zur goldenen Stunde", "zur blauen Stunde", "nach dem Gewitter",
            "mittags", "im letzten Licht"),
           ("Nebel über dem Fluss", "der Wochenmarkt", "Regen auf den Straßenbahnfenstern",
            "erster Schnee auf den Dächern", "ein leerer Bahnsteig", "Fischerboote im Hafen",
            "Wildblumen am Wegesrand", "die Stadt vom Turm aus", "ein Reiher am Ufer",
            "ein Radfahrer auf dem Marktplatz", "Wäscheleinen zwischen alten Häusern",
            "Laternen am Kanal"),
           ("Ich habe vierzig Minuten auf die Wolken gewartet.", "Niemand sonst war unterwegs.",
            "Mein erster Film mit dieser Kamera.", "Unbearbeitet.", "Leicht beschnitten.")),
}
PLACES = {
    "en": ("Lisbon", "Kyoto", "Brooklyn", "the Scottish Highlands", "Seoul", "Lake Bled",
           "Marrakesh", "Reykjavik", "Porto", "Hokkaido", "Oaxaca", "Cape Town", "Tasmania",
           "Hanoi", "Montreal"),
    "fr": ("Lisbonne", "Marseille", "Lyon", "Annecy", "Montréal", "Chamonix", "Saint-Malo",
           "Kyoto"),
    "de": ("Hamburg", "Berlin", "Dresden", "Wien", "Zürich", "Leipzig", "Lissabon", "Kyoto"),
}
#: The photographer's language, by region, for 80% of their captions (the rest are English).
CAPTION_LANGUAGE = {"FR": "fr", "DE": "de"}
GEAR = ("35mm film", "50mm f/1.4", "phone", "6x7 medium format", "16-35mm", "70-200mm", "pinhole")
ALT_SUBJECTS = ("A woman in a yellow raincoat", "An old man pushing a bicycle",
                "A child with a kite", "A black dog", "A street musician", "A fisherman",
                "A tabby cat", "A barista on her break", "A couple with an umbrella",
                "A delivery rider", "A girl in a school uniform", "A man carrying a ladder")
ALT_ACTIONS = ("walks past", "waits beside", "sits on the steps of", "looks out over",
               "leans against", "crosses in front of")
ALT_OBJECTS = ("a bakery window", "a red tram", "a stone bridge", "a harbour wall",
               "a neon-lit noodle bar", "a snow-covered bench", "a field of sunflowers",
               "a lighthouse", "a closed flower stall", "a row of vending machines",
               "a fountain", "a ferry terminal")
ALT_LIGHT = ("at dusk", "in heavy rain", "on a bright winter morning", "under street lights",
             "in soft fog", "in harsh midday sun", "at night, lit by a shop sign")
ALT_FRAMING = ("The subject is small in the frame, on the left.",
               "Shallow depth of field; the background is blurred.", "Shot from a low angle.",
               "Black and white, high contrast.", "Wide shot, mostly sky.")


def _fill(rng: random.Random, template: str, subject: str) -> str:
    n = rng.randint(4, 90)
    return template.format(
        s=subject, S=subject[:1].upper() + subject[1:], n=n, m=max(1, n // rng.randint(2, 6)),
        k=rng.randint(3, 30), year=rng.choice((2022, 2023, 2024)),
        money=f"${rng.randint(40, 900)}",
    )


def _topic(rng: random.Random) -> tuple[Board, str]:
    board = rng.choice(BOARDS)
    return board, rng.choice(board.subjects)


def forum_post(rng: random.Random) -> str:
    """A title, a blank line, and two to six sentences."""
    board, subject = _topic(rng)
    title = _fill(rng, rng.choice(TITLES), subject)
    body = [_fill(rng, d, subject) for d in rng.sample(board.details, rng.randint(2, 4))]
    opener = [rng.choice(OPENERS)] if rng.random() < 0.35 else []
    return f"{title}\n\n{' '.join([*opener, *body, rng.choice(CLOSERS)])}"


def forum_reply(rng: random.Random) -> str:
    board, subject = _topic(rng)
    parts = [_fill(rng, rng.choice(REPLIES), subject)]
    parts += [_fill(rng, d, subject) for d in rng.sample(board.details, rng.choice((0, 0, 1, 2)))]
    return " ".join(parts)


def forum_question(rng: random.Random) -> str:
    board, subject = _topic(rng)
    answer = [_fill(rng, d, subject) for d in rng.sample(board.details, rng.randint(1, 3))]
    return f"Q: {_fill(rng, rng.choice(QUESTIONS), subject)}\n\nA: {' '.join(answer)}"


def photo_caption(rng: random.Random, region: str) -> str:
    language = CAPTION_LANGUAGE.get(region, "en") if rng.random() < 0.8 else "en"
    moments, scenes, remarks = CAPTIONS[language]
    separator = " : " if language == "fr" else ": "
    caption = (f"{rng.choice(PLACES[language])}, {rng.choice(moments)}{separator}"
               f"{rng.choice(scenes)}.")
    if rng.random() < 0.5:
        caption += " " + rng.choice(remarks)
    f_number, iso = rng.choice((1.8, 2.8, 4, 5.6, 8, 11)), rng.choice((100, 200, 400, 800, 3200))
    return f"{caption} ({rng.choice(GEAR)}, f/{f_number}, ISO {iso})"


def alt_text(rng: random.Random) -> str:
    return (f"{rng.choice(ALT_SUBJECTS)} {rng.choice(ALT_ACTIONS)} {rng.choice(ALT_OBJECTS)} "
            f"{rng.choice(ALT_LIGHT)}. {rng.choice(ALT_FRAMING)}")


def subword_tokens(text: str) -> int:
    """A tokenizer's count, roughly: long words split into pieces."""
    return sum(1 + len(word) // 7 for word in text.split())


# ---- what to make -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    forum_users: int
    photo_users: int
    #: Records per dataset slug.
    records: dict[str, int]


SCALES = {
    "full": Scale(3000, 1500, {
        "threadline-posts": 22_000, "threadline-replies": 14_000, "threadline-questions": 4_000,
        "aperture-captions": 11_000, "aperture-alt-text": 4_000,
    }),
    "small": Scale(150, 75, {
        "threadline-posts": 1_100, "threadline-replies": 700, "threadline-questions": 200,
        "aperture-captions": 550, "aperture-alt-text": 200,
    }),
}


@dataclass(frozen=True)
class Plan:
    """One dataset to make: its platform, fields, text generator and offers."""

    platform: Account
    #: Records' external ids are "<prefix>-000001"…
    record_prefix: str
    #: DatasetCreateSchema input.
    fields: dict
    #: (rng, the contributor's region) -> the record's text.
    text: Callable[[random.Random, str], str]
    #: OfferCreateSchema input, less the currency (the installation's).
    offers: tuple[dict, ...]
    #: Give tokenizer-like counts instead of the importer's word count.
    tokens: bool = False
    publish: bool = True


def _offer(name, scopes, model, amount, *, term=12, billing="one_time", exclusive=False,
           share=5000, territory=("*",)) -> dict:
    return {"name": name, "scopes": list(scopes), "term_months": term,
            "territory": list(territory), "exclusive": exclusive, "billing": billing,
            "contributor_share_bps": share, "price": {"model": model, "amount": amount}}


PLANS = (
    Plan(FORUM, "post", {
        "slug": "threadline-posts", "title": "Threadline forum posts 2022–2024",
        "summary": "Opening posts from a hobby and technology forum: programming, hardware, "
                   "cooking, cycling and gardening.",
        "description": "Every public opening post from Threadline's five largest boards, "
                       "January 2022 to December 2024, title and body.\n\nDeleted and moderated "
                       "posts are excluded; usernames are replaced by stable pseudonymous ids.",
        "content_kind": "post", "languages": ["en"], "tags": ["forum", "technology", "hobbies"],
    }, lambda rng, _region: forum_post(rng), (
        _offer("Model training, worldwide, 12 months", ["ai-train"], "per_1k_records", 2_500),
        _offer("Retrieval and grounding, renewed yearly", ["ai-input", "search"], "flat",
               250_000, billing="annual", share=6000),
    )),
    Plan(FORUM, "reply", {
        "slug": "threadline-replies", "title": "Threadline replies and comments",
        "summary": "Short replies under forum posts: agreement, pushback, follow-up questions. "
                   "Contributors are weighted by tokens.",
        "description": "Replies to Threadline's opening posts, 2022–2024, with token counts "
                       "from a subword tokenizer.",
        "content_kind": "comment", "languages": ["en"], "tags": ["forum", "dialogue"],
        "weighting": "tokens",
    }, lambda rng, _region: forum_reply(rng), (
        _offer("Evaluation sets", ["ai-eval"], "per_1m_tokens", 90_000, term=6),
        _offer("Dialogue training", ["ai-train", "ai-input"], "per_1m_tokens", 150_000, term=24),
        _offer("Contextual ad signals", ["ad-targeting"], "flat", 40_000, share=8000),
    ), tokens=True),
    Plan(FORUM, "question", {
        "slug": "threadline-questions", "title": "Threadline questions and accepted answers",
        "summary": "Questions with the answer the asker accepted. Opt-in only.",
        "content_kind": "qa", "languages": ["en"], "tags": ["qa", "forum"],
        "consent_policy": "opt_in",
    }, lambda rng, _region: forum_question(rng), (
        _offer("Question answering, training", ["ai-train"], "per_1k_records", 5_000),
    ), publish=False),
    Plan(PHOTO, "photo", {
        "slug": "aperture-captions", "title": "Aperture photo captions",
        "summary": "Photographers' own captions of their photos: place, light, scene and gear.",
        "description": "Captions written by photographers for their uploads, 2022–2024, in "
                       "English, French and German. Images are not included.\n\nOpt-in: only "
                       "photographers who said yes are paid and delivered.",
        "content_kind": "image-caption", "languages": ["en", "fr", "de"],
        "tags": ["photography", "captions", "vision"], "consent_policy": "opt_in",
    }, photo_caption, (
        _offer("Caption training, exclusive in five EU countries", ["ai-train"], "flat",
               1_200_000, term=24, exclusive=True, territory=("DE", "ES", "FR", "IT", "NL")),
        _offer("Indexing and search", ["ai-index", "search"], "per_1k_records", 1_500,
               share=6000),
    )),
    Plan(PHOTO, "alt", {
        "slug": "aperture-alt-text", "title": "Aperture alt text",
        "summary": "Plain descriptions of photos, written by their photographers for screen "
                   "readers.",
        "description": "Alt text that members added to their photos for accessibility, "
                       "2022–2024.",
        "content_kind": "image-caption", "languages": ["en"],
        "tags": ["accessibility", "alt text", "vision"], "weighting": "tokens",
    }, lambda rng, _region: alt_text(rng), (
        _offer("Accessibility evaluation", ["ai-eval", "ai-input"], "flat", 80_000, share=7000),
    )),
)


def contributors(seed: int, prefix: str, count: int) -> list[tuple[str, str]]:
    """(external id, region) of a platform's `count` contributors."""
    rng = random.Random(f"{seed}/contributors/{prefix}")
    regions, weights = zip(*REGION_WEIGHTS.items(), strict=True)
    picked = rng.choices(regions, weights, k=count)
    return [(f"{prefix}-{n:05d}", region) for n, region in enumerate(picked)]


def records(plan: Plan, seed: int, people: list[tuple[str, str]], count: int,
            ) -> Iterator[tuple[int, dict]]:
    """`count` records in the importer's shape, in time order; a few people write many."""
    rng = random.Random(f"{seed}/records/{plan.fields['slug']}")
    span = (END - START).total_seconds()
    moments = sorted(span * rng.random() ** 0.7 for _ in range(count))  # busier lately
    for n, offset in enumerate(moments, start=1):
        prolific = rng.random() < 0.5
        index = int(rng.paretovariate(1.1)) - 1 if prolific else rng.randrange(len(people))
        external_id, region = people[min(index, len(people) - 1)]
        text = plan.text(rng, region)
        moment = START + timedelta(seconds=int(offset))
        record = {"external_id": f"{plan.record_prefix}-{n:06d}",
                  "contributor": {"external_id": external_id, "region": region},
                  "text": text, "created_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if plan.tokens:
            record["tokens"] = subword_tokens(text)
        yield n, record


# ---- loading ------------------------------------------------------------------------------


def _sign_up(account: Account) -> tuple[Organization | None, str]:
    """The account's organization (None for the admin) and its API key."""
    if account.organization is None:
        return None, accounts.create_admin(db.session, account.email, account.password).secret
    kind = "buyer" if account is BUYER else "platform"
    organization, _user, issued = accounts.sign_up(
        db.session, kind, account.organization, account.email, account.password)
    return organization, issued.secret


def _make_dataset(plan: Plan, platform: Organization, rows: Iterator[tuple[int, dict]],
                  count: int, progress: Progress) -> str:
    """Create, import, freeze, offer and (unless a draft) publish; returns a status line."""
    slug = plan.fields["slug"]
    fields = DatasetCreateSchema().load(plan.fields)
    dataset = services.create_dataset(db.session, platform.id, fields)
    task = progress.add_task(slug, total=count)
    importer.import_records(db.session, dataset, rows,
                            on_progress=lambda n: progress.update(task, completed=n))
    # Past the inline limit an import's personal-data scan is a job run after the commit; the
    # demo freezes in the same transaction, so it scans here first, as `flask pii scan` would.
    progress.update(task, description=f"{slug} (scanning for personal data)")
    scanning.scan_records(db.session, dataset.id)
    progress.update(task, description=f"{slug} (freezing)")
    version = versions.freeze_version(db.session, dataset)
    currency = current_app.config["CURRENCY"]
    for terms in plan.offers:
        terms = {**terms, "price": {**terms["price"], "currency": currency}}
        offers.create_offer(db.session, dataset, OfferCreateSchema().load(terms))
    if plan.publish:
        services.publish(db.session, dataset)
    progress.remove_task(task)
    return (f"{slug}: {version.record_count:,} records by {version.contributor_count:,} "
            f"contributors, {version.token_count:,} tokens, version {version.number}, "
            f"{len(plan.offers)} offer(s), {dataset.status}")


#: A forum contributor left unclaimed, so that the demo can hand out a claim code to try.
CLAIMABLE = "tl-00001"


def load(scale: Scale, seed: int, console: Console) -> dict[str, str]:
    """Make every account and dataset; returns each account's API key by role.

    Flushes, never commits. :raise DomainError: something already exists (a slug).
    """
    organizations, keys = {}, {}
    for account in ACCOUNTS:
        organizations[account], keys[account.role] = _sign_up(account)
    people = {FORUM: contributors(seed, "tl", scale.forum_users),
              PHOTO: contributors(seed, "ap", scale.photo_users)}
    with _progress(console) as progress:
        for plan in PLANS:
            count = scale.records[plan.fields["slug"]]
            rows = records(plan, seed, people[plan.platform], count)
            line = _make_dataset(plan, organizations[plan.platform], rows, count, progress)
            progress.console.print(f"  {line}", soft_wrap=True)
    regions = current_app.config["OPT_IN_REGIONS"]
    for account in (FORUM, PHOTO):
        count = history.import_consent(seed, organizations[account], people[account], regions)
        console.print(f"  {account.organization}: {count:,} consent decisions imported")
    platform_ids = [organizations[FORUM].id, organizations[PHOTO].id]
    person = history.claim_person(platform_ids)
    others = history.claim_others(platform_ids, skip={CLAIMABLE, *history.PERSON.identities})
    # One unclaimed person's code, to try /claim with: codes are shown once, like API keys.
    keys["claim_code"] = claims.issue(db.session, organizations[FORUM].id, CLAIMABLE, issued_by=None).code
    buyer_user = db.session.scalar(select(User).where(User.email == BUYER.email))
    config = current_app.config
    platforms = [organizations[FORUM], organizations[PHOTO]]
    # Sales, a run the processor paid, more sales, a run still in transit.
    for part, settle in ((range(0, 3), True), (range(3, len(history.PURCHASES)), False)):
        for line in history.sell(organizations[BUYER], buyer_user, part):
            console.print(f"  {line}", soft_wrap=True)
        line = history.pay_out([person, *others], platforms, currency=config["CURRENCY"],
                               threshold=config["PAYOUT_THRESHOLD"], settle=settle)
        console.print(f"  {line}", soft_wrap=True)
    return keys


def _progress(console: Console) -> Progress:
    """Bars on a terminal; elsewhere only the status lines printed through it."""
    return Progress(TextColumn("  {task.description:<32}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal)


def _table(*columns: str) -> Table:
    # Folded, never cut with an ellipsis: a half-printed password or key is worse than a wrap.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def print_logins(console: Console, keys: dict[str, str] | None) -> None:
    """The log-in of each role and, when just made, each account's API key."""
    base = current_app.config["BASE_URL"].rstrip("/")
    console.print(f"\nDemo log-ins (fake, for this machine only). Log in at {base}/login, "
                  "then open:", soft_wrap=True)
    table = _table("role", "e-mail", "password", "page")
    for account in ACCOUNTS:
        table.add_row(account.role, account.email, account.password, account.start)
    table.add_row("contributor", history.PERSON.email, history.PERSON.password, "/me/statement")
    console.print(table)
    if not keys:
        console.print(f"API keys were shown when the data was loaded; make new ones at "
                      f"{base}/account/keys.", soft_wrap=True)
        return
    console.print(f"\nA claim code for contributor {CLAIMABLE} on {FORUM.organization}, shown once: "
                  f"{keys['claim_code']} (claim at {base}/claim).", soft_wrap=True)
    console.print("\nAPI keys, shown once (send them as Authorization: Bearer <key>):")
    table = _table("account", "API key")
    for account in ACCOUNTS:
        label = account.organization.split()[0] if account.organization else "admin"
        table.add_row(label, keys[account.role])
    console.print(table)


@click.command("demo")
@click.option("--if-empty", is_flag=True,
              help="Do nothing (but print the log-ins) if any organization exists.")
@click.option("--scale", type=click.Choice(sorted(SCALES)), default="full", show_default=True,
              help="full: 55,000 records; small: 1/20 of that.")
@click.option("--seed", type=int, default=2024, show_default=True,
              help="The same seed gives the same records.")
def demo_command(if_empty: bool, scale: str, seed: int) -> None:
    """Load realistic demo data: two platforms, a buyer, an admin, published datasets."""
    # Not a terminal (a pipe, a test): wide, so that log lines and tables never wrap.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

    def load_unless_there() -> tuple[bool, dict[str, str] | None]:
        # One write transaction, its lock taken before the first read (unit_of_work): a
        # deferred one that read first could find the database locked by the job worker.
        any_organization, demo_there = _existing()
        if if_empty and any_organization:
            return demo_there, None
        if demo_there:
            raise click.ClickException(
                "The demo accounts exist already: `flask demo --if-empty` prints their log-ins; "
                "load them again into a fresh database.")
        console.print(f"Loading demo data ({scale} scale, seed {seed})…")
        return False, load(SCALES[scale], seed, console)

    demo_there, keys = in_one_transaction(load_unless_there, refused=" Nothing was loaded.")
    if keys is None:
        if not demo_there:
            console.print("The database already holds organizations, not the demo's: nothing loaded.")
            return
        console.print("Demo data is already there: nothing loaded.")
        print_logins(console, None)
        return
    console.print("Demo data loaded.")
    print_logins(console, keys)


def _existing() -> tuple[bool, bool]:
    """(whether any organization exists, whether the demo's accounts do)."""
    emails = [account.email for account in ACCOUNTS]
    demo_there = db.session.scalar(select(User.id).where(User.email.in_(emails)).limit(1)) is not None
    return db.session.scalar(select(Organization.id).limit(1)) is not None, demo_there
