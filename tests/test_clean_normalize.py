import random
from collections import Counter

import pytest

from warble.data.clean.normalize import NormalizeConfig, NormalizeStage, normalize
from warble.data.schema import POST_SCHEMA
from warble.errors import ConfigError

from helpers import batch_of

FAMILY = "👨\u200d👩\u200d👧"  # ZWJ sequence
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # tag-character sequence

CASES = [  # (raw, normalized, kinds changed)
    ("plain ascii post", "plain ascii post", set()),
    ("CafÃ© con leche â€” sÃ­", "Café con leche — sí", {"mojibake_fixed"}),
    ("ðŸ˜‚ lol", "😂 lol", {"mojibake_fixed"}),
    ("café déjà vu — “quoted” 😂", "café déjà vu — “quoted” 😂", set()),  # real accents are not mojibake
    ("Tom &amp; Jerry &lt;3 &gt;_&lt;", "Tom & Jerry <3 >_<", {"html_unescaped"}),
    ("AT&T &amp;amp; &#233;t&#xE9;", "AT&T & été", {"html_unescaped"}),  # double escape; numeric entities
    ("&notice &copy", "&notice &copy", set()),  # no semicolon: not an entity
    ("e\u0301te\u0301", "été", {"unicode_normalized"}),
    ("a\u200bb\u00adc\ufeffd\x00e\u202ef", "abcdef", {"control_removed"}),
    (f"{FAMILY} ❤\ufe0f {ENGLAND}", f"{FAMILY} ❤\ufe0f {ENGLAND}", set()),  # ZWJ, VS16, tags survive
    ("می\u200cخواهم", "می\u200cخواهم", set()),  # ZWNJ is Persian spelling
    ("  a \t b  \r\n\r\n\r\n\n c  \n d ", "a b\n\nc\nd", {"whitespace_collapsed"}),
    ("Ã©t&eacute;\u200b  !", "été !", {"mojibake_fixed", "html_unescaped", "control_removed", "whitespace_collapsed"}),
]


@pytest.mark.parametrize("raw,expected,kinds", CASES)
def test_normalize(raw, expected, kinds):
    text, counts = normalize(raw)
    assert text == expected
    assert counts == Counter({f"normalize.{k}": 1 for k in kinds})


@pytest.mark.parametrize("raw", [raw for raw, _, _ in CASES])
def test_idempotent(raw):
    once, _ = normalize(raw)
    assert normalize(once) == (once, Counter())


def test_switches_off_each_step():
    off = NormalizeConfig(fix_encoding=False, form=None, strip_control=False, collapse_whitespace=False,
                          html_unescape=False)
    for raw, _, _ in CASES:
        assert normalize(raw, off) == (raw, Counter())


def test_bad_form_is_a_config_error():
    with pytest.raises(ConfigError):
        NormalizeConfig(form="NFX")


def test_stage_drops_posts_that_become_empty():
    batch = batch_of(["fine &amp; dandy", "\u200b\u200b", "CafÃ©", "\ufeff \u00ad"])
    result = NormalizeStage()(batch)
    assert result.batch.schema == POST_SCHEMA
    assert result.batch.column("id").to_pylist() == ["0", "2"]
    assert result.batch.column("text").to_pylist() == ["fine & dandy", "Café"]
    assert result.filtered == Counter({"normalize.empty": 2})
    assert result.modified == Counter({"normalize.html_unescaped": 1, "normalize.mojibake_fixed": 1,
                                       "normalize.control_removed": 2, "normalize.whitespace_collapsed": 1})


def test_idempotent_on_random_mixes():
    # Pieces that interact: entities, mojibake, invisibles between them, no-break and odd whitespace.
    pieces = ["a", "é", " ", "  ", "\n", "\t", "\r", "\xa0", "\x85", "&amp;", "amp;", "&#38;", "&lt;", "Ã©", "â€",
              "Â", "\u200b", "\u200d", "\ufe0f", "e\u0301", "😂", "日本"]
    rng = random.Random(0)
    for _ in range(2000):
        once, _ = normalize("".join(rng.choices(pieces, k=rng.randint(1, 20))))
        assert normalize(once)[0] == once
