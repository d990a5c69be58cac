"""Twitter API v1.1 tweet objects: one per JSON line, or one JSON array of them (e.g. the PHEME dataset).

v1.1 has no conversation id; the schema fills it for originals. A retweet keeps its own text ("RT @x: ...").
"""

from __future__ import annotations

from typing import Iterator

from warble.data.readers.base import ItemStream, ReadTask
from warble.data.readers.jsonrecords import pluck, read_json

TWEET_KEYS = frozenset(("id_str", "user", "favorite_count", "full_text", "in_reply_to_status_id_str"))


def to_post(tweet: dict) -> dict:
    user = tweet.get("user") or {}
    extended = tweet.get("extended_tweet") or {}  # streaming API: `text` is cut at 140 characters
    entities = extended.get("entities") or tweet.get("entities") or {}
    return {
        "id": tweet.get("id_str") or tweet.get("id"),
        "author_id": user.get("id_str") or user.get("id"),
        "author_handle": user.get("screen_name"),
        "author_followers": user.get("followers_count"),
        "created_at": tweet.get("created_at"),
        "text": tweet.get("full_text") or extended.get("full_text") or tweet.get("text"),
        "lang": tweet.get("lang"),
        "reply_to_id": tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"),
        "quote_of_id": tweet.get("quoted_status_id_str") or (tweet.get("quoted_status") or {}).get("id_str"),
        "repost_of_id": (tweet.get("retweeted_status") or {}).get("id_str"),
        "hashtags": pluck(entities.get("hashtags"), "text"),
        "mentions": pluck(entities.get("user_mentions"), "screen_name"),
        "urls": pluck(entities.get("urls"), "expanded_url", "url"),
        "like_count": tweet.get("favorite_count"),
        "repost_count": tweet.get("retweet_count"),
        "reply_count": tweet.get("reply_count"),
        "quote_count": tweet.get("quote_count"),
        "source": tweet.get("source"),  # its HTML anchor is stripped by schema.validate_post
    }


def map_record(tweet: dict) -> Iterator[dict]:
    yield to_post(tweet)


def read(task: ReadTask) -> ItemStream:
    return read_json(task, map_record)
