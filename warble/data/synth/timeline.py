"""When posts happen: daily and weekly activity cycles, each language in its own time zone, and snowflake ids.

Shard i covers the i-th equal slice of the period, so shards are independent and ids still grow with time.
"""

from __future__ import annotations

import numpy as np

# Activity by local hour (0-23), mean 1: asleep at 4am, a lunch bump, the evening peak.
DAILY = np.array([0.55, 0.35, 0.22, 0.15, 0.12, 0.15, 0.3, 0.6, 0.95, 1.1, 1.15, 1.2,
                  1.35, 1.3, 1.2, 1.15, 1.2, 1.3, 1.45, 1.6, 1.7, 1.65, 1.35, 0.95])
DAILY = DAILY / DAILY.mean()
WEEKLY = np.array([0.95, 0.96, 0.97, 0.98, 1.02, 1.08, 1.04])  # Monday .. Sunday (UTC)

HOUR_MS = 3_600_000
TWITTER_EPOCH_MS = 1_288_834_974_657  # snowflake ids count milliseconds from here


def shard_slice(start_ms: int, end_ms: int, shards: int, index: int) -> tuple[int, int]:
    step = (end_ms - start_ms) / shards
    return start_ms + round(index * step), start_ms + round((index + 1) * step)


def local_hours(ms: np.ndarray, tz: np.ndarray) -> np.ndarray:
    """Local hour of day for each (time, UTC offset) pair, broadcasting."""
    return (ms // HOUR_MS + tz) % 24


def sample_times(rng: np.random.Generator, n: int, t0: int, t1: int, tz: np.ndarray, w: np.ndarray) -> np.ndarray:
    """n sorted ms timestamps in [t0, t1), from the weekly cycle times the mixture (weights w) of the languages'
    daily cycles, each in its time zone (UTC offsets tz)."""
    hours = np.arange(t0 // HOUR_MS, (t1 - 1) // HOUR_MS + 1)
    lo, hi = np.maximum(hours * HOUR_MS, t0), np.minimum((hours + 1) * HOUR_MS, t1)
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday
    activity = DAILY[(hours[:, None] + tz[None, :]) % 24] @ w
    p = activity * WEEKLY[weekday] * (hi - lo)
    which = rng.choice(len(hours), size=n, p=p / p.sum())
    ms = lo[which] + (rng.random(n) * (hi[which] - lo[which])).astype(np.int64)
    return np.sort(ms)


def assign_langs(rng: np.random.Generator, ms: np.ndarray, tz: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Language index per post: p(lang | time) is its share times how awake its time zone is then."""
    p = DAILY[local_hours(ms[:, None], tz[None, :])] * w[None, :]
    cum = np.cumsum(p, axis=1)
    u = rng.random(len(ms))[:, None] * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=1), len(w) - 1)


def snowflake_ids(ms: np.ndarray, worker: int) -> np.ndarray:
    """Twitter-style ids: ms since the Twitter epoch << 22 | 10-bit worker << 12 | 12-bit sequence."""
    seq = np.arange(len(ms)) & 0xFFF
    elapsed = (ms - TWITTER_EPOCH_MS).astype(np.uint64)
    return (elapsed << np.uint64(22)) | np.uint64(worker << 12) | seq.astype(np.uint64)
