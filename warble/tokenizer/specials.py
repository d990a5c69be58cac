"""The tokens that are not learned: begin/end/pad, the corpus placeholders, and the post-metadata controls.

Control tokens give the model a post's metadata as a prefix (`<|lang:ja|><|reply|><|eng:2|><|topic:music|>`),
so generation can be steered by the same tokens. They are special: text never produces them (see Tokenizer).
"""

from __future__ import annotations

import bisect
import re

from warble.data.clean.langid import UND
from warble.data.clean.placeholders import MENTION_PLACEHOLDER, URL_PLACEHOLDER
from warble.data.synth.lexicon import TOPIC_NAMES

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"

# What the corpus stages leave in post text (placeholders.py, pii.py). Ordinary, non-special tokens: they are
# text the model reads and writes.
PLACEHOLDERS = (MENTION_PLACEHOLDER, URL_PLACEHOLDER, "<email>", "<phone>", "<card>", "<gov_id>", "<ip>")

# The most common languages on social platforms plus those language ID finds by script; any other is 'und'.
LANGS = (
    *"en es pt ja fr ko de it ar hi id tr ru zh nl pl th vi fa ur tl sv uk he el cs ro hu fi da no ms bn ta te".split(),
    *"gu pa ml ca sr".split(),
    UND,
)

# Engagement = likes + reposts, in fixed log-spaced buckets (no quantiles, so the same post gets the same bucket
# in every corpus): 0 | 1-2 | 3-9 | 10-99 | 100+.
ENGAGEMENT_EDGES = (1, 3, 10, 100)
ENGAGEMENT_LABELS = ("0", "1-2", "3-9", "10-99", "100+")

OTHER_TOPIC = "other"
DEFAULT_TOPICS = (*TOPIC_NAMES, OTHER_TOPIC)
MAX_TOPICS = 64  # labels['topic'] could be free text: only the most frequent values get a token
_TOPIC_NAME = re.compile(r"[^\s|<>]{1,40}")


def lang_token(code: str) -> str:
    return f"<|lang:{code}|>"


REPLY, ORIGINAL = "<|reply|>", "<|original|>"


def engagement_token(bucket: int) -> str:
    return f"<|eng:{bucket}|>"


def topic_token(name: str) -> str:
    return f"<|topic:{name}|>"


TOPIC_PREFIX = topic_token("")[:-2]


def engagement_bucket(count: int) -> int:
    """Bucket of likes + reposts (0..4)."""
    return bisect.bisect_right(ENGAGEMENT_EDGES, count)


def topic_key(name: str) -> str | None:
    """The token name for a topic label ('Arts & Culture' -> 'arts_&_culture'), or None if unusable."""
    key = "_".join(name.lower().split())
    return key if _TOPIC_NAME.fullmatch(key) else None


def control_tokens(topics: list[str]) -> list[str]:
    return [
        *map(lang_token, LANGS),
        REPLY,
        ORIGINAL,
        *(engagement_token(b) for b in range(len(ENGAGEMENT_LABELS))),
        *map(topic_token, topics),
    ]

