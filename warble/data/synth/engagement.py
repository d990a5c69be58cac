"""The known engagement function: the ground truth for engagement prediction.

For each post, `expected_engagement` gives the expected impressions and the expected like, repost, reply and quote
counts from features of the content, the author and the time. `draw` samples the observed counts from it:

    impressions ~ Poisson(E[impressions])
    E[impressions] = (BASE_REACH + followers) * reach
    reach = 0.25 * topic_popularity**0.8 * hour_factor(local_hour) * 1.35**media * 0.85**link * 0.4**reply
            * (1 - exp(-age_hours / 18))       # views pile up over the first day, then stop
    likes ~ Binomial(impressions, p_like),  p_like = sigmoid(z_like), and likewise for the other actions;
    z_like = -3.7 + 0.5 ln(topic_popularity) + 0.45 media - 0.3 link + 0.2 question + 0.12 min(emoji, 3)
             + 0.15 min(hashtags, 2) - 0.25 max(hashtags - 3, 0) - 0.35 |ln(chars / 100)| - 0.5 reply

so E[likes] = E[impressions] * p_like. Every expected count grows with followers. `post_features` computes the
features from a canonical post (warble.data.schema field names) so later code can score any post it reads;
the ground truth (_truth/posts.parquet) stores the features and expected counts of every planted post.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from . import lexicon
from .entities import EMOJI_RE, HASHTAG_RE
from .langs import MODULES
from .timeline import DAILY, HOUR_MS

BASE_REACH = 20.0  # impressions a post with no followers still gets (search, hashtags, explore)
UNKNOWN_TOPIC = 0.5  # popularity of posts without a topic (spam)
TZ_OFFSET = {code: m.TZ for code, m in MODULES.items()}
ACTIONS = ("like", "repost", "reply", "quote")
FEATURES = ("followers", "topic_popularity", "media", "link", "question", "emoji", "hashtags", "chars", "local_hour",
            "age_hours", "reply")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def features(text: str, urls: list[str], followers: int, created_ms: int, lang: str, topic: str | None,
             is_reply: bool, end_ms: int) -> tuple:
    """The FEATURES of one post, in order: what `expected_engagement` takes."""
    return (
        followers,
        lexicon.TOPICS.get(topic or "", UNKNOWN_TOPIC),
        any("/photo/" in u for u in urls),
        any("/photo/" not in u and "/status/" not in u for u in urls),  # a link out, not media or a quoted post
        "?" in text or "？" in text,
        0 if text.isascii() else len(EMOJI_RE.findall(text)),
        len(HASHTAG_RE.findall(text)) if "#" in text else 0,
        len(text),
        (created_ms // HOUR_MS + TZ_OFFSET.get(lang, 0)) % 24,
        (end_ms - created_ms) / HOUR_MS,
        is_reply,
    )


def post_features(post: dict[str, Any], topic: str | None, period_end: dt.datetime) -> dict[str, float]:
    """FEATURES of a canonical post (POST_SCHEMA fields, `lang` the true one; `topic` from the ground truth)."""
    ms = lambda t: int(t.timestamp() * 1000)  # noqa: E731
    values = features(post["text"], post.get("urls") or [], post.get("author_followers") or 0,
                      ms(post["created_at"]), post.get("lang") or "", topic, post.get("reply_to_id") is not None,
                      ms(period_end))
    return dict(zip(FEATURES, values))


def expected_engagement(followers, topic_popularity, media, link, question, emoji, hashtags, chars, local_hour,
                        age_hours, reply) -> dict[str, np.ndarray]:
    """Expected impressions and per-action counts (arrays, or scalars broadcast) for the features above.

    Returns {'impressions', 'like', 'repost', 'reply', 'quote'} expected counts and 'p_<action>' probabilities
    per impression.
    """
    f = np.asarray(followers, dtype=np.float64)
    pop = np.asarray(topic_popularity, dtype=np.float64)
    media, link, question, reply = (np.asarray(x, dtype=np.float64) for x in (media, link, question, reply))
    emoji, hashtags = np.asarray(emoji, dtype=np.float64), np.asarray(hashtags, dtype=np.float64)
    chars = np.maximum(np.asarray(chars, dtype=np.float64), 1.0)
    hour_factor = 0.6 + 0.4 * DAILY[np.asarray(local_hour, dtype=np.int64) % 24] / DAILY.max()
    exposure = 1.0 - np.exp(-np.maximum(np.asarray(age_hours, dtype=np.float64), 0.05) / 18.0)
    reach = 0.25 * pop**0.8 * hour_factor * 1.35**media * 0.85**link * 0.4**reply * exposure
    impressions = (BASE_REACH + f) * reach
    z_like = (-3.7 + 0.5 * np.log(pop) + 0.45 * media - 0.3 * link + 0.2 * question + 0.12 * np.minimum(emoji, 3)
              + 0.15 * np.minimum(hashtags, 2) - 0.25 * np.maximum(hashtags - 3, 0)
              - 0.35 * np.abs(np.log(chars / 100.0)) - 0.5 * reply)
    p = {
        "like": _sigmoid(z_like),
        "repost": _sigmoid(z_like - 1.7 + 0.5 * link),  # links travel by reposts
        "reply": _sigmoid(-5.0 + 1.0 * question + 0.5 * reply + 0.2 * np.log(pop)),
        "quote": _sigmoid(-6.3 + 0.4 * question + 0.3 * link),
    }
    out = {"impressions": impressions}
    for action, prob in p.items():
        out[action] = impressions * prob
        out["p_" + action] = prob
    return out


def draw(expected: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Observed counts: Poisson impressions, then a binomial number of each action among them."""
    impressions = rng.poisson(expected["impressions"])
    out = {"impressions": impressions}
    for action in ACTIONS:
        out[action] = rng.binomial(impressions, expected["p_" + action])
    return out
