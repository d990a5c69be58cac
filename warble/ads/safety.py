"""Brand safety: is a post safe to run an ad as, or next to, for an advertiser of a given sensitivity tier?

    checker = SafetyChecker.load("eng/")                  # eng/safety/ classifiers if trained, else keywords only
    [v] = checker.check(["some post"], tier="standard")   # SafetyVerdict: safe, categories, flagged, matches, reasons
    slots = adjacency(hits, checker, tier="standard")     # which ad slots in a result list are safe

The taxonomy (taxonomy.toml beside this file, or the user's) sorts content into categories and risk levels
(low < medium < high); a post's risk in a category is the highest level its keywords or the category's trained
classifier reach. Floor categories block ads for every advertiser at their floor level; a tier refuses content at
or above its `exclude` level (per-category `overrides`). Advertiser block lists flag any post that contains one of
their words, in the category "advertiser".
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from warble.ads.safety_keywords import KeywordMatcher
from warble.errors import ConfigError, InputError

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.toml")
LEVELS = ("low", "medium", "high")
RANK = {"low": 1, "medium": 2, "high": 3, "none": 4}  # 0 = no risk; "none" as a limit = never refused
NAMES = {0: "none", 1: "low", 2: "medium", 3: "high"}
KEYWORD_SCORE = {1: 0.5, 2: 0.8, 3: 1.0}  # a keyword's category score by risk level (classifiers give probabilities)
ADVERTISER = "advertiser"


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    floor: int | None  # risk rank from which every tier refuses it; None: not a floor category
    keywords: dict[int, tuple[str, ...]]  # risk rank -> keywords


@dataclass(frozen=True)
class Tier:
    name: str
    description: str
    exclude: int  # lowest refused risk rank
    overrides: dict[str, int]

    def limit(self, cat: Category) -> int:
        """The lowest risk rank of `cat` this tier refuses (a floor category's floor always applies)."""
        lim = self.overrides.get(cat.name, self.exclude)
        return min(lim, cat.floor) if cat.floor else lim


@dataclass(frozen=True)
class Taxonomy:
    categories: dict[str, Category]
    tiers: dict[str, Tier]
    default_tier: str
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """The default taxonomy, or a user's TOML file (InputError when missing or malformed)."""
        p = Path(path) if path is not None else DEFAULT_TAXONOMY
        if not p.is_file():
            raise InputError(f"taxonomy not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"taxonomy {p} is not valid TOML: {e}") from None
        try:
            return cls.from_dict(data, source="default" if path is None else str(p))
        except InputError as e:
            raise InputError(f"taxonomy {p}: {e}") from None

    @classmethod
    def from_dict(cls, data: dict, source: str = "dict") -> Taxonomy:
        cats_raw, tiers_raw = data.get("categories"), data.get("tiers")
        if not isinstance(cats_raw, dict) or not cats_raw:
            raise InputError("needs a [categories.NAME] table")
        if not isinstance(tiers_raw, dict) or not tiers_raw:
            raise InputError("needs a [tiers.NAME] table")
        categories = {name: _category(name, c) for name, c in cats_raw.items()}
        if ADVERTISER in categories:
            raise InputError(f"category name {ADVERTISER!r} is reserved for advertiser block lists")
        tiers = {name: _tier(name, t, categories) for name, t in tiers_raw.items()}
        default = data.get("default_tier", "standard" if "standard" in tiers else next(iter(tiers)))
        if default not in tiers:
            raise InputError(f"default_tier {default!r} is not a tier ({', '.join(tiers)})")
        return cls(categories, tiers, default, source)

    def tier(self, name: str | None) -> Tier:
        name = name or self.default_tier
        if name not in self.tiers:
            raise ConfigError(f"unknown tier {name!r} (tiers: {', '.join(self.tiers)})")
        return self.tiers[name]


def _level(value: Any, where: str, allow_none: bool = False) -> int:
    ok = [*LEVELS, "none"] if allow_none else list(LEVELS)
    if value not in ok:
        raise InputError(f"{where}: expected one of {', '.join(ok)}, got {value!r}")
    return RANK[value]


def _category(name: str, c: Any) -> Category:
    if not isinstance(c, dict):
        raise InputError(f"categories.{name} must be a table")
    unknown = set(c) - {"description", "floor", *LEVELS}
    if unknown:
        raise InputError(f"categories.{name}: unknown key {min(unknown)!r} "
                         f"(known: description, floor, {', '.join(LEVELS)})")
    floor = c.get("floor", False)
    floor_rank = None if floor is False else _level(floor, f"categories.{name}.floor")
    keywords = {}
    for lv in LEVELS:
        words = c.get(lv, [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip(" *") for w in words):
            raise InputError(f"categories.{name}.{lv} must be a list of non-empty keywords")
        keywords[RANK[lv]] = tuple(words)
    return Category(name, str(c.get("description", "")), floor_rank, keywords)


def _tier(name: str, t: Any, categories: dict[str, Category]) -> Tier:
    if not isinstance(t, dict):
        raise InputError(f"tiers.{name} must be a table")
    unknown = set(t) - {"description", "exclude", "overrides"}
    if unknown:
        raise InputError(f"tiers.{name}: unknown key {min(unknown)!r} (known: description, exclude, overrides)")
    if "exclude" not in t:
        raise InputError(f"tiers.{name} needs exclude = \"low\" | \"medium\" | \"high\"")
    overrides = t.get("overrides", {})
    if not isinstance(overrides, dict):
        raise InputError(f"tiers.{name}.overrides must be a table of category = level")
    for cat in overrides:
        if cat not in categories:
            raise InputError(f"tiers.{name}.overrides: unknown category {cat!r}")
    return Tier(name, str(t.get("description", "")), _level(t["exclude"], f"tiers.{name}.exclude"),
                {cat: _level(v, f"tiers.{name}.overrides.{cat}", allow_none=True) for cat, v in overrides.items()})


@dataclass
class SafetyVerdict:
    safe: bool
    categories: dict[str, float]  # category -> score in [0, 1]
    flagged: list[str]  # categories whose risk the tier refuses (floor categories for every tier)
    matches: list[str]  # keywords that matched
    reasons: list[str]  # human-readable, one per flagged category
    risk: dict[str, str] = field(default_factory=dict)  # category -> "low" | "medium" | "high" (detected only)

    def to_dict(self) -> dict:
        return asdict(self)


class SafetyChecker:
    """Keyword taxonomy + optional trained classifiers + an advertiser's block list; see the module docstring."""

    def __init__(self, taxonomy: Taxonomy, classifiers: dict | None = None, keywords: Iterable[str] = ()):
        self.taxonomy = taxonomy
        self.classifiers = dict(classifiers or {})
        self.block_list = tuple(k.strip() for k in keywords if k and k.strip(" *"))
        entries = [(kw, (cat.name, rank)) for cat in taxonomy.categories.values()
                   for rank, words in cat.keywords.items() for kw in words]
        entries += [(kw, (ADVERTISER, RANK["high"])) for kw in self.block_list]
        self.matcher = KeywordMatcher(entries)
        self.category_names = [*taxonomy.categories, *(c for c in self.classifiers if c not in taxonomy.categories)]
        if self.block_list:
            self.category_names.append(ADVERTISER)

    @classmethod
    def load(cls, model_dir: str | Path | None = None, taxonomy: str | Path | None = None,
             keywords: Iterable[str] = ()) -> SafetyChecker:
        """model_dir: an ads model directory; its safety/ classifiers are used when present (keywords only when
        model_dir is None or has no safety/). taxonomy: a TOML file (default: the shipped one). keywords: the
        advertiser's block list."""
        from warble.ads.safety_train import load_classifiers

        classifiers = {}
        if model_dir is not None:
            d = Path(model_dir)
            if not d.is_dir():
                raise InputError(f"model directory not found: {d}")
            if (d / "safety").is_dir():
                classifiers = load_classifiers(d / "safety")
        return cls(Taxonomy.load(taxonomy), classifiers, keywords)

    def check(self, texts: list[str], tier: str = "standard") -> list[SafetyVerdict]:
        if isinstance(texts, str):
            raise TypeError("check() takes a list of texts, not one string")
        from warble.ads.safety_train import predict_all

        t = self.taxonomy.tier(tier)
        texts = list(texts)
        probs = predict_all(self.classifiers, texts) if self.classifiers else {}
        verdicts = []
        for i, text in enumerate(texts):
            scores = dict.fromkeys(self.category_names, 0.0)
            ranks = dict.fromkeys(self.category_names, 0)
            why: dict[str, list[str]] = {}
            for name, p in probs.items():
                prob = float(p[i])
                scores[name] = round(prob, 4)
                ranks[name] = self.classifiers[name].risk(prob)
                if ranks[name]:
                    why.setdefault(name, []).append(f"classifier {prob:.2f}")
            matches = []
            for kw, (cat, rank) in self.matcher.find(text):
                matches.append(kw)
                scores[cat] = max(scores[cat], KEYWORD_SCORE[rank])
                ranks[cat] = max(ranks[cat], rank)
                why.setdefault(cat, []).append(f"keyword {kw!r}")
            flagged, reasons = [], []
            for cat, rank in ranks.items():
                if not rank:
                    continue
                c = self.taxonomy.categories.get(cat)
                limit = t.limit(c) if c else t.exclude
                if cat == ADVERTISER or rank >= limit:
                    flagged.append(cat)
                    reasons.append(self._reason(cat, rank, why[cat], c, t))
            verdicts.append(SafetyVerdict(not flagged, scores, flagged, matches, reasons,
                                          {cat: NAMES[r] for cat, r in ranks.items() if r}))
        return verdicts

    @staticmethod
    def _reason(cat: str, rank: int, why: list[str], c: Category | None, t: Tier) -> str:
        if cat == ADVERTISER:
            return f"advertiser block list: {', '.join(why)}"
        if c and c.floor and rank >= c.floor:
            rule = f"floor category: blocked for every advertiser from {NAMES[c.floor]} risk"
        else:
            rule = f"tier {t.name} refuses {NAMES[t.limit(c) if c else t.exclude]} risk and above"
        return f"{cat}: {NAMES[rank]} risk ({'; '.join(why)}); {rule}"


# ---------------------------------------------------------------------------------------------- adjacency

def _text_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return item["text"]
    if isinstance(getattr(item, "text", None), str):
        return item.text
    raise TypeError(f"expected a text, a dict with 'text' or an object with .text, got {type(item).__name__}")


def safe_slots(post_safe: Sequence[bool], window: int = 1) -> list[bool]:
    """Ad slots in a list of N posts are the N + 1 gaps: slot i sits just before post i (slot N after the last).
    A slot is safe when the `window` posts on each side of it (fewer at the ends) are all safe."""
    if window < 0:
        raise ValueError("window must be >= 0")
    n = len(post_safe)
    return [all(post_safe[max(0, i - window):min(n, i + window)]) for i in range(n + 1)]


def adjacency(hits_or_texts: Sequence[Any], checker: SafetyChecker, tier: str = "standard",
              window: int = 1) -> list[bool]:
    """Which of the N + 1 ad slots of a search result list or timeline are safe (see `safe_slots`). Items are texts,
    `warble search --json` hit dicts, search `Hit`s, or SafetyVerdicts already computed."""
    if all(isinstance(h, SafetyVerdict) for h in hits_or_texts):
        verdicts = list(hits_or_texts)
    else:
        verdicts = checker.check([_text_of(h) for h in hits_or_texts], tier=tier)
    return safe_slots([v.safe for v in verdicts], window)


# ---------------------------------------------------------------------------------------------- evaluation

def category_metrics(verdicts: Sequence[SafetyVerdict], labels: Sequence[Iterable[str]],
                     categories: Iterable[str]) -> dict[str, dict]:
    """Per-category precision/recall/F1 of `flagged` against labelled posts (each post's set of true categories)."""
    from warble.ads.safety_train import binary_metrics

    if len(verdicts) != len(labels):
        raise ValueError(f"{len(verdicts)} verdicts but {len(labels)} labels")
    truth = [set(lab) for lab in labels]
    return {cat: binary_metrics([cat in t for t in truth], [cat in v.flagged for v in verdicts])
            for cat in categories}


# ---------------------------------------------------------------------------------------------- input files

def read_posts(path: str, stdin=None) -> list[dict]:
    """Posts to check, as dicts with "text" (and "id"/"categories" when the file has them):
    `-` = stdin, one post a line; .jsonl = one {"text": ...} object a line; .json = `warble search --json` output
    ({"hits": [...]}) or a list of posts (objects with "text", or strings); anything else = plain text, one post a
    line. Blank lines are skipped."""
    import json
    import sys

    if path == "-":
        return _lines((stdin or sys.stdin).read())
    p = Path(path)
    if not p.is_file():
        raise InputError(f"posts file not found: {p}")
    try:
        raw = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{p} is not UTF-8 text: {e}") from None
    if p.suffix == ".jsonl":
        posts = []
        for n, line in enumerate(raw.split("\n"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{p}:{n}: not valid JSON: {e}") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise InputError(f"{p}:{n}: needs a \"text\" string field")
            posts.append(obj)
        return posts
    if p.suffix == ".json":
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(f"{p}: not valid JSON: {e}") from None
        items = obj.get("hits") if isinstance(obj, dict) else obj
        if isinstance(items, list):
            items = [{"text": h} if isinstance(h, str) else h for h in items]
        if not isinstance(items, list) or not all(isinstance(h, dict) and isinstance(h.get("text"), str)
                                                  for h in items):
            raise InputError(f"{p}: expected `warble search --json` output ({{\"hits\": [...]}}) or a list of "
                             f"objects with a \"text\" field")
        return items
    return _lines(raw)


def _lines(raw: str) -> list[dict]:
    # Split on "\n" only (posts may hold other line-breaking characters); drop a Windows "\r".
    return [{"text": ln.removesuffix("\r")} for ln in raw.split("\n") if ln.strip()]
