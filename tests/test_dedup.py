"""Exact and MinHash-LSH near-duplicate removal: quality on planted duplicates, and the on-disk resolution."""

import random

import numpy as np
import pytest

from warble.data.dedup import (
    DedupConfig, DedupShard, dedup_keys, dedup_text, exact_key, lsh_params, resolve_duplicates,
)

WORDS = ("pizza game match coffee rain city music night weekend team goal vote market film song dog cat "
         "phone launch price crypto recipe garden train beach book code update season fans today tomorrow").split()


def _post(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 20))) + rng.choice([".", "!", "?", " 🙂"])


def _edit(text: str, rng: random.Random) -> str:
    """One small edit, as copy-pasters make: a word swapped, an emoji or a hashtag added, a link appended."""
    words = text.split()
    kind = rng.randrange(4)
    if kind == 0:
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    elif kind == 1:
        words.append("🔥")
    elif kind == 2:
        words.append("#" + rng.choice(WORDS))
    else:
        words.append(f"https://t.co/{rng.randrange(10**6)}")
    return " ".join(words)


def _resolve(tmp_path, texts, order=None, cfg=DedupConfig(), parts=2):
    keys = dedup_keys(texts, cfg)
    order = np.arange(len(texts)) if order is None else np.asarray(order)
    shards = []
    for i, idx in enumerate(np.array_split(np.arange(len(texts)), parts)):
        np.save(tmp_path / f"k{i}.npy", keys[idx])
        np.save(tmp_path / f"o{i}.npy", order[idx].astype(np.int64))
        shards.append(DedupShard(tmp_path / f"k{i}.npy", tmp_path / f"o{i}.npy"))
    return np.concatenate(resolve_duplicates(shards, cfg))


def test_dedup_text_makes_copies_equal():
    assert dedup_text("RT @bob: Big GAME tonight!! https://t.co/x") == dedup_text("big game tonight")
    assert exact_key("RT @a: RT @b: hello   world") == exact_key("Hello, world!")
    assert exact_key("hello world") != exact_key("hello there world")


def test_lsh_params_fit_budget_and_threshold():
    b, r = lsh_params(0.7, 128)
    assert b * r <= 128
    # The S-curve's steepest point (1/b)^(1/r) should sit near the threshold.
    assert abs((1 / b) ** (1 / r) - 0.7) < 0.1


def test_planted_near_duplicates_found_and_distinct_posts_kept(tmp_path):
    rng = random.Random(0)
    originals = [_post(rng) for _ in range(400)]
    near = [_edit(t, rng) for t in originals[:150]]
    exact = ["RT @someone: " + t for t in originals[150:200]]
    texts = originals + near + exact
    verdict = _resolve(tmp_path, texts)
    assert (verdict[:400] == 0).all(), "originals come first in order, so all of them are kept"
    # Emoji and link edits vanish under dedup normalization (exact), word edits need MinHash (near).
    recall = (verdict[400:550] > 0).mean()
    assert recall >= 0.9, recall
    assert (verdict[400:550] == 2).sum() >= 50
    assert (verdict[550:] == 1).all(), "retweets are exact duplicates"


def test_earliest_post_of_a_cluster_is_kept(tmp_path):
    texts = ["the game tonight was amazing what a goal", "RT @x: the game tonight was amazing what a goal",
             "something else entirely about gardens and rain"]
    verdict = _resolve(tmp_path, texts, order=[300, 100, 200])
    assert verdict.tolist() == [1, 0, 0]


def test_partitioned_passes_give_the_same_verdict(tmp_path):
    rng = random.Random(1)
    base = [_post(rng) for _ in range(200)]
    texts = base + [_edit(t, rng) for t in base[:80]] + base[:30]
    one = _resolve(tmp_path, texts)
    many = _resolve(tmp_path, texts, cfg=DedupConfig(max_rows_per_pass=37), parts=5)
    assert one.tolist() == many.tolist()
    assert (one > 0).sum() >= 100


@pytest.mark.parametrize("near", [True, False])
def test_switches(tmp_path, near):
    texts = ["a long enough post about the match tonight", "a long enough post about the match tonight!!",
             "a long enough post about the match tonight in town"]
    verdict = _resolve(tmp_path, texts, cfg=DedupConfig(near=near), parts=1)
    assert verdict[1] == 1  # punctuation-only difference: exact after normalization
    assert verdict[2] == (2 if near else 0)


def test_chains_of_near_duplicates_do_not_take_unlike_posts_with_them(tmp_path):
    """A~B and B~C but A and C unlike: B goes (A is earlier and kept), C stays (its only match B is gone)."""
    keys = np.array([[1, 10, 20], [2, 10, 21], [3, 11, 21]], dtype=np.uint64)  # exact key, band 1, band 2
    np.save(tmp_path / "k.npy", keys)
    np.save(tmp_path / "o.npy", np.array([0, 1, 2], dtype=np.int64))
    verdict = resolve_duplicates([DedupShard(tmp_path / "k.npy", tmp_path / "o.npy")], DedupConfig())
    assert verdict[0].tolist() == [0, 2, 0]


def test_a_bucket_with_a_kept_post_drops_later_members(tmp_path):
    """Bucket [A, B, C, D] in time order, A dropped through another bucket, B kept: C and D both go."""
    keys = np.array([
        [1, 50, 70],  # K: kept, shares band 1 with A
        [2, 50, 60],  # A: dropped (bucket 50 holds K), also in bucket 60
        [3, 51, 60],  # B: bucket 60 holds only A, which was dropped -> kept
        [4, 52, 60],  # C: bucket 60 holds B -> dropped
        [5, 53, 60],  # D: bucket 60 holds B -> dropped
    ], dtype=np.uint64)
    np.save(tmp_path / "k.npy", keys)
    np.save(tmp_path / "o.npy", np.arange(5, dtype=np.int64))
    verdict = resolve_duplicates([DedupShard(tmp_path / "k.npy", tmp_path / "o.npy")], DedupConfig())
    assert verdict[0].tolist() == [0, 2, 0, 2, 2]


def test_combining_marks_and_empty_texts_are_not_conflated():
    assert exact_key("ไป ไม่ ได้") != exact_key("ไป ไม ได")
    assert exact_key("🔥🔥🔥") != exact_key("😂😂😂")
