"""Data and models for the benchmarks: a synthetic corpus's token shards, and a briefly trained run directory.

Imported by the benchmark scripts (`python benchmarks/X.py` puts this folder on sys.path). Everything is built under
a scratch directory from `warble synth`, so the benchmarks run on a fresh machine with no downloads.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def build_tokens(work: Path, posts: int, vocab_size: int, seed: int) -> Path:
    """Synthetic dump -> clean corpus -> tokenizer -> token shards, all under `work`; returns the tokens dir."""
    from warble.data.pipeline import IngestConfig, run_ingest
    from warble.data.synth import synthesize
    from warble.tokenizer import tokenize_corpus, train_tokenizer

    t0 = time.perf_counter()
    synthesize(work / "raw", posts, seed=seed, workers=1, progress=False)
    run_ingest([str(work / "raw")], work / "corpus", IngestConfig(workers=1), progress=False, log=lambda *a: None)
    train_tokenizer(work / "corpus", work / "tok", vocab_size=vocab_size, progress=False)
    tokenize_corpus(work / "corpus", work / "tok", work / "tokens", workers=1, progress=False)
    shutil.rmtree(work / "raw", ignore_errors=True)
    log(f"data: {posts:,} synthetic posts -> token shards in {time.perf_counter() - t0:.1f} s")
    return work / "tokens"


def build_run(work: Path, *, preset: str = "cpu", steps: int = 30, posts: int = 5000, vocab_size: int = 8192,
              seed: int = 0) -> Path:
    """A run directory (model.safetensors, model.json, tokenizer/) of `preset` trained for `steps` steps on a small
    synthetic corpus: enough for the weights to be a real model's, not a random one's (inference speed does not
    depend on how well it is trained)."""
    from warble.train.config import TrainConfig
    from warble.train.loop import train

    tokens = build_tokens(work, posts, vocab_size, seed)
    t0 = time.perf_counter()
    train(TrainConfig(data=str(tokens), preset=preset, steps=steps, seq_len=256, global_batch=8, eval_every=0,
                      ckpt_every=0, log_every=max(steps // 3, 1), seed=seed), work / "run")
    log(f"model: preset {preset} trained {steps} steps in {time.perf_counter() - t0:.1f} s")
    return work / "run"
