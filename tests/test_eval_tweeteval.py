"""`warble eval tweeteval`: the TweetEval layout, its official metrics, the split plan, probe and fine-tune runs."""

import json

import numpy as np
import pytest
import torch

from warble.cli import main
from warble.errors import InputError
from warble.eval.classify import label_word, prompt_for
from warble.eval.probe import CS, fit_probe, run_probe, subsample
from warble.eval.results import load_results
from warble.eval.tweeteval import BASELINES, official_score, overall, plan_splits, read_task, read_tweeteval

torch.set_num_threads(1)

STANCE = {0: "none", 1: "against", 2: "favor"}


# ------------------------------------------------------------------------------------------------ metrics by hand
def test_macro_f1_by_hand():
    # class 0: P 1, R 1/2 -> F1 2/3; class 1: P 2/3, R 1 -> F1 4/5; mean 11/15
    assert official_score("emotion", {0: "a", 1: "b"}, [0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(100 * 11 / 15)
    assert official_score("hate", {0: "a", 1: "b"}, [0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(100 * 11 / 15)


def test_macro_f1_counts_a_label_only_predicted():
    # label 2 is never gold but predicted once: F1 0 for it, as classification_report's macro average has it
    # class 0: P 1, R 1/2 -> 2/3; class 1: P 1, R 1 -> 1; class 2: 0 -> mean 5/9
    assert official_score("emoji", {0: "a", 1: "b", 2: "c"}, [0, 0, 1], [0, 2, 1]) == pytest.approx(100 * 5 / 9)


def test_irony_is_f1_of_the_ironic_class():
    labels = {0: "non_irony", 1: "irony"}
    assert official_score("irony", labels, [0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(80.0)  # P 2/3, R 1
    # the ironic class is found by name, not position
    assert official_score("irony", {0: "irony", 1: "non_irony"}, [0, 0, 1, 1], [0, 1, 1, 1]) == \
        pytest.approx(100 * 2 / 3)


def test_sentiment_is_macro_recall():
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    # recalls: 1/2, 1, 0
    assert official_score("sentiment", labels, [0, 0, 1, 2], [0, 1, 1, 1]) == pytest.approx(50.0)


def test_stance_is_mean_f1_of_against_and_favor():
    # against: P 1, R 1/2 -> 2/3; favor: P 1/2, R 1 -> 2/3; 'none' does not count
    assert official_score("stance", STANCE, [1, 1, 2, 0], [1, 2, 2, 0]) == pytest.approx(100 * 2 / 3)
    assert official_score("stance", STANCE, [0, 0, 1, 2], [1, 1, 1, 2]) == pytest.approx(100 * (1 / 2 + 1) / 2)


def test_overall_is_the_mean_of_scored_tasks():
    assert overall({"a": 50.0, "b": 70.0, "c": None}) == (60.0, ["a", "b"])
    assert overall({"a": None}) == (None, [])
    assert BASELINES == {"SVM": 53.5, "FastText": 58.1, "RoBERTa-base": 61.3, "TimeLMs-2021": 66.2}


# ------------------------------------------------------------------------------------------------ the split plan
def test_never_scores_what_was_fitted_on():
    def fss(available):
        p = plan_splits(available)
        return p.fit, p.select, p.score

    assert fss({"train", "val", "test"}) == ("train", "val", "test")
    assert fss({"train", "val"}) == ("train", "held_out", "val")
    assert fss({"val", "test"}) == ("val", "held_out", "test")
    only_val = plan_splits({"val"})
    assert only_val.score is None and "not scored" in only_val.note
    for available in ({"train", "val", "test"}, {"train", "val"}, {"val", "test"}, {"val"}, {"train"}, {"test"}):
        p = plan_splits(available)
        assert p.score is None or p.score not in (p.fit, p.select)


# ------------------------------------------------------------------------------------------------ reading
def write_split(folder, split, texts, labels):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}_text.txt").write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    (folder / f"{split}_labels.txt").write_text("".join(f"{y}\n" for y in labels))


def tiny_tweeteval(root):
    """A TweetEval-layout folder: irony (train/val), emotion (train/val/test), sentiment (val only, as in
    ../shared/data), stance (one folder per target, mapping above them)."""
    rng = np.random.default_rng(0)
    words = {0: ["great day", "love this", "so happy", "wonderful news"], 1: ["awful day", "hate this", "so sad",
                                                                          "terrible news"],
             2: ["the weather", "a meeting", "some lunch", "the train"]}

    def make(n, k):
        ys = rng.integers(0, k, n)
        return [f"{words[y][rng.integers(4)]} number {i} #tag" for i, y in enumerate(ys)], ys.tolist()

    (root / "irony").mkdir(parents=True)
    (root / "irony" / "mapping.txt").write_text("0\tnon_irony\n1\tirony")  # no final newline, as in the real files
    for split, n in (("train", 40), ("val", 16)):
        write_split(root / "irony", split, *make(n, 2))
    (root / "emotion").mkdir()
    (root / "emotion" / "mapping.txt").write_text("0\tanger\n1\tjoy\n2\toptimism\n")
    for split, n in (("train", 36), ("val", 12), ("test", 12)):
        write_split(root / "emotion", split, *make(n, 3))
    (root / "sentiment").mkdir()
    (root / "sentiment" / "mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    write_split(root / "sentiment", "val", *make(20, 3))
    (root / "stance").mkdir()
    (root / "stance" / "mapping.txt").write_text("0\tnone\n1\tagainst\n2\tfavor")
    for target in ("abortion", "climate"):
        for split, n in (("train", 24), ("val", 9)):
            write_split(root / "stance" / target, split, *make(n, 3))
    return root


@pytest.fixture
def tiny(tmp_path):
    return tiny_tweeteval(tmp_path / "tweeteval")


def test_reads_the_layout(tiny):
    data = read_tweeteval(tiny, ["irony", "sentiment", "stance"])
    assert data["irony"].labels == {0: "non_irony", 1: "irony"}
    assert len(data["irony"].parts[""]["train"].texts) == 40
    assert data["sentiment"].split_names() == {"val"}
    assert sorted(data["stance"].parts) == ["abortion", "climate"]
    assert data["stance"].labels == STANCE
    assert data["stance"].parts["climate"]["val"].labels.dtype == np.int64


def test_lines_split_on_newline_only(tmp_path):
    write_split(tmp_path / "irony", "train", ["a tweet\u2028with a line separator", "tab\there", ""], [0, 1, 0])
    (tmp_path / "irony" / "train_labels.txt").write_text("0\r\n1\r\n0\r\n")
    (tmp_path / "irony" / "mapping.txt").write_text("0\tnon_irony\n1\tirony\n")
    split = read_task(tmp_path, "irony").parts[""]["train"]
    assert split.texts == ["a tweet\u2028with a line separator", "tab\there", ""]
    assert split.labels.tolist() == [0, 1, 0]


@pytest.mark.parametrize("fault, message", [
    ("bad_label", "train_labels.txt:2: expected an integer"),
    ("unknown_label", "label 7 is not in mapping.txt"),
    ("count", "has 40 lines, train_labels.txt 39"),
    ("no_labels_file", "train_labels.txt: missing"),
    ("no_mapping", "mapping.txt: no such file"),
    ("no_task", "no such task folder"),
])
def test_malformed_folders_are_refused(tiny, fault, message):
    labels = tiny / "irony" / "train_labels.txt"
    lines = labels.read_text().splitlines()
    if fault == "bad_label":
        labels.write_text("\n".join([lines[0], "ironic", *lines[2:]]) + "\n")
    elif fault == "unknown_label":
        labels.write_text("\n".join(["7", *lines[1:]]) + "\n")
    elif fault == "count":
        labels.write_text("\n".join(lines[:-1]) + "\n")
    elif fault == "no_labels_file":
        labels.unlink()
    elif fault == "no_mapping":
        (tiny / "irony" / "mapping.txt").unlink()
    elif fault == "no_task":
        import shutil
        shutil.rmtree(tiny / "irony")
    with pytest.raises(InputError, match=message):
        read_tweeteval(tiny, ["irony"])


def test_reads_the_shared_data(shared):
    data = read_tweeteval(shared / "tweeteval")
    assert len(data["emoji"].parts[""]["train"].texts) == 45000
    assert len(data["emoji"].labels) == 20
    assert data["sentiment"].split_names() == {"val"}
    assert sorted(data["stance"].parts) == ["abortion", "atheism", "climate", "feminist", "hillary"]
    for task in data.values():
        for splits in task.parts.values():
            for split in splits.values():
                assert len(split.texts) == len(split.labels)


# ------------------------------------------------------------------------------------------------ the probe
def test_fit_probe_learns_a_separable_task():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    X = rng.normal(size=(200, 8)) + 3 * y[:, None]
    model, C = fit_probe("irony", {0: "non_irony", 1: "irony"}, X, y)
    assert C in CS
    y_new = rng.integers(0, 2, 100)
    assert official_score("irony", {0: "non_irony", 1: "irony"}, y_new,
                          model.predict(rng.normal(size=(100, 8)) + 3 * y_new[:, None])) > 95


def test_fit_context_cuts_long_texts(run_dir):
    from warble.eval.probe import fit_context
    from warble.tokenizer import Tokenizer

    tok = Tokenizer.load(run_dir / "tokenizer")
    long = "so many words here " * 100 + "\U0001f600" * 50
    short, cut = fit_context(tok, ["a short tweet", long], 40)
    assert short == "a short tweet"
    assert 30 <= len(tok.encode(cut)) <= 40 and long.startswith(cut[:50])


def test_subsample_is_fixed_and_capped():
    assert subsample(10, None, 0).tolist() == list(range(10))
    a = subsample(1000, 50, 3)
    assert len(a) == 50 and len(set(a.tolist())) == 50 and a.tolist() == sorted(a.tolist())
    assert a.tolist() == subsample(1000, 50, 3).tolist()


def test_probe_end_to_end(run_dir, tiny):
    out = run_probe(run_dir, tiny, ["irony", "emotion", "sentiment", "stance"], threads=1, device="cpu",
                    progress=False)
    t = out["tasks"]
    assert t["irony"]["split"] == "val" and t["irony"]["fitted_on"] == "train"
    assert (t["irony"]["n_train"], t["irony"]["n_eval"]) == (40, 16)
    assert t["emotion"]["split"] == "test" and t["emotion"]["fitted_on"] == "train+val"
    assert t["emotion"]["n_eval"] == 12
    assert t["sentiment"]["score"] is None and "validation split is the training split" in t["sentiment"]["note"]
    assert t["stance"]["n_eval"] == 18 and set(t["stance"]["by_target"]) == {"abortion", "climate"}
    assert set(t["stance"]["C"]) == {"abortion", "climate"}
    for name in ("irony", "emotion", "stance"):
        assert 0 <= t[name]["score"] <= 100
    assert out["overall_tasks"] == ["irony", "emotion", "stance"]
    assert out["overall"] == pytest.approx(np.mean([t[n]["score"] for n in out["overall_tasks"]]), abs=0.01)
    assert "sentiment not scored" in out["overall_note"]
    assert {"load", "irony", "total"} <= set(out["seconds"])


def test_probe_subsamples_training_posts(run_dir, tiny):
    out = run_probe(run_dir, tiny, ["irony"], max_train=10, threads=1, device="cpu", progress=False)
    assert out["tasks"]["irony"]["n_train"] == 10
    assert "subsampled to 10 of 40" in out["tasks"]["irony"]["note"]


# ------------------------------------------------------------------------------------------------ fine-tuning
def test_label_words_and_prompts():
    assert label_word("_red_heart_") == "red heart"
    assert label_word("not-offensive") == "not offensive"
    assert prompt_for("irony", "", "so fun") == "so fun\nirony:"
    assert prompt_for("stance", "climate", "so fun") == "so fun\nstance on climate:"


def test_cli_finetune_end_to_end(run_dir, tiny, tmp_path, capsys):
    rc = main(["eval", "tweeteval", "--model", str(run_dir), "--data", str(tiny), "--protocol", "finetune",
               "--tasks", "irony,sentiment,stance", "--ft-steps", "2", "--max-eval", "10", "--json", "--no-progress",
               "--threads", "1", "--device", "cpu", "--ft-out", str(tmp_path / "ft")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["protocol"] == "finetune"
    irony = out["tasks"]["irony"]
    assert irony["split"] == "val" and irony["n_eval"] == 10 and "scored on 10 of 16" in irony["note"]
    assert out["tasks"]["sentiment"]["score"] is None
    assert out["tasks"]["stance"]["n_eval"] == 10  # 5 per target
    assert {"pairs", "finetune", "classify", "total"} <= set(out["seconds"])
    assert (tmp_path / "ft" / "model.safetensors").is_file()
    assert out["settings"]["steps"] == 2


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_probe_json(run_dir, tiny, capsys):
    rc = main(["eval", "tweeteval", "--model", str(run_dir), "--data", str(tiny), "--protocol", "probe",
               "--tasks", "irony,sentiment", "--json", "--no-progress", "--threads", "1", "--device", "cpu"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"protocol", "tasks", "overall", "baselines", "seconds"} <= set(out)
    assert set(out["tasks"]) == {"irony", "sentiment"}
    assert {"score", "metric", "split", "n_train", "n_eval", "note"} <= set(out["tasks"]["irony"])
    assert out["tasks"]["irony"]["metric"] == "f1_irony"
    assert load_results(run_dir)["tweeteval"]["overall"] == out["overall"]


def test_cli_table(run_dir, tiny, capsys):
    assert main(["eval", "tweeteval", "--model", str(run_dir), "--data", str(tiny), "--tasks", "irony",
                 "--no-progress", "--threads", "1", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "irony" in text and "TimeLMs-2021 66.2" in text and "seconds:" in text


@pytest.mark.parametrize("case, message", [
    ("no_run", "not a run directory"),
    ("no_data", "no such directory"),
    ("bad_labels", "expected an integer label"),
    ("unknown_task", "unknown task"),
])
def test_cli_errors(case, message, run_dir, tiny, tmp_path, capsys):
    model, data, tasks = str(run_dir), str(tiny), "irony"
    if case == "no_run":
        model = str(tmp_path / "nope")
    elif case == "no_data":
        data = str(tmp_path / "nope")
    elif case == "bad_labels":
        (tiny / "irony" / "val_labels.txt").write_text("zero\n" * 16)
    else:
        tasks = "irony,sarcasm"
    assert main(["eval", "tweeteval", "--model", model, "--data", data, "--tasks", tasks, "--json",
                 "--no-progress", "--device", "cpu"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("warble eval: error:") and message in captured.err
