from collections import Counter

import pytest

from warble.data.clean.placeholders import PlaceholderConfig, PlaceholderStage, placehold
from warble.data.schema import POST_SCHEMA, posts_to_batch, validate_post
from warble.errors import ConfigError

MENTIONS = [  # (raw, with placeholders)
    ("@jack hi", "@user hi"),
    ("RT @jack: hi @Bob_99!", "RT @user: hi @user!"),
    ("＠tanaka さん", "@user さん"),
    ("(@a_b_c)", "(@user)"),
    ("mail joe@example.com", "mail joe@example.com"),  # e-mail, not a mention
    ("@@foo", "@@foo"),
    ("@abcdefghijklmnop is 16 long", "@abcdefghijklmnop is 16 long"),  # longer than Twitter allows
    ("@user@mastodon.social", "@user@mastodon.social"),
    ("@user already", "@user already"),
]
URLS = [
    ("see https://t.co/AbC123xyz.", "see http."),
    ("(see www.example.com/a?b=1)", "(see http)"),
    ("HTTPS://EXAMPLE.COM/X!", "http!"),
    ("pic.twitter.com/abc123 and t.co/xyz,", "http and http,"),
    ("https://t.co/x日本語", "http日本語"),  # links are ASCII: CJK text right after one stays
    ("done, https://t…", "done, http…"),  # truncated retweet
    ("https://medium.com/@author/post-1#intro", "http"),  # mention and hashtag inside a link
    ("a.t.co/x http:// #tag &#39;", "a.t.co/x http:// #tag &#39;"),
]


@pytest.mark.parametrize("raw,expected", MENTIONS + URLS)
def test_placehold(raw, expected):
    text, counts = placehold(raw)
    assert text == expected
    assert placehold(text) == (text, Counter())  # idempotent, and a placeholder is not counted again


def test_counts():
    assert placehold("@a @b https://x.com/@c www.y.org")[1] == Counter(
        {"placeholders.mention": 2, "placeholders.url": 2}
    )


def test_keep_modes():
    text = "@alice https://x.com/@bob #tag"
    assert placehold(text, PlaceholderConfig(urls="keep"))[0] == "@user https://x.com/@bob #tag"
    assert placehold(text, PlaceholderConfig(mentions="keep"))[0] == "@alice http #tag"
    assert placehold(text, PlaceholderConfig(mentions="keep", urls="keep")) == (text, Counter())


def test_bad_mode_is_a_config_error():
    with pytest.raises(ConfigError):
        PlaceholderConfig(mentions="drop")


def test_stage_keeps_structured_columns():
    post = validate_post({"id": "1", "author_id": "a", "text": "@bob look https://t.co/x", "origin": "test",
                          "mentions": ["bob"], "urls": ["https://example.com/full"]})
    result = PlaceholderStage()(posts_to_batch([post]))
    assert result.batch.schema == POST_SCHEMA
    assert result.batch.column("text").to_pylist() == ["@user look http"]
    assert result.batch.column("mentions").to_pylist() == [["bob"]]
    assert result.batch.column("urls").to_pylist() == [["https://example.com/full"]]
    assert result.modified == Counter({"placeholders.mention": 1, "placeholders.url": 1})
    assert not result.filtered
