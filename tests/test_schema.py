"""The canonical post schema: validation reasons, type coercion, timestamps, packing into Arrow."""

import datetime as dt

import pytest

from warble.data.schema import MAX_TEXT_CHARS, POST_SCHEMA, parse_timestamp, posts_to_batch, validate_post
from warble.errors import RecordError

BASE = {"id": "1", "author_id": "7", "text": "hello world", "origin": "test:x"}


def test_minimal_post_gets_defaults():
    p = validate_post(BASE)
    assert p["hashtags"] == [] and p["like_count"] is None and p["conversation_id"] == "1"
    assert posts_to_batch([p]).schema == POST_SCHEMA


@pytest.mark.parametrize("change,reason", [
    ({"text": None}, "missing_field"), ({"id": ""}, "missing_field"), ({"text": 5}, "wrong_type"),
    ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "too_large"), ({"like_count": "many"}, "wrong_type"),
    ({"like_count": -1}, "wrong_type"), ({"hashtags": [1]}, "wrong_type"), ({"created_at": "yesterday"}, "bad_timestamp"),
    ({"text": "bad \ud800 surrogate"}, "bad_utf8"), ({"id": True}, "wrong_type"), ({"text": "   "}, "missing_field"),
    ({"labels": [1]}, "wrong_type"), ({"origin": None}, "missing_field"),
])
def test_invalid_records_have_a_reason(change, reason):
    with pytest.raises(RecordError) as e:
        validate_post({**BASE, **change})
    assert e.value.reason == reason


def test_coercions():
    p = validate_post({**BASE, "id": 123, "like_count": "4", "view_count": 5.0, "hashtags": "a b",
                       "reply_to_id": 9, "labels": {"topic": 3}})
    assert p["id"] == "123" and p["like_count"] == 4 and p["view_count"] == 5 and p["hashtags"] == ["a", "b"]
    assert p["conversation_id"] is None, "a reply's conversation is unknown unless given"
    assert p["labels"] == {"topic": "3"}


@pytest.mark.parametrize("value", ["Wed Oct 10 20:19:24 +0000 2018", "2018-10-10T20:19:24Z",
                                   "2018-10-10T22:19:24+02:00", 1539202764, 1539202764000])
def test_timestamps_are_utc(value):
    assert parse_timestamp(value) == dt.datetime(2018, 10, 10, 20, 19, 24, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("field", ["author_handle", "source", "lang", "id"])
def test_lone_surrogates_in_any_string_are_quarantined(field):
    with pytest.raises(RecordError) as e:
        validate_post({**BASE, field: "x\ud800y"})
    assert e.value.reason == "bad_utf8"
    with pytest.raises(RecordError):
        validate_post({**BASE, "hashtags": ["ok", "bad\udfff"]})


def test_ids_are_stripped():
    assert validate_post({**BASE, "author_id": " 456 "})["author_id"] == "456"
    with pytest.raises(RecordError):
        validate_post({**BASE, "author_id": "4 56"})
