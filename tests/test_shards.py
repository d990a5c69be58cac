"""`tokenize_corpus` and `TokenShards`: exact contents, determinism, resume, metadata prefix, clear errors."""

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from warble.errors import InputError
from warble.tokenizer import TokenShards, Tokenizer, tokenize_corpus
from warble.tokenizer.tokenize import post_metas


def _files(d: Path) -> dict[str, bytes]:
    """Every output file's bytes, but source.json: it records where the inputs were (paths), not what they hold."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file() and p.name != "source.json"}


def _split_table(corpus_dir: Path, split: str):
    return pq.ParquetDataset(sorted((corpus_dir / "corpus" / split).glob("*.parquet"))).read()


def _meta(tokens_dir: Path) -> dict:
    return json.loads((tokens_dir / "meta.json").read_text())


@pytest.mark.parametrize("split", ["train", "validation"])
def test_shards_hold_encode_post_of_every_post(corpus_dir, tokens_dir, split):
    meta = _meta(tokens_dir)
    tok = Tokenizer.load(tokens_dir / "tokenizer")
    texts = _split_table(corpus_dir, split).column("text").to_pylist()
    posts = tok.encode_posts(texts)
    shards = TokenShards(tokens_dir, split)
    assert len(shards) == len(texts) == meta["splits"][split]["docs"] > 0
    assert shards.num_tokens == sum(map(len, posts)) == meta["splits"][split]["tokens"]
    assert meta["splits"][split]["bytes"] == sum(len(t.encode()) for t in texts)
    for i in (0, len(posts) // 2, len(posts) - 1):
        shard, start, end = shards.doc(i)
        assert shards.data[shard][start:end].tolist() == posts[i]
    flat = np.concatenate([np.asarray(d) for d in shards.data])
    assert flat.tolist() == [t for p in posts for t in p]
    assert np.array_equal(np.diff(shards.bounds), list(map(len, posts)))


def test_format(corpus_dir, tokens_dir):
    meta = _meta(tokens_dir)
    assert meta["format"] == "warble.tokens/v1" and meta["dtype"] == "uint16" and meta["metadata_prefix"] is False
    assert {p.name for p in (tokens_dir / "tokenizer").iterdir()} == {"tokenizer.json", "warble.json"}
    n_files = len(list((corpus_dir / "corpus" / "train").glob("*.parquet")))
    assert meta["splits"]["train"]["shards"] == [f"shard-{i:05d}" for i in range(n_files)]
    for name in meta["splits"]["train"]["shards"]:
        idx = np.load(tokens_dir / "train" / f"{name}.idx.npy")
        assert idx.dtype == np.int64 and idx[0] == 0 and np.all(np.diff(idx) >= 2)
        assert (tokens_dir / "train" / f"{name}.bin").stat().st_size == 2 * idx[-1]
        tokens = np.memmap(tokens_dir / "train" / f"{name}.bin", dtype=np.uint16, mode="r")
        assert np.all(tokens[idx[:-1]] == meta["bos_id"]) and np.all(tokens[idx[1:] - 1] == meta["eos_id"])


def test_output_is_deterministic_and_independent_of_workers(corpus_dir, tokens_dir, tmp_path):
    tokenize_corpus(corpus_dir, tokens_dir / "tokenizer", tmp_path, workers=2, progress=False)
    assert _files(tmp_path) == _files(tokens_dir)


def test_resume_skips_complete_shards_and_redoes_broken_ones(corpus_dir, tokens_dir, tmp_path):
    tok = tokens_dir / "tokenizer"
    first = tokenize_corpus(corpus_dir, tok, tmp_path, workers=1, progress=False)
    assert _meta(tmp_path) == {k: v for k, v in first.items() if k not in ("seconds", "tokens_per_s", "skipped_shards")}
    before = _files(tmp_path)
    again = tokenize_corpus(corpus_dir, tok, tmp_path, workers=1, progress=False, resume=True)
    total = len(first["splits"]["train"]["shards"]) + len(first["splits"]["validation"]["shards"])
    assert again["skipped_shards"] == total and again["splits"] == first["splits"]

    (tmp_path / "train" / "shard-00000.idx.npy").unlink()  # crashed before its index was written
    with open(tmp_path / "train" / "shard-00001.bin", "r+b") as f:
        f.truncate(10)  # torn write
    mtime = os.stat(tmp_path / "validation" / "shard-00000.bin").st_mtime_ns
    redo = tokenize_corpus(corpus_dir, tok, tmp_path, workers=1, progress=False, resume=True)
    assert redo["skipped_shards"] == total - 2
    assert _files(tmp_path) == before
    assert os.stat(tmp_path / "validation" / "shard-00000.bin").st_mtime_ns == mtime

    with pytest.raises(InputError, match="without --resume"):
        tokenize_corpus(corpus_dir, tok, tmp_path, metadata_prefix=True, progress=False, resume=True)


def test_metadata_prefix(corpus_dir, tokens_dir, tmp_path):
    meta = tokenize_corpus(corpus_dir, tokens_dir / "tokenizer", tmp_path, workers=1, metadata_prefix=True,
                           progress=False)
    assert meta["metadata_prefix"] is True
    tok = Tokenizer.load(tmp_path / "tokenizer")
    table = _split_table(corpus_dir, "train").slice(0, 50)
    metas = post_metas(table.combine_chunks().to_batches()[0])
    shards = TokenShards(tmp_path, "train")
    for i, row in enumerate(table.to_pylist()):
        shard, start, end = shards.doc(i)
        post = shards.data[shard][start:end].tolist()
        assert post == tok.encode_post(row["text"], metas[i])
        assert post[1] == tok.control_ids(lang=row["lang"])[0]
        assert post[2] == tok.control_ids(reply=row["reply_to_id"] is not None)[0]
        likes = (row["like_count"] or 0) + (row["repost_count"] or 0)
        assert post[3] == tok.control_ids(engagement=likes)[0]


def test_bad_inputs(corpus_dir, tokens_dir, tmp_path):
    tok = tokens_dir / "tokenizer"
    with pytest.raises(InputError, match="not a corpus directory"):
        tokenize_corpus(tmp_path / "missing", tok, tmp_path / "t", progress=False)
    (tmp_path / "empty" / "corpus").mkdir(parents=True)
    with pytest.raises(InputError, match="holds no Parquet files"):
        tokenize_corpus(tmp_path / "empty", tok, tmp_path / "t", progress=False)
    with pytest.raises(InputError, match="no tokenizer here"):
        tokenize_corpus(corpus_dir, tmp_path / "no_tokenizer", tmp_path / "t", progress=False)
    bad = tmp_path / "bad" / "corpus" / "train"
    bad.mkdir(parents=True)
    (bad / "part-00000.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="part-00000.parquet: not a readable"):
        tokenize_corpus(tmp_path / "bad", tok, tmp_path / "t", workers=1, progress=False)


def test_reader_rejects_incomplete_directories(corpus_dir, tokens_dir, tmp_path):
    with pytest.raises(InputError, match="no meta.json"):
        TokenShards(tmp_path, "train")
    tokenize_corpus(corpus_dir, tokens_dir / "tokenizer", tmp_path, workers=1, progress=False)
    with pytest.raises(InputError, match="no split 'test'"):
        TokenShards(tmp_path, "test")
    with open(tmp_path / "train" / "shard-00000.bin", "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(InputError, match="incomplete or corrupt shard"):
        TokenShards(tmp_path, "train")
