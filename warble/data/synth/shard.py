"""Generate one shard: plan its posts with numpy, write them in blocks, stream the lines to its part file.

A shard depends only on (config, shard index): its time slice, its own seeded generators, the shared world.
That is what makes the output the same whatever the number of workers. Memory is bounded by the block size
and the pools of recent posts that replies, quotes and copies draw from.
"""

from __future__ import annotations

import contextlib
import gc
import random
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from . import engagement, faults, malformed, timeline, truth
from .config import SynthConfig
from .langs import MODULES
from .post import KINDS, Post
from .render import FORMATS, chunks
from .text import Composer
from .world import build_world, seed_sequence

BLOCK = 2_000  # posts generated, scored and written together; a multiple of the tweets per response
POOL = 400  # recent posts per language that replies, quotes and copies choose from
REPLY_RATE, QUOTE_RATE, RETWEET_RATE = 0.22, 0.03, 0.06
UND_RATE = 0.01  # posts the platform could not tag with a language
MALFORMED_WORKER = 0x200  # id bit that keeps malformed records' ids apart from posts'


def part_name(index: int) -> str:
    return f"part-{index:05d}.jsonl"


class Pools:
    """Recent posts per language: originals (what gets copied and quoted) and threads (what gets replies)."""

    def __init__(self):
        self.originals: dict[str, list[Post]] = {code: [] for code in MODULES}
        self.threads: dict[str, list[Post]] = {code: [] for code in MODULES}

    @staticmethod
    def _add(pool: list[Post], post: Post) -> None:
        pool.append(post)
        if len(pool) > 2 * POOL:
            del pool[:POOL]

    def add(self, post: Post) -> None:
        if post.kind in ("original", "reply", "quote"):
            self._add(self.threads[post.lang], post)
        if post.kind == "original":
            self._add(self.originals[post.lang], post)

    @staticmethod
    def pick(pool: list[Post], u: float) -> Post | None:
        """Recent posts are likelier picks (u**2 leans to the end of the pool)."""
        if not pool:
            return None
        window = min(len(pool), POOL)
        return pool[len(pool) - 1 - int(u * u * window)]


class ShardWriter:
    def __init__(self, cfg: SynthConfig, index: int, out_dir: Path):
        self.cfg, self.index, self.out_dir = cfg, index, out_dir
        self.world = build_world(cfg.seed)
        np_seed, py_seed, bad_seed = seed_sequence(cfg.seed, 1, index).spawn(3)
        self.rng = np.random.default_rng(np_seed)
        self.rnd = random.Random(int(py_seed.generate_state(1)[0]))
        self.composer = Composer(self.world, self.rnd)
        # Malformed records draw from their own stream: breaking a record depends on the output format, and the
        # posts must not (both formats carry the same posts and the same ground truth).
        self.bad_composer = Composer(self.world, random.Random(int(bad_seed.generate_state(1)[0])))
        self.renderer = FORMATS[cfg.fmt](self.world)
        self.pools = Pools()
        self.counts = {"kinds": Counter(), "langs": Counter(), "pii": Counter(), "malformed": Counter()}
        self.malformed_rows: list[dict] = []
        self.lines = 0
        self.pii_posts = 0

    # --- planning -----------------------------------------------------------------------------------------------

    def plan(self, n: int) -> None:
        """Draw every post's time, language, id, kind and planted data at once (per-post values as lists:
        the post loop reads them one at a time, where numpy scalars are slow)."""
        cfg, rng = self.cfg, self.rng
        weights = cfg.lang_weights()
        codes = list(weights)
        w = np.array([weights[c] for c in codes])
        tz = np.array([MODULES[c].TZ for c in codes])
        t0, t1 = timeline.shard_slice(cfg.start_ms, cfg.end_ms, cfg.n_shards, self.index)
        ms = timeline.sample_times(rng, n, t0, t1, tz, w)
        self.langs = [codes[k] for k in timeline.assign_langs(rng, ms, tz, w).tolist()]
        self.ms = ms.tolist()
        self.ids = timeline.snowflake_ids(ms, self.index & 0x1FF).astype(str).tolist()
        self.created = [s + "Z" for s in np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()]
        # Exact counts of each kind, in random order, so small runs still plant what was asked.
        rates = {"reply": REPLY_RATE, "quote": QUOTE_RATE, "retweet": RETWEET_RATE, "exact_dup": cfg.duplicate_rate,
                 "near_dup": cfg.near_duplicate_rate, "spam": cfg.spam_rate}
        kinds = np.zeros(n, dtype=np.int8)
        at = 0
        for kind, rate in rates.items():
            k = round(rate * n)
            kinds[at : at + k] = KINDS.index(kind)
            at += k
        kinds = rng.permutation(kinds)
        organic = np.flatnonzero(np.isin(kinds, [KINDS.index("original"), KINDS.index("reply")]))
        pii = np.zeros(n, dtype=bool)
        pii[rng.choice(organic, size=min(round(cfg.pii_rate * n), len(organic)), replace=False)] = True
        self.kinds = [KINDS[k] for k in kinds.tolist()]
        self.pii = pii.tolist()
        n_bad = round(cfg.malformed_rate * n)
        self.bad_at = np.sort(rng.integers(0, n + 1, size=n_bad)).tolist()  # before which post each one goes
        self.bad_kinds = [malformed.KINDS[(self.index + k) % len(malformed.KINDS)] for k in range(n_bad)]

    # --- one post -----------------------------------------------------------------------------------------------

    def post(self, i: int) -> Post:
        w, rnd, c = self.world, self.rnd.random, self.composer
        lang = self.langs[i]
        post = Post(id=self.ids[i], ms=self.ms[i], lang=lang, conversation_id=self.ids[i])
        kind = self.kinds[i]
        if kind == "spam":
            post.author = w.bot(lang, rnd())
            faults.spam(post, c)
        else:
            source = None
            if kind == "reply":
                source = self.pools.pick(self.pools.threads[lang], rnd())
            elif kind != "original":
                source = self.pools.pick(self.pools.originals[lang], rnd())
            post.author = w.author(lang, rnd())
            if source is not None and kind != "reply" and post.author == source.author:
                post.author = w.author(lang, rnd())  # copies come from another account (threads may self-reply)
                if post.author == source.author:
                    source = None
            if source is None:
                kind = "original"  # nothing to answer or copy yet
            if kind == "reply":
                post.kind = "reply"
                c.reply(post, source, with_pii=self.pii[i])
            elif kind == "quote":
                post.kind = "quote"
                c.quote(post, source)
            elif kind == "retweet":
                faults.retweet(post, source, w.handles[source.author])
            elif kind == "exact_dup":
                faults.copy_of(post, source, "exact_dup")
            elif kind != "near_dup" or not faults.near_duplicate(post, source, c):
                c.original(post, with_pii=self.pii[i])
        if not post.declared_lang:
            post.declared_lang = "und" if rnd() < UND_RATE else post.lang
        self.pools.add(post)
        return post

    def malformed_post(self, position: int) -> Post:
        """A well-formed post, about to be broken; its id comes from its own id space so it collides with none."""
        i = min(position, len(self.ms) - 1)
        ms = self.ms[i]
        # Sequence = how many came before; it may carry into the worker bits but never reaches the time bits.
        pid = timeline.snowflake_ids(np.array([ms]), MALFORMED_WORKER | (self.index & 0x1FF))[0]
        pid = str(pid + len(self.malformed_rows))
        lang = self.langs[i]
        post = Post(id=pid, ms=ms, lang=lang, conversation_id=pid, declared_lang=lang)
        post.author = self.world.author(lang, self.bad_composer.rnd.random())
        self.bad_composer.original(post)
        return post

    # --- blocks -------------------------------------------------------------------------------------------------

    def score(self, posts: list[Post]) -> tuple[dict, dict, list[tuple[int, ...]]]:
        """Features, expected engagement and drawn counts (impressions, like, repost, reply, quote) for a block."""
        w, end = self.world, self.cfg.end_ms
        rows = [engagement.features(p.text, [link[1] for link in p.links], w.followers[p.author], p.ms, p.lang,
                                    p.topic, bool(p.reply_to_id), end) for p in posts]
        features = {name: np.array(col) for name, col in zip(engagement.FEATURES, zip(*rows))}
        expected = engagement.expected_engagement(**features)
        drawn = engagement.draw(expected, self.rng)
        counts = list(zip(*(drawn[k].tolist() for k in ("impressions",) + engagement.ACTIONS)))
        return features, expected, counts

    def write(self, progress: Callable[[int], None] | None) -> dict:
        with _without_gc():
            return self._write(progress)

    def _write(self, progress: Callable[[int], None] | None) -> dict:
        n = self.cfg.shard_posts(self.index)
        self.plan(n)
        name = part_name(self.index)
        batches = []
        per_line = self.renderer.records_per_line
        bad = 0
        with open(self.out_dir / name, "wb") as f:
            for b0 in range(0, n, BLOCK):
                posts = [self.post(i) for i in range(b0, min(b0 + BLOCK, n))]
                features, expected, counts = self.score(posts)
                records = [self.renderer.record(p, self.created[b0 + k], counts[k]) for k, p in enumerate(posts)]
                for c0, line_records in zip(range(b0, n, per_line), chunks(records, per_line)):
                    while bad < len(self.bad_at) and self.bad_at[bad] <= c0:
                        self._write_malformed(f, name, bad)
                        bad += 1
                    f.write(self.renderer.line(line_records) + b"\n")
                    self.lines += 1
                batches.append(truth.posts_batch(posts, self.world, name, features, expected))
                for p in posts:
                    self.counts["kinds"][p.kind] += 1
                    self.counts["langs"][p.lang] += 1
                    self.counts["pii"].update(p.pii)
                    self.pii_posts += bool(p.pii)
                if progress:
                    progress(len(posts))
            while bad < len(self.bad_at):
                self._write_malformed(f, name, bad)
                bad += 1
        truth.write_part(truth.part_path(self.out_dir, self.index), batches)
        return {"posts": n, "lines": self.lines, "pii_posts": self.pii_posts, "malformed_rows": self.malformed_rows,
                **{k: dict(v) for k, v in self.counts.items()}}

    def _write_malformed(self, f, name: str, k: int) -> None:
        kind = self.bad_kinds[k]
        post = self.malformed_post(self.bad_at[k])
        counts = (0, 0, 0, 0, 0)
        record = self.renderer.record(post, self.created[min(self.bad_at[k], len(self.created) - 1)], counts)
        f.write(malformed.corrupt(kind, record, lambda r: self.renderer.line([r]), self.bad_composer.rnd) + b"\n")
        self.lines += 1
        self.counts["malformed"][kind] += 1
        self.malformed_rows.append({"file": name, "line": self.lines, "kind": kind, "id": post.id})


@contextlib.contextmanager
def _without_gc():
    """Generating posts makes no reference cycles, so the cyclic collector would only keep rescanning the live
    world and pools: about a third of the run time. Switch it off for the shard."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_shard(cfg: SynthConfig, index: int, out_dir: str, progress: Callable[[int], None] | None = None) -> dict:
    return ShardWriter(cfg, index, Path(out_dir)).write(progress)
