from collections import Counter

import pytest

from warble.data.clean.quality import QualityConfig, QualityStage, count_words
from warble.data.schema import POST_SCHEMA

from helpers import batch_of

KEEP = [
    "just watched the game with friends, it was so good",
    "今日は友達と映画を見ました",  # 13 characters and no spaces: 13 words
    "这部电影真的很好看推荐",
    "สวัสดีครับวันนี้อากาศดีมาก",
    "I #love this so much",  # a hashtag inside a sentence is one of its words
    "Great game tonight #NBA #Lakers",
    "@user @user thanks so much for this",
    "Email me at <email> please, or call <phone>",
    "check it out http it is great",
    "this is soooooooooo good",  # elongation inside a sentence
    "That was hilarious 😂😂😂😂😂😂😂😂",
    "lol lol lol lol lol that was the funniest thing I have seen all week",
]
DROP = [  # (text, reason)
    ("@user @user http", "only_tags_mentions_links"),
    ("#love #instagood #photooftheday", "only_tags_mentions_links"),
    ("😂😂😂😂 !!!", "only_tags_mentions_links"),
    ("<email> <phone> https://t.co/x", "only_tags_mentions_links"),
    ("ok", "too_short"),
    ("good game", "too_short"),  # 9 characters
    ("nice day!!", "too_short"),  # 10 characters but 2 words
    ("おはようございます", "too_short"),  # 9 characters
    ("@user http so cool", "too_short"),  # placeholders are not words
    ("Great #NBA #Lakers #Win", "too_many_hashtags"),
    ("@a @b @c @d thanks so much", "too_many_mentions"),
    ("aaaaaaaaaaaaaaaaaaaaaaaa help me please", "repeated_chars"),
    ("soooooooooooooooooo good man", "repeated_chars"),
    ("lol lol lol lol lol", "repeated_chars"),
    ("follow4follow guys!! let's grow", "spam_phrase"),
    ("new pics up #F4F #instagood today", "spam_phrase"),
    ("Get FREE   followers now at our site", "spam_phrase"),
]
BOT_ANCHOR = '<a href="https://dlvr.it" rel="nofollow">dlvr.it</a>'  # Twitter API v1.1 form
NO_CHECKS = QualityConfig(min_chars=None, min_words=None, drop_no_content=False, max_hashtag_ratio=None,
                          max_mention_ratio=None, max_repeated_char_run=None, max_repeated_word_run=None,
                          bot_sources=(), spam_phrases=())


@pytest.mark.parametrize("text", KEEP)
def test_keep(text):
    assert QualityStage().reason(text) is None


@pytest.mark.parametrize("text,reason", DROP)
def test_drop(text, reason):
    assert QualityStage().reason(text) == f"quality.{reason}"


@pytest.mark.parametrize("text", [t for t, _ in DROP])
def test_every_check_can_be_switched_off(text):
    assert QualityStage(NO_CHECKS).reason(text) is None


def test_count_words():
    assert count_words("hello, world 42") == 3
    assert count_words("今日はgood天気") == 6  # 5 CJK characters + 1 word
    assert count_words("😂 !!") == 0


def test_repeated_fraction():
    text = "this is soooooooooo good"
    assert QualityStage(QualityConfig(max_repeated_char_fraction=0)).reason(text) == "quality.repeated_chars"
    assert QualityStage(QualityConfig(max_repeated_char_run=10)).reason("aaaaaaaaaa ok then fine") is None


@pytest.mark.parametrize("source", ["dlvr.it", "IFTTT", "ifttt", BOT_ANCHOR, "  twittbot.net "])
def test_bot_source(source):
    assert QualityStage().reason("a perfectly fine sentence here", source) == "quality.bot_source"


def test_human_clients_pass():
    for source in (None, "", "Twitter for iPhone", '<a href="https://mobile.twitter.com">Twitter Web App</a>'):
        assert QualityStage().reason("a perfectly fine sentence here", source) is None


def test_stage():
    texts = KEEP + [t for t, _ in DROP] + ["a perfectly fine sentence here"]
    sources = [None] * (len(texts) - 1) + [BOT_ANCHOR]
    result = QualityStage()(batch_of(texts, source=sources))
    assert result.batch.schema == POST_SCHEMA
    assert result.batch.column("text").to_pylist() == KEEP
    assert result.batch.column("id").to_pylist() == [str(i) for i in range(len(KEEP))]
    expected = Counter(f"quality.{r}" for _, r in DROP) + Counter({"quality.bot_source": 1})
    assert result.filtered == expected
    assert not result.modified
