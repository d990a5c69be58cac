"""Twitter/X API v2: one response per JSON line, a saved pretty-printed response, or bare tweet objects.

A response's `data` is a list of tweets (or one tweet); `includes.users` gives each author's handle and follower
count. Bare tweet lines, as `twarc2 flatten` writes them, carry their author inline under `author`.
"""

from __future__ import annotations

from typing import Iterator

from warble.data.readers.base import ItemStream, ReadTask
from warble.data.readers.jsonrecords import pluck, read_json
from warble.data.readers.records import SHAPE_ERRORS, as_record_error
from warble.errors import RecordError

RESPONSE_KEYS = frozenset(("data", "includes", "errors", "meta"))
TWEET_KEYS = frozenset(("edit_history_tweet_ids", "public_metrics", "referenced_tweets", "note_tweet"))
_REFERENCES = {"replied_to": "reply_to_id", "quoted": "quote_of_id", "retweeted": "repost_of_id"}
_METRICS = {
    "like_count": "like_count",
    "retweet_count": "repost_count",
    "reply_count": "reply_count",
    "quote_count": "quote_count",
    "impression_count": "view_count",
}


def to_post(tweet: dict, users: dict) -> dict:
    if type(tweet) is not dict:
        raise RecordError("wrong_type", f"tweet is {type(tweet).__name__}")
    author = tweet.get("author") or users.get(tweet.get("author_id")) or {}
    note = tweet.get("note_tweet") or {}  # a long post: `text` holds only its first 280 characters
    entities = note.get("entities") or tweet.get("entities") or {}
    metrics = tweet.get("public_metrics") or {}
    post = {
        "id": tweet.get("id"),
        "author_id": tweet.get("author_id"),
        "author_handle": author.get("username"),
        "author_followers": (author.get("public_metrics") or {}).get("followers_count"),
        "created_at": tweet.get("created_at"),
        "text": note.get("text") or tweet.get("text"),
        "lang": tweet.get("lang"),
        "conversation_id": tweet.get("conversation_id"),
        "hashtags": pluck(entities.get("hashtags"), "tag"),
        "mentions": pluck(entities.get("mentions"), "username"),
        "urls": pluck(entities.get("urls"), "expanded_url", "url"),
        "source": tweet.get("source"),
    }
    for name, field in _METRICS.items():
        post[field] = metrics.get(name)
    for ref in tweet.get("referenced_tweets") or ():
        field = _REFERENCES.get(ref.get("type"))
        if field:
            post[field] = ref.get("id")
    return post


def map_record(obj: dict) -> Iterator[dict | RecordError]:
    if not RESPONSE_KEYS.intersection(obj):
        yield to_post(obj, {})
        return
    data = obj.get("data") or []  # an errors-only response holds no tweets: nothing to read, nothing wrong
    tweets = [data] if type(data) is dict else data
    if type(tweets) is not list:
        raise RecordError("wrong_type", f"data is {type(data).__name__}")
    users = {user.get("id"): user for user in (obj.get("includes") or {}).get("users") or ()}
    for tweet in tweets:
        try:  # one malformed tweet must not cost the rest of its response
            yield to_post(tweet, users)
        except (RecordError, *SHAPE_ERRORS) as exc:
            yield as_record_error(exc)


def read(task: ReadTask) -> ItemStream:
    return read_json(task, map_record)
