"""`Tokenizer`: a trained byte-level BPE (HF `tokenizers`) plus Warble's special and control tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import tokenizers

from warble.data.files import write_bytes, write_json
from warble.errors import InputError
from warble.tokenizer import specials as sp

TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "warble.json"
FORMAT = "warble.tokenizer/v1"


class Tokenizer:
    """Wraps a `tokenizers.Tokenizer` whose added tokens are `specials`; every id is looked up from its vocabulary."""

    def __init__(self, hf: tokenizers.Tokenizer):
        # Text never produces a special token: a post that contains the characters "<|eos|>" stays text.
        # (Not saved in tokenizer.json: transformers users pass split_special_tokens=True for the same ids.)
        hf.encode_special_tokens = True
        self.hf = hf
        vocab = hf.get_vocab(with_added_tokens=True)
        missing = [t for t in (sp.BOS, sp.EOS, sp.PAD, sp.REPLY, *sp.PLACEHOLDERS) if t not in vocab]
        if missing:
            raise InputError(f"not a Warble tokenizer: no {', '.join(missing)} in its vocabulary")
        self.bos_id, self.eos_id, self.pad_id = vocab[sp.BOS], vocab[sp.EOS], vocab[sp.PAD]
        self._lang = {code: vocab[sp.lang_token(code)] for code in sp.LANGS}
        self._reply, self._original = vocab[sp.REPLY], vocab[sp.ORIGINAL]
        self._engagement = [vocab[sp.engagement_token(b)] for b in range(len(sp.ENGAGEMENT_LABELS))]
        topics = sorted((i, t[len(sp.TOPIC_PREFIX):-2]) for t, i in vocab.items() if t.startswith(sp.TOPIC_PREFIX))
        self._topic = {name: i for i, name in topics}

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        """From a directory holding tokenizer.json, or from the file itself."""
        path = Path(path)
        file = path / TOKENIZER_FILE if path.is_dir() else path
        if not file.is_file():
            raise InputError(f"{path}: no tokenizer here (expected a directory with {TOKENIZER_FILE}, or the file)")
        try:
            hf = tokenizers.Tokenizer.from_file(str(file))
        except Exception as e:  # tokenizers raises a bare Exception for malformed JSON
            raise InputError(f"{file}: not a readable tokenizer ({e})") from None
        return cls(hf)

    def to_json(self) -> str:
        return self.hf.to_str(pretty=True)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def save(self, out_dir: str | Path) -> None:
        """tokenizer.json (loadable by transformers.PreTrainedTokenizerFast) and warble.json (ids, for people)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_bytes(self.to_json().encode(), out / TOKENIZER_FILE)
        vocab = self.hf.get_vocab(with_added_tokens=True)
        write_json(
            {
                "format": FORMAT,
                "vocab_size": self.vocab_size,
                "bos_id": self.bos_id,
                "eos_id": self.eos_id,
                "pad_id": self.pad_id,
                "placeholders": {t: vocab[t] for t in sp.PLACEHOLDERS},
                "controls": {t: vocab[t] for t in sp.control_tokens(self.topics)},
                "engagement_buckets": {
                    "of": "like_count + repost_count",
                    "lower_edges": [0, *sp.ENGAGEMENT_EDGES],
                    "labels": sp.ENGAGEMENT_LABELS,
                },
                "prefix_order": ["lang", "reply", "engagement", "topic"],
                "transformers": "PreTrainedTokenizerFast(tokenizer_file=..., split_special_tokens=True)",
            },
            out / METADATA_FILE,
        )

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    @property
    def topics(self) -> list[str]:
        return list(self._topic)

    def encode(self, text: str) -> list[int]:
        """Text only: no begin/end tokens."""
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        return self.hf.decode(ids, skip_special_tokens=skip_special)

    def control_ids(
        self, lang: str | None = None, reply: bool | None = None, engagement: int | None = None,
        topic: str | None = None,
    ) -> list[int]:
        """The metadata prefix: one token per field given. `engagement` is likes + reposts (bucketed here);
        a language or topic without a token of its own becomes 'und' / 'other'."""
        ids = []
        if lang is not None:
            ids.append(self._lang.get(lang, self._lang[sp.UND]))
        if reply is not None:
            ids.append(self._reply if reply else self._original)
        if engagement is not None:
            ids.append(self._engagement[sp.engagement_bucket(engagement)])
        if topic is not None:
            ids.append(self._topic.get(sp.topic_key(topic), self._topic[sp.OTHER_TOPIC]))
        return ids

    def encode_post(self, text: str, meta: dict | None = None) -> list[int]:
        """[bos] + control_ids(**meta) + encode(text) + [eos]."""
        return self.encode_posts([text], [meta or {}])[0]

    def encode_posts(self, texts: list[str], metas: list[dict] | None = None) -> list[list[int]]:
        """encode_post over a batch (the text encoding runs on all cores)."""
        prefixes = [self.control_ids(**m) for m in metas] if metas is not None else [[]] * len(texts)
        return [[self.bos_id, *p, *ids, self.eos_id] for p, ids in zip(prefixes, self.encode_batch(texts))]
