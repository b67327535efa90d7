"""The personal-data detector: `scan(text)` → [(type, start, end)], a pure function of the text.

Candidates come from compiled patterns; each is confirmed by a well-kept validator
before it counts: libphonenumber's validity metadata (`phonenumbers`) for phones,
`python-stdnum` for Luhn and IBAN check digits, the standard library's `ipaddress`
(`is_global`) for addresses. Context rules keep the usual false alarms out: versions
and firmware numbers shaped like addresses, private and loopback ranges, order,
invoice and ISBN numbers read as phones or cards, dates, prices, code annotations
(`@property`), community names (`r/python`), Luhn-invalid digit runs.

Person names are not scanned (no model: see NOT_SCANNED); the report says so.
Bump DETECTOR_VERSION whenever what `scan` returns for some text changes: every
record is then scanned again before the next version can be frozen.
"""
from __future__ import annotations

import ipaddress
import re

import phonenumbers
from phonenumbers import PhoneNumberFormat
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.exceptions import ValidationError

DETECTOR = "dividend-pii"
#: 2: IBANs valid by check digits and national format, not by stdnum's bank lists (BE68 5390…);
#: cards grouped with dots; "card no"/"phone no" read as the number's own label; a one-digit
#: dotted quad listed beside an address accepted on its own ("8.8.8.8 vs 1.1.1.1"); numbers
#: reserved for fiction.
#: 3: a valid card number labelled "account no", "acct #", "card id", "ref" or "code" is a card
#: (only labels of other check-digit numbers, ISBN, EAN, IMEI, order…, keep one out).
DETECTOR_VERSION = 3

TYPES = ("email", "phone", "ip_address", "payment_card", "iban", "handle", "profile_url",
         "street_address")
#: What this detector does not look for; the scan report lists it.
NOT_SCANNED = ("person_name", "postal_code", "date_of_birth", "government_id", "credential")

# ---- e-mail ------------------------------------------------------------------------------------

_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")

# ---- handles and profile links -----------------------------------------------------------------

# Patterns start with a character class, not a look-behind, so the regex engine skips ahead
# to a possible first character; what may precede a match is checked in Python (_AFTER_*).
_AT_MENTION = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*(?:[.\-][A-Za-z0-9_]+)*)")
_AFTER_AT = frozenset("@.+-/`_")
_REDDIT_USER = re.compile(r"(?<![\w/.])/?(u/[A-Za-z0-9_\-]{2,30}(?:\.[A-Za-z0-9_\-]+)*)(?![\w/\-])")
#: Mentions that are not a person: broadcast pings, roles, and CSS at-rules.
_NOT_A_PERSON = frozenset({
    "everyone", "here", "channel", "all", "mods", "mod", "admins", "admin", "moderators",
    "team", "staff", "media", "import", "keyframes", "font-face", "supports", "charset",
    "page", "namespace", "layer", "container", "tailwind", "apply", "extend", "include", "mixin",
    "home", "work",
})
#: Code annotations and doc tags: Python decorators, Java/Kotlin annotations, JSDoc and Javadoc.
_ANNOTATIONS = frozenset({
    "property", "staticmethod", "classmethod", "dataclass", "abstractmethod", "cached_property",
    "override", "overload", "final", "contextmanager", "wraps", "lru_cache", "cache",
    "login_required", "receiver", "transaction", "test", "before", "after", "beforeeach",
    "aftereach", "autowired", "deprecated", "inject", "component", "service", "repository",
    "controller", "restcontroller", "entity", "bean", "configuration", "suppresswarnings",
    "functionalinterface", "nullable", "nonnull", "notnull", "param", "params", "return",
    "returns", "throws", "exception", "see", "since", "author", "version", "todo", "type",
    "typedef", "example", "link", "interface", "implementation", "end", "synthesize", "objc",
    "jsonproperty", "getter", "setter", "data", "value", "builder", "slf4j", "async", "get",
    "post", "put", "delete", "patch", "route", "input", "output", "viewchild", "hostlistener",
    "injectable", "ngmodule", "published", "state", "binding", "environment", "main", "mainactor",
    "objcmembers", "escaping", "discardableresult", "available", "total_ordering",
    "singledispatch", "fixture", "mark", "parametrize", "pytest", "mock", "patch", "app", "bp",
    "blp", "router", "api", "click", "celery", "huey", "jit", "torch", "tf", "functools", "abc",
    "typing", "unittest", "enum", "unique", "njit", "numba", "validator", "validates",
    "field_validator", "root_validator", "computed_field", "staticmethods", "swagger",
})
_TLDS = frozenset({
    "com", "net", "org", "edu", "gov", "io", "co", "uk", "de", "fr", "it", "es", "nl", "ru",
    "jp", "cn", "info", "biz", "me", "us", "ca", "au", "ch", "at", "be", "se", "no", "dk", "fi",
    "pl", "br", "in", "eu", "tv", "app", "dev", "ai", "xyz",
})

_PROFILE = re.compile(
    r"(?<![\w@.])(?:https?://)?(?:www\.|m\.|mobile\.)?"
    r"(?P<site>twitter\.com|x\.com|instagram\.com|github\.com|facebook\.com|fb\.com|"
    r"linkedin\.com/in|reddit\.com/(?:user|u)|tiktok\.com/@|youtube\.com/@|medium\.com/@|"
    r"mastodon\.social/@|threads\.net/@|twitch\.tv|pinterest\.com|bsky\.app/profile|"
    r"soundcloud\.com|flickr\.com/people|vimeo\.com|t\.me|keybase\.io|gitlab\.com)"
    r"/?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,49})(?P<rest>/[^\s]*)?",
    re.IGNORECASE,
)
#: A profile link names its site before a slash: a cheap test before the pattern above.
_PROFILE_HINT = re.compile(r"\.(?:com|tv|app|social|net|me|io)/")
#: First path segments of those sites that are pages, not people.
_SITE_PAGES = frozenset({
    "home", "search", "explore", "settings", "login", "logout", "signup", "about", "help",
    "i", "intent", "hashtag", "share", "sharer", "sharer.php", "pages", "groups", "events",
    "marketplace", "watch", "topics", "features", "orgs", "sponsors", "notifications", "p",
    "reel", "reels", "stories", "privacy", "terms", "tos", "policies", "legal", "jobs",
    "careers", "company", "school", "feed", "messages", "notifications", "trending", "marketplace",
    "apps", "site", "blog", "pricing", "enterprise", "collections", "readme", "security",
    "login.php", "photo.php", "profile.php", "permalink.php", "story.php", "r", "c", "channel",
    "playlist", "results", "shorts", "embed", "video", "videos", "discover", "tag", "tags",
    "live", "directory", "downloads", "new", "team", "customer-stories", "signin", "join",
})

# ---- numbers -----------------------------------------------------------------------------------

_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d|-\w)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,8}[0-9A-Fa-f]{0,4}(?![\w:])")
_VERSION_WORDS = re.compile(
    r"(?:version|\bver\b|firmware|\bfw\b|build|release[ds]?|kernel|bios|driver|update[ds]?|"
    r"\brom\b|android|\bios\b|chrome|edge|firefox|windows|\bos\b|patch|tag(?:ged)?|changelog|"
    r"page|section|chapter|\boid\b|string|upgraded?)\W{0,3}(?:\w+\W+){0,2}$",
    re.IGNORECASE,
)
_VERSION_AFTER = re.compile(
    r"\W{0,2}(?:kernel|firmware|build|release|version|update|driver|bios|rom|beta|alpha|rc\d*|"
    r"lts|sdk|api|patch|branch)\b",
    re.IGNORECASE,
)
_VERSION_WORD = re.compile(_VERSION_WORDS.pattern.split(r"\W{0,3}")[0], re.IGNORECASE)


def _nearer(first: re.Pattern, second: re.Pattern, before: str) -> bool:
    """`first` occurs in `before` closer to its end than `second` does."""
    last_first = max((m.end() for m in first.finditer(before)), default=-1)
    last_second = max((m.end() for m in second.finditer(before)), default=-1)
    return last_first > last_second


_IP_WORDS = re.compile(
    r"\b(?:ip|ips|ipv4|ipv6|address|addr|server|host|ssh|rdp|ping|traceroute|connect|"
    r"log-?ins?|logged|port|proxy|vpn|dns|block(?:ed)?|ban(?:ned)?|blacklist(?:ed)?|whitelist|"
    r"allow|firewall|spam\w*|router|gateway|external|public|wan|attack\w*|scan\w*)\b",
    re.IGNORECASE,
)
_IP_WORDS_BEFORE = re.compile(r"(?:" + _IP_WORDS.pattern + r")\W{0,3}(?:\w+\W+){0,2}$", re.IGNORECASE)
_IP_WORDS_AFTER = re.compile(r"\W{0,3}(?:\w+\W+){0,2}?(?:" + _IP_WORDS.pattern + ")", re.IGNORECASE)

_PHONE = re.compile(r"[+(\d][\d \-.()/+]{5,24}(?<=\d)(?!\w)(?!\.\d)(?!-\d)")
_PHONE_START = re.compile(r"(?:\+|\(\+?)?\d")
_PHONE_WORDS = re.compile(
    r"(?:call|phone|tel|telephone|mobile|cell|whats ?app|text|sms|ring|dial|number|contact|"
    r"reach|fax|hotline|landline|signal|viber|telegram|mob|ph|handy|portable|tlf|tfn|"
    r"numero|número|nummer)\b\W{0,4}(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
#: Labels of numbers that carry check digits of their own, or a shop's: a number after one is
#: not a card's, even when it is Luhn-valid with a card's brand prefix, nor a phone's.
_OTHER_NUMBER_WORDS = (
    r"order|invoice|inv|isbn(?:-1[03])?|tracking|serial|s/n|part|sku|ticket|rma|receipt|build|"
    r"version|model|ean|upc|imei|issue|pr|batch|lot|item|product|isin|doi|arxiv|patent|bug|cve"
)
#: Generic labels: they keep a phone-shaped number out, but don't make a valid card number
#: anything else.
_GENERIC_NUMBER_WORDS = (
    r"ref|reference|case|id|no|nr|code|account|acct|policy|claim|booking|confirmation|transaction|"
    r"txn|report"
)


def _labelled(words: str) -> re.Pattern:
    """`words`, then maybe "no", "number", "#"…, right before the number."""
    return re.compile(rf"\b(?:{words})\W{{0,4}}(?:(?:no|nr|number|num|id|#)\W{{0,3}})?$", re.IGNORECASE)


_NUMBER_NOT_PERSONAL = _labelled(f"{_OTHER_NUMBER_WORDS}|{_GENERIC_NUMBER_WORDS}")
_NUMBER_NOT_A_CARD = _labelled(_OTHER_NUMBER_WORDS)
#: "card no", "phone nr.", "mobile #": the generic "no" above labels a personal number here.
_PERSONAL_NUMBER_LABEL = re.compile(
    r"\b(?:card|cc|visa|master ?card|amex|credit|debit|phone|tel|telephone|mobile|mob|cell|"
    r"contact|whats ?app|fax|landline|handy)\W{0,3}(?:no|nr|number|num|#)\W{0,3}$",
    re.IGNORECASE,
)


def _not_a_card_number(before: str) -> bool:
    return _NUMBER_NOT_A_CARD.search(before) is not None


def _not_personal_number(before: str) -> bool:
    """The words just before a number call it an order, invoice, ISBN… number, not a card's
    or a phone's."""
    return _NUMBER_NOT_PERSONAL.search(before) is not None \
        and _PERSONAL_NUMBER_LABEL.search(before) is None
_DATE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
_YEAR_RANGE = re.compile(r"^(?:1[89]|20)\d\d ?[-/] ?(?:1[89]|20)\d\d$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
#: Where national numbers (no + or 00) are tried, most likely first for an English forum.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "AU", "ES", "IT", "NL", "BR", "JP", "CA", "IE",
                 "CH", "AT", "BE", "SE", "PL", "MX", "ZA", "NZ", "PT", "DK", "NO", "FI")

_CARD = re.compile(r"\d(?:[ \-.]?\d){11,18}(?![\d\-]|[.,]\d)")
_IBAN = re.compile(r"[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,32}")

# ---- street addresses (best effort: English- and German-style) ---------------------------------

_STREET = re.compile(
    r"\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){1,3}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Close|Crescent|Parkway|Pkwy|Highway|Hwy|Square|Sq)\b\.?"
)
_STRASSE = re.compile(
    r"[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|allee|platz|ring|damm)\s+\d{1,4}[a-z]?\b")
_NOT_A_STREET = re.compile(r"(?:\d{1,5}\s+(?:Way|Place|Court|Square|Drive)\b)")


def _preceded_by(text: str, start: int, marks: str) -> bool:
    """The character before `start` is a letter, a digit or one of `marks` (the match is part
    of a longer word or number)."""
    if not start:
        return False
    before = text[start - 1]
    return before.isalnum() or before in marks


def _window(text: str, start: int, size: int = 40) -> str:
    return text[max(0, start - size):start]


def _emails(text: str, out: list) -> None:
    # From each "@": the local part backwards, the domain forwards (a pattern tried at every
    # letter of the text, scanning ahead for an "@", costs ten times as much).
    at = text.find("@")
    while at > 0:
        start = at
        while start > 0 and text[start - 1] in _LOCAL_CHARS and at - start < 64:
            start -= 1
        while start < at and text[start] in "._%+-":
            start += 1  # a local part starts with a letter or digit
        if start < at and (start == 0 or text[start - 1] not in _LOCAL_CHARS):
            domain = _EMAIL_DOMAIN.match(text, at + 1)
            if domain is not None:
                out.append(("email", start, domain.end()))
                at = text.find("@", domain.end())
                continue
        at = text.find("@", at + 1)


def _is_annotation(text: str, match: re.Match) -> bool:
    name = match.group(1)
    head = name.split(".")[0].lower()
    if head in _ANNOTATIONS or name.lower() in _NOT_A_PERSON:
        return True
    end = match.end()
    following = text[end:end + 1]
    line_start = match.start() == 0 or text[match.start() - 1] == "\n"
    # A decorator on its own line, or an annotation with arguments: `@cache\n`, `@Size(max=3)`.
    if following == "(" or (line_start and following in ("\n", "")):
        return True
    return False


def _handles(text: str, out: list) -> None:
    if "@" in text:
        for match in _AT_MENTION.finditer(text):
            start = match.start()
            if start and (text[start - 1].isalnum() or text[start - 1] in _AFTER_AT):
                continue  # an e-mail's @, a path's, a decorator's in code
            name = match.group(1)
            if "." in name and name.rsplit(".", 1)[1].lower() in _TLDS:
                continue  # `@gmail.com`: a domain, not a person
            if _is_annotation(text, match):
                continue
            out.append(("handle", match.start(), match.end()))
    if "u/" in text:
        for match in _REDDIT_USER.finditer(text):
            out.append(("handle", match.start(1), match.end(1)))


def _profiles(text: str, out: list) -> None:
    for match in _PROFILE.finditer(text):
        name = match.group("name").rstrip(".-")
        site = match.group("site").lower()
        if not name or name.lower() in _SITE_PAGES:
            continue
        rest = match.group("rest") or ""
        if site in ("github.com", "gitlab.com") and rest.strip("/"):
            continue  # a repository, an organisation's project: not a person's page
        end = match.start("name") + len(name)
        if text[end:end + 1] == "/" and not rest.strip("/"):
            end += 1
        out.append(("profile_url", match.start(), end))


def _ipv4(text: str, out: list) -> None:
    found: list[tuple[int, int]] = []
    pending: list[tuple[int, int]] = []
    for match in _IPV4.finditer(text):
        if _preceded_by(text, match.start(), "._"):
            continue
        value = match.group()
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            continue
        if not address.is_global or address.is_multicast:
            continue
        before = _window(text, match.start(), 30)
        if _VERSION_WORDS.search(before) and not _nearer(_IP_WORDS, _VERSION_WORD, before):
            continue
        if _VERSION_AFTER.match(text, match.end()):
            continue  # "6.1.0.18 kernel", "2.0.1.15 firmware"
        # Every octet a single digit (4.4.2.2, 1.9.9.9) reads as a version unless the sentence
        # is about addresses, or it is listed beside an address accepted on its own ("8.8.8.8
        # vs 1.1.1.1"; two such quads alone, "1.1.1.1 vs 9.9.9.9", stay versions).
        if all(len(part) == 1 for part in value.split(".")):
            after = text[match.end():match.end() + 25]
            if not (_IP_WORDS_BEFORE.search(before) or _IP_WORDS_AFTER.match(after)):
                pending.append((match.start(), match.end()))
                continue
        found.append((match.start(), match.end()))
    while pending:
        beside = [span for span in pending if any(_listed_together(text, span, other) for other in found)]
        if not beside:
            break
        found.extend(beside)
        pending = [span for span in pending if span not in beside]
    out.extend(("ip_address", start, end) for start, end in sorted(found))


#: What joins two addresses in a list: "1.1.1.1 vs 9.9.9.9", "8.8.8.8, 8.8.4.4", "… and …".
_LIST_JOIN = re.compile(r"\s*[,/&]?\s*(?:(?:and|or|vs\.?|versus)\s+)?", re.IGNORECASE)


def _listed_together(text: str, span: tuple[int, int], other: tuple[int, int]) -> bool:
    first, second = sorted((span, other))
    return _LIST_JOIN.fullmatch(text, first[1], second[0]) is not None


def _ipv6(text: str, out: list) -> None:
    for match in _IPV6.finditer(text):
        value = match.group()
        if value.count(":") < 2 or len(value) < 6:
            continue
        try:
            address = ipaddress.IPv6Address(value)
        except ValueError:
            # A full address with a port written after it, unbracketed: `…:2622:8080`.
            value, _, port = value.rpartition(":")
            if not port.isdecimal() or value.count(":") != 7:
                continue
            try:
                address = ipaddress.IPv6Address(value)
            except ValueError:
                continue
        if address.is_global and not address.is_multicast:
            out.append(("ip_address", match.start(), match.start() + len(value)))


def _card_brand_fits(digits: str) -> bool:
    n = len(digits)
    first2, first4 = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= first2 <= 55 or 2221 <= first4 <= 2720:
        return n == 16
    if first2 in (34, 37):
        return n == 15
    if digits.startswith("6011") or first2 == 65 or 644 <= int(digits[:3]) <= 649:
        return 16 <= n <= 19
    if first2 == 35:
        return 16 <= n <= 19
    if first2 in (36, 38) or 300 <= int(digits[:3]) <= 305:
        return n == 14
    if first2 == 62:
        return 16 <= n <= 19
    if first2 == 50 or 56 <= first2 <= 69:
        return 12 <= n <= 19
    return False


#: How cards are written grouped (one separator throughout: space, dash or dot): 4-4-4-4(-3),
#: Amex 4-6-5 and Diners 4-6-4.
_CARD_GROUPS = re.compile(r"\d{4}(?P<sep>[ \-.])\d{4}(?:(?P=sep)\d{4}){1,2}(?:(?P=sep)\d{1,3})?"
                          r"|\d{4}(?P<sep2>[ \-.])\d{6}(?P=sep2)\d{4,5}")


def _cards(text: str, out: list) -> None:
    for match in _CARD.finditer(text):
        if match.start() and text[match.start() - 1] in "0123456789-.,":
            continue
        value = match.group()
        separators = {c for c in value if not c.isdigit()}
        if len(separators) > 1:
            continue
        digits = value.replace(" ", "").replace("-", "").replace(".", "")
        if not 13 <= len(digits) <= 19 or not _card_brand_fits(digits):
            continue
        if separators and not _CARD_GROUPS.fullmatch(value):
            continue
        if not luhn.is_valid(digits):
            continue
        if _not_a_card_number(_window(text, match.start(), 25)):
            continue
        out.append(("payment_card", match.start(), match.end()))


def _iban_valid(candidate: str) -> bool:
    """Check digits and the country's BBAN format (python-stdnum); not stdnum's per-country
    extras, which look bank codes up in lists of their own and refuse real accounts of banks
    they don't list."""
    try:
        stdnum_iban.validate(candidate.upper(), check_country=False)
    except ValidationError:
        return False
    return True


def _ibans(text: str, out: list) -> None:
    at = 0
    while (match := _IBAN.search(text, at)) is not None:
        value = match.group()
        at = match.start() + 1
        if match.start() and text[match.start() - 1].isalnum():
            continue
        # The pattern runs on into the next words; the IBAN is the longest valid prefix, and the
        # search goes on after it (the words it ran into may hold another).
        ends = [i for i in range(len(value), 14, -1) if i == len(value) or value[i] == " "]
        for end in ends:
            candidate = value[:end].rstrip()
            if _iban_valid(candidate):
                out.append(("iban", match.start(), match.start() + len(candidate)))
                at = match.start() + len(candidate)
                break


def _groups(value: str) -> list[int]:
    return [len(group) for group in re.findall(r"\d+", value)]


def _national_format_fits(value: str, number) -> bool:
    """The candidate's digit groups are those libphonenumber writes for the number (national)."""
    written = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return _groups(value) == _groups(written)


def _region_lengths() -> dict[str, tuple[str, frozenset[int]]]:
    lengths = {}
    for region in PHONE_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        lengths[region] = (metadata.national_prefix or "", frozenset(metadata.general_desc.possible_length))
    return lengths


def _region_patterns() -> dict[str, re.Pattern]:
    """Each region's pattern for any of its national numbers (libphonenumber's general_desc)."""
    return {region: re.compile(
        phonenumbers.PhoneMetadata.metadata_for_region(region).general_desc.national_number_pattern)
        for region in PHONE_REGIONS}


_REGION_LENGTHS = _region_lengths()
_REGION_PATTERNS = _region_patterns()
_REGIONS_FOR: dict[tuple[str, int], tuple[str, ...]] = {}


def _may_be_national(digits: str, region: str) -> bool:
    """The digits (with or without the trunk prefix) fit the region's numbers at all: one regex,
    before libphonenumber's full parse and validation (its slow part)."""
    prefix, _lengths = _REGION_LENGTHS[region]
    pattern = _REGION_PATTERNS[region]
    if prefix and digits.startswith(prefix) and pattern.fullmatch(digits[len(prefix):]):
        return True
    return pattern.fullmatch(digits) is not None


def _regions_for(digits: str) -> tuple[str, ...]:
    """The regions whose national numbers can have these digits' length (after a trunk prefix):
    parsing is the expensive part, so a 10-digit run isn't tried as Danish, say."""
    key = (digits[0], len(digits))
    regions = _REGIONS_FOR.get(key)
    if regions is None:
        regions = tuple(
            region for region, (prefix, lengths) in _REGION_LENGTHS.items()
            if len(digits) in lengths
            or (prefix and digits.startswith(prefix) and len(digits) - len(prefix) in lengths))
        _REGIONS_FOR[key] = regions
    return regions


#: Ranges set aside for films and books, no one's number (national significant number
#: prefixes, by country code): Ofcom's drama numbers, NANP's 555-0100…0199, ACMA's.
_FICTIONAL = {
    44: ("1134960", "1144960", "1154960", "1164960", "1174960", "1184960", "1214960", "1314960",
         "1414960", "1514960", "1614960", "1914980", "2079460", "2896496", "2920180", "1632960",
         "7700900", "8081570", "9098790", "3069990"),
    61: ("255501", "370101", "755501", "855501", "491570006", "491570156", "491570157",
         "491570158", "491570159", "491570110", "491570313", "491570737"),
}


def _fictional(number) -> bool:
    nsn = phonenumbers.national_significant_number(number)
    if number.country_code == 1:
        return nsn[3:8] == "55501"
    return nsn.startswith(_FICTIONAL.get(number.country_code, ()))


def _phones(text: str, out: list) -> None:
    for match in _PHONE.finditer(text):
        if _preceded_by(text, match.start(), "+.-/_") or not _PHONE_START.match(match.group()) \
                or "+" in match.group()[2:]:
            continue
        value, start = match.group().rstrip(" -./("), match.start()
        if value.startswith("(") and ")" not in value:
            value, start = value[1:], start + 1  # "(+55 11 95476-9939)": the brackets hold it
        digits = re.sub(r"\D", "", value)
        if not 7 <= len(digits) <= 15:
            continue
        if _DOTTED_QUAD.match(value) or _DATE.match(value):
            continue
        if re.search(r"\d[ \-./]{2,}\d|\s{2,}", value):
            continue  # doubled separators: a list of numbers, not one
        international = value.startswith(("+", "(+", "00"))
        groups = re.findall(r"\d+", value)
        if not international and (any(len(group) == 1 for group in groups[1:]) or _YEAR_RANGE.match(value)):
            # A one-digit group after the first: versions (31.0.15.3623), lists (4 8 15 16),
            # networks (203.0.113.0/24); phones are written in groups of two digits or more.
            continue
        end = start + len(value)
        before = _window(text, start, 40)
        found = None
        if international:
            written = "+" + (value[2:] if value.startswith("00") else value.lstrip("(+"))
            if written.startswith("+0"):
                continue  # no country code starts with 0: a receipt number (000123456789)
            try:
                number = phonenumbers.parse(written, None)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                found = number
        else:
            if (before.rstrip().endswith("#") and not _PERSONAL_NUMBER_LABEL.search(before[-25:])) \
                    or _not_personal_number(before[-25:]):
                continue
            context = bool(_PHONE_WORDS.search(before))
            if not context and len(groups) == 1:
                continue  # a bare digit run is an id unless the text says it's a phone
            for region in _regions_for(digits):
                if not _may_be_national(digits, region):
                    continue
                try:
                    number = phonenumbers.parse(value, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number_for_region(number, region) and (
                        context or _national_format_fits(value, number)):
                    found = number
                    break
        if found is not None and not _fictional(found):
            out.append(("phone", start, end))


def _streets(text: str, out: list) -> None:
    for match in _STREET.finditer(text):
        if _preceded_by(text, match.start(), ".,") or _NOT_A_STREET.fullmatch(match.group()):
            continue
        out.append(("street_address", match.start(), match.end()))
    if "str" in text or "weg " in text or "gasse" in text or "allee" in text or "platz" in text \
            or "ring " in text or "damm" in text:
        for match in _STRASSE.finditer(text):
            if not _preceded_by(text, match.start(), ""):
                out.append(("street_address", match.start(), match.end()))


#: When two findings overlap, the earlier type in this order wins (then the longer one).
_PRIORITY = {kind: n for n, kind in enumerate(
    ("email", "profile_url", "iban", "payment_card", "ip_address", "phone", "handle",
     "street_address"))}
_DIGIT_RUN = re.compile(r"\d[\d \-.]{5,}\d")
_DIGIT = re.compile(r"\d")


def scan(text: str) -> list[tuple[str, int, int]]:
    """Every personal value found in `text`: (type, start, end), character offsets, in order."""
    found: list[tuple[str, int, int]] = []
    if "@" in text:
        _emails(text, found)
    if "@" in text or "u/" in text:
        _handles(text, found)
    if _PROFILE_HINT.search(text):
        _profiles(text, found)
    if "::" in text or text.count(":") >= 7:
        _ipv6(text, found)
    if _DIGIT_RUN.search(text):
        if "." in text:
            _ipv4(text, found)
        _cards(text, found)
        _ibans(text, found)
        _phones(text, found)
    if _DIGIT.search(text):
        _streets(text, found)
    if len(found) < 2:
        return found
    return _without_overlaps(found)


def _without_overlaps(found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    ranked = sorted(found, key=lambda f: (_PRIORITY[f[0]], f[1] - f[2]))
    kept: list[tuple[str, int, int]] = []
    for finding in ranked:
        if all(finding[2] <= other[1] or finding[1] >= other[2] for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f[1])
