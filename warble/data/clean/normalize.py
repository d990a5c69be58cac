"""Normalize post text: repair mojibake, unescape HTML entities, NFC, drop invisible junk, tidy whitespace.

The same sentence should reach the tokenizer as the same code points however the dump encoded it. Posts that
end up empty are dropped as `normalize.empty`.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import partial

import ftfy
import ftfy.badness
import pyarrow as pa

from warble.data.stages import StageResult, drop_rows, map_text, text_lengths
from warble.errors import ConfigError


@dataclass(frozen=True)
class NormalizeConfig:
    fix_encoding: bool = True  # repair UTF-8 that was decoded as Latin-1/Windows-1252 ("cafÃ©" -> "café")
    form: str | None = "NFC"  # Unicode normalization form; None keeps the text's own
    strip_control: bool = True  # remove control and invisible format characters (see _CONTROL)
    collapse_whitespace: bool = True  # one space between words, at most one blank line, no edge whitespace
    html_unescape: bool = True  # "&amp;" -> "&": the Twitter API escapes & < > in post text

    def __post_init__(self):
        if self.form not in (None, "NFC", "NFKC", "NFD", "NFKD"):
            raise ConfigError(f"normalize.form must be NFC, NFKC, NFD, NFKD or None, not {self.form!r}")


# UTF-8 read as Latin-1/Windows-1252 turns every non-ASCII character into a lead byte (Â..ô) followed by
# continuation bytes (\x80..¿ or their Windows-1252 glyphs). ftfy's own test costs ~12 µs a post, so it only
# runs on texts where this pair occurs.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
# Named (&amp;) and numeric (&#39; &#x1F600;) references with their semicolon. html.unescape alone would also
# expand bare legacy names, turning "&notice" into "¬ice".
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# C0/C1 controls except tab, newline and carriage return (whitespace, handled below), plus invisible format
# characters: soft hyphen, zero-width space, bidi marks and overrides, word joiners, BOM, annotation marks.
# Kept on purpose: ZWNJ U+200C (Persian, Indic spelling), ZWJ U+200D and variation selectors (emoji sequences),
# tag characters U+E0020-E007F (subdivision flags such as England's).
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile(r"[^\S\n]+")  # runs of whitespace other than newline (tabs, \r, no-break and wide spaces)
_NEWLINES = re.compile(r" ?\n[ \n]*")  # after _SPACES: a line break with its surrounding spaces and blank lines
_MAX_PASSES = 4


def _unescape(m: re.Match) -> str:
    return html.unescape(m.group())


def _line_break(m: re.Match) -> str:
    return "\n\n" if m.group().count("\n") > 1 else "\n"


def _collapse(text: str) -> str:
    return _NEWLINES.sub(_line_break, _SPACES.sub(" ", text)).strip()


def _normalize_once(text: str, config: NormalizeConfig, kinds: set[str]) -> str:
    def step(kind: str, new: str) -> str:
        if new != text:  # `text` as it is before this step
            kinds.add(f"normalize.{kind}")
        return new

    if config.html_unescape and "&" in text:
        text = step("html_unescaped", _ENTITY.sub(_unescape, text))
    if config.fix_encoding and not text.isascii() and _MOJIBAKE_HINT.search(text) and ftfy.badness.is_bad(text):
        text = step("mojibake_fixed", ftfy.fix_encoding(text))
    if config.form and not text.isascii() and not unicodedata.is_normalized(config.form, text):
        text = step("unicode_normalized", unicodedata.normalize(config.form, text))
    if config.strip_control:
        text = step("control_removed", _CONTROL.sub("", text))
    if config.collapse_whitespace:
        text = step("whitespace_collapsed", _collapse(text))
    return text


def normalize(text: str, config: NormalizeConfig = NormalizeConfig()) -> tuple[str, Counter]:
    """The normalized text and the kinds of change made (normalize.<kind> -> 1)."""
    kinds: set[str] = set()
    # A step can expose work for an earlier one (a removed zero-width space joins "Ã" and "©"; "&amp;lt;" is
    # escaped twice), so repeat until nothing changes; only the few posts the first pass changed get a second.
    for _ in range(_MAX_PASSES):
        new = _normalize_once(text, config, kinds)
        if new == text:
            break
        text = new
    return text, Counter(kinds)


class NormalizeStage:
    name = "normalize"

    def __init__(self, config: NormalizeConfig | None = None):
        self.config = config or NormalizeConfig()

    def __call__(self, batch: pa.RecordBatch) -> StageResult:
        result = map_text(batch, partial(normalize, config=self.config))
        empty = text_lengths(result.batch) == 0
        out = drop_rows(result.batch, ["normalize.empty" if e else None for e in empty])
        out.modified = result.modified
        return out
