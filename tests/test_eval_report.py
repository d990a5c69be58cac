"""`warble report`: the report card of a run, from what the run directory and its eval results hold."""

import json
import shutil

import pytest

from warble.cli import main


@pytest.fixture()
def run_copy(run_dir, tmp_path):
    run = tmp_path / "run"
    # without what other tests leave in the shared run (their eval results, caches)
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("checkpoints", "eval", "cache", "report.*"))
    return run


def test_report_without_evaluations_lists_what_to_run(run_copy, tokens_dir, capsys):
    assert main(["report", str(run_copy), "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "report.md" in out and "report.html" in out
    md = (run_copy / "report.md").read_text()
    for section in ("Tokenizer", "Model and compute", "Language modelling", "Safety and privacy gates", "Samples",
                    "Not in this report"):
        assert section in md
    assert "warble eval lm --model" in md and "No safety gate has been checked yet" in md
    assert "![loss curve](loss.png)" in md and (run_copy / "loss.png").is_file()
    assert md.count("| lang=") == 2  # two samples
    html = (run_copy / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and '<img alt="loss curve" src="loss.png"' in html


def test_report_renders_eval_results_and_gates(run_copy, corpus_dir, capsys):
    ev = run_copy / "eval"
    ev.mkdir()
    (ev / "lm.json").write_text(json.dumps({
        "loss": 5.25, "perplexity": 190.57, "bpb": 1.875, "tokens": 12000, "posts": 400,
        "by_lang": {"en": {"posts": 300, "loss": 5.0, "bpb": 1.8}, "ja": {"posts": 100, "loss": 6.0, "bpb": 2.1}},
        "by_time": {"2024-01": {"posts": 200, "loss": 5.1, "bpb": 1.85}, "2024-02": {"posts": 200, "loss": 5.4,
                                                                                      "bpb": 1.9}}}))
    (ev / "tweeteval.json").write_text(json.dumps({
        "protocol": "probe", "overall": 41.25, "overall_note": "mean over 2 of the 2 tasks asked for",
        "tasks": {"irony": {"score": 50.0, "metric": "f1_ironic", "split": "test"},
                  "sentiment": {"score": None, "metric": "macro_recall", "split": None,
                                "note": "no test split: not scored"}},
        "baselines": {"overall": {"SVM": 53.5, "RoBERTa-base": 61.3}, "note": "published"}}))
    (ev / "memorization.json").write_text(json.dumps({
        "canaries": {"1": {"canaries": 2, "exposure_mean": 1.5, "exposure_max": 2.0, "log2_space": 19.93,
                           "extracted": 0.0},
                     "100": {"canaries": 2, "exposure_mean": 9.0, "exposure_max": 12.5, "log2_space": 19.93,
                             "extracted": 0.5}},
        "extraction": {"prefix_tokens": 8, "suffix_tokens": 8, "train": {"posts": 200, "exact": 8, "rate": 0.04},
                       "validation": {"posts": 200, "exact": 3, "rate": 0.015}},
        "pii": {"samples": 100, "with_email_or_phone": 1, "rate": 0.01},
        "quality": {"samples": 100, "distinct_1": 0.37, "distinct_2": 0.7, "self_bleu": 0.28,
                    "novelty": {"4": 0.46}, "copied": 0.12},
        "gate": {"passed": False, "reason": "canary exposure 12.5 > 10"}}))
    assert main(["report", str(run_copy), "--samples", "0", "--corpus", str(corpus_dir), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["gates"] == {"memorization": {"passed": False, "reason": "canary exposure 12.5 > 10"}}
    assert facts["corpus"]["kept"] > 0 and facts["compute"]["params"] > 0
    md = (run_copy / "report.md").read_text()
    assert "Gates: **FAIL** (memorization)" in md and "| memorization | **FAIL** | canary exposure 12.5 > 10 |" in md
    assert "perplexity 190.57" in md and "| ja | 100 | 6.000 | 2.100 |" in md
    assert "| irony | f1_ironic | test | 50.0 |" in md and "SVM 53.5" in md and "Overall **41.2**" in md
    assert "| sentiment | macro_recall | - | - | no test split: not scored |" in md
    assert "| 100x | 2 | 9.00 | 12.50 | 19.93 | 50.0% |" in md and "| train | 200 | 8 | 4.0% |" in md
    assert "1 of 100 unconditioned generations" in md and "novelty of 4-grams 0.460" in md and "Not in this report" not in md and "Samples" not in md
    assert (run_copy / "tweeteval.png").is_file() and (run_copy / "lm_by_time.png").is_file()
    assert '<strong class="fail">FAIL</strong>' in (run_copy / "report.html").read_text()


def test_report_elsewhere_points_images_back_at_the_run(run_copy, tmp_path):
    assert main(["report", str(run_copy), "--samples", "0", "--out", str(tmp_path / "site"), "--no-html"]) == 0
    md = (tmp_path / "site" / "report.md").read_text()
    assert "![loss curve](../run/loss.png)" in md and not (tmp_path / "site" / "report.html").exists()


def test_report_errors(tmp_path, run_copy, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a Warble run directory" in capsys.readouterr().err
    assert main(["report", str(run_copy), "--corpus", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert main(["report", str(run_copy), "--samples", "-1"]) == 2
