"""The ad brief: what an advertiser asks for, validated once here for the CLI, the HTTP API and every ads module.

A brief is JSON (docs/ADS.md):
    {"product": "Trailrunner 2 shoes", "brand": "Acme", "facts": ["weighs 220 g", "ships free in the EU"],
     "call_to_action": "Order today", "url": "https://acme.example/tr2", "audience": "trail runners",
     "topic": "sports", "tone": "playful", "lang": "en", "must_include": ["Trailrunner"],
     "must_avoid": ["cheap"], "max_chars": 200}
Only `product` is required. The length limit is the platform's: 280 characters, or 257 with a link (a link always
counts as 23 characters), and those 257 include the space before the link, so the text itself has 256;
`max_chars` may only make it shorter.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from warble.errors import InputError

POST_LIMIT = 280
LINK_CHARS = 23  # a link is shortened to a fixed-length t.co URL, whatever its real length
LINK_LIMIT = POST_LIMIT - LINK_CHARS  # 257: the text and the space before the link
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_LANG = re.compile(r"[a-z]{2,3}")


class BriefError(InputError):
    """A brief that cannot be used; `field` names the offending key (the HTTP API reports it as `param`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"brief: {field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Brief:
    product: str
    brand: str | None = None
    facts: tuple[str, ...] = ()
    call_to_action: str | None = None
    url: str | None = None
    audience: str | None = None
    topic: str | None = None
    tone: str | None = None
    lang: str = "en"
    must_include: tuple[str, ...] = ()
    must_avoid: tuple[str, ...] = field(default=())
    max_chars: int | None = None

    @property
    def char_limit(self) -> int:
        """Characters the copy's text may use; the link, if any, follows it after one space."""
        base = LINK_LIMIT - 1 if self.url else POST_LIMIT
        return min(base, self.max_chars) if self.max_chars else base

    def describe(self) -> str:
        """One paragraph that says what the ad is about: what embeddings and keyword matching work from."""
        parts = [self.product]
        if self.brand:
            parts.append(f"by {self.brand}")
        text = " ".join(parts) + "."
        if self.audience:
            text += f" For {self.audience}."
        if self.topic:
            text += f" Topic: {self.topic}."
        if self.facts:
            text += " " + " ".join(f if f.endswith((".", "!", "?")) else f + "." for f in self.facts)
        return text

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Any) -> Brief:
        if not isinstance(d, dict):
            raise BriefError("brief", f"must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise BriefError(unknown[0], f"unknown field (known: {', '.join(cls.__dataclass_fields__)})")
        product = _text(d, "product", required=True)
        url = _text(d, "url")
        if url is not None and not _URL.fullmatch(url):
            raise BriefError("url", f"not an http(s) URL: {url!r}")
        lang = (_text(d, "lang") or "en").lower()
        if not _LANG.fullmatch(lang):
            raise BriefError("lang", f"expected a language code such as 'en', got {lang!r}")
        max_chars = d.get("max_chars")
        if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int)
                                      or not 20 <= max_chars <= POST_LIMIT):
            raise BriefError("max_chars", f"must be an integer from 20 to {POST_LIMIT}, got {max_chars!r}")
        include, avoid = _words(d, "must_include"), _words(d, "must_avoid")
        clash = {w.lower() for w in include} & {w.lower() for w in avoid}
        if clash:
            raise BriefError("must_avoid", f"also in must_include: {', '.join(sorted(clash))}")
        brief = cls(product=product, brand=_text(d, "brand"), facts=_words(d, "facts"),
                    call_to_action=_text(d, "call_to_action"), url=url, audience=_text(d, "audience"),
                    topic=_text(d, "topic"), tone=_text(d, "tone"), lang=lang, must_include=include,
                    must_avoid=avoid, max_chars=max_chars)
        need = sum(len(w) + 1 for w in include)
        if need > brief.char_limit:
            raise BriefError("must_include", f"the required words need {need} characters; the limit is "
                                             f"{brief.char_limit}")
        return brief

    @classmethod
    def load(cls, path: str | Path) -> Brief:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"brief not found: {p}")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"brief {p} is not valid JSON: {e}") from None
        return cls.from_dict(data)


def _text(d: dict, key: str, required: bool = False) -> str | None:
    v = d.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise BriefError(key, "is required" + (" and must not be empty" if key in d else ""))
        return None
    if not isinstance(v, str):
        raise BriefError(key, f"must be a string, got {type(v).__name__}")
    if len(v) > 2000:
        raise BriefError(key, "longer than 2000 characters")
    return v.strip()


def _words(d: dict, key: str) -> tuple[str, ...]:
    v = d.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise BriefError(key, "must be a list of strings")
    if len(v) > 50:
        raise BriefError(key, "more than 50 entries")
    return tuple(x.strip() for x in v if x.strip())
