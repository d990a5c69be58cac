"""Replace personal data in post text with typed placeholders: <email>, <phone>, <card>, <gov_id>, <ip>.

A model trained on the corpus must not learn anyone's contact or identity numbers. Precision matters as much as
recall: dates, prices, scores, versions and ids are what social text is full of, so every numeric kind is
checked beyond its shape (checksum, valid ranges, phone-number metadata). `scrub` is the single-string entry
point that search and ads reuse.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator

import phonenumbers
import pyarrow as pa

from warble.data.clean.placeholders import SOCIAL_RE
from warble.data.stages import StageResult, map_text
from warble.errors import ConfigError

KINDS = ("email", "gov_id", "card", "ip", "phone")  # detection priority: an earlier kind claims a span first
PLACEHOLDERS = {kind: f"<{kind}>" for kind in KINDS}


@dataclass(frozen=True)
class PIIConfig:
    emails: bool = True
    phones: bool = True  # international (+CC) numbers, and national formats of `phone_regions`
    cards: bool = True  # payment cards (Luhn)
    gov_ids: bool = True  # US SSN, UK NINO, IBAN, Indian Aadhaar, Brazilian CPF, French NIR
    ips: bool = True  # IPv4 and IPv6 addresses
    phone_regions: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "ES", "IT", "CA", "AU", "MX")

    def __post_init__(self):
        unknown = set(self.phone_regions) - phonenumbers.SUPPORTED_REGIONS
        if unknown:
            raise ConfigError(f"pii.phone_regions: unknown regions {sorted(unknown)}")


def _digits(s: str) -> list[int]:
    return [int(c) for c in s if c.isdigit()]


def _luhn_ok(s: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(_digits(s))):
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 else d
    return total % 10 == 0


def _iban_ok(s: str) -> bool:
    s = s.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1  # ISO 13616: letters as 10..35


# Verhoeff dihedral-group tables; Aadhaar's last digit is a Verhoeff check digit.
_VERHOEFF_D = ["0123456789", "1234067895", "2340178956", "3401289567", "4012395678",
               "5987604321", "6598710432", "7659821043", "8765932104", "9876543210"]  # fmt: skip
_VERHOEFF_P = ["0123456789", "1576283094", "5803796142", "8916043527",
               "9453126870", "4286573901", "2793806415", "7046913258"]  # fmt: skip


def _verhoeff_ok(s: str) -> bool:
    c = 0
    for i, d in enumerate(reversed(_digits(s))):
        c = int(_VERHOEFF_D[c][int(_VERHOEFF_P[i % 8][d])])
    return c == 0


def _cpf_ok(s: str) -> bool:
    d = _digits(s)
    if len(set(d)) == 1:  # 111.111.111-11 passes the arithmetic but is not issued
        return False
    return all(sum(x * w for x, w in zip(d[:n], range(n + 1, 1, -1))) * 10 % 11 % 10 == d[n] for n in (9, 10))


def _nir_ok(s: str) -> bool:
    s = s.replace(" ", "")
    body = s[:13].replace("2A", "19").replace("2B", "18")  # Corsican departments count as 19/18 in the key
    return 97 - int(body) % 97 == int(s[13:])


def _ipv6_ok(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return sum(1 for group in s.split(":") if group) >= 3  # "::", "::1", "a::b" identify no one


# Lookarounds keep every match from being a piece of a longer word or number. Numeric patterns are re.ASCII:
# Japanese, Chinese and Korean glue words to numbers ("サーバー113.76.216.174がまた"), and a Unicode \w or \b would
# count those characters as part of the number.
#
# Local parts take Latin letters (maría@...), not `\w`: CJK and Hangul text glues words to an address
# ("...gmail.comまで"), and `\w`/`\b` would count those characters in. The lookbehind also leaves fediverse
# handles (@user@host) alone.
_LOCAL = r"A-Za-z0-9_.%+\-\u00C0-\u024F"
_EMAIL = re.compile(
    rf"(?<![{_LOCAL}@＠])[{_LOCAL}]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{{2,24}}(?![A-Za-z0-9\-])"
)
# SSN: never-issued ranges excluded.
_SSN = re.compile(r"(?<![\d-])(?!000|666|9)\d{3}-(?!00)\d\d-(?!0000)\d{4}(?!-?\d)", re.ASCII)
_NINO = re.compile(  # UK National Insurance; D F I Q U V never lead, O never second, BG GB KN NK NT TN ZZ unused
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d\d ?\d\d ?\d\d ?[A-D]\b", re.ASCII
)
_IBAN = re.compile(r"\b[A-Z]{2}\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.ASCII)
_AADHAAR = re.compile(r"(?<![\d-])[2-9]\d{3}([ -])\d{4}\1\d{4}(?![\d-]?\d)", re.ASCII)
_CPF = re.compile(r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d\d(?!\d)", re.ASCII)
_NIR = re.compile(  # French NIR: sex, yy, mm, department, commune, order, key
    r"(?<!\w)[12] ?\d\d ?(?:0[1-9]|1[0-2]) ?(?:\d\d|2[AB]) ?\d{3} ?\d{3} ?\d\d(?!\w)", re.ASCII
)
# Card numbers start with 2-6 (Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6), which also keeps
# snowflake post ids (1...) out. Lazy: the match ends at the first break after 13+ digits, so a number written
# after the card ("4111111111111111 536-...") is not glued onto it and made to fail Luhn.
_CARD = re.compile(r"(?<![\d+\-])[2-6]\d{3}(?:[ -]?\d){9,15}?(?!\d)", re.ASCII)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\w)", re.ASCII)
# Only a hex digit may not precede an IPv6 address: Japanese laughter "www" glues onto one ("www2600:6b1a::1").
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])", re.ASCII)
# (kind, pattern, validator) in priority order: a gov id claims its digits before the card pattern can take a
# stretch of an IBAN.
_NUMERIC: tuple[tuple[str, re.Pattern, Callable[[str], bool] | None], ...] = (
    ("gov_id", _SSN, None),
    ("gov_id", _NINO, None),
    ("gov_id", _IBAN, _iban_ok),
    ("gov_id", _AADHAAR, _verhoeff_ok),
    ("gov_id", _CPF, _cpf_ok),
    ("gov_id", _NIR, _nir_ok),
    ("card", _CARD, _luhn_ok),
    ("ip", _IPV4, None),
    ("ip", _IPV6, _ipv6_ok),
)
# Cheap test that a post may hold a numeric kind at all: six digits with light punctuation between them, or an
# IPv6-like "x:y:". Most posts fail it and skip every pattern above.
_GATE = re.compile(r"\d[\d .\-/():]{4,}\d|[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:")
# PhoneNumberMatcher costs ~60 µs per region on a post, so it only runs where 7+ digits form a phone-like run
# that is not a date.
_PHONE_HINT = re.compile(r"\d(?:[ \-.()/]{0,2}\d){6,}")
# libphonenumber reads some dotted or dashed dates (3.5.2024) as valid national numbers.
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-](?:\d\d){1,2}|\d{4}[./-]\d{1,2}[./-]\d{1,2}")


def _patterns(text: str, config: PIIConfig) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of every validated non-phone match, in priority order; spans may overlap."""
    if config.emails and "@" in text:
        yield from ((m.start(), m.end(), "email") for m in _EMAIL.finditer(text))
    if not _GATE.search(text):
        return
    for kind, regex, valid in _NUMERIC:
        if getattr(config, kind + "s"):  # the config's switches are the kinds' plurals
            for m in regex.finditer(text):
                if valid is None or valid(m.group()):
                    yield m.start(), m.end(), kind


def _phones(text: str, config: PIIConfig) -> Iterator[tuple[int, int, str]]:
    """(start, end, "phone"), longest first: regions disagree on where a number starts ("(11) 91234-5678" in BR
    vs "91234-5678" in ES)."""
    if not config.phones:
        return
    runs = [m.span() for m in _PHONE_HINT.finditer(text) if not _DATE.fullmatch(m.group())]
    spans: set[tuple[int, int]] = set()
    for region in config.phone_regions if runs else ():
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            if not _DATE.fullmatch(m.raw_string):
                spans.add((m.start, m.end))
        # Once every phone-like run lies inside a number found, later regions would only find it again (+CC
        # numbers are found by all, most national ones by several): one or two regions instead of twelve.
        if all(any(s <= a and b <= e for s, e in spans) for a, b in runs):
            break
    for start, end in sorted(spans, key=lambda span: span[0] - span[1]):
        yield start, end, "phone"


def _find(text: str, config: PIIConfig) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping (start, end, kind) spans to replace; links, mentions and hashtags stay intact."""
    found: list[tuple[int, int, str]] = []
    taken = None  # spans no later candidate may overlap, computed only once there is a candidate
    for candidates in (_patterns(text, config), _phones(text, config)):
        for start, end, kind in candidates:
            if taken is None:
                taken = [m.span() for m in SOCIAL_RE.finditer(text)]
            if not any(s < end and start < e for s, e in taken):
                found.append((start, end, kind))
                taken.append((start, end))
        if found:
            # Phones wait for scrub's next pass: the matcher is slow, and a card, id or IP replaced by its
            # placeholder no longer looks like a phone number.
            break
    return sorted(found)


def _replace(text: str, spans: list[tuple[int, int, str]], counts: Counter) -> str:
    pieces, last = [], 0
    for start, end, kind in spans:
        pieces += (text[last:start], PLACEHOLDERS[kind])
        counts[f"pii.{kind}"] += 1
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def scrub(text: str, config: PIIConfig = PIIConfig()) -> tuple[str, Counter]:
    """`text` with personal data replaced by placeholders, and how many of each kind (pii.<kind> -> n)."""
    counts: Counter = Counter()
    # A replacement changes its neighbours' context ("a@b.com4111 1111 1111 1111" shows the e-mail only once the
    # card is gone), so repeat until nothing is found. This ends: every span holds an @, digit or colon, and no
    # placeholder does.
    while spans := _find(text, config):
        text = _replace(text, spans, counts)
    return text, counts


class PIIStage:
    name = "pii"

    def __init__(self, config: PIIConfig | None = None):
        self.config = config or PIIConfig()

    def __call__(self, batch: pa.RecordBatch) -> StageResult:
        return map_text(batch, partial(scrub, config=self.config))
