"""Malformed records: lines a reader must quarantine, not crash on. Each breaks one rule in one way.

Every kind starts from a well-formed record (a generated post, rendered in the output format) and damages it.
"""

from __future__ import annotations

import random
from typing import Callable

from warble.data.schema import MAX_TEXT_CHARS

KINDS = ("not_json", "bad_utf8", "missing_id", "missing_text", "wrong_type", "too_long")
_INVALID_UTF8 = (b"\xff", b"\xfe\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80abc")


def corrupt(kind: str, record: dict, wrap: Callable[[dict], bytes], rnd: random.Random) -> bytes:
    """The line for `record` broken as `kind`; `wrap` serializes a record as one line of the output format."""
    if kind == "not_json":  # cut short, as by a crashed writer: no prefix of a JSON object parses
        line = wrap(record)
        return line[: rnd.randrange(len(line) // 3, len(line) - 1)]
    if kind == "bad_utf8":  # raw bytes that are not UTF-8, spliced into the text
        text = record["text"]
        cut = rnd.randrange(len(text) + 1)
        record["text"] = text[:cut] + "\x00" + text[cut:]
        return wrap(record).replace(b"\\u0000", rnd.choice(_INVALID_UTF8), 1)
    if kind == "missing_id":
        del record["id"]
    elif kind == "missing_text":
        del record["text"]
    elif kind == "wrong_type":
        record["text"] = rnd.randrange(10**9)
    elif kind == "too_long":
        text = record["text"] + " "
        record["text"] = (text * (MAX_TEXT_CHARS // len(text) + 2))[: MAX_TEXT_CHARS + 1 + rnd.randrange(5000)]
    else:
        raise ValueError(kind)
    return wrap(record)

