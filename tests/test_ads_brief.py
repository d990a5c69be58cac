"""The ad brief: validation names the offending field, limits follow the platform's rules."""

import json

import pytest

from warble.ads.brief import LINK_LIMIT, POST_LIMIT, Brief, BriefError
from warble.errors import InputError


def test_minimal_and_full_briefs():
    b = Brief.from_dict({"product": "  Trailrunner 2 "})
    assert b.product == "Trailrunner 2" and b.lang == "en" and b.char_limit == POST_LIMIT
    full = Brief.from_dict({"product": "Trailrunner 2", "brand": "Acme", "facts": ["weighs 220 g", "ships free"],
                            "url": "https://acme.example/tr2", "audience": "trail runners", "topic": "sports",
                            "must_include": "Trailrunner", "must_avoid": ["cheap"], "lang": "EN"})
    assert LINK_LIMIT == 257 and full.char_limit == 256 == 280 - 23 - 1 and full.must_include == ("Trailrunner",) and full.lang == "en"
    assert full.describe() == ("Trailrunner 2 by Acme. For trail runners. Topic: sports. weighs 220 g. ships free.")
    assert Brief.from_dict(full.to_dict()) == full
    assert Brief.from_dict({"product": "x", "max_chars": 100, "url": "http://a.example"}).char_limit == 100


@pytest.mark.parametrize("d, field", [
    ({}, "product"), ({"product": "  "}, "product"), ({"product": 3}, "product"), ([], "brief"),
    ({"product": "x", "url": "acme.example"}, "url"), ({"product": "x", "lang": "english"}, "lang"),
    ({"product": "x", "max_chars": 10}, "max_chars"), ({"product": "x", "max_chars": True}, "max_chars"),
    ({"product": "x", "facts": [1]}, "facts"), ({"product": "x", "colour": "red"}, "colour"),
    ({"product": "x", "must_include": ["Cheap"], "must_avoid": ["cheap"]}, "must_avoid"),
    ({"product": "x", "max_chars": 20, "must_include": ["abcdefghij", "klmnopqrst"]}, "must_include"),
])
def test_bad_briefs_name_the_field(d, field):
    with pytest.raises(BriefError) as e:
        Brief.from_dict(d)
    assert e.value.field == field and field in str(e.value)


def test_load(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"product": "Acme phone"}))
    assert Brief.load(p).product == "Acme phone"
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        Brief.load(p)
    with pytest.raises(InputError, match="not found"):
        Brief.load(tmp_path / "missing.json")
