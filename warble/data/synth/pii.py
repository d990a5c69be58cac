"""Personal data to plant in posts: values that look and validate like the real thing.

Phone numbers follow each country's numbering plan, card numbers pass the Luhn check, IBANs carry correct mod-97
check digits, so a detector that validates (not just pattern-matches) still finds them. All values are random.
"""

from __future__ import annotations

import random
import string

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "proton.me", "icloud.com", "web.de",
                 "gmx.de", "orange.fr", "uol.com.br", "yahoo.co.jp", "naver.com", "example.com")
EMAIL_NAMES = ("maria", "jdoe", "alex", "kenji", "sofia", "lukas", "camille", "priya", "joao", "minji", "sam",
               "lucia", "tom", "hana", "leo", "nina", "omar", "yuki", "anna", "ben")

US_AREAS = (212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 718, 206, 303, 615, 919)
BR_AREAS = (11, 21, 31, 41, 51, 61, 71, 81, 85, 19, 27, 48)
DE_MOBILE = ("151", "152", "157", "170", "171", "172", "173", "174", "175", "176", "177", "178", "179")
NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"
NI_BANNED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
# Country -> BBAN layout as (alphabet, length) runs: GB is 4 letters (bank) then 14 digits.
IBAN_BBAN = {"DE": (("n", 18),), "FR": (("n", 23),), "ES": (("n", 20),), "PT": (("n", 21),),
             "GB": (("a", 4), ("n", 14)), "IT": (("a", 1), ("n", 22)), "NL": (("a", 4), ("n", 10))}

CATEGORY = {"email": "contact", "credit_card": "money", "iban": "money", "ssn": "id", "uk_ni": "id",
            "ipv4": "tech", "ipv6": "tech"}
PHONES = ("phone_us", "phone_uk", "phone_de", "phone_fr", "phone_in", "phone_br", "phone_jp")
CATEGORY.update({k: "contact" for k in PHONES})
KINDS = tuple(CATEGORY)
# Which phone formats people writing each language would post.
LANG_PHONES = {"en": ("phone_us", "phone_uk", "phone_in"), "es": ("phone_us",), "pt": ("phone_br",),
               "fr": ("phone_fr",), "de": ("phone_de",), "ja": ("phone_jp",), "ko": ("phone_jp", "phone_us")}


def _digits(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(string.digits) for _ in range(n))


def luhn_digit(body: str) -> str:
    """The check digit that makes body + digit pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counting from the digit left of the check digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def iban_check(country: str, bban: str) -> str:
    """ISO 13616 check digits: 98 - (BBAN + country + '00' as digits) mod 97."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(digits) % 97:02d}"


def _phone(kind: str, rnd: random.Random) -> str:
    d = lambda n: _digits(rnd, n)  # noqa: E731
    intl = rnd.random() < 0.35
    if kind == "phone_us":
        area, exch = rnd.choice(US_AREAS), f"{rnd.randint(2, 9)}{rnd.randint(0, 9)}{rnd.randint(2, 9)}"
        line = d(4)
        return rnd.choice((f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"+1 {area} {exch} {line}",
                           f"{area}.{exch}.{line}"))
    if kind == "phone_uk":
        num = f"7{rnd.choice('45789')}{d(2)}"  # 76 is pagers
        rest = d(6)
        return f"+44 {num} {rest}" if intl else f"0{num} {rest}"
    if kind == "phone_de":
        pre, rest = rnd.choice(DE_MOBILE), str(rnd.randint(1, 9)) + d(7)
        return f"+49 {pre} {rest}" if intl else f"0{pre} {rest}"
    if kind == "phone_fr":
        lead = rnd.choice("67")
        first = rnd.choice("12345678") if lead == "6" else rnd.choice("5678")  # 07 0x-4x are unassigned
        second = str(rnd.randint(0, 8)) if first == "3" else d(1)  # 0639 is Mayotte
        pairs = first + second + " " + " ".join(d(2) for _ in range(3))
        return f"+33 {lead} {pairs}" if intl else f"0{lead} {pairs}"
    if kind == "phone_in":
        num = f"{rnd.choice('6789')}{d(4)} {d(5)}"
        return f"+91 {num}" if intl else num
    if kind == "phone_br":
        area = rnd.choice(BR_AREAS)
        return f"+55 {area} 9{d(4)}-{d(4)}" if intl else f"({area}) 9{d(4)}-{d(4)}"
    if kind == "phone_jp":
        pre = rnd.choice(("90", "80", "70"))
        mid = str(rnd.randint(1, 9)) + d(3)
        return f"+81 {pre}-{mid}-{d(4)}" if intl else f"0{pre}-{mid}-{d(4)}"
    raise ValueError(kind)


def _card(rnd: random.Random) -> str:
    brand = rnd.random()
    if brand < 0.2:  # American Express: 15 digits, grouped 4-6-5
        body = rnd.choice(("34", "37")) + _digits(rnd, 12)
        n = body + luhn_digit(body)
        groups = (n[:4], n[4:10], n[10:])
    else:
        body = ("4" + _digits(rnd, 14)) if brand < 0.65 else (str(rnd.randint(51, 55)) + _digits(rnd, 13))
        n = body + luhn_digit(body)
        groups = (n[:4], n[4:8], n[8:12], n[12:])
    return rnd.choice((" ", "-", "")).join(groups)


def _ssn(rnd: random.Random) -> str:
    while (area := rnd.randint(1, 899)) == 666:
        pass
    return f"{area:03d}-{rnd.randint(1, 99):02d}-{rnd.randint(1, 9999):04d}"


def _ni(rnd: random.Random) -> str:
    while (prefix := rnd.choice(NI_FIRST) + rnd.choice(NI_SECOND)) in NI_BANNED:
        pass
    d = _digits(rnd, 6)
    suffix = rnd.choice("ABCD")
    return f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {suffix}" if rnd.random() < 0.5 else f"{prefix}{d}{suffix}"


def _iban(rnd: random.Random) -> str:
    country = rnd.choice(tuple(IBAN_BBAN))
    bban = "".join(rnd.choice(string.ascii_uppercase if alphabet == "a" else string.digits)
                   for alphabet, length in IBAN_BBAN[country] for _ in range(length))
    iban = country + iban_check(country, bban) + bban
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rnd.random() < 0.6 else iban


def _ipv4(rnd: random.Random) -> str:
    if rnd.random() < 0.25:
        return f"192.168.{rnd.randint(0, 20)}.{rnd.randint(2, 254)}"
    first = rnd.choice([o for o in range(1, 224) if o not in (10, 127, 169, 172, 192)])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def _ipv6(rnd: random.Random) -> str:
    groups = [rnd.choice(("2001", "2a02", "2600", "2804", "2400"))] + [f"{rnd.randrange(65536):x}" for _ in range(7)]
    if rnd.random() < 0.4:  # compressed form: a run of zero groups as '::'
        return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    return ":".join(groups)


def make(kind: str, rnd: random.Random) -> str:
    """A random value of one PII kind, formatted the way people type it."""
    if kind == "email":
        name = rnd.choice(EMAIL_NAMES) + rnd.choice(("", ".", "_")) + rnd.choice(EMAIL_NAMES)
        return f"{name}{rnd.randrange(100) if rnd.random() < 0.5 else ''}@{rnd.choice(EMAIL_DOMAINS)}"
    if kind.startswith("phone_"):
        return _phone(kind, rnd)
    return {"credit_card": _card, "ssn": _ssn, "uk_ni": _ni, "iban": _iban, "ipv4": _ipv4, "ipv6": _ipv6}[kind](rnd)


def pick_kind(lang: str, rnd: random.Random) -> str:
    """Contact details are the common leak; phones in the formats the language's users would write."""
    u = rnd.random()
    if u < 0.3:
        return "email"
    if u < 0.6:
        return rnd.choice(LANG_PHONES[lang])
    return rnd.choice(("credit_card", "iban", "ssn", "uk_ni", "ipv4", "ipv6"))
