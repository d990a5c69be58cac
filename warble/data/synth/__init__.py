"""`warble synth`: the embedded default corpus, a seeded simulation of a social platform.

    from warble.data.synth import synthesize
    summary = synthesize("quickstart/raw", posts=100_000, seed=0, fmt="twitter_v2", workers=4)

Users with interests, languages and heavy-tailed follower counts write posts, replies, quotes and retweets in
seven languages; engagement follows a known function (engagement.py); duplicates, near-duplicates, spam,
personal data and malformed records are planted at set rates. Everything is recorded in out_dir/_truth/.
The same (posts, seed, fmt, shards and rates) always gives byte-identical files, whatever the worker count.
"""

from .config import FORMATS, SynthConfig
from .run import synthesize

__all__ = ["FORMATS", "SynthConfig", "synthesize"]
