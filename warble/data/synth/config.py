"""SynthConfig: every knob that decides what `warble synth` writes (the CLI builds its flags from these fields).

Worker count and the progress bar are not here: they change how fast the corpus is made, never its bytes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields

from warble.errors import ConfigError

from .langs import MODULES

FORMATS = ("twitter_v2", "warble")
POSTS_PER_SHARD = 50_000
MAX_PLANTED = 0.5  # planted faults may not crowd out the organic posts


@dataclass(frozen=True)
class SynthConfig:
    posts: int = 10_000
    seed: int = 0
    fmt: str = "twitter_v2"
    shards: int | None = None  # None: one shard per POSTS_PER_SHARD posts
    malformed_rate: float = 0.002  # extra broken records, per post
    duplicate_rate: float = 0.03  # exact copies of an earlier post by another account
    near_duplicate_rate: float = 0.02  # copies with a small edit
    spam_rate: float = 0.02
    pii_rate: float = 0.02  # posts written with personal data in the text (copies of them carry it too)
    langs: tuple[str, ...] | dict[str, float] | None = None  # codes (default shares) or code -> share
    start: str = "2025-07-01"  # first day of the period, UTC
    end: str = "2026-06-30"  # last day of the period (inclusive), UTC

    def __post_init__(self):
        if not isinstance(self.posts, int) or self.posts < 1:
            raise ConfigError(f"posts must be a positive integer, got {self.posts!r}")
        if self.fmt not in FORMATS:
            raise ConfigError(f"unknown format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        if self.shards is not None and not 1 <= self.shards <= self.posts:
            raise ConfigError(f"shards must be between 1 and the number of posts, got {self.shards}")
        for f in fields(self):
            if f.name.endswith("_rate") and not 0 <= getattr(self, f.name) <= 1:
                raise ConfigError(f"{f.name} must be in [0, 1], got {getattr(self, f.name)}")
        planted = self.duplicate_rate + self.near_duplicate_rate + self.spam_rate
        if planted > MAX_PLANTED:
            raise ConfigError(f"duplicate, near-duplicate and spam rates add up to {planted:.2f} (max {MAX_PLANTED})")
        self.lang_weights()
        if self.end_ms <= self.start_ms:
            raise ConfigError(f"end {self.end} is before start {self.start}")

    @property
    def n_shards(self) -> int:
        return self.shards or math.ceil(self.posts / POSTS_PER_SHARD)

    def shard_posts(self, index: int) -> int:
        base, extra = divmod(self.posts, self.n_shards)
        return base + (index < extra)

    def lang_weights(self) -> dict[str, float]:
        """Share of posts per language code, summing to 1."""
        if self.langs is None:
            weights = {code: m.WEIGHT for code, m in MODULES.items()}
        elif isinstance(self.langs, dict):
            weights = dict(self.langs)
        else:
            weights = {code: MODULES[code].WEIGHT if code in MODULES else 0.0 for code in self.langs}
        unknown = sorted(set(weights) - set(MODULES))
        if unknown:
            raise ConfigError(f"unknown language(s) {', '.join(unknown)}; available: {', '.join(MODULES)}")
        total = sum(weights.values())
        if not total > 0 or min(weights.values()) < 0:
            raise ConfigError("language shares must be non-negative and not all zero")
        return {code: w / total for code, w in weights.items() if w > 0}

    @property
    def start_ms(self) -> int:
        return _day_ms(self.start, "start")

    @property
    def end_ms(self) -> int:
        """Exclusive end: midnight after the last day."""
        return _day_ms(self.end, "end") + 86_400_000


def _day_ms(value: str, name: str) -> int:
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a date like 2026-06-30, got {value!r}") from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
