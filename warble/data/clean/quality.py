"""Drop posts that teach a language model nothing: bots, follow-spam, tag/link-only, too short, repetitive.

Checks run in the order of `QualityStage.reason` and the first that fails names the reason. Lengths and ratios
are measured on the post's own words: links, @mentions and the placeholders of earlier stages (`@user`, `http`,
`<email>`, ...) are set aside, and hashtags count as words except in the tags-only check. Any check is switched
off with None (False for `drop_no_content`, an empty tuple for the lists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyarrow as pa

from warble.data.clean.pii import PLACEHOLDERS
from warble.data.clean.placeholders import SOCIAL_RE, URL_PLACEHOLDER
from warble.data.schema import client_name
from warble.data.stages import StageResult, drop_rows


@dataclass(frozen=True)
class QualityConfig:
    min_chars: int | None = 10  # characters of the post's own words, single-spaced
    min_words: int | None = 3  # a Han, kana, Thai, Lao, Khmer or Myanmar character counts as one word
    drop_no_content: bool = True  # nothing but hashtags, mentions, links, placeholders, emoji and punctuation
    max_hashtag_ratio: float | None = 0.5  # hashtags / (words + hashtags + mentions + links)
    max_mention_ratio: float | None = 0.5  # mentions / (words + hashtags + mentions + links)
    # A character repeated more than max_repeated_char_run times in a row ("soooooooo"), or a word repeated more
    # than max_repeated_word_run times ("lol lol lol lol lol"), is a repeated run. The post is dropped when runs
    # cover more than max_repeated_char_fraction of it: elongation inside a real sentence is how people write,
    # a post made of it is not. A fraction of 0 drops on any run.
    max_repeated_char_run: int | None = 6
    max_repeated_word_run: int | None = 4
    max_repeated_char_fraction: float = 0.5
    # Matched case-insensitively against the `source` column (the posting client), HTML anchor or plain name.
    bot_sources: tuple[str, ...] = (
        "dlvr.it", "IFTTT", "twittbot.net", "AutoTweetBot", "twitterfeed", "RSS Graffiti", "Botize",
        "Cheap Bots, Done Quick!", "Paper.li", "fllwrs", "TweetAdder", "Tweet Old Post",
    )  # fmt: skip
    # Whole words/phrases, case-insensitive, any whitespace between words; "#f4f" matches too.
    spam_phrases: tuple[str, ...] = (
        "follow me 4 follow", "follow4follow", "follow 4 follow", "f4f", "like4like", "l4l", "teamfollowback",
        "free followers", "get followers", "gain followers", "buy followers",
    )  # fmt: skip


# Placeholders of the placeholders and pii stages; `@user` already is a mention to SOCIAL_RE. Every pattern here
# starts with a literal or a class so `re` can skip ahead (see placeholders.py).
_PLACEHOLDER_RE = re.compile(
    rf"{URL_PLACEHOLDER}(?<!\w{URL_PLACEHOLDER})(?!\w)|" + "|".join(map(re.escape, PLACEHOLDERS.values()))
)
# Scripts written without spaces between words: each character counts as a word.
_UNSPACED_RE = re.compile(  # Thai, Lao, Myanmar, Khmer, kana, Han, halfwidth kana
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"
)
_WORD_RE = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Words in `text`, where a character of a script written without spaces counts as one."""
    if text.isascii():
        return len(_WORD_RE.findall(text))
    text, unspaced = _UNSPACED_RE.subn(" ", text)
    return unspaced + len(_WORD_RE.findall(text))


@lru_cache(maxsize=4096)  # a dump has few distinct clients
def _client(source: str) -> str:
    """'<a href="https://dlvr.it" rel="nofollow">dlvr.it</a>' (Twitter v1.1) or 'dlvr.it' -> 'dlvr.it'."""
    return client_name(source).strip().casefold()


class QualityStage:
    name = "quality"

    def __init__(self, config: QualityConfig | None = None):
        c = self.config = config or QualityConfig()
        self._bots = frozenset(s.casefold() for s in c.bot_sources)
        phrases = "|".join(r"\s+".join(map(re.escape, p.split())) for p in c.spam_phrases)
        self._spam = re.compile(rf"(?<!\w)(?:{phrases})(?!\w)", re.I) if c.spam_phrases else None
        runs = []
        if c.max_repeated_char_run is not None:
            runs.append(rf"(?P<char>.)(?P=char){{{c.max_repeated_char_run},}}")
        if c.max_repeated_word_run is not None:
            runs.append(rf"\b(?P<word>\w+)(?:\W+(?P=word)\b){{{c.max_repeated_word_run},}}")
        self._runs = re.compile("|".join(runs), re.I) if runs else None

    def reason(self, text: str, source: str | None = None) -> str | None:
        """Why the post should be dropped ("quality.<reason>"), or None to keep it."""
        c = self.config
        if source and _client(source) in self._bots:
            return "quality.bot_source"
        if self._spam and self._spam.search(text):
            return "quality.spam_phrase"

        text, placeholders = _PLACEHOLDER_RE.subn(" ", text)
        found = {"url": placeholders, "mention": 0, "hashtag": 0}  # a placeholder weighs as a link
        tags = []

        def set_aside(m: re.Match) -> str:
            found[m.lastgroup] += 1
            if m.lastgroup == "hashtag":
                tags.append(m.group()[1:])
            return " "

        prose = SOCIAL_RE.sub(set_aside, text)
        prose_words = count_words(prose)
        if c.drop_no_content and prose_words == 0:
            return "quality.only_tags_mentions_links"
        # A hashtag inside a sentence ("I #love this") is still one of its words.
        content = " ".join(prose.split() + tags)
        if (c.min_chars is not None and len(content) < c.min_chars) or (
            c.min_words is not None and count_words(content) < c.min_words
        ):
            return "quality.too_short"
        tokens = prose_words + sum(found.values())
        if c.max_hashtag_ratio is not None and found["hashtag"] > c.max_hashtag_ratio * tokens:
            return "quality.too_many_hashtags"
        if c.max_mention_ratio is not None and found["mention"] > c.max_mention_ratio * tokens:
            return "quality.too_many_mentions"
        if self._runs:
            repeated = sum(m.end() - m.start() for m in self._runs.finditer(content))
            if repeated > c.max_repeated_char_fraction * len(content):
                return "quality.repeated_chars"
        return None

    def __call__(self, batch: pa.RecordBatch) -> StageResult:
        texts = batch.column("text").to_pylist()
        sources = batch.column("source").to_pylist()
        return drop_rows(batch, [self.reason(t, s) for t, s in zip(texts, sources)])
