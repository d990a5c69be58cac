"""Where hashtags, @mentions and links sit in a post's text, as the platform's entity index reports them.

Offsets are in code points (Python string indexes), end-exclusive, as in Twitter API v2.
"""

from __future__ import annotations

import re

HASHTAG_RE = re.compile(r"(?<![\w&#])#(\w*[^\W\d]\w*)")  # a tag needs a non-digit: '#1' is not a hashtag
MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})\b")
EMOJI_RE = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2764]")


def hashtags(text: str) -> list[tuple[int, int, str]]:
    if "#" not in text:  # most posts: skip the regex
        return []
    return [(m.start(), m.end(), m.group(1)) for m in HASHTAG_RE.finditer(text)]


def mentions(text: str, by_handle: dict[str, int]) -> list[tuple[int, int, str, int]]:
    """(start, end, handle, user index) for each @handle of an existing user (others are not links).
    `by_handle` is keyed by lowercased handle: the platform matches handles case-insensitively."""
    out = []
    if "@" not in text:
        return out
    for m in MENTION_RE.finditer(text):
        user = by_handle.get(m.group(1).lower())
        if user is not None:
            out.append((m.start(), m.end(), m.group(1), user))
    return out


def links(text: str, link_list: list[tuple[str, str, str]]) -> list[tuple[int, int, str, str, str]]:
    """(start, end, short, expanded, display) for each of the post's links, in text order."""
    out, at = [], 0
    for short, expanded, display in link_list:
        start = text.find(short, at)
        if start >= 0:
            out.append((start, start + len(short), short, expanded, display))
            at = start + len(short)
    return out
