"""Output formats: how a block of generated posts becomes lines of a part file.

twitter_v2: each line is one Twitter API v2 search response: up to 100 tweets (newest first, as the API pages),
the users they involve under includes, and meta. warble: each line is one post with POST_SCHEMA field names.
"""

from __future__ import annotations

from typing import Iterable

import orjson

from . import entities
from .post import Post
from .world import World

TWEETS_PER_RESPONSE = 100


class TwitterV2:
    """Tweets and user objects in the API v2 shape; responses are `records_per_line` tweets."""

    records_per_line = TWEETS_PER_RESPONSE

    def __init__(self, world: World):
        self.world = world
        self._users: dict[int, dict] = {}

    def user(self, i: int) -> dict:
        u = self._users.get(i)
        if u is None:
            w = self.world
            u = self._users[i] = {
                "id": w.ids[i], "name": w.names[i], "username": w.handles[i],
                "public_metrics": {"followers_count": w.followers[i], "following_count": w.following[i],
                                   "tweet_count": w.tweet_count[i], "listed_count": w.followers[i] // 60},
            }
        return u

    def record(self, post: Post, created_at: str, counts: tuple[int, ...]) -> dict:
        w = self.world
        tweet = {
            "id": post.id, "text": post.text, "author_id": w.ids[post.author], "created_at": created_at,
            "conversation_id": post.conversation_id, "lang": post.declared_lang, "source": w.source[post.author],
            "edit_history_tweet_ids": [post.id],
            "public_metrics": {"retweet_count": counts[2], "reply_count": counts[3], "like_count": counts[1],
                               "quote_count": counts[4], "impression_count": counts[0]},
        }
        refs = []
        if post.reply_to_id:
            refs.append({"type": "replied_to", "id": post.reply_to_id})
            tweet["in_reply_to_user_id"] = w.ids[post.reply_to_user]
        if post.quote_of_id:
            refs.append({"type": "quoted", "id": post.quote_of_id})
        if post.repost_of_id:
            refs.append({"type": "retweeted", "id": post.repost_of_id})
        if refs:
            tweet["referenced_tweets"] = refs
        ents = {}
        text = post.text
        if "#" in text and (tags := entities.hashtags(text)):
            ents["hashtags"] = [{"start": s, "end": e, "tag": t} for s, e, t in tags]
        if "@" in text and (mentions := entities.mentions(text, w.by_handle)):
            ents["mentions"] = [{"start": s, "end": e, "username": h, "id": w.ids[u]} for s, e, h, u in mentions]
        if post.links and (urls := entities.links(text, post.links)):
            ents["urls"] = [{"start": s, "end": e, "url": short, "expanded_url": exp, "display_url": disp}
                            for s, e, short, exp, disp in urls]
            if post.media_key:
                ents["urls"][-1]["media_key"] = post.media_key
        if ents:
            tweet["entities"] = ents
        if post.media_key:
            tweet["attachments"] = {"media_keys": [post.media_key]}
        return tweet

    def line(self, records: list[dict]) -> bytes:
        """One response: the records newest first, with every author and mentioned user once."""
        data = records[::-1]
        users: dict[str, dict] = {}
        by_id = self.world.by_id
        for t in data:
            uid = t["author_id"]
            if uid not in users:
                users[uid] = self.user(by_id[uid])
            ents = t.get("entities")
            if ents and "mentions" in ents:
                for m in ents["mentions"]:
                    if m["id"] not in users:
                        users[m["id"]] = self.user(by_id[m["id"]])
        ids = [t["id"] for t in data if isinstance(t.get("id"), str)]
        meta = {"result_count": len(data)}
        if ids:
            meta.update(newest_id=ids[0], oldest_id=ids[-1])
        return orjson.dumps({"data": data, "includes": {"users": list(users.values())}, "meta": meta})


class Warble:
    """Flat records with POST_SCHEMA field names, one per line."""

    records_per_line = 1

    def __init__(self, world: World):
        self.world = world

    def record(self, post: Post, created_at: str, counts: tuple[int, ...]) -> dict:
        w = self.world
        return {
            "id": post.id, "author_id": w.ids[post.author], "author_handle": w.handles[post.author],
            "created_at": created_at, "text": post.text, "lang": post.declared_lang,
            "conversation_id": post.conversation_id, "reply_to_id": post.reply_to_id or None,
            "quote_of_id": post.quote_of_id or None, "repost_of_id": post.repost_of_id or None,
            "hashtags": [t for _, _, t in entities.hashtags(post.text)],
            "mentions": [h for _, _, h, _ in entities.mentions(post.text, w.by_handle)],
            "urls": [exp for _, _, _, exp, _ in entities.links(post.text, post.links)],
            "like_count": counts[1], "repost_count": counts[2], "reply_count": counts[3], "quote_count": counts[4],
            "view_count": counts[0], "author_followers": w.followers[post.author],
            "source": w.source[post.author], "origin": "synth",
        }

    def line(self, records: list[dict]) -> bytes:
        (record,) = records
        return orjson.dumps(record)


FORMATS = {"twitter_v2": TwitterV2, "warble": Warble}


def chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
