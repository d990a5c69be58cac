"""The brief's hard constraints on ad copy: the length limit and the required and banned words.

Used twice: while decoding (a token budget, banned token sequences for the sampler) and after it (cutting to the
limit at a word or sentence boundary, finding banned and missing words, repairing a candidate that lacks a required
word). Words match case-insensitively and whole: "cheap" bans "Cheap" and "CHEAP" but not "cheapest" (list the
forms you mean); a phrase ("free shipping") matches with any run of spaces between its words.
"""

from __future__ import annotations

import math
import re

# Fewest characters a token of post text stands for: the floor behind max_tokens (enough tokens to reach the limit,
# not more). Byte-level BPE on Latin-script posts averages ~4.7 bytes per token (quickstart report) and almost no
# token is shorter than one character; CJK characters are 3 UTF-8 bytes, so a token can be a third of one.
CHARS_PER_TOKEN = 1.0
CJK_CHARS_PER_TOKEN = 0.34
CJK_LANGS = frozenset({"ja", "ko", "zh"})

_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s|$)")
_TRAILING_JUNK = " ,;:-–—(\"'"


def token_budget(chars: int, lang: str = "en") -> int:
    """max_tokens that can write `chars` characters of text; the cut to the limit happens after decoding."""
    per_token = CJK_CHARS_PER_TOKEN if lang in CJK_LANGS else CHARS_PER_TOKEN
    return max(1, math.ceil(chars / per_token))


def fit_to_limit(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, never mid-word: at the last sentence end that keeps at least half
    the room, else at the last space (trailing commas and dashes dropped). Text that fits is only stripped."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1]  # one more: a space right after the limit means the last word is whole
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return head[:ends[-1]].rstrip()
    cut = head.rfind(" ")
    if cut <= 0:  # one word longer than the limit: nothing whole fits
        return ""
    return head[:cut].rstrip(_TRAILING_JUNK)


def _pattern(word: str) -> re.Pattern:
    body = r"\s+".join(re.escape(w) for w in word.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def find_words(text: str, words: tuple[str, ...] | list[str]) -> list[str]:
    """The words (or phrases) of `words` that occur in `text`, whole and case-insensitively."""
    return [w for w in words if _pattern(w).search(text)]


def missing_words(text: str, words: tuple[str, ...] | list[str]) -> list[str]:
    present = set(find_words(text, words))
    return [w for w in words if w not in present]


def insert_required(text: str, missing: list[str], limit: int) -> str | None:
    """Deterministic repair: the missing words lead the post as a tag line ("Trailrunner, Acme: <text>"), the text
    cut to make room. None when the words alone do not fit."""
    if not missing:
        return text
    lead = ", ".join(missing)
    if len(lead) > limit:
        return None
    room = limit - len(lead) - 2
    rest = fit_to_limit(text, room) if room > 0 else ""
    return f"{lead}: {rest}" if rest else lead


def variants(word: str) -> list[str]:
    """The surface forms a banned word takes in decoding: as written, lower, Title and UPPER case, each at the
    start of the text and after a space (byte-level BPE gives " word" other tokens than "word")."""
    forms = dict.fromkeys([word, word.lower(), word[:1].upper() + word[1:].lower(), word.title(), word.upper()])
    return [s + f for f in forms for s in ("", " ")]


def bad_words_ids(tokenizer, words: tuple[str, ...] | list[str]) -> list[list[int]]:
    """Token sequences of every variant of every banned word, for SamplingParams.bad_words_ids (the sampler bans a
    sequence's last token once the tokens before it have been generated)."""
    seen: dict[tuple[int, ...], None] = {}
    for w in words:
        for v in variants(w):
            ids = tuple(tokenizer.encode(v))
            if ids:
                seen[ids] = None
    return [list(s) for s in seen]
