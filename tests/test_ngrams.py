"""NgramIndex: membership of word n-grams of training text (novelty in eval, copy checks in ads)."""

import numpy as np
import pytest

from warble.data.ngrams import NgramIndex, words
from warble.errors import InputError

TRAIN = [
    "The quick brown fox jumps over the lazy dog today",  # 10 words
    "Good morning world",  # 3 words: shorter than n
    "ＣＡＦＥ opens at nine on sundays only",  # full-width letters: NFKC makes them "cafe"
]


@pytest.fixture(scope="module")
def idx():
    return NgramIndex.from_texts(TRAIN, n=4)


def test_words_normalise():
    assert words("Ｈｅｌｌｏ, WORLD!! it's") == ["hello", "world", "it", "s"]


def test_overlap_counts_ngrams(idx):
    # 4-grams of "quick brown fox jumps over a cat": quick..jumps, brown..over hit; fox jumps over a, jumps over a cat miss
    assert idx.overlap("quick brown fox jumps over a cat") == pytest.approx(2 / 4)
    assert idx.overlap("The QUICK brown fox!") == 1.0  # exactly one 4-gram, in training text
    assert idx.overlap("nothing like the training text at all") == 0.0
    assert idx.overlap("too short") == 0.0  # fewer than n words
    assert idx.overlap("quick brown fox", k=2) == 1.0
    assert idx.overlap("quick red fox", k=2) == 0.0
    with pytest.raises(ValueError):
        idx.overlap("a b c d e", k=5)


def test_longest_match(idx):
    assert idx.longest_match("a fox jumps over my fence") == 3  # "fox jumps over"
    assert idx.longest_match("zebra") == 0
    assert idx.longest_match("lazy") == 1
    assert idx.longest_match("the quick brown fox jumps over the lazy dog") == 4  # capped at n
    assert idx.longest_match("cafe opens") == 2  # NFKC + lowercase
    assert idx.longest_match("dog today good") == 2  # never across posts: "today good" is not a run of one post


def test_contains(idx):
    assert idx.contains("the quick brown fox jumps over the lazy cat")  # 5 of 6 4-grams
    assert not idx.contains("the quick brown fox eats one big orange")  # 1 of 5
    assert idx.contains("good morning, WORLD")  # short: equals a whole training post
    assert not idx.contains("good morning")  # short: only a piece of a post
    assert not idx.contains("")


def test_len_counts_distinct_kgrams():
    idx = NgramIndex.from_texts(["a b a b", "a b"], n=2)
    # 1-grams {a, b}, 2-grams {a b, b a}
    assert len(idx) == 4
    assert len(idx.posts) == 2


def test_save_load_roundtrip(idx, tmp_path):
    path = tmp_path / "idx.npz"
    idx.save(path)
    back = NgramIndex.load(path)
    assert back.n == 4 and len(back) == len(idx)
    assert np.array_equal(back.grams, idx.grams) and np.array_equal(back.posts, idx.posts)
    assert back.overlap("quick brown fox jumps over a cat") == pytest.approx(0.5)
    (tmp_path / "bad.npz").write_bytes(b"not numpy")
    with pytest.raises(InputError):
        NgramIndex.load(tmp_path / "bad.npz")


def test_chunked_build_equals_one_pass():
    texts = [f"post {i} says hello to number {i % 7}" for i in range(50)]
    a, b = NgramIndex.from_texts(texts, n=3), NgramIndex.from_texts(texts, n=3, chunk=7)
    assert np.array_equal(a.grams, b.grams) and np.array_equal(a.posts, b.posts)


def test_for_run_finds_training_posts(run_dir, corpus_dir):
    import pyarrow.parquet as pq

    idx = NgramIndex.for_run(run_dir, n=8)
    assert (run_dir / "cache" / "ngrams-8.npz").is_file()
    train = pq.read_table(next((corpus_dir / "corpus" / "train").glob("*.parquet")), columns=["text"])
    posts = [t for t in train.column("text").to_pylist() if len(words(t)) >= 8][:20]
    assert posts and all(idx.contains(p) and idx.overlap(p) == 1.0 for p in posts)
    assert not idx.contains("zebras quietly negotiate tariffs with the moon over breakfast tea")
    again = NgramIndex.for_run(run_dir, n=8)  # from the cache
    assert again.key == idx.key and np.array_equal(again.grams, idx.grams)
