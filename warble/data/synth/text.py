"""Writes the organic posts (originals, replies, quotes) of one shard in the author's language and style.

A post is one to three template sentences on one of the author's interests, dressed the way that author writes:
an opener or a tag line, all lowercase or not, emoji, hashtags, a link, a photo. Randomness comes from the
shard's `random.Random`, so a shard is reproducible on its own.
"""

from __future__ import annotations

import functools
import random

from . import lexicon, pii
from .grammar import Context, Phrasebook, Word
from .langs import MODULES
from .post import Post
from .world import World

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NEWS_SHARE, QUESTION_SHARE = 0.08, 0.10  # of original posts; the rest are statements


@functools.lru_cache(maxsize=1)
def phrasebooks() -> dict[str, Phrasebook]:
    return {code: Phrasebook(m) for code, m in MODULES.items()}


class Composer:
    def __init__(self, world: World, rnd: random.Random):
        self.world = world
        self.rnd = rnd
        self.books = phrasebooks()
        self.generic_emoji = tuple(map(Word, lexicon.GENERIC_EMOJI))

    # --- pieces -------------------------------------------------------------------------------------------------

    def short_code(self) -> str:
        n, out = self.rnd.getrandbits(60), []
        for _ in range(10):
            n, r = divmod(n, 62)
            out.append(_B62[r])
        return "".join(out)

    def link(self, topic: str) -> tuple[str, str, str]:
        """A t.co short link and where it points: an article or video about the topic on an example domain."""
        rnd = self.rnd
        domain = rnd.choice(lexicon.DOMAINS)
        slug = f"{topic}-{rnd.choice(lexicon.LINK_WORDS)}-{rnd.randrange(10, 100_000)}"
        path = f"/watch?v={self.short_code()}" if domain.startswith("video.") else f"/{topic}/{slug}"
        expanded = f"https://{domain}{path}"
        display = expanded[8:]
        display = display[:23] + "…" if len(display) > 24 else display
        return "https://t.co/" + self.short_code(), expanded, display

    def media(self, post: Post) -> tuple[str, str, str]:
        code = self.short_code()
        handle = self.world.handles[post.author]
        post.media_key = f"3_{post.id}"
        expanded = f"https://twitter.com/{handle}/status/{post.id}/photo/1"
        return "https://t.co/" + code, expanded, f"pic.twitter.com/{code}"

    def mention(self, lang: str, author: int) -> str:
        w = self.world
        user = w.mentionable(lang, self.rnd.random())
        if user == author:
            user = w.mentionable(lang, self.rnd.random())
        return "@" + w.handles[user]

    def context(self, post: Post, topic: str) -> Context:
        book = self.books[post.lang]
        return Context(self.rnd.random, book.topics[topic], mention=lambda: self.mention(post.lang, post.author),
                       link=lambda: self._link_text(post, topic))

    def _link_text(self, post: Post, topic: str) -> str:
        link = self.link(topic)
        post.links.append(link)
        return link[0]

    def topic_of(self, author: int) -> str:
        """Mostly the author's first interest, sometimes another, rarely anything."""
        rnd = self.rnd.random
        interests = self.world.interests[author]
        if rnd() < 0.06:
            return lexicon.TOPIC_NAMES[int(rnd() * len(lexicon.TOPIC_NAMES))]
        i = 0
        while i + 1 < len(interests) and rnd() < 0.45:
            i += 1
        return interests[i]

    def pii_sentence(self, post: Post, ctx: Context) -> str:
        kind = pii.pick_kind(post.lang, self.rnd)
        ctx.pii = pii.make(kind, self.rnd)
        post.pii.append(kind)
        post.pii_values.append(ctx.pii)
        return self.books[post.lang].sentence("pii_" + pii.CATEGORY[kind], ctx)

    # --- posts --------------------------------------------------------------------------------------------------

    def original(self, post: Post, with_pii: bool = False) -> None:
        rnd = self.rnd.random
        post.topic = self.topic_of(post.author)
        book = self.books[post.lang]
        ctx = self.context(post, post.topic)
        u = rnd()
        intent = "news" if u < NEWS_SHARE else ("question" if u < NEWS_SHARE + QUESTION_SHARE else "post")
        parts = [book.sentence(intent, ctx)]
        if intent != "news":
            if rnd() < 0.12:
                parts.insert(0, self._pick(book.slots["open"]))
            if rnd() < 0.55:
                parts.append(book.sentence("post" if rnd() < 0.5 else "extra", ctx))
                if rnd() < 0.2:
                    parts.append(book.sentence("extra" if rnd() < 0.6 else "question", ctx))
        if with_pii:
            parts.append(self.pii_sentence(post, ctx))
        if intent != "news" and rnd() < 0.1:
            parts.append(self._pick(book.slots["close"]))
        post.focus = ctx.focus
        self._dress(post, parts, book, link_p=0.75 if intent == "news" else None, media_p=0.15)

    def reply(self, post: Post, parent: Post, with_pii: bool = False) -> None:
        w, rnd = self.world, self.rnd.random
        post.topic, post.lang = parent.topic, parent.lang
        post.reply_to_id, post.reply_to_user = parent.id, parent.author
        post.conversation_id = parent.conversation_id
        book = self.books[post.lang]
        ctx = self.context(post, post.topic)
        ctx.pfocus = parent.focus
        parts = [book.sentence("reply", ctx)]
        if rnd() < 0.25:
            parts.append(book.sentence("extra", ctx))
        if with_pii:
            parts.append(self.pii_sentence(post, ctx))
        post.focus = parent.focus or ctx.focus
        self._dress(post, parts, book, link_p=0.03, media_p=0.04)
        # Replies open with the handles they answer, as the platform writes them.
        post.text = f"@{w.handles[parent.author]} {post.text}"

    def quote(self, post: Post, quoted: Post) -> None:
        w = self.world
        post.topic, post.lang = quoted.topic, quoted.lang
        post.quote_of_id = quoted.id
        book = self.books[post.lang]
        ctx = self.context(post, post.topic)
        ctx.pfocus = quoted.focus
        parts = [book.sentence("quote", ctx)]
        post.focus = quoted.focus or ctx.focus
        self._dress(post, parts, book, link_p=0.0, media_p=0.0)
        short = "https://t.co/" + self.short_code()
        expanded = f"https://twitter.com/{w.handles[quoted.author]}/status/{quoted.id}"
        post.links.append((short, expanded, expanded[8:31] + "…"))
        post.text += " " + short

    # --- style --------------------------------------------------------------------------------------------------

    def _pick(self, items: tuple) -> str:
        return items[int(self.rnd.random() * len(items))].text

    def _dress(self, post: Post, parts: list[str], book: Phrasebook, link_p: float | None, media_p: float) -> None:
        """Join the sentences and add what this author adds: casing, emoji, hashtags, a link, a photo."""
        w, rnd, a = self.world, self.rnd.random, post.author
        parts = [_punctuate(p, rnd()) for p in parts]
        if book.cased:
            parts = [_lower(p, post.pii_values) for p in parts] if w.lowercase[a] else _capitalize(parts)
        text = " ".join(parts) if book.spaced else _join_unspaced(parts)
        topic = book.topics[post.topic]
        if rnd() < w.p_emoji[a]:
            pool = topic["emo"] if rnd() < 0.6 else self.generic_emoji
            e = pool[int(rnd() * len(pool))].text
            text += (" " if book.spaced and rnd() < 0.7 else "") + e * (1 + int(rnd() * rnd() * 4))
        if rnd() < w.p_hashtag[a]:
            tags = topic["tag"]
            chosen = dict.fromkeys(tags[int(rnd() * len(tags))].text for _ in range(1 + int(rnd() * rnd() * 4)))
            text += " " + " ".join(chosen)
        if rnd() < (w.p_link[a] if link_p is None else link_p):  # None: as often as this author links
            link = self.link(post.topic)
            post.links.append(link)
            text += " " + link[0]
        if rnd() < media_p:
            link = self.media(post)
            post.links.append(link)
            text += " " + link[0]
        post.text = text


# How people end a sentence instead of with a full stop, and how often (cumulative): nothing at all, mostly.
_ENDINGS = ((0.25, ""), (0.35, "!"), (0.4, "!!"), (0.43, "..."))
_ENDINGS_JA = ((0.3, ""), (0.4, "！"), (0.45, "…"))


def _punctuate(sentence: str, u: float) -> str:
    stop = sentence[-1:]
    if stop not in ".。":
        return sentence
    for cum, ending in _ENDINGS if stop == "." else _ENDINGS_JA:
        if u < cum:
            return sentence[:-1] + ending
    return sentence


def _capitalize(parts: list[str]) -> list[str]:
    """Capitalize the first part, and each part that follows a finished sentence."""
    out, prev_end = [], "."
    for p in parts:
        if p and prev_end in ".!?" and p[0].islower():
            p = p[0].upper() + p[1:]
        out.append(p)
        prev_end = p[-1:] or prev_end
    return out


def _lower(text: str, keep: list[str]) -> str:
    """All lowercase, except the planted values, which stay exactly as generated (an IBAN keeps its capitals)."""
    text = text.lower()
    for value in keep:
        text = text.replace(value.lower(), value)
    return text


def _join_unspaced(parts: list[str]) -> str:
    """Join sentences of a language written without spaces, closing an unfinished one with '。'."""
    out = parts[0]
    for p in parts[1:]:
        if out and out[-1].isalnum() and out[-1] not in "wｗ笑草":
            out += "。"
        out += p
    return out
