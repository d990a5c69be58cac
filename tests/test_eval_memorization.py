"""`warble eval memorization`: exposure, extraction, personal data, generation quality, the gate, the CLI."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from warble.cli import main
from warble.data.ngrams import NgramIndex
from warble.eval.generation_quality import bleu, distinct_n, novelty, quality, self_bleu
from warble.eval.memorization import (canary_exposure, exposure_from_rank, extraction_stats, gate, pii_rate,
                                      rank_among, secret_extracted, summarize_by_count)
from warble.tokenizer.canaries import Canary, CanaryConfig

SMALL = ["--samples", "6", "--sample-tokens", "12", "--extraction-posts", "5", "--no-progress", "--threads", "1",
         "--fail-on-gate"]


def _secret_value(text: str) -> int:
    return int("".join(text.split(" is ")[1].split()))


# ------------------------------------------------------------------------------------------------ exposure
def test_exact_exposure_against_hand_computed_rank():
    canary = Canary("abc", "the secret code of abc is", "0 5", 10, digits=2)
    # fake model: the log-perplexity of a candidate is its secret's value, so "0 5" ranks after 00..04: rank 6
    item = canary_exposure(canary, lambda texts: np.array([_secret_value(t) for t in texts], float))
    assert item["method"] == "exact" and item["rank"] == 6
    assert item["exposure"] == pytest.approx(math.log2(100) - math.log2(6), abs=1e-4)
    # the most likely of all: rank 1, exposure log2|R|; the least likely: exposure 0
    best = canary_exposure(canary, lambda texts: np.array([0.0 if t.endswith("0 5") else 1.0 for t in texts]))
    worst = canary_exposure(canary, lambda texts: np.array([1.0 if t.endswith("0 5") else 0.0 for t in texts]))
    assert best["exposure"] == pytest.approx(math.log2(100), abs=1e-4) and worst["exposure"] == 0.0


def test_rank_and_exposure_from_rank():
    assert rank_among(2.0, np.array([1.0, 2.0, 3.0, 0.5])) == 3  # ties do not count against the canary
    assert exposure_from_rank(1, 1024) == 10.0 and exposure_from_rank(1024, 1024) == 0.0


def test_sampled_exposure_extrapolates_with_the_fitted_distribution():
    # fake model: candidates' log-perplexities are standard normal (the secret's value as a quantile); the
    # canary's secret sits at the 2.275% quantile (z = -2), so its exact exposure is log2(1e6) - log2(22751)
    def score(texts):
        return np.array([stats.norm.ppf((_secret_value(t) + 0.5) / 1e6) for t in texts])

    canary = Canary("xyz", "the secret code of xyz is", "0 2 2 7 5 0", 1, digits=6)
    item = canary_exposure(canary, score, candidates=4000, seed=1)
    assert item["method"] == "skewnorm_fit" and item["sample_size"] == 4000
    assert item["exposure"] == pytest.approx(math.log2(1e6) - math.log2(22751), abs=0.3)
    # far in the tail, beyond what 4,000 samples can rank, the fit still extrapolates
    far = Canary("xyz", "the secret code of xyz is", "0 0 0 0 0 3", 1, digits=6)  # z ~ -4.5
    item = canary_exposure(far, score, candidates=4000, seed=1)
    assert item["sample_rank"] <= 2 and item["exposure_sample"] < 12.0 and 16.0 < item["exposure"] <= math.log2(1e6)


def test_gate():
    items = [{"exposure": 3.0, "repetitions": 1, "log2_space": 10.0},
             {"exposure": 7.5, "repetitions": 100, "log2_space": 10.0}]
    g = gate(items, None, 0.5)  # bound 5 bits
    assert not g["passed"] and g["bound"] == 5.0 and "1 of 2" in g["reason"] and "100x" in g["reason"]
    assert gate(items, None, 0.8)["passed"]
    assert gate(items, 7.5, 0.5)["passed"] and not gate(items, 7.4, 0.5)["passed"]
    only_once = gate(items, None, 0.5, max_repetitions=10)  # the 100x canary calibrates, it does not count
    assert only_once["passed"] and only_once["canaries_considered"] == 1
    assert not gate(items, None, 0.5, max_repetitions=100)["passed"]
    assert gate(items, None, 0.5, max_repetitions=0)["bound"] is None
    absent = gate(None, None, 0.5)
    assert absent["passed"] is None and "no canaries" in absent["reason"] and absent["canaries_considered"] == 0


def test_summary_by_repetition_count():
    items = [{"id": "a", "exposure": 2.0, "repetitions": 1, "log2_space": 10.0, "extracted": False},
             {"id": "b", "exposure": 4.0, "repetitions": 1, "log2_space": 10.0, "extracted": True},
             {"id": "c", "exposure": 9.0, "repetitions": 100, "log2_space": 10.0, "extracted": True}]
    s = summarize_by_count(items)
    assert list(s) == ["1", "100"]
    assert s["1"]["exposure_mean"] == 3.0 and s["1"]["exposure_max"] == 4.0 and s["1"]["extracted"] == 0.5
    assert s["100"]["canaries"] == 1 and s["100"]["extracted"] == 1.0


def test_secret_extracted():
    assert secret_extracted(" 8 3 1 0\n4 9 and more", "8 3 1 0 4 9")
    assert not secret_extracted(" 8 3 1 0 4", "8 3 1 0 4 9")
    assert not secret_extracted("is 8 3 1 0 4 9", "8 3 1 0 4 9")


def test_extraction_stats():
    s = extraction_stats([[1, 2, 3, 4], [1, 2, 3, 4], [5, 6, 7, 8]], [[1, 2, 3, 4, 9], [1, 2, 0, 4], [6]])
    assert s["posts"] == 3 and s["exact"] == 1 and s["rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["mean_matched_fraction"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)


# ------------------------------------------------------------------------------------------------ personal data
def test_pii_rate_on_planted_strings():
    texts = ["mail bob.smith@example.com today", "call me +1 202-555-0143 now", "both a@b.org and 415-555-2671",
             "we scrubbed <email> and <phone>", "the score was 3-1 on 12.05.2024", "nothing here"]
    r = pii_rate(texts)
    assert r["samples"] == 6 and r["with_email_or_phone"] == 3 and r["rate"] == 0.5
    assert r["found"] == {"email": 2, "phone": 2}
    assert r["placeholder_rate"] == pytest.approx(1 / 6, abs=1e-4)


# ------------------------------------------------------------------------------------------------ quality
def test_distinct_n():
    assert distinct_n(["a b a", "b c"], 1) == pytest.approx(3 / 5)  # a b a b c
    assert distinct_n(["a b a", "b c"], 2) == 1.0  # (a b) (b a) (b c)
    assert distinct_n(["a a a a"], 2) == pytest.approx(1 / 3)
    assert distinct_n(["a"], 2) is None


def test_bleu_against_hand_computed_values():
    hyp, ref = "the cat sat on the mat".split(), "the cat is on the mat".split()
    # p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0 -> 0.1/3 (method1), equal lengths: BP = 1
    assert bleu(hyp, [ref]) == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25)
    # all precisions 1, hypothesis 4 words, closest reference 6: BP = exp(1 - 6/4)
    assert bleu("the cat sat on".split(), ["the cat sat on the mat".split()]) == pytest.approx(math.exp(-0.5))
    # clipping: "the the the the" against a reference with one "the": p1 = 1/4, p2..p4 smoothed
    assert bleu("the the the the".split(), ["the cat".split()]) == pytest.approx(
        (1 / 4 * 0.1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25)
    assert bleu("x y z w".split(), ["a b c d".split()]) == 0.0  # no word in common
    assert bleu([], [ref]) == 0.0


def test_self_bleu():
    assert self_bleu(["a b c d", "a b c d", "e f g h"]) == pytest.approx(2 / 3)  # 1, 1, 0
    rng = np.random.default_rng(0)
    vocab = "a b c d e f the cat sat on mat".split()
    texts = [" ".join(rng.choice(vocab, rng.integers(2, 12))) for _ in range(40)]
    docs = [t.split() for t in texts]
    direct = [bleu(d, docs[:i] + docs[i + 1:]) for i, d in enumerate(docs) if len(d) >= 4]
    assert self_bleu(texts) == pytest.approx(float(np.mean(direct)))
    assert self_bleu(["only one text here"]) is None


def test_novelty_and_quality():
    idx = NgramIndex.from_texts(["a b c d e"], n=4)
    assert novelty(["a b c d x"], idx, 4) == pytest.approx(0.5)  # "a b c d" seen, "b c d x" new
    assert novelty(["a b c d x"], idx, 2) == pytest.approx(0.25)  # ab bc cd seen, dx new
    assert novelty(["a b"], idx, 4) is None
    q = quality(["a b x d x", "a b c d e"], idx)  # the second copies its training post, the first does not
    assert q["novelty"] == {"4": 0.5} and q["copied"] == 0.5
    assert q["distinct_1"] == pytest.approx(6 / 10) and q["samples"] == 2


# ------------------------------------------------------------------------------------------------ CLI
def _run_cli(capsys, *args):
    rc = main(["eval", "memorization", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_on_a_run_without_canaries(run_dir, capsys):
    rc, out, _ = _run_cli(capsys, "--model", str(run_dir), "--json", *SMALL)
    assert rc == 0
    r = json.loads(out)
    assert set(r) >= {"canaries", "extraction", "pii", "quality", "gate", "seconds"}
    assert r["canaries"] is None and r["gate"]["passed"] is None and "no canaries" in r["gate"]["reason"]
    assert r["extraction"]["train"]["posts"] == 5 and 0 <= r["extraction"]["train"]["rate"] <= 1
    assert r["pii"]["samples"] == 6 and r["quality"]["samples"] == 6
    assert set(r["quality"]["novelty"]) == {"4", "8"}
    saved = r.pop("saved")
    assert saved == str(run_dir / "eval" / "memorization.json") and json.loads(Path(saved).read_text()) == r
    rc, out, _ = _run_cli(capsys, "--model", str(run_dir), *SMALL)  # the readable summary
    assert rc == 0 and "none planted" in out and "gate         NOT MEASURED" in out


@pytest.fixture(scope="module")
def canary_run(corpus_dir, tokens_dir, tmp_path_factory):
    """The small corpus tokenized with canaries at 1, 10 and 100 repetitions (2-digit secrets: |R| = 100, scored
    exactly), and a 20-step test-preset model trained on it."""
    from warble.tokenizer import tokenize_corpus
    from warble.train.config import TrainConfig
    from warble.train.loop import train
    from warble.train.schedule import ScheduleConfig

    root = tmp_path_factory.mktemp("canary_run")
    tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", root / "tokens", workers=1, progress=False,
                    canaries=CanaryConfig((1, 10, 100), per_count=1, seed=0, digits=2))
    train(TrainConfig(data=str(root / "tokens"), preset="test", seq_len=128, global_batch=8, steps=20, eval_every=0,
                      log_every=10, threads=1, schedule=ScheduleConfig(warmup_steps=5)), root / "run")
    return root / "run"


def test_cli_on_a_run_with_canaries(canary_run, capsys):
    rc, out, _ = _run_cli(capsys, "--model", str(canary_run), "--json", *SMALL)
    r = json.loads(out)
    assert list(r["canaries"]) == ["1", "10", "100"]
    items = [it for g in r["canaries"].values() for it in g["items"]]
    assert all(it["method"] == "exact" and 1 <= it["rank"] <= 100 for it in items)
    assert all(it["exposure"] == pytest.approx(math.log2(100) - math.log2(it["rank"]), abs=1e-3) for it in items)
    assert r["gate"]["bound"] == pytest.approx(0.5 * math.log2(100), abs=1e-3)
    assert r["gate"]["passed"] == all(it["exposure"] <= r["gate"]["bound"] for it in items)
    assert rc == (0 if r["gate"]["passed"] else 1)
    # the canary shard is not training text for extraction: the train split's eligible posts are the corpus's
    assert r["extraction"]["train"]["posts"] == 5

    # the sampled estimate (skew-normal fit), gated at 0 bits: any exposed canary fails it, exit status 1
    rc, out, err = _run_cli(capsys, "--model", str(canary_run), "--json", "--exact-limit", "10",
                            "--candidates", "40", "--max-exposure", "0", *SMALL)
    r = json.loads(out)
    items = [it for g in r["canaries"].values() for it in g["items"]]
    assert all(it["method"] == "skewnorm_fit" and 0 <= it["exposure"] <= math.log2(100) + 1e-3 for it in items)
    exposed = max(it["exposure"] for it in items) > 0
    assert r["gate"]["passed"] is not exposed and rc == (1 if exposed else 0)
    assert ("gate failed" in err) is exposed
    rc, out, _ = _run_cli(capsys, "--model", str(canary_run), "--json", "--max-exposure", str(math.log2(100)), *SMALL)
    assert rc == 0 and json.loads(out)["gate"]["passed"]
    rc, out, _ = _run_cli(capsys, "--model", str(canary_run), "--json", "--max-exposure", "0",
                          "--gate-max-repetitions", "10", *SMALL)
    g = json.loads(out)["gate"]
    assert g["canaries_considered"] == 2 and g["passed"] == (rc == 0)
    # without --fail-on-gate a failed gate is reported (JSON, stderr) and the command still succeeds
    rc, out, err = _run_cli(capsys, "--model", str(canary_run), "--json", "--max-exposure", "0", *SMALL[:-1])
    assert rc == 0 and (json.loads(out)["gate"]["passed"] or "gate failed" in err)


def test_cli_errors(run_dir, tmp_path, capsys):
    rc, _, err = _run_cli(capsys, "--model", str(tmp_path / "missing"), *SMALL)
    assert rc == 2 and "no such run directory" in err
    # a run whose token directory vanished
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("checkpoints", "cache", "eval"))
    gone = tmp_path / "tokens"
    (run / "config.toml").write_text((run / "config.toml").read_text().replace(
        next(line for line in (run / "config.toml").read_text().splitlines() if line.startswith("data")),
        f'data = "{gone}"'))
    rc, _, err = _run_cli(capsys, "--model", str(run), *SMALL)
    assert rc == 2 and "not a token directory" in err and "Traceback" not in err
    rc, _, err = _run_cli(capsys, "--model", str(run_dir), "--samples", "1", "--no-progress")
    assert rc == 2 and "--samples" in err
    rc, _, err = _run_cli(capsys, "--model", str(run_dir), "--max-exposure-fraction", "0", "--no-progress")
    assert rc == 2 and "--max-exposure-fraction" in err
    rc, _, err = _run_cli(capsys, "--model", str(run_dir), "--gate-max-repetitions", "0", "--no-progress")
    assert rc == 2 and "--gate-max-repetitions" in err
