"""Checks on every ad-copy candidate, each reported as (name, passed, detail).

    length        the text fits the brief's limit, and the post (text, a space, the link as 23 characters) 280
    required      every must_include word is there
    banned        no must_avoid word is there
    brand_safety  warble.ads.safety's verdict (floor categories, advertiser tiers and keyword lists)
    facts         no claim that contradicts the brief's facts (quantities and negations, see `fact_conflicts`)
    memorization  not a copy of a training post (the run's n-gram index): users' posts must not come back as ads
    links         no URL but the brief's own

A check that cannot run (no safety checker, no n-gram index) is reported with passed=None and says why; it does
not block. Every other failure blocks: the candidate is rejected and approving it needs an override.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from warble.ads.brief import LINK_CHARS, POST_LIMIT, Brief
from warble.ads.constraints import find_words, missing_words

COPY_OVERLAP = 0.5  # share of the copy's 8-word n-grams found in training posts above which it is a copy


@dataclass
class Check:
    name: str
    passed: bool | None  # None: not run (detail says why); does not block
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


def blocking_failures(checks: list[Check] | list[dict]) -> list[str]:
    """Names of the checks that failed (skipped checks do not count)."""
    return [c["name"] if isinstance(c, dict) else c.name for c in checks
            if (c["passed"] if isinstance(c, dict) else c.passed) is False]


# ------------------------------------------------------------------------------------------------ simple checks
def check_length(text: str, brief: Brief) -> Check:
    post = len(text) + (1 + LINK_CHARS if brief.url else 0)
    limit = brief.char_limit
    ok = 0 < len(text) <= limit and post <= POST_LIMIT
    link = f" ({post}/{POST_LIMIT} with the link)" if brief.url else ""
    return Check("length", ok, f"{len(text)}/{limit} characters{link}" + ("" if text else ", empty"))


def check_required(text: str, brief: Brief) -> Check:
    missing = missing_words(text, brief.must_include)
    return Check("required", not missing, f"missing: {', '.join(missing)}" if missing
                 else f"all {len(brief.must_include)} present")


def check_banned(text: str, brief: Brief) -> Check:
    found = find_words(text, brief.must_avoid)
    return Check("banned", not found, f"found: {', '.join(found)}" if found else f"none of {len(brief.must_avoid)}")


_URL = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@.])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|app|dev|ly|"
                  r"me|shop|store|example|info|biz)\b(?:/\S*)?|(?<!\w)https?(?!\w)", re.IGNORECASE)


def check_links(text: str, brief: Brief) -> Check:
    """The copy's text must carry no link of its own (the brief's URL is appended after it; a bare "http" is the
    corpus's link placeholder, which a model trained on it likes to write)."""
    found = [u.rstrip(".,!?)") for u in _URL.findall(text)]
    foreign = [u for u in found if u != brief.url]
    return Check("links", not foreign, f"other links: {', '.join(foreign)}" if foreign else
                 "only the brief's URL" if brief.url else "no links")


# ------------------------------------------------------------------------------------------------ facts
_UNITS = {"%": "%", "percent": "%", "pct": "%", "$": "USD", "usd": "USD", "dollars": "USD", "€": "EUR",
          "eur": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "¥": "JPY", "jpy": "JPY", "yen": "JPY"}
_UNITS.update({u: u for u in ["g", "kg", "mg", "lb", "lbs", "oz", "km", "m", "cm", "mm", "mi", "ml", "l", "h", "hr",
                              "hrs", "min", "mins", "s", "sec", "gb", "tb", "mb", "mah", "w", "kw", "v", "mph", "x",
                              "k"]})
_QTY = re.compile(r"(?<![\w#@.,])(?P<cur>[$€£¥])?\s?(?P<num>\d+(?:[.,]\d+)*)(?:\s?(?P<unit>%|[a-zA-Z€$£¥]+))?",
                  re.IGNORECASE)


def _number(s: str) -> float:
    """'1,299.00' -> 1299.0, '19,99' -> 19.99, '1.500' (thousands) -> 1500.0, '2.5' -> 2.5."""
    if "," in s and "." in s:
        dec = max(s.rfind(","), s.rfind("."))
        s = s[:dec].replace(",", "").replace(".", "") + "." + s[dec + 1:]
    elif s.count(",") == 1 and len(s) - s.rfind(",") - 1 != 3:
        s = s.replace(",", ".")
    elif s.count(".") == 1 and len(s) - s.rfind(".") - 1 == 3 and len(s) > 4 and s[0] != "0":
        s = s.replace(".", "")  # a dot before exactly three digits in a long number groups thousands
    else:
        s = s.replace(",", "")
    try:
        return float(s)
    except ValueError:  # several dots: version numbers and dates, compared as written
        return float("nan")


def quantities(text: str) -> list[tuple[str, float, str | None]]:
    """(as written, value, unit or None) of every number in the text; a currency symbol before the number is its
    unit; a following word is a unit only if it is a known one (g, km, %, EUR, ...)."""
    out = []
    for m in _QTY.finditer(text):
        unit = _UNITS.get((m["cur"] or "").lower()) or _UNITS.get((m["unit"] or "").lower())
        written = m.group(0).strip() if unit else ((m["cur"] or "") + m["num"])
        out.append((written, _number(m["num"]), unit))
    return out


_NEGATIONS = frozenset(["not", "no", "never", "none", "nothing", "nobody", "without", "nor", "cannot", "cant", "dont",
                        "doesnt", "isnt", "arent", "wasnt", "wont", "ne", "pas", "jamais", "sans", "aucun", "aucune",
                        "nicht", "kein", "keine", "keinen", "nie", "ohne", "nunca", "sin", "nada", "ningún",
                        "ninguna", "não", "nao", "sem", "nenhum"])
_STOP = frozenset(["a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "from", "is",
                   "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "as", "our",
                   "your", "their", "my", "we", "you", "they", "he", "she", "i", "all", "any", "every", "per", "each",
                   "up", "out", "just", "so", "very", "de", "la", "le", "les", "el", "los", "las", "des", "du", "et",
                   "en", "un", "une", "y", "o", "por", "para", "con", "em", "da", "do", "der", "die", "das", "und",
                   "mit"])
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _norm(word: str) -> str:
    w = word.lower().replace("'", "")
    for suffix in ("ing", "es", "ed", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[:-len(suffix)]
    return w


def _negated(words: list[str]) -> bool:
    return any(w.replace("'", "") in _NEGATIONS for w in words)


def fact_conflicts(text: str, brief: Brief) -> list[str]:
    """Why the copy contradicts the brief, if it does. Two rules, both local and lexical:
    1. every number in the copy must be one the brief states (facts, product, brand, call to action, required
       words) with the same value and, where both give one, the same unit: "ships in 5 days" against "ships in 2
       days" fails, and so does any price, percentage or quantity the brief does not give;
    2. a sentence that carries most of a fact's content words with the opposite polarity contradicts it: "does
       not ship free" against the fact "ships free" (a negation word within four words before a content word),
       and "added sugar" against "no added sugar".
    Paraphrases, synonyms ("complimentary delivery"), antonyms ("heavy") and claims about things the brief does
    not mention pass: this is a screen for the commonest errors of a small model, not a verifier."""
    allowed = [q for src in (*brief.facts, brief.product, brief.brand or "", brief.call_to_action or "",
                             *brief.must_include) for q in quantities(src)]
    problems = []
    for written, value, unit in quantities(text):
        same = [q for q in allowed if q[1] == value or (math.isnan(value) and q[0] == written)]
        if not same:
            problems.append(f"'{written}' is not in the brief's facts")
        elif unit and not any(q[2] in (None, unit) for q in same):
            problems.append(f"'{written}' contradicts the brief ({', '.join(q[0] for q in same)})")
    sentences = [s for s in re.split(r"(?<=[.!?;])\s+|\n", text) if s.strip()]
    for fact in brief.facts:
        fact_words = [w.lower() for w in _WORDS.findall(fact)]
        content = {_norm(w) for w in fact_words if w not in _STOP and w not in _NEGATIONS}
        if not content:
            continue
        fact_negated = _negated(fact_words)
        need = len(content) if len(content) <= 2 else math.ceil(0.6 * len(content))
        for s in sentences:
            ws = [w.lower().replace("'", "") for w in _WORDS.findall(s)]
            stems = [_norm(w) for w in ws]
            if len(content & set(stems)) < need:
                continue
            near = any(ws[i] in _NEGATIONS and content & set(stems[i + 1:i + 5]) for i in range(len(ws)))
            if near != fact_negated:
                problems.append(f"'{s.strip()}' negates the fact '{fact}'" if near
                                else f"'{s.strip()}' drops the negation of the fact '{fact}'")
    return problems


def check_facts(text: str, brief: Brief) -> Check:
    problems = fact_conflicts(text, brief)
    return Check("facts", not problems, "; ".join(problems) if problems else
                 f"no conflict with {len(brief.facts)} fact(s)" + ("" if quantities(text) else ", no numbers"))


# ------------------------------------------------------------------------------------------------ model-backed
def check_memorization(text: str, guard, continuation: str | None = None,
                       threshold: float = COPY_OVERLAP) -> Check:
    """Refused when the copy, or the part the model wrote (the prompt is the brief's, not a user's), copies a
    training post: `guard.contains` (whole short posts, or half of the 8-grams) or an n-gram overlap >= threshold."""
    parts = [text] + ([continuation] if continuation and continuation.strip() != text.strip() else [])
    overlap = max(guard.overlap(p) for p in parts)
    longest = max(guard.longest_match(p) for p in parts)
    copied = any(guard.contains(p) for p in parts) or overlap >= threshold
    return Check("memorization", not copied, f"{'copies a training post: ' if copied else ''}"
                 f"{overlap:.0%} of {guard.n}-grams in training text, longest run {longest} words")


def run_checks(texts: list[str], brief: Brief, *, safety=None, safety_tier: str = "standard", guard=None,
               continuations: list[str] | None = None, skipped: dict[str, str] | None = None,
               overlap_threshold: float = COPY_OVERLAP) -> list[list[Check]]:
    """Every check on every text, in a fixed order. `skipped` says why a check without its tool did not run."""
    skipped = skipped or {}
    verdicts = safety.check(texts, tier=safety_tier) if safety is not None and texts else None
    conts = continuations or [None] * len(texts)
    out = []
    for i, text in enumerate(texts):
        checks = [check_length(text, brief), check_required(text, brief), check_banned(text, brief)]
        if verdicts is not None:
            v = verdicts[i]
            detail = "safe" if v.safe else "; ".join(v.reasons) or ", ".join(v.flagged) or "unsafe"
            checks.append(Check("brand_safety", bool(v.safe), f"{detail} (tier {safety_tier})"))
        else:
            checks.append(Check("brand_safety", None, "not run: " + skipped.get("brand_safety", "no checker")))
        checks.append(check_facts(text, brief))
        if guard is not None:
            checks.append(check_memorization(text, guard, conts[i], overlap_threshold))
        else:
            checks.append(Check("memorization", None, "not run: " + skipped.get("memorization", "no n-gram index")))
        checks.append(check_links(text, brief))
        out.append(checks)
    return out
