"""Smoke test of benchmarks/train_throughput.py: tiny settings, in a subprocess, JSON shape and sanity only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("transformers")

SCRIPT = ROOT / "benchmarks" / "train_throughput.py"
VARIANTS = ("warble", "hf_padded", "hf_packed", "hf_packed_docmask")


def _numbers(d, path=""):
    """(path, value) of every number in a nested dict, booleans left out."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{path}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield f"{path}{k}", v


@pytest.mark.timeout(120)
def test_train_throughput_smoke(tmp_path):
    env = {**os.environ, "WARBLE_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, str(SCRIPT), "--preset", "test", "--steps", "2", "--warmup-steps", "1", "--seq-len", "64",
         "--batch", "2", "--posts", "1500", "--vocab-size", "1024", "--device", "cpu", "--json"],
        capture_output=True, text=True, timeout=110, cwd=tmp_path, env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)  # stdout is exactly one JSON object; progress goes to stderr
    assert "step 3/3" in p.stderr
    for key in ("warble_tokens_per_s", "hf_padded_tokens_per_s", "hf_packed_tokens_per_s", "mfu",
                "ratio_warble_vs_hf_padded", "ratio_warble_vs_hf_packed", "peak_flops", "flops_per_token"):
        assert key in out, key
    assert set(out["variants"]) == set(VARIANTS)
    assert set(out["targets"]) == {"warble_vs_hf_padded", "warble_vs_hf_packed"}
    assert isinstance(out["targets_met"], bool)
    bad = [(k, v) for k, v in _numbers(out) if not (v > 0 and v == v and v != float("inf"))]
    assert not bad, bad
    v = out["variants"]
    # Every variant trains on the same target tokens per step.
    assert len({v[name]["useful_tokens_per_step"] for name in VARIANTS}) == 1
    assert v["hf_padded"]["raw_tokens_per_step"] >= v["hf_padded"]["useful_tokens_per_step"]
    # Same weights, same posts: the padded and the per-post-masked packed layouts compute the same first loss.
    for name in ("hf_padded", "hf_packed_docmask"):
        assert abs(v[name]["loss_first"] - v["warble"]["loss_first"]) < 1e-3, name
    assert out["ratio_warble_vs_hf_padded"] == pytest.approx(
        out["warble_tokens_per_s"] / out["hf_padded_tokens_per_s"])


@pytest.mark.timeout(180)
def test_generate_benchmark_smoke(run_dir, tmp_path):
    """benchmarks/generate.py on the small run: every side in its own process, one JSON object, sane numbers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--model", str(run_dir), "--prompts", "6",
         "--new-tokens", "4", "--repeats", "1", "--score-texts", "6", "--dtype", "fp32", "--json"],
        capture_output=True, text=True, timeout=170, cwd=tmp_path, env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    for key in ("warble_tokens_per_s_b32", "hf_tokens_per_s_b32", "warble_tokens_per_s_b1", "hf_tokens_per_s_b1",
                "ratio_b32", "warble_scored_texts_per_s", "warble_embeddings_per_s", "warble_ttft_ms_b1"):
        assert out[key] > 0, key
    assert "hf_default_tokens_per_s_b32" not in out  # fp32 on both sides: no separate default run
    assert out["ratio_b32"] == pytest.approx(out["warble_tokens_per_s_b32"] / out["hf_tokens_per_s_b32"])
    # same fp32 weights and token ids on both sides: greedy decoding and log-likelihoods agree
    assert out["greedy_identical_hf_b32"] == "6/6"
    assert out["score_max_abs_diff_hf"] < 1e-3
    assert isinstance(out["target_met_b32"], bool)
