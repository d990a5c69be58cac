"""Replace @mentions and links with fixed placeholders (`@user`, `http`), as TweetEval and BERTweet do.

Handles and link targets are noise for a language model and identify people; the placeholder keeps the
sentence shape. The structured `mentions`/`urls` columns are left as they are. SOCIAL_RE is the one
definition of "link", "mention" and "hashtag" in Warble: pii and quality import it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import partial

import pyarrow as pa

from warble.data.stages import StageResult, map_text
from warble.errors import ConfigError

MENTION_PLACEHOLDER = "@user"
URL_PLACEHOLDER = "http"

# URLs take only ASCII URL characters, so CJK text or an emoji glued to a link is not swallowed, and never end
# in punctuation that usually closes the sentence or a bracket around the link.
_URL_CHAR = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_URL_END = r"[A-Za-z0-9\-_~/#@$&*+=%]"

# Each token as (first character, rest). SOCIAL_RE starts with a plain character class, which lets `re` jump
# straight to candidate positions (about 10x faster on the many posts without any); hence the "not glued to the
# previous character" lookbehinds come after the first character.
_TOKENS = {
    "url": (
        r"[hHwWtp]",
        r"(?<![\w.@/-].)(?:(?<=[hH])(?i:ttps?://)|(?<=[wW])(?i:ww\.)|(?<=t)\.co/|(?<=p)ic\.twitter\.com/)"
        + f"{_URL_CHAR}*{_URL_END}",
    ),
    # Twitter's rules: @ (or fullwidth ＠) and 1-15 of [A-Za-z0-9_]. Not after a word character, @ or / (e-mail
    # addresses, URL paths), nor before a word character or @ (longer handles, user@host, are not cut in half).
    "mention": (r"[@＠]", r"(?<![\w@＠/].)[A-Za-z0-9_]{1,15}(?![\w@＠])"),
    "hashtag": (r"[#＃]", r"(?<![\w&#＃/].)\w+"),  # `&` keeps HTML entities such as &#39; out
}
# One left-to-right scan for all three, so a mention or hashtag inside a link belongs to the link. The empty group
# closing each branch names the kind in `match.lastgroup`.
SOCIAL_RE = re.compile(
    "[" + "".join(first[1:-1] for first, _ in _TOKENS.values()) + "](?:"
    + "|".join(f"(?<={first}){rest}(?P<{kind}>)" for kind, (first, rest) in _TOKENS.items())
    + ")"
)

_MODES = ("keep", "placeholder")


@dataclass  # not frozen: the CLI sets both fields from --mentions/--urls
class PlaceholderConfig:
    mentions: str = "placeholder"  # "keep" or "placeholder" (-> @user)
    urls: str = "placeholder"  # "keep" or "placeholder" (-> http)

    def __post_init__(self):
        for name in ("mentions", "urls"):
            if getattr(self, name) not in _MODES:
                raise ConfigError(f"placeholders.{name} must be one of {_MODES}, not {getattr(self, name)!r}")


def placehold(text: str, config: PlaceholderConfig = PlaceholderConfig()) -> tuple[str, Counter]:
    """`text` with mentions and/or links replaced, and how many of each were replaced."""
    counts: Counter = Counter()
    replacements = {}
    if config.mentions == "placeholder":
        replacements["mention"] = MENTION_PLACEHOLDER
    if config.urls == "placeholder":
        replacements["url"] = URL_PLACEHOLDER

    def sub(m: re.Match) -> str:
        new = replacements.get(m.lastgroup)
        if new is None or m.group() == new:
            return m.group()
        counts[f"placeholders.{m.lastgroup}"] += 1
        return new

    return (SOCIAL_RE.sub(sub, text) if replacements else text), counts


class PlaceholderStage:
    name = "placeholders"

    def __init__(self, config: PlaceholderConfig | None = None):
        self.config = config or PlaceholderConfig()

    def __call__(self, batch: pa.RecordBatch) -> StageResult:
        if self.config.mentions == "keep" and self.config.urls == "keep":
            return StageResult(batch)
        return map_text(batch, partial(placehold, config=self.config))
