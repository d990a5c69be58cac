"""Language-modelling evaluation: loss, perplexity and bits per byte of a run on held-out posts, also by language
and by time.

    evaluate_lm("run/", "tokens/", corpus_dir="corpus/")   # -> {"loss", "perplexity", "bpb", "by_lang", "by_time", ...}

Scoring goes through the model's public forward on the token shards, packed exactly as training evaluates them
(`warble.train.data.collate`: posts whole in rows of seq_len, cut only when longer, positions restarting and
attention masked per post). That is what makes the numbers equal to training's `val_loss` / `val_bpb`: those count
every predicted token of the post, metadata control tokens and [eos] included, which `Engine.score` (text only) does
not see. The per-position losses are summed per post, so any slice is a sum of posts:

    loss = nats / predicted tokens      bpb = nats / (ln 2 x UTF-8 bytes of the post texts)

Language comes from the corpus (`--corpus`) when given, else from each post's `<|lang:xx|>` control token when the
shards carry metadata prefixes. Time needs the corpus: token shards keep no timestamps. Shard i of a split is corpus
file i of that split (`warble tokenize` writes one shard per file, posts in file order); the row counts are checked.
Posts newer than the training data (the latest `created_at` of the corpus's train split, or `trained_until`) are
also summed on their own: how much worse the model does on posts it could not have seen shows how fast it ages.
"""

from __future__ import annotations

import math
import time
import tomllib
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from warble.errors import ConfigError, InputError
from warble.model import Transformer
from warble.tokenizer import Tokenizer
from warble.tokenizer.corpus import corpus_files, iter_batches, num_rows
from warble.tokenizer.shards import TokenShards, load_meta, recorded_source
from warble.tokenizer.specials import LANGS
from warble.train.data import IGNORE, collate
from warble.train.finetune import load_pretrained

TIME_BUCKETS = ("day", "week", "month", "year")


# ------------------------------------------------------------------------------------------------ per-post scores
def load_model(run_dir: str | Path, device: str = "cpu") -> Transformer:
    """The run's model in fp32, per-post attention mask on (packed posts must not see each other)."""
    cfg, weights = load_pretrained(run_dir)
    model = Transformer(replace(cfg, doc_mask=True, attn_impl="sdpa"))
    model.load_state_dict(weights(), strict=True)
    return model.to(device).eval()


def pack_rows(bounds: np.ndarray, seq_len: int) -> list[list[tuple[int, int, int]]]:
    """Training's packing (warble.train.data, in post order): each post cut into pieces of at most seq_len, pieces
    packed greedily into rows; a piece that does not fit closes the row. Rows of (post, start, length)."""
    rows, row, free = [], [], seq_len
    for post in range(len(bounds) - 1):
        start, end = int(bounds[post]), int(bounds[post + 1])
        while start < end:
            length = min(end - start, seq_len)
            if length > free:
                rows.append(row)
                row, free = [], seq_len
            row.append((post, start, length))
            free -= length
            start += length
    if row:
        rows.append(row)
    return rows


@torch.no_grad()
def post_nats(model: Transformer, shards: TokenShards, seq_len: int, batch_rows: int = 16,
              progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(nats, predicted tokens) of every post of the split: summed next-token losses over each post's pieces."""
    n = len(shards)
    nats, targets = np.zeros(n), np.zeros(n, np.int64)
    rows = pack_rows(shards.bounds, seq_len)
    device = next(model.parameters()).device
    pad_id = shards.meta["pad_id"]
    for i in tqdm(range(0, len(rows), batch_rows), desc="eval lm", unit="batch", disable=not progress):
        chunk = rows[i:i + batch_rows]
        batch = collate(shards, [[(s, ln) for _, s, ln in row] for row in chunk], seq_len, pad_id).to(device)
        loss = model(batch.tokens, doc_ids=batch.doc_ids, positions=batch.positions, targets=batch.targets,
                     reduction="none").view(len(chunk), seq_len).cpu().numpy()
        owner = np.full((len(chunk), seq_len), -1, np.int64)  # post of each position (-1: padding)
        for r, row in enumerate(chunk):
            at = 0
            for post, _, length in row:
                owner[r, at:at + length] = post
                at += length
        scored = (batch.targets.cpu().numpy() != IGNORE) & (owner >= 0)
        np.add.at(nats, owner[scored], loss[scored])
        np.add.at(targets, owner[scored], 1)
    return nats, targets


def post_bytes(shards: TokenShards, tok: Tokenizer) -> np.ndarray:
    """UTF-8 bytes of each post's text, recovered from its tokens (byte-level BPE decodes losslessly; the special
    begin/end and control tokens carry no text)."""
    out = np.zeros(len(shards), np.int64)
    for i in range(len(shards)):
        ids = shards.span(int(shards.bounds[i]), int(shards.bounds[i + 1] - shards.bounds[i]))
        out[i] = len(tok.decode(ids.tolist(), skip_special=True).encode("utf-8"))
    return out


def prefix_langs(shards: TokenShards, tok: Tokenizer) -> list[str]:
    """Each post's language from its `<|lang:xx|>` control token (right after [bos]); 'none' if it has none."""
    by_id = {tok.control_ids(lang=code)[0]: code for code in LANGS}
    out = []
    for i in range(len(shards)):
        start, end = int(shards.bounds[i]), int(shards.bounds[i + 1])
        second = int(shards.span(start + 1, 1)[0]) if end - start > 1 else -1
        out.append(by_id.get(second, "none"))
    return out


def corpus_columns(corpus_dir: str | Path, split: str, shards: TokenShards) -> tuple[list, list]:
    """(lang, created_at) of every post of the split, read from the corpus the shards were made from. InputError if
    the corpus's files or row counts do not match the shards (another corpus, or re-ingested since)."""
    from warble.tokenizer.canaries import CANARY_SHARD

    files = corpus_files(corpus_dir, split)
    all_names = shards.meta["splits"][split]["shards"]
    names = [n for n in all_names if n != CANARY_SHARD]  # planted canaries (listed last) have no corpus rows
    if len(files) != len(names):
        raise InputError(f"--corpus {corpus_dir}: {len(files)} {split} files, but the token shards have {len(names)} "
                         "(not the corpus these shards were made from)")
    per_shard = np.bincount(np.searchsorted(shards.offsets, shards.bounds[:-1], side="right") - 1,
                            minlength=len(all_names))
    langs, times = [], []
    for path, docs in zip(files, per_shard):
        if num_rows(path) != docs:
            raise InputError(f"--corpus {corpus_dir}: {path.name} has {num_rows(path)} posts, its token shard {docs} "
                             "(not the corpus these shards were made from)")
        for batch in iter_batches(path, ["lang", "created_at"]):
            langs += [lang or "none" for lang in batch.column("lang").to_pylist()]
            times += batch.column("created_at").to_pylist()
    extra = int(per_shard[len(names):].sum())  # the canary posts: their own slice, no time
    return langs + ["canary"] * extra, times + [None] * extra


def latest_time(corpus_dir: str | Path, split: str = "train") -> datetime | None:
    """The newest `created_at` of a corpus split (None if it has no times)."""
    latest = None
    for path in corpus_files(corpus_dir, split):
        for batch in iter_batches(path, ["created_at"]):
            for t in batch.column("created_at").to_pylist():
                if t is not None and (latest is None or t > latest):
                    latest = t
    return latest


# ------------------------------------------------------------------------------------------------ summaries
def summarize(nats: np.ndarray, targets: np.ndarray, nbytes: np.ndarray) -> dict:
    """loss (nats per predicted token), perplexity, bits per byte, and the counts they rest on."""
    total, n, b = float(nats.sum()), int(targets.sum()), int(nbytes.sum())
    loss = total / n if n else None
    return {
        "loss": loss,
        "perplexity": math.exp(loss) if loss is not None and loss < 700 else None,
        "bpb": total / (math.log(2) * b) if b else None,
        "tokens": n,
        "posts": len(nats),
        "bytes": b,
    }


def time_bucket(t: datetime | None, unit: str) -> str:
    if t is None:
        return "unknown"
    if unit == "day":
        return t.strftime("%Y-%m-%d")
    if unit == "week":
        year, week, _ = t.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return t.strftime("%Y-%m")
    return t.strftime("%Y")


def sliced(keys: list[str], nats, targets, nbytes) -> dict[str, dict]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        groups[k].append(i)
    return {k: summarize(nats[ix], targets[ix], nbytes[ix]) for k, ix in sorted(groups.items())}


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_time(text: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise ConfigError(f"--trained-until must be an ISO date or time (2026-06-30, 2026-06-30T23:00), "
                          f"got {text!r}") from None


def run_seq_len(run_dir: str | Path, default: int) -> int:
    """The seq_len the run trained with (its config.toml), so posts are cut as in training's evaluation."""
    path = Path(run_dir) / "config.toml"
    try:
        return int(tomllib.loads(path.read_text())["seq_len"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return default


# ------------------------------------------------------------------------------------------------ the evaluation
def evaluate_lm(run_dir: str | Path, tokens_dir: str | Path, *, corpus_dir: str | Path | None = None,
                split: str = "validation", unit: str = "month", trained_until: datetime | None = None,
                seq_len: int | None = None, batch_rows: int = 16, device: str = "cpu",
                progress: bool = True) -> dict:
    """Loss, perplexity and bits per byte of the run on a split of token shards, overall, by language and by time
    (the JSON of `warble eval lm`)."""
    if unit not in TIME_BUCKETS:
        raise ConfigError(f"time bucket must be one of {', '.join(TIME_BUCKETS)}, got {unit!r}")
    t0 = time.perf_counter()
    if not (Path(run_dir) / "tokenizer").is_dir():
        raise InputError(f"--model {run_dir}: no tokenizer/ (not a run directory)")
    tok = Tokenizer.load(Path(run_dir) / "tokenizer")
    meta = load_meta(tokens_dir)
    if meta.get("tokenizer_sha256") != tok.sha256:
        raise InputError(f"--data {tokens_dir}: tokenized with another tokenizer than the run's "
                         "(re-tokenize the posts with the run's tokenizer/)")
    shards = TokenShards(tokens_dir, split)
    if len(shards) == 0:
        raise InputError(f"--data {tokens_dir}: split {split!r} has no posts")
    model = load_model(run_dir, device)
    seq_len = min(seq_len or run_seq_len(run_dir, model.cfg.max_seq_len), model.cfg.max_seq_len)

    nats, targets = post_nats(model, shards, seq_len, batch_rows, progress)
    nbytes = post_bytes(shards, tok)
    out = {"model": str(run_dir), "data": str(tokens_dir), "split": split, "seq_len": seq_len,
           **summarize(nats, targets, nbytes)}

    unavailable: dict[str, str] = {}
    langs = times = None
    if corpus_dir is None:
        corpus_dir = recorded_source(tokens_dir, "corpus", "manifest.json")  # the corpus `warble tokenize` recorded
    if corpus_dir is not None:
        langs, times = corpus_columns(corpus_dir, split, shards)
        out["lang_source"] = "corpus"
    elif meta.get("metadata_prefix"):
        langs = prefix_langs(shards, tok)
        out["lang_source"] = "metadata prefix"
    else:
        unavailable["by_lang"] = "shards without metadata prefixes and no --corpus: no language per post"
    if times is None:
        unavailable["by_time"] = "token shards keep no timestamps: give --corpus (the corpus the shards came from)"
    out["by_lang"] = sliced(langs, nats, targets, nbytes) if langs is not None else {}

    out["time_bucket"] = unit
    out["by_time"] = {}
    out["trained_until"] = None
    out["after_training"] = None
    if times is not None:
        times = [_utc(t) if t is not None else None for t in times]
        until = trained_until or latest_time(corpus_dir, "train")
        until = _utc(until) if until is not None else None
        out["by_time"] = sliced([time_bucket(t, unit) for t in times], nats, targets, nbytes)
        if until is not None:
            out["trained_until"] = until.isoformat()
            newer = np.array([t is not None and t > until for t in times])
            for bucket, stats in out["by_time"].items():
                stats["after_training"] = bucket != "unknown" and bucket > time_bucket(until, unit)
            out["after_training"] = (summarize(nats[newer], targets[newer], nbytes[newer]) if newer.any()
                                     else {"posts": 0, "note": f"no {split} post is newer than {until.isoformat()}"})
    out["unavailable"] = unavailable
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out
