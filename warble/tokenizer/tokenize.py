"""`warble tokenize`: corpus -> token shards, one shard per corpus file, in parallel, resumable.

Output depends only on the corpus, the tokenizer, `metadata_prefix` and the canaries: never on the number of
workers.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from warble.data.executors import run_tasks
from warble.data.files import write_bytes, write_json
from warble.errors import InputError
from warble.tokenizer.canaries import CANARIES_FILE, CANARY_SHARD, CanaryConfig, parse_spec, plant_canaries
from warble.tokenizer.corpus import SPLITS, corpus_files, iter_batches, train_files
from warble.tokenizer.shards import (FORMAT, META_FILE, SOURCE_FILE, TOKENIZER_DIR, bin_path, idx_path, open_shard,
                                     shard_name, token_dtype)
from warble.tokenizer.tokenizer import Tokenizer

# The run's settings, written first: --resume refuses to mix shards made with other settings.
SETTINGS_FILE = "settings.json"
META_COLUMNS = ["lang", "reply_to_id", "like_count", "repost_count", "labels"]


@functools.lru_cache(maxsize=1)
def _tokenizer(path: str, sha256: str) -> Tokenizer:
    """Loaded once per worker process; the digest in the key keeps a rerun with another tokenizer from a stale hit."""
    return Tokenizer.load(path)


def _text_bytes(batch: pa.RecordBatch) -> int:
    return pc.sum(pc.binary_length(batch.column("text"))).as_py() or 0


def post_metas(batch: pa.RecordBatch) -> list[dict]:
    """control_ids arguments for each post: language, reply or not, likes + reposts, labels['topic']."""
    likes, reposts = batch.column("like_count").to_pylist(), batch.column("repost_count").to_pylist()
    topics = pc.map_lookup(batch.column("labels"), "topic", "first").to_pylist()
    return [
        {
            "lang": lang,
            "reply": reply_to is not None,
            "engagement": None if like is None and repost is None else (like or 0) + (repost or 0),
            "topic": topic,
        }
        for lang, reply_to, like, repost, topic in zip(
            batch.column("lang").to_pylist(), batch.column("reply_to_id").to_pylist(), likes, reposts, topics)
    ]


def tokenize_file(src: str, dest: str, tokenizer: tuple[str, str], metadata_prefix: bool, resume: bool) -> dict:
    """One corpus file -> one shard at `dest` (a path prefix). Counts of docs, tokens and text bytes."""
    prefix, source = Path(dest), Path(src)
    tok = _tokenizer(*tokenizer)
    dtype = token_dtype(tok.vocab_size)
    if resume:
        try:
            idx, _ = open_shard(prefix, dtype)
        except InputError:
            pass  # missing or incomplete: write it again
        else:
            n_bytes = sum(_text_bytes(b) for b in iter_batches(source, ["text"]))
            return {"docs": len(idx) - 1, "tokens": int(idx[-1]), "bytes": n_bytes, "skipped": True}
    if mp.parent_process() is not None:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"  # in a pool worker the processes are the parallelism

    lengths, n_bytes = [], 0
    tmp = prefix.with_name(prefix.name + ".bin.tmp")
    with tmp.open("wb") as f:
        for batch in iter_batches(source, ["text", *META_COLUMNS] if metadata_prefix else ["text"]):
            n_bytes += _text_bytes(batch)
            posts = tok.encode_posts(batch.column("text").to_pylist(), post_metas(batch) if metadata_prefix else None)
            sizes = list(map(len, posts))
            lengths += sizes
            np.fromiter(itertools.chain.from_iterable(posts), dtype, count=sum(sizes)).tofile(f)
    os.replace(tmp, bin_path(prefix))
    idx = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=idx[1:])
    buf = io.BytesIO()
    np.save(buf, idx)
    write_bytes(buf.getvalue(), idx_path(prefix))
    return {"docs": len(lengths), "tokens": int(idx[-1]), "bytes": n_bytes, "skipped": False}


def _check_resumable(out: Path, settings: dict) -> None:
    path = out / SETTINGS_FILE
    if path.is_file() and orjson.loads(path.read_bytes()) != settings:
        raise InputError(f"{out}: made with another tokenizer, --metadata-prefix or --canaries setting; "
                         "run without --resume to start over")


def _plant_or_clear_canaries(canaries: CanaryConfig | None, tok: Tokenizer, out: Path) -> dict | None:
    """Plant the canaries (their shard's counts), or remove those of an earlier run into the same directory."""
    if canaries is not None:
        return plant_canaries(canaries, tok, out)
    for stale in (out / CANARIES_FILE, bin_path(out / "train" / CANARY_SHARD), idx_path(out / "train" / CANARY_SHARD)):
        stale.unlink(missing_ok=True)
    return None


def tokenize_corpus(
    corpus_dir: str | Path, tokenizer_path: str | Path, out_dir: str | Path, workers: int = 0,
    metadata_prefix: bool = False, progress: bool = True, resume: bool = False,
    canaries: CanaryConfig | str | None = None,
) -> dict:
    """Write token shards for every corpus file to out_dir; returns meta.json's content plus timing.

    `canaries` (a CanaryConfig, or repetition counts like "1,10,100") also plants canaries in the train split
    (warble/tokenizer/canaries.py): one more train shard, `canaries`, and out_dir/canaries.json."""
    if isinstance(canaries, str):
        canaries = CanaryConfig(parse_spec(canaries))
    tok = Tokenizer.load(tokenizer_path)
    files = {split: train_files(corpus_dir) if split == "train" else corpus_files(corpus_dir, split)
             for split in SPLITS}
    out, sha256 = Path(out_dir), tok.sha256
    settings = {"tokenizer_sha256": sha256, "metadata_prefix": metadata_prefix}
    if canaries is not None:
        settings["canary_config"] = {**dataclasses.asdict(canaries), "counts": list(canaries.counts)}
    if resume:
        _check_resumable(out, settings)
    (out / META_FILE).unlink(missing_ok=True)  # the directory is unusable until this run finishes
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
    write_json(settings, out / SETTINGS_FILE)
    tok.save(out / TOKENIZER_DIR)

    tokenizer = (str(out / TOKENIZER_DIR), sha256)
    tasks = [(str(src), str(out / split / shard_name(i)), tokenizer, metadata_prefix, resume)
             for split in SPLITS for i, src in enumerate(files[split])]
    t0 = time.perf_counter()
    results = run_tasks(tokenize_file, tasks, workers=workers, desc="tokenize", progress=progress, count_key="docs")
    seconds = time.perf_counter() - t0

    splits, skipped, start = {}, 0, 0
    for split in SPLITS:
        parts = results[start:start + len(files[split])]
        start += len(parts)
        skipped += sum(p["skipped"] for p in parts)
        splits[split] = {
            "shards": [shard_name(i) for i in range(len(parts))],
            **{k: sum(p[k] for p in parts) for k in ("tokens", "docs", "bytes")},
        }
    planted = _plant_or_clear_canaries(canaries, tok, out)
    if planted:
        splits["train"]["shards"].append(CANARY_SHARD)
        for k in ("tokens", "docs", "bytes"):
            splits["train"][k] += planted[k]
    meta = {
        "format": FORMAT,
        "vocab_size": tok.vocab_size,
        "dtype": token_dtype(tok.vocab_size).name,
        "bos_id": tok.bos_id,
        "eos_id": tok.eos_id,
        "pad_id": tok.pad_id,
        **settings,
        "splits": splits,
    }
    if planted:
        meta["canaries"] = {"file": CANARIES_FILE, "shard": CANARY_SHARD, **planted}
    write_json(meta, out / META_FILE)
    # Where the posts and the tokenizer came from (`warble eval lm` and `warble report` read the corpus's columns
    # and manifest, and the tokenizer's report): kept apart from meta.json, whose bytes depend on content only.
    write_json({"corpus": str(Path(corpus_dir).resolve()), "tokenizer": str(Path(tokenizer_path).resolve())},
               out / SOURCE_FILE)
    tokens = sum(s["tokens"] for s in splits.values())
    return {**meta, "seconds": round(seconds, 3), "tokens_per_s": round(tokens / max(seconds, 1e-9)),
            "skipped_shards": skipped}
