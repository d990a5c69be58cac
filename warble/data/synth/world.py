"""The simulated platform's users, built from the seed alone so every shard and every worker sees one world.

Users have a home language, one to four interests, a heavy-tailed follower count (lognormal), a posting rate,
a writing style (lowercase, emoji, hashtags, links) and a client app. A small share are bots: they post the spam,
from automation clients.
"""

from __future__ import annotations

import bisect
import functools
import random
import unicodedata
from dataclasses import dataclass

import numpy as np

from . import lexicon
from .langs import MODULES

N_USERS = 30_000
BOT_SHARE = 0.015
LANGS = tuple(MODULES)
BOT_NAMES = lexicon.split("Daily Deals|Crypto Signals|Free Followers|Promo Alerts|Gift Card Hub|Trend Bot|"
                         "Win Big Today|Follow Train|Lucky Draw|Mega Giveaway")
BOT_HANDLES = lexicon.split("deals|promo|crypto_signals|followback|free|win|giveaway|trend|bonus|gain")


def seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    """Independent stream for one part of the run: key (0,) is the world, (1, i) is shard i."""
    return np.random.SeedSequence(seed, spawn_key=key)


def _ascii(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isascii() and (c.isalnum() or c == "_"))


@dataclass
class World:
    """Per-user attributes as plain lists (read one user at a time, where numpy scalars are slow)."""

    ids: list[str]
    handles: list[str]
    names: list[str]
    lang: list[str]
    followers: list[int]
    following: list[int]
    tweet_count: list[int]
    is_bot: list[bool]
    interests: list[tuple[str, ...]]  # strongest first
    lowercase: list[bool]  # never uses capitals
    p_emoji: list[float]  # chance of adding emoji to a post
    p_hashtag: list[float]
    p_link: list[float]
    source: list[str]
    by_handle: dict[str, int]  # lowercased: handles match case-insensitively
    by_id: dict[str, int]
    # Samplers: per language (and for bots) the user indexes and cumulative weights, drawn with bisect.
    _authors: dict[str, tuple[list[int], list[float]]]
    _bots: dict[str, tuple[list[int], list[float]]]
    _mentions: dict[str, tuple[list[int], list[float]]]

    @staticmethod
    def _draw(sampler: tuple[list[int], list[float]], u: float) -> int:
        users, cum = sampler
        return users[bisect.bisect_right(cum, u * cum[-1])]

    def author(self, lang: str, u: float) -> int:
        """A human who writes in `lang`, chosen by posting rate (u uniform in [0, 1))."""
        return self._draw(self._authors[lang], u)

    def bot(self, lang: str, u: float) -> int:
        return self._draw(self._bots.get(lang) or self._bots["en"], u)

    def mentionable(self, lang: str, u: float) -> int:
        """A user to @mention: popular accounts get mentioned more (weight sqrt(followers))."""
        return self._draw(self._mentions[lang], u)

    def __len__(self) -> int:
        return len(self.ids)


@functools.lru_cache(maxsize=4)
def build_world(seed: int) -> World:
    ss = seed_sequence(seed, 0)
    rng = np.random.default_rng(ss)
    rnd = random.Random(int(ss.generate_state(1)[0]))
    n = N_USERS
    weights = np.array([MODULES[c].WEIGHT for c in LANGS])
    lang_idx = rng.choice(len(LANGS), size=n, p=weights / weights.sum())
    is_bot = rng.random(n) < BOT_SHARE
    lang_idx[is_bot & (rng.random(n) < 0.6)] = 0  # most spam bots write English
    followers = np.where(is_bot, rng.lognormal(3.5, 1.2, n), rng.lognormal(4.6, 1.9, n)).astype(np.int64)
    following = rng.lognormal(5.3, 1.0, n).astype(np.int64)
    rate = np.where(is_bot, rng.lognormal(1.5, 0.5, n), rng.lognormal(0.0, 1.2, n))
    tweet_count = (rate * rng.uniform(300, 1500, n)).astype(np.int64) + 1
    lower_share = np.array([MODULES[c].LOWERCASE_USERS for c in LANGS])
    lowercase = rng.random(n) < lower_share[lang_idx]
    p_emoji = rng.beta(1.2, 2.5, n)
    p_hashtag = rng.beta(0.8, 5.0, n)
    p_link = rng.beta(0.8, 7.0, n)

    topic_w = np.array(list(lexicon.TOPICS.values()))
    topic_w = topic_w / topic_w.sum()
    n_interests = rng.choice([1, 2, 3, 4], size=n, p=[0.2, 0.35, 0.3, 0.15])
    # Weighted sampling without replacement for all users at once: top-k of log-weight plus Gumbel noise.
    ranked = np.argsort(-(np.log(topic_w) + rng.gumbel(size=(n, len(topic_w)))), axis=1)
    interests = [tuple(lexicon.TOPIC_NAMES[t] for t in row[:k]) for row, k in zip(ranked.tolist(), n_interests)]

    raw_ids = np.unique(rng.integers(10**8, 2 * 10**18, size=n + 64))
    ids = [str(x) for x in rng.permutation(raw_ids)[:n]]
    src_names = [s for s, _ in lexicon.HUMAN_SOURCES]
    src_w = np.array([w for _, w in lexicon.HUMAN_SOURCES])
    human_src = rng.choice(len(src_names), size=n, p=src_w / src_w.sum())
    bot_src = rng.integers(0, len(lexicon.BOT_SOURCES), size=n)
    source = [lexicon.BOT_SOURCES[b] if bot else src_names[h] for bot, h, b in zip(is_bot, human_src, bot_src)]

    lang = [LANGS[i] for i in lang_idx]
    handles, names, taken = [], [], set()
    for i in range(n):
        handle, name = (_bot_name if is_bot[i] else _person_name)(MODULES[lang[i]], rnd)
        while handle.lower() in taken:  # handles are unique, case-insensitively, as on the platform
            handle = handle[:11] + str(rnd.randrange(10, 10_000))
        taken.add(handle.lower())
        handles.append(handle)
        names.append(name)

    def sampler(mask: np.ndarray, w: np.ndarray) -> tuple[list[int], list[float]]:
        users = np.flatnonzero(mask)
        return users.tolist(), np.cumsum(w[users]).tolist()

    sqrt_f = np.sqrt(followers + 1.0)
    return World(
        ids=ids, handles=handles, names=names, lang=lang, followers=followers.tolist(),
        following=following.tolist(), tweet_count=tweet_count.tolist(), is_bot=is_bot.tolist(),
        interests=interests, lowercase=lowercase.tolist(), p_emoji=p_emoji.tolist(), p_hashtag=p_hashtag.tolist(),
        p_link=p_link.tolist(), source=source, by_handle={h.lower(): i for i, h in enumerate(handles)},
        by_id={uid: i for i, uid in enumerate(ids)},
        _authors={c: sampler((lang_idx == k) & ~is_bot, rate) for k, c in enumerate(LANGS)},
        _bots={c: sampler(mask, rate) for k, c in enumerate(LANGS) if (mask := (lang_idx == k) & is_bot).any()},
        _mentions={c: sampler((lang_idx == k) & ~is_bot, sqrt_f) for k, c in enumerate(LANGS)},
    )


@functools.cache
def _name_parts(code: str) -> tuple:
    """(display firsts, display lasts, handle firsts, handle lasts, handle words); handles are ASCII, so
    languages in other scripts romanize with parallel lists."""
    m = MODULES[code]
    firsts, lasts = lexicon.split(m.FIRST), lexicon.split(m.LAST)
    hf = tuple(map(_ascii, lexicon.split(getattr(m, "HANDLE_FIRST", m.FIRST))))
    hl = tuple(map(_ascii, lexicon.split(getattr(m, "HANDLE_LAST", m.LAST))))
    return firsts, lasts, hf, hl, tuple(map(_ascii, lexicon.split(m.HANDLE_WORDS)))


def _person_name(m, rnd: random.Random) -> tuple[str, str]:
    """(handle, display name) in the style of the language's users."""
    firsts, lasts, hf, hl, words = _name_parts(m.CODE)
    fi, li = rnd.randrange(len(firsts)), rnd.randrange(len(lasts))
    f, la, word = hf[fi % len(hf)], hl[li % len(hl)], rnd.choice(words)
    num = str(rnd.randrange(1, 100 if rnd.random() < 0.6 else 10_000))
    patterns = (f + la, f"{f}_{la}{num}", f + num, f"{word}_{f}", f"{f}{word}", f[0] + la + num, f"{f}_{la}")
    handle = patterns[rnd.randrange(len(patterns))]
    handle = handle.lower() if rnd.random() < 0.7 else handle.capitalize()
    first, last = firsts[fi], lasts[li]
    if m.CODE in ("ja", "ko"):  # family name first
        full = last + (" " if m.CODE == "ja" and rnd.random() < 0.3 else "") + first
    else:
        full = f"{first} {last}"
    style = rnd.random()
    if style < 0.2:
        full = first
    elif style < 0.3:
        full = f"{first} {rnd.choice(lexicon.GENERIC_EMOJI)}"
    elif style < 0.38 and m.CASED:
        full = full.lower()
    return handle[:15], full


def _bot_name(m, rnd: random.Random) -> tuple[str, str]:
    suffix = rnd.choice(("4u", "now", "bot", "hub", "daily", "x"))
    handle = f"{rnd.choice(BOT_HANDLES)}_{suffix}{rnd.randrange(1, 1000)}"
    return handle[:15], f"{rnd.choice(BOT_NAMES)} {rnd.choice(('🔥', '💰', '🎁', '24/7', '✅', ''))}".strip()
