"""Stage 2: the tokenizer (byte-level BPE with Warble's special tokens) and the token shards made with it."""

import importlib

# Imported on first use (PEP 562): `warble --help` imports warble.tokenizer.canaries for its flags, and the CLI
# should not pay for `tokenizers` and pyarrow to build its parser.
_EXPORTS = {
    "TokenShards": "warble.tokenizer.shards",
    "Tokenizer": "warble.tokenizer.tokenizer",
    "tokenize_corpus": "warble.tokenizer.tokenize",
    "train_tokenizer": "warble.tokenizer.bpe",
}

__all__ = ["TokenShards", "Tokenizer", "tokenize_corpus", "train_tokenizer"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # imported once: later lookups find it without __getattr__
    return value
