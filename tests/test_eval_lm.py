"""`warble eval lm` (warble.eval.lm) and the shared result files (warble.eval.results)."""

import json
import math
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from warble.cli import main
from warble.errors import InputError
from warble.eval.lm import evaluate_lm, load_model, pack_rows, prefix_langs, summarize
from warble.eval.results import load_results, save_result
from warble.tokenizer import Tokenizer, tokenize_corpus
from warble.tokenizer.corpus import corpus_files, iter_batches
from warble.tokenizer.shards import TokenShards
from warble.tokenizer.specials import LANGS
from warble.train.data import collate, eval_batches
from warble.train.loop import TokenData

torch.set_num_threads(1)
SEQ_LEN = 128  # the run_dir fixture's


@pytest.fixture(scope="module")
def lm_result(run_dir, tokens_dir, corpus_dir):
    return evaluate_lm(run_dir, tokens_dir, corpus_dir=corpus_dir, progress=False)


def corpus_column(corpus_dir, split, column):
    return [v for path in corpus_files(corpus_dir, split) for b in iter_batches(path, [column])
            for v in b.column(column).to_pylist()]


# ------------------------------------------------------------------------------------------------ results files
def test_save_and_load_results_round_trip(tmp_path):
    path = save_result(tmp_path, "lm", {"loss": 1.5, "by_lang": {"en": {"loss": 1.0}}})
    save_result(tmp_path, "tweeteval", {"overall": 40.0})
    save_result(tmp_path, "lm", {"loss": 1.25})  # replaced, not appended
    assert path == tmp_path / "eval" / "lm.json"
    assert load_results(tmp_path) == {"lm": {"loss": 1.25}, "tweeteval": {"overall": 40.0}}
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["lm.json", "tweeteval.json"]  # no temp files


def test_results_errors(tmp_path):
    assert load_results(tmp_path) == {}
    with pytest.raises(ValueError):
        save_result(tmp_path, "../escape", {})
    with pytest.raises(ValueError):  # NaN is not JSON: refused rather than written
        save_result(tmp_path, "bad", {"loss": float("nan")})
    assert not (tmp_path / "eval" / "bad.json").exists()
    (tmp_path / "eval" / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match="broken.json"):
        load_results(tmp_path)


# ------------------------------------------------------------------------------------------------ scoring
def test_summarize_by_hand():
    s = summarize(np.array([2.0, 4.0]), np.array([2, 3]), np.array([5, 10]))
    assert s["loss"] == pytest.approx(6 / 5)
    assert s["perplexity"] == pytest.approx(math.exp(6 / 5))
    assert s["bpb"] == pytest.approx(6 / (math.log(2) * 15))
    assert (s["tokens"], s["posts"], s["bytes"]) == (5, 2, 15)


def test_pack_rows_is_trainings_packing(tokens_dir):
    shards = TokenShards(tokens_dir, "validation")
    rows = pack_rows(shards.bounds, 16)  # short rows: some posts are cut, as training cuts them
    assert any(sum(ln for _, _, ln in r) == 16 for r in rows)
    mine = collate(shards, [[(s, ln) for _, s, ln in r] for r in rows], 16, shards.meta["pad_id"])
    theirs = list(eval_batches(tokens_dir, "validation", batch_size=len(rows) + 1, seq_len=16))
    assert len(theirs) == 1
    for name in ("tokens", "targets", "doc_ids", "positions"):
        assert torch.equal(getattr(mine, name), getattr(theirs[0], name)), name


def test_agrees_with_trainings_validation_numbers(run_dir, tokens_dir, lm_result):
    """Training's evaluate(): mean loss over eval_batches' targets, bpb through bytes per target."""
    model = load_model(run_dir)
    total, n = 0.0, 0
    with torch.no_grad():
        for batch in eval_batches(tokens_dir, "validation", 8, SEQ_LEN):
            k = int((batch.targets != -100).sum())
            total += float(model(batch.tokens, targets=batch.targets, doc_ids=batch.doc_ids,
                                 positions=batch.positions)) * k
            n += k
    val_loss = total / n
    val_bpb = val_loss / math.log(2) / TokenData(tokens_dir, SEQ_LEN).bytes_per_target
    meta = json.loads((tokens_dir / "meta.json").read_text())["splits"]["validation"]
    assert lm_result["seq_len"] == SEQ_LEN
    assert lm_result["tokens"] == n
    assert lm_result["posts"] == meta["docs"]
    assert lm_result["bytes"] == meta["bytes"]  # post texts recovered from their tokens, byte for byte
    assert lm_result["loss"] == pytest.approx(val_loss, rel=1e-5)
    assert lm_result["bpb"] == pytest.approx(val_bpb, rel=1e-5)
    assert lm_result["perplexity"] == pytest.approx(math.exp(val_loss), rel=1e-5)


def test_slices_partition_the_posts(corpus_dir, lm_result):
    langs = corpus_column(corpus_dir, "validation", "lang")
    assert lm_result["lang_source"] == "corpus"
    assert {k: v["posts"] for k, v in lm_result["by_lang"].items()} == \
        {lang: langs.count(lang) for lang in set(langs)}
    for key in ("by_lang", "by_time"):
        slices = lm_result[key].values()
        assert sum(s["tokens"] for s in slices) == lm_result["tokens"]
        assert sum(s["bytes"] for s in slices) == lm_result["bytes"]
    times = [t for t in corpus_column(corpus_dir, "validation", "created_at") if t is not None]
    assert set(lm_result["by_time"]) >= {t.strftime("%Y-%m") for t in times}
    latest = max(t for t in corpus_column(corpus_dir, "train", "created_at") if t is not None)
    assert datetime.fromisoformat(lm_result["trained_until"]) == latest
    assert lm_result["unavailable"] == {}


def test_posts_after_training_are_summed_apart(run_dir, tokens_dir, corpus_dir, lm_result):
    times = sorted(t for t in corpus_column(corpus_dir, "validation", "created_at") if t is not None)
    cut = times[len(times) // 2]
    out = evaluate_lm(run_dir, tokens_dir, corpus_dir=corpus_dir, trained_until=cut, unit="year", progress=False)
    after = out["after_training"]
    assert after["posts"] == sum(t > cut for t in times)
    assert 0 < after["tokens"] < out["tokens"]
    assert out["loss"] == pytest.approx(lm_result["loss"])  # slicing changes nothing overall


def _forget_corpus(tokens: Path) -> Path:
    """Shards whose corpus is unknown: source.json does not name it."""
    (tokens / "source.json").unlink()
    return tokens


def test_the_corpus_recorded_by_tokenize_gives_the_slices(run_dir, tokens_dir, corpus_dir):
    recorded = evaluate_lm(run_dir, tokens_dir, progress=False)
    given = evaluate_lm(run_dir, tokens_dir, corpus_dir=corpus_dir, progress=False)
    assert recorded["lang_source"] == "corpus" and recorded["by_lang"] == given["by_lang"]
    assert recorded["by_time"] == given["by_time"] and not recorded["unavailable"]


def test_language_from_metadata_prefix(run_dir, tokens_dir, corpus_dir, tmp_path):
    prefixed = tmp_path / "tokens"
    tokenize_corpus(corpus_dir, tokens_dir / "tokenizer", prefixed, workers=1, metadata_prefix=True, progress=False)
    _forget_corpus(prefixed)
    tok = Tokenizer.load(tokens_dir / "tokenizer")
    expected = [lang if lang in LANGS else "und" for lang in corpus_column(corpus_dir, "validation", "lang")]
    assert prefix_langs(TokenShards(prefixed, "validation"), tok) == expected
    out = evaluate_lm(run_dir, prefixed, progress=False)
    assert out["lang_source"] == "metadata prefix"
    assert sum(s["posts"] for s in out["by_lang"].values()) == out["posts"]
    assert "by_time" in out["unavailable"] and out["by_time"] == {}


def test_without_corpus_or_prefix_slices_are_unavailable(run_dir, tokens_dir, tmp_path):
    bare = _forget_corpus(Path(shutil.copytree(tokens_dir, tmp_path / "tokens")))
    out = evaluate_lm(run_dir, bare, progress=False)
    assert set(out["unavailable"]) == {"by_lang", "by_time"}
    assert out["by_lang"] == {} and out["after_training"] is None


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_json_and_saved_result(run_dir, tokens_dir, corpus_dir, capsys):
    rc = main(["eval", "lm", "--model", str(run_dir), "--data", str(tokens_dir), "--corpus", str(corpus_dir),
               "--json", "--no-progress", "--threads", "1", "--device", "cpu"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"loss", "perplexity", "bpb", "tokens", "posts", "by_lang", "by_time", "after_training",
            "trained_until", "seconds"} <= set(out)
    assert load_results(run_dir)["lm"]["loss"] == out["loss"]


def test_cli_table_defaults_to_the_runs_training_data(run_dir, capsys):
    assert main(["eval", "lm", "--model", str(run_dir), "--no-progress", "--threads", "1", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    # the run's config names its token shards, and they name their corpus: every slice is there
    assert "all" in text and "(* = a slice wholly after the training data)" in text and "unavailable" not in text


@pytest.mark.parametrize("case", ["no_run", "no_data", "not_tokens", "wrong_corpus", "bad_time"])
def test_cli_errors(case, run_dir, tokens_dir, corpus_dir, tmp_path, capsys):
    args = {"no_run": ["--model", str(tmp_path / "nope"), "--data", str(tokens_dir)],
            "no_data": ["--model", str(run_dir), "--data", str(tmp_path / "nope")],
            "not_tokens": ["--model", str(run_dir), "--data", str(corpus_dir)],
            "wrong_corpus": ["--model", str(run_dir), "--data", str(tokens_dir), "--corpus", str(tmp_path)],
            "bad_time": ["--model", str(run_dir), "--data", str(tokens_dir), "--corpus", str(corpus_dir),
                         "--trained-until", "yesterday"]}[case]
    assert main(["eval", "lm", *args, "--json", "--no-progress", "--device", "cpu"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("warble eval: error:") or captured.err.startswith("warble eval lm: error:")
    assert "\n" == captured.err[-1] and captured.err.count("\n") == 1


def test_corpus_with_other_row_counts_is_refused(run_dir, tokens_dir, corpus_dir, tmp_path):
    import pyarrow.parquet as pq
    other = tmp_path / "other"
    shutil.copytree(corpus_dir, other)
    path = next(p for p in corpus_files(other, "validation") if pq.read_metadata(p).num_rows)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)  # one post fewer than its shard
    with pytest.raises(InputError, match="posts, its token shard"):
        evaluate_lm(run_dir, tokens_dir, corpus_dir=other, progress=False)
