"""Train the byte-level BPE on a sample of the corpus and report how well it compresses the validation split."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tokenizers
from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers, trainers
from tqdm import tqdm

from warble.data.files import write_json
from warble.errors import ConfigError
from warble.tokenizer import specials as sp
from warble.tokenizer.corpus import corpus_files, iter_batches, num_rows, train_files
from warble.tokenizer.tokenizer import Tokenizer

SAMPLE_POSTS = 2_000_000
EVAL_POSTS = 100_000  # validation posts behind bytes_per_token: enough for three significant digits
REPORT_FILE = "report.json"

# Pre-tokenization (GPT-4's pattern, adapted to posts): hashtags and mentions stay whole with their leading space;
# a kept link is one piece; words take one leading space or punctuation mark; numbers split into groups of up to
# three digits (1234567 -> 123 456 7), so no token spans a long number; runs of punctuation and emoji stay
# together. Every piece then maps to bytes, so any text encodes and nothing is <unk>.
PATTERN = (
    r" ?[#@＃＠][\p{L}\p{M}\p{N}_]+"
    r"| ?(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
    r"|'(?i:[sdmt]|ll|ve|re)"
    r"|[^\r\n\p{L}\p{N}]?+[\p{L}\p{M}]+"
    r"|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]++[\r\n]*"
    r"|\s*[\r\n]|\s+(?!\S)|\s+"
)


def new_bpe() -> tokenizers.Tokenizer:
    hf = tokenizers.Tokenizer(models.BPE())
    hf.normalizer = normalizers.NFC()
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    hf.decoder = decoders.ByteLevel()
    return hf


def _sample(files: list[Path], n: int, seed: int, progress: bool) -> tuple[list[str], Counter]:
    """Up to `n` train posts drawn uniformly without replacement (all if fewer), and their labels['topic'] counts."""
    total = sum(num_rows(f) for f in files)
    picked = None if total <= n else np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    texts, topics, offset = [], Counter(), 0
    with tqdm(total=min(n, total), desc="tokenizer sample", unit="post", disable=not progress) as bar:
        for f in files:
            for batch in iter_batches(f, ["text", "labels"]):
                rows = batch.num_rows
                if picked is not None:
                    lo, hi = np.searchsorted(picked, [offset, offset + rows])
                    batch = batch.take(pa.array(picked[lo:hi] - offset))
                offset += rows
                texts += batch.column("text").to_pylist()
                topics.update(t for t in pc.map_lookup(batch.column("labels"), "topic", "first").to_pylist() if t)
                bar.update(batch.num_rows)
    return texts, topics


def _topics(labels: Counter) -> list[str]:
    """The fixed topics, then the most frequent other labels['topic'] values, up to MAX_TOPICS in all."""
    counts = Counter()
    for name, n in labels.items():
        if (key := sp.topic_key(name)) and key not in sp.DEFAULT_TOPICS:
            counts[key] += n
    extra = sorted(counts, key=lambda k: (-counts[k], k))[: sp.MAX_TOPICS - len(sp.DEFAULT_TOPICS)]
    return [*sp.DEFAULT_TOPICS, *extra]


def _validation_texts(corpus_dir: str | Path, limit: int) -> list[str]:
    texts = []
    for f in corpus_files(corpus_dir, "validation"):
        for batch in iter_batches(f, ["text"]):
            texts += batch.column("text").to_pylist()
            if len(texts) >= limit:
                return texts[:limit]
    return texts


def train_tokenizer(
    corpus_dir: str | Path, out_dir: str | Path, vocab_size: int = 8192, sample_posts: int = SAMPLE_POSTS,
    seed: int = 0, progress: bool = True,
) -> dict:
    """Train on a sample of corpus_dir's train split, save to out_dir (tokenizer.json, warble.json, report.json)."""
    files = train_files(corpus_dir)
    t0 = time.perf_counter()
    texts, labels = _sample(files, sample_posts, seed, progress)
    topics = _topics(labels)
    t1 = time.perf_counter()

    specials = [sp.BOS, sp.EOS, sp.PAD, *sp.control_tokens(topics)]
    learned = vocab_size - len(specials) - len(sp.PLACEHOLDERS)
    if learned < 512:
        raise ConfigError(f"vocab_size {vocab_size} is too small: the special tokens alone take {vocab_size - learned}")
    hf = new_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=learned, min_frequency=2, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    hf.train_from_iterator(texts, trainer, length=len(texts))
    hf.add_special_tokens(specials)
    # single_word: "@username" and "https://..." (kept handles and links) are not cut after "@user" / "http".
    hf.add_tokens([AddedToken(p, single_word=True, normalized=False) for p in sp.PLACEHOLDERS])
    tok = Tokenizer(hf)
    tok.save(out_dir)
    t2 = time.perf_counter()

    valid = _validation_texts(corpus_dir, EVAL_POSTS)
    n_bytes = sum(len(t.encode()) for t in valid)
    n_tokens = sum(map(len, tok.encode_batch(valid)))
    report = {
        "vocab_size": tok.vocab_size,
        "sample_posts": len(texts),
        "seed": seed,
        "topics": topics,
        "validation_posts": len(valid),
        "validation_bytes": n_bytes,
        "validation_tokens": n_tokens,
        "bytes_per_token": round(n_bytes / n_tokens, 4) if n_tokens else None,
        "seconds": {"sample": round(t1 - t0, 3), "train": round(t2 - t1, 3)},
        "out": str(out_dir),
    }
    write_json(report, Path(out_dir) / REPORT_FILE)
    return report
