"""Keyword matching for brand safety: whole words, any case and script, hashtags, and cheap de-obfuscation.

A keyword list is compiled once into one regular expression; `KeywordMatcher.find(text)` returns the keywords that
occur in a post. Matching runs on two forms of the post:

1. the folded text: Unicode NFKC (fullwidth and math-styled letters, ligatures -> plain letters), invisible
   characters removed (zero-width spaces/joiners, soft hyphens), case-folded, accents stripped from Latin letters;
2. when different, a de-obfuscated copy of it: leetspeak digits and symbols inside words (sh1t, $hit, b!tch), Latin
   look-alike Cyrillic/Greek letters in otherwise Latin words, letters spelled out with one separator
   (f.u.c.k, f u c k, f-u-c-k), and CamelCase hashtags split into words (#KillThemAll).

Each keyword's pattern also accepts repeated letters (fuuuck), one `*` standing for any letter but the first (f*ck,
f**k), and, for several words, any or no space, hyphen, dot or underscore between them ("white power" matches
#whitepower and white-power). A trailing `*` in a keyword matches any ending ("murder*"). Word boundaries are
Unicode-aware (a keyword never matches inside a longer word: "ass" is not in "class"); keywords in scripts written
without spaces (Chinese, Japanese, Thai, ...) match anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LATIN_MARKS = re.compile(r"(?<=[a-z])[\u0300-\u036f]+")
# Leetspeak: only replaced inside words (see _unleet), so "2024", "@user" and "wow!" stay as they are.
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
_LEET_DIGITS = set("013457")
# Cyrillic and Greek letters that look like Latin ones (after case folding), used to spell "fuсk" with a Cyrillic с.
_CONFUSABLE = str.maketrans("аеорсухіјѕԁɡοαεκνρτυχ", "aeopcyxijsdgoaeknptux")
_NON_LATIN_LOOKALIKE = set("аеорсухіјѕԁɡοαεκνρτυχ")
_SPELLED = re.compile(r"(?<![^\W_])([^\W_])([ .\-_·])[^\W_](?:\2[^\W_])+(?![^\W_])")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD_SEP = r"[\s_\-.]*"
# Scripts written without spaces between words: word boundaries mean nothing there.
_NO_SPACES = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
                        "\uf900-\ufaff]")
_BOUNDARY_BEFORE, _BOUNDARY_AFTER = r"(?<![^\W_])", r"(?![^\W_])"


def fold(text: str) -> str:
    """The form both posts and keywords are matched in: NFKC, no invisible characters, case-folded, no Latin accents."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    text = _LATIN_MARKS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", text)


def _in_word(ch: str) -> bool:
    return ch.isalpha() or ch in _LEET


def _unleet(token: str) -> str:
    """sh1t -> shit, $hit -> shit, b!tch -> bitch; a symbol or digit is replaced only between letters (digits also
    at the end of a word), so numbers, mentions and punctuation are left alone."""
    if not any(c.isalpha() for c in token):
        return token
    out = list(token)
    for i, c in enumerate(token):
        if c not in _LEET:
            continue
        prev, nxt = token[i - 1] if i else "", token[i + 1] if i + 1 < len(token) else ""
        if (prev and _in_word(prev) and (_in_word(nxt) or (not nxt and c in _LEET_DIGITS))) or \
                (not prev and c == "$" and nxt.isalpha()):
            out[i] = _LEET[c]
    return "".join(out)


def _unconfuse(token: str) -> str:
    """Cyrillic/Greek look-alikes -> Latin, only in words that also hold Latin letters (real Russian is left alone)."""
    if any("a" <= c <= "z" for c in token) and any(c in _NON_LATIN_LOOKALIKE for c in token):
        return token.translate(_CONFUSABLE)
    return token


def deobfuscate(raw: str) -> str:
    """The de-obfuscated, folded form of a post (see the module docstring)."""
    text = _HASHTAG.sub(lambda m: "#" + _CAMEL.sub(" ", m.group(1)), raw)
    text = " ".join(_unconfuse(_unleet(t)) for t in fold(text).split())
    return _SPELLED.sub(_join_spelled, text)


def _join_spelled(m: re.Match) -> str:
    """f u c k -> fuck; a leading one-letter word stays apart ("a f u c k i n g" -> "a fucking")."""
    letters = re.sub(r"[ .\-_·]", "", m.group(0))
    return letters[0] + " " + letters[1:] if letters[0] in "ai" and len(letters) > 3 else letters


def _words(keyword: str) -> list[str]:
    words = [w for w in re.split(r"[\s_\-.]+", fold(keyword).strip().rstrip("*").strip()) if w]
    if not words:
        raise ValueError(f"empty keyword {keyword!r}")
    return words


def keyword_pattern(keyword: str) -> str:
    """The regular expression (without word boundaries) that matches one keyword; ValueError for an empty one."""
    prefix = fold(keyword).strip().endswith("*")
    words = _words(keyword)

    def char(c: str, first: bool) -> str:
        if not c.isalpha():
            return re.escape(c)
        run = re.escape(c) + "+"
        return run if first else f"(?:{run}|\\*)"  # a masked letter: f*ck

    parts = ["".join(char(c, i == 0) for i, c in enumerate(w)) for w in words]
    return _WORD_SEP.join(parts) + ("[^\\W_]*" if prefix else "")


class KeywordMatcher(Generic[T]):
    """Finds which of many keywords occur in a text. Each keyword carries a tag (e.g. its category and risk level)."""

    def __init__(self, entries: Iterable[tuple[str, T]]):
        self.entries: list[tuple[str, T]] = []
        bounded: dict[str, list[str]] = {}  # first character -> alternatives
        anywhere = []
        # Longest first: at one position the longer keyword wins ("kill myself" before "kill").
        for kw, tag in sorted(entries, key=lambda e: -len(e[0])):
            group = f"k{len(self.entries)}"
            self.entries.append((kw, tag))
            alt = f"(?P<{group}>{keyword_pattern(kw)})"
            if _NO_SPACES.search(kw):
                anywhere.append(alt)
            else:
                bounded.setdefault(_words(kw)[0][0], []).append(alt)
        alts = []
        if bounded:
            # Branches keyed by their first character: the regex engine tries one small group per word, not all.
            groups = "|".join(f"(?={re.escape(c)})(?:{'|'.join(a)})" for c, a in bounded.items())
            alts.append(f"{_BOUNDARY_BEFORE}(?:{groups}){_BOUNDARY_AFTER}")
        if anywhere:
            alts.append("|".join(anywhere))
        self._regex = re.compile("|".join(alts)) if alts else None

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, text: str) -> list[tuple[str, T]]:
        """The (keyword, tag) pairs found in `text`, each once, in keyword-list order of first appearance."""
        if self._regex is None or not text:
            return []
        folded = fold(text)
        forms = [folded]
        clean = deobfuscate(text)
        if clean != folded:
            forms.append(clean)
        seen: dict[int, None] = {}
        for form in forms:
            for m in self._regex.finditer(form):
                seen.setdefault(int(m.lastgroup[1:]), None)
        return [self.entries[i] for i in seen]
