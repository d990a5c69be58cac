"""One generated post before rendering: what was written, by whom, and what it truly is (for the ground truth)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .grammar import Word

KINDS = ("original", "reply", "quote", "retweet", "exact_dup", "near_dup", "spam")
PLANTED = ("retweet", "exact_dup", "near_dup", "spam")  # kinds that copy another post or are junk


@dataclass(slots=True)
class Post:
    id: str
    ms: int  # created_at, epoch milliseconds
    lang: str  # the true language ('und' for text in none)
    kind: str = "original"
    author: int = -1  # index into the World
    topic: str = ""
    text: str = ""
    variant: str = ""  # how a near-duplicate was edited, which kind of spam
    declared_lang: str = ""  # what the platform reports, as Twitter does: mostly right, sometimes 'und'
    links: list = field(default_factory=list)  # (short t.co url, expanded url, display url)
    media_key: str = ""
    conversation_id: str = ""
    reply_to_id: str = ""
    reply_to_user: int = -1
    quote_of_id: str = ""
    repost_of_id: str = ""
    duplicate_of: str = ""  # the post a retweet, duplicate or near-duplicate copies
    focus: Word | None = None  # what the post talks about; replies pick it up
    pii: list = field(default_factory=list)  # planted personal-data kinds
    pii_values: list = field(default_factory=list)  # and the exact strings, as they appear in the text
