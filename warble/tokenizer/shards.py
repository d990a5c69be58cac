"""Token shards on disk (docs/CONTRACTS.md) and `TokenShards`, a memory-mapped reader of one split.

A shard is `shard-NNNNN.bin` (token ids, posts back to back) and `shard-NNNNN.idx.npy` (int64 post offsets, last =
length). The .idx.npy is written last, so a shard is complete exactly when it exists and agrees with the .bin.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np
import orjson

from warble.errors import InputError

FORMAT = "warble.tokens/v1"
META_FILE = "meta.json"
TOKENIZER_DIR = "tokenizer"


def shard_name(i: int) -> str:
    return f"shard-{i:05d}"


def bin_path(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".bin")


def idx_path(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".idx.npy")


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def open_shard(prefix: Path, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, tokens) of a complete shard; InputError if it is missing or its two files disagree."""
    idx_file, bin_file = idx_path(prefix), bin_path(prefix)
    if not idx_file.is_file() or not bin_file.is_file():
        raise InputError(f"{prefix}: shard missing (.bin or .idx.npy)")
    try:
        idx = np.load(idx_file)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{idx_file}: unreadable ({e})") from None
    size = bin_file.stat().st_size
    if idx.ndim != 1 or len(idx) == 0 or size != int(idx[-1]) * dtype.itemsize:
        raise InputError(f"{bin_file}: {size} bytes, but its index says {int(idx[-1]) if len(idx) else '?'} tokens "
                         f"of {dtype.itemsize} bytes (incomplete or corrupt shard; run `warble tokenize` again)")
    # np.memmap refuses empty files; an empty shard (a corpus file with no posts) is an empty array.
    tokens = np.memmap(bin_file, dtype=dtype, mode="r") if size else np.empty(0, dtype)
    return idx, tokens


def load_meta(tokens_dir: str | Path) -> dict:
    path = Path(tokens_dir) / META_FILE
    if not path.is_file():
        raise InputError(f"{tokens_dir}: no {META_FILE} (not a token directory, or `warble tokenize` did not finish)")
    meta = orjson.loads(path.read_bytes())
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


SOURCE_FILE = "source.json"  # where the shards' corpus and tokenizer were, written by tokenize_corpus


def recorded_source(tokens_dir: str | Path, key: str, must_hold: str) -> Path | None:
    """The corpus or tokenizer directory ("corpus" / "tokenizer") `warble tokenize` read, if it is still there
    (it holds `must_hold`); None when unrecorded or moved."""
    path = Path(tokens_dir) / SOURCE_FILE
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    where = data.get(key) if isinstance(data, dict) else None
    return Path(where) if isinstance(where, str) and (Path(where) / must_hold).is_file() else None


class TokenShards:
    """One split: post i is tokens [bounds[i], bounds[i+1]) of a virtual concatenation of the shards' .bin files.

    Memory is 8 bytes a post (the bounds); the tokens stay memory-mapped.
    """

    def __init__(self, tokens_dir: str | Path, split: str):
        self.meta = load_meta(tokens_dir)
        if split not in self.meta["splits"]:
            raise InputError(f"{tokens_dir}: no split {split!r} (has {', '.join(self.meta['splits'])})")
        dtype = np.dtype(self.meta["dtype"])
        shards = [open_shard(Path(tokens_dir) / split / name, dtype) for name in self.meta["splits"][split]["shards"]]
        self.data = [tokens for _, tokens in shards]
        self.offsets = [0, *np.cumsum([len(t) for t in self.data]).tolist()]  # shard s starts at offsets[s]
        self.bounds = np.concatenate([idx[:-1] + off for (idx, _), off in zip(shards, self.offsets)]
                                     + [np.array([self.offsets[-1]], np.int64)])

    def __len__(self) -> int:
        return len(self.bounds) - 1

    @property
    def num_tokens(self) -> int:
        return self.offsets[-1]

    def doc(self, i: int) -> tuple[int, int, int]:
        """(shard, start, end) of post i within its shard's tokens."""
        start, end = int(self.bounds[i]), int(self.bounds[i + 1])
        shard = bisect.bisect_right(self.offsets, start) - 1
        return shard, start - self.offsets[shard], end - self.offsets[shard]

    def span(self, start: int, n: int) -> np.ndarray:
        """Tokens [start, start + n) of the virtual concatenation (within one post)."""
        shard = bisect.bisect_right(self.offsets, start) - 1
        local = start - self.offsets[shard]
        return self.data[shard][local:local + n]
