"""PackedLoader and eval_batches: packing invariants, epoch coverage, world-size independence, exact resume."""

import json

import numpy as np
import pytest
import torch

from warble.errors import InputError
from warble.tokenizer import TokenShards
from warble.train.data import IGNORE, Batch, PackedLoader, eval_batches

SEQ = 24  # shorter than many posts, so long posts get cut


@pytest.fixture(scope="module")
def tokens(tokens_dir):
    return tokens_dir  # conftest: the small synthetic corpus, tokenized


def _posts(tokens_dir, split) -> list[list[int]]:
    shards = TokenShards(tokens_dir, split)
    return [shards.data[s][a:b].tolist() for s, a, b in map(shards.doc, range(len(shards)))]


def _segments(batch: Batch, pad_id: int) -> list[list[int]]:
    """Non-padding segments of every row, in order; checks the packing invariants on the way."""
    out = []
    for tokens, targets, docs, pos in zip(*(t.tolist() for t in (batch.tokens, batch.targets, batch.doc_ids,
                                                                  batch.positions))):
        assert docs[0] == 0 and pos[0] == 0
        seg = [tokens[0]]
        for i in range(1, len(tokens)):
            if docs[i] == docs[i - 1]:
                assert pos[i] == pos[i - 1] + 1 and targets[i - 1] == (IGNORE if tokens[i] == pad_id else tokens[i])
                seg.append(tokens[i])
            else:
                assert docs[i] == docs[i - 1] + 1 and pos[i] == 0 and targets[i - 1] == IGNORE
                out.append(seg)
                seg = [tokens[i]]
        assert targets[-1] == IGNORE
        out.append(seg)
        last = docs[-1]
        if all(t == pad_id for t in seg):  # padding: the row's last segment, no targets at all
            out.pop()
            assert all(t == IGNORE for t, d in zip(targets, docs) if d == last)
    return out


def _join_posts(segments: list[list[int]], bos: int) -> list[list[int]]:
    """Pieces of a cut post follow each other; a new post starts with bos."""
    posts = []
    for seg in segments:
        if seg[0] == bos:
            posts.append(list(seg))
        else:
            posts[-1] += seg
    return posts


def _meta(tokens_dir):
    return json.loads((tokens_dir / "meta.json").read_text())


def _equal(a: Batch, b: Batch) -> bool:
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("tokens", "targets", "doc_ids", "positions"))


def test_batch_shapes_and_types(tokens):
    batch = next(PackedLoader(tokens, "train", global_batch=8, seq_len=SEQ, rank=1, world_size=2))
    assert batch.tokens.shape == batch.targets.shape == batch.doc_ids.shape == batch.positions.shape == (4, SEQ)
    assert (batch.tokens.dtype, batch.targets.dtype, batch.doc_ids.dtype, batch.positions.dtype) == (
        torch.int64, torch.int64, torch.int32, torch.int64)
    assert _equal(batch.to("cpu"), batch)


def test_an_epoch_holds_every_post_once_packed_correctly(tokens):
    meta = _meta(tokens)
    posts = _posts(tokens, "train")
    loader = PackedLoader(tokens, "train", global_batch=16, seq_len=SEQ, seed=1)
    segments = []
    while loader.epoch == 0:
        segments += _segments(next(loader), meta["pad_id"])
    assert any(seg[0] != meta["bos_id"] for seg in segments)  # some posts were cut
    assert all(len(seg) <= SEQ for seg in segments)
    seen = _join_posts(segments, meta["bos_id"])[: len(posts)]
    assert sorted(seen) == sorted(posts)
    assert seen != posts  # shuffled


def test_epochs_and_seeds_reshuffle(tokens):
    a = PackedLoader(tokens, "train", global_batch=4, seq_len=SEQ, seed=0)
    b = PackedLoader(tokens, "train", global_batch=4, seq_len=SEQ, seed=0)
    c = PackedLoader(tokens, "train", global_batch=4, seq_len=SEQ, seed=1)
    first = next(a)
    assert _equal(first, next(b)) and not _equal(first, next(c))
    a.load_state_dict({**a.state_dict(), "epoch": 1, "cursor": 0, "offset": 0})
    assert not _equal(first, next(a))


def test_ranks_split_the_same_global_batch(tokens):
    whole = PackedLoader(tokens, "train", global_batch=8, seq_len=SEQ, seed=3)
    ranks = [PackedLoader(tokens, "train", global_batch=8, seq_len=SEQ, rank=r, world_size=2, seed=3) for r in (0, 1)]
    for _ in range(5):
        full, parts = next(whole), [next(r) for r in ranks]
        for k in ("tokens", "targets", "doc_ids", "positions"):
            assert torch.equal(getattr(full, k), torch.cat([getattr(p, k) for p in parts]))


def test_resume_is_exact_even_across_epochs_and_world_sizes(tokens):
    loader = PackedLoader(tokens, "train", global_batch=16, seq_len=SEQ, seed=5)
    states = []
    while loader.epoch < 1:
        states.append(json.loads(json.dumps(loader.state_dict())))
        next(loader)
    for state in (states[3], states[-1]):  # mid-epoch, and the batch that crosses into epoch 1
        uninterrupted = PackedLoader(tokens, "train", global_batch=16, seq_len=SEQ, seed=5)
        uninterrupted.load_state_dict(states[0])
        for _ in range(states.index(state)):
            next(uninterrupted)
        resumed = PackedLoader(tokens, "train", global_batch=16, seq_len=SEQ, seed=5)
        resumed.load_state_dict(state)
        halves = [PackedLoader(tokens, "train", global_batch=16, seq_len=SEQ, rank=r, world_size=2, seed=5)
                  for r in (0, 1)]
        for h in halves:
            h.load_state_dict(state)
        for _ in range(3):
            expected = next(uninterrupted)
            assert _equal(next(resumed), expected)
            assert torch.equal(torch.cat([next(h).tokens for h in halves]), expected.tokens)


def test_bad_arguments(tokens):
    with pytest.raises(ValueError, match="not divisible by world_size"):
        PackedLoader(tokens, "train", global_batch=6, seq_len=SEQ, world_size=4)
    with pytest.raises(ValueError, match="outside world_size"):
        PackedLoader(tokens, "train", global_batch=8, seq_len=SEQ, rank=2, world_size=2)
    loader = PackedLoader(tokens, "train", global_batch=8, seq_len=SEQ, seed=0)
    with pytest.raises(ValueError, match="seed=1"):
        loader.load_state_dict({**loader.state_dict(), "seed": 1})


def test_eval_batches_cover_the_split_once_in_order(tokens):
    meta = _meta(tokens)
    posts = _posts(tokens, "validation")
    batches = list(eval_batches(tokens, "validation", batch_size=4, seq_len=SEQ))
    assert all(len(b.tokens) == 4 for b in batches[:-1]) and 1 <= len(batches[-1].tokens) <= 4
    segments = [seg for b in batches for seg in _segments(b, meta["pad_id"])]
    assert _join_posts(segments, meta["bos_id"]) == posts


def _handmade(tmp_path, posts: list[list[int]], split: str = "validation"):
    """A token directory holding `posts` as one shard (pad id 0)."""
    (tmp_path / split).mkdir(parents=True)
    np.array([t for p in posts for t in p], np.uint16).tofile(tmp_path / split / "shard-00000.bin")
    np.save(tmp_path / split / "shard-00000.idx.npy", np.cumsum([0, *map(len, posts)]))
    meta = {"format": "warble.tokens/v1", "dtype": "uint16", "pad_id": 0,
            "splits": {split: {"shards": ["shard-00000"] if posts else []}}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    return tmp_path


def test_packing_layout_exactly(tmp_path):
    # Lengths 5, 3, 10, 2 into rows of 8: [5 3] [8 of the 10] [its last 2, then 2, then padding].
    posts = [[1, 11, 12, 13, 2], [1, 21, 2], [1, 31, 32, 33, 34, 35, 36, 37, 38, 2], [1, 2]]
    (batch,) = eval_batches(_handmade(tmp_path, posts), "validation", batch_size=3, seq_len=8)
    assert batch.tokens.tolist() == [[1, 11, 12, 13, 2, 1, 21, 2], [1, 31, 32, 33, 34, 35, 36, 37],
                                     [38, 2, 1, 2, 0, 0, 0, 0]]
    assert batch.doc_ids.tolist() == [[0, 0, 0, 0, 0, 1, 1, 1], [0] * 8, [0, 0, 1, 1, 2, 2, 2, 2]]
    assert batch.positions.tolist() == [[0, 1, 2, 3, 4, 0, 1, 2], list(range(8)), [0, 1, 0, 1, 0, 1, 2, 3]]
    x = IGNORE
    assert batch.targets.tolist() == [[11, 12, 13, 2, x, 21, 2, x], [31, 32, 33, 34, 35, 36, 37, x],
                                      [2, x, 2, x, x, x, x, x]]


def test_empty_split(tmp_path):
    tokens = _handmade(tmp_path, [])
    assert list(eval_batches(tokens, "validation", batch_size=2, seq_len=8)) == []
    with pytest.raises(InputError, match="no posts to train on"):
        PackedLoader(tokens, "validation", global_batch=2, seq_len=8)
