"""Planted faults that a cleaning pipeline must find: retweets, exact and near duplicates, and spam.

Each fault records what it copies (`duplicate_of`) and how it was made (`variant`) for the ground truth.
Near-duplicates are checked to stay near: Jaccard similarity of word 3-shingles with the original in [0.5, 1),
where a CJK character counts as a word (Japanese has no spaces).
"""

from __future__ import annotations

import re

from . import lexicon
from .post import Post
from .text import Composer

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]|[^\s\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]+")
_WORD = re.compile(r"^[^\W\d_]{4,}[.,!?]?$")  # a plain word we may misspell or drop
NEAR_MIN, NEAR_MAX = 0.5, 1.0
NEAR_EDITS = ("typo", "drop_word", "punct", "emoji", "hashtag", "url", "cc")
SPAM_KINDS = ("template", "hashtag_only", "mention_only", "link_only", "stretched")
# What the platform reports as the language of posts without words (Twitter's own codes).
NO_TEXT_LANG = {"hashtag_only": "qht", "mention_only": "qam", "link_only": "zxx"}


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def copy_of(post: Post, original: Post, kind: str) -> None:
    """Make `post` a copy of `original`: same words, links and planted data, new author and id."""
    post.kind, post.duplicate_of = kind, original.id
    post.topic, post.lang, post.focus = original.topic, original.lang, original.focus
    post.text, post.links = original.text, list(original.links)
    post.pii, post.pii_values = list(original.pii), list(original.pii_values)


def retweet(post: Post, original: Post, handle: str) -> None:
    copy_of(post, original, "retweet")
    post.repost_of_id = original.id
    post.text = f"RT @{handle}: {original.text}"


def near_duplicate(post: Post, original: Post, composer: Composer) -> bool:
    """Make `post` a copy of `original` with one small edit; False (post untouched) if no edit keeps it near."""
    first = composer.rnd.randrange(len(NEAR_EDITS))
    for k in range(len(NEAR_EDITS)):
        edit = NEAR_EDITS[(first + k) % len(NEAR_EDITS)]
        text, links = _edit(edit, original, composer)
        if text is not None and NEAR_MIN <= jaccard(original.text, text) < NEAR_MAX:
            copy_of(post, original, "near_dup")
            post.text, post.links, post.variant = text, links, edit
            return True
    return False


def _edit(edit: str, original: Post, composer: Composer) -> tuple[str | None, list]:
    rnd, text, links = composer.rnd, original.text, list(original.links)
    tokens = text.split(" ")
    if edit in ("typo", "drop_word"):
        words = [i for i, t in enumerate(tokens) if _WORD.match(t)]
        if not words:
            return None, links
        i = rnd.choice(words)
        w = tokens[i]
        if edit == "drop_word":
            del tokens[i]
        else:  # swap two neighbouring letters inside the word
            j = rnd.randrange(1, len(w.rstrip(".,!?")) - 2)
            tokens[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        return " ".join(tokens), links
    if edit == "punct":
        for i in range(len(tokens) - 1, -1, -1):
            t = tokens[i]
            if t and t[-1] in ".!?。！？" and not t.startswith(("http", "#", "@")):
                tokens[i] = t[:-1] + rnd.choice(("!!", "!!!", "...", "?!", " !"))
                return " ".join(tokens), links
        return None, links
    if edit == "emoji":
        return text + " " + rnd.choice(lexicon.GENERIC_EMOJI), links
    if edit == "hashtag":
        return text + " #" + rnd.choice(lexicon.TAGS[original.topic]), links
    if edit == "cc":
        return text + " cc " + composer.mention(original.lang, original.author), links
    # url: the same story shared through another link
    new = composer.link(original.topic)
    for i, (short, expanded, _) in enumerate(links):
        if "twitter.com/" not in expanded:
            links[i] = new
            return text.replace(short, new[0]), links
    return text + " " + new[0], links + [new]


def spam(post: Post, composer: Composer) -> None:
    """A bot's post: a spam template in its language, or junk with no words at all."""
    rnd, w = composer.rnd, composer.world
    post.kind = "spam"
    post.variant = variant = SPAM_KINDS[rnd.randrange(len(SPAM_KINDS))]
    post.topic = rnd.choice(lexicon.TOPIC_NAMES)
    book = composer.books[post.lang]
    if variant == "template":
        post.text = book.sentence("spam", composer.context(post, post.topic))
    elif variant == "stretched":
        post.text = _stretch(book.sentence("post", composer.context(post, post.topic)), post.lang, rnd)
    else:
        n = rnd.randint(3, 8)
        if variant == "hashtag_only":
            tags = [rnd.choice(lexicon.TAGS[rnd.choice(lexicon.TOPIC_NAMES)]) for _ in range(n)]
            post.text = " ".join("#" + t for t in dict.fromkeys(tags))
        elif variant == "mention_only":
            post.text = " ".join("@" + w.handles[rnd.randrange(len(w))] for _ in range(n))
        else:
            links = [composer.link(post.topic) for _ in range(rnd.randint(1, 2))]
            post.links.extend(links)
            post.text = rnd.choice(("👉 ", "", "🔥🔥 ")) + " ".join(link[0] for link in links)
        post.lang, post.topic = "und", ""
    post.declared_lang = NO_TEXT_LANG.get(variant, post.lang)


def _stretch(text: str, lang: str, rnd) -> str:
    """'so good' -> 'sooooo goooood!!!': drawn-out letters and laughter, the way low-effort posts shout."""
    if lang == "ja":
        return text.rstrip("。！") + "ー" * rnd.randint(4, 9) + "！" * rnd.randint(3, 8) + "w" * rnd.randint(5, 15)
    if lang == "ko":
        return text + " " + "ㅋ" * rnd.randint(10, 30)
    tokens = text.split(" ")
    for _ in range(2):
        i = rnd.randrange(len(tokens))
        t = tokens[i]
        vowels = [j for j, ch in enumerate(t) if ch.lower() in "aeiouáéíóúãõâêô"]
        if vowels:
            j = rnd.choice(vowels)
            tokens[i] = t[:j] + t[j] * rnd.randint(5, 12) + t[j + 1 :]
    return " ".join(tokens).rstrip(".") + "!" * rnd.randint(3, 9)
