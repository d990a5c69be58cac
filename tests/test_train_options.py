"""Training options that change how a step is computed, not what it computes: accumulation, activation
checkpointing, bf16, Muon, WSD, torch.compile (one smoke test: compiling is slow on CPU)."""

import json
import math
from pathlib import Path

import pytest

from warble.train.config import TrainConfig
from warble.train.loop import train
from warble.train.optim import OptimConfig
from warble.train.schedule import ScheduleConfig


def _cfg(tokens, **kw) -> TrainConfig:
    base = dict(data=str(tokens), preset="test", seq_len=64, global_batch=4, eval_every=0, log_every=1, threads=1,
                steps=4, ckpt_every=0, schedule=ScheduleConfig(warmup_steps=1))
    return TrainConfig(**{**base, **kw})


def _losses(run: Path) -> list[float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def _close(a, b, tol):
    assert len(a) == len(b) and all(abs(x - y) <= tol * abs(x) for x, y in zip(a, b)), (a, b)


def test_gradient_accumulation_equals_one_big_batch(tokens_dir, tmp_path):
    train(_cfg(tokens_dir), tmp_path / "one")
    train(_cfg(tokens_dir, micro_batch=1), tmp_path / "acc")
    _close(_losses(tmp_path / "one"), _losses(tmp_path / "acc"), 1e-5)


def test_activation_checkpointing_changes_nothing_but_memory(tokens_dir, tmp_path):
    train(_cfg(tokens_dir), tmp_path / "plain")
    train(_cfg(tokens_dir, activation_checkpointing=True), tmp_path / "ac")
    _close(_losses(tmp_path / "plain"), _losses(tmp_path / "ac"), 1e-6)


def test_bf16_muon_and_wsd_train(tokens_dir, tmp_path):
    losses = {}
    for name, kw in {"bf16": dict(dtype="bf16"), "muon": dict(optim=OptimConfig(name="muon")),
                     "wsd": dict(schedule=ScheduleConfig(kind="wsd", warmup_steps=1))}.items():
        train(_cfg(tokens_dir, steps=8, **kw), tmp_path / name)
        losses[name] = _losses(tmp_path / name)
        assert all(math.isfinite(x) for x in losses[name]) and losses[name][-1] < losses[name][0], (name, losses)


def test_no_doc_mask_is_a_different_model(tokens_dir, tmp_path):
    train(_cfg(tokens_dir, steps=2), tmp_path / "masked")
    train(_cfg(tokens_dir, steps=2, doc_mask=False), tmp_path / "open")
    assert _losses(tmp_path / "masked")[0] != _losses(tmp_path / "open")[0]


@pytest.mark.slow
def test_torch_compile_smoke(tokens_dir, tmp_path):
    train(_cfg(tokens_dir, steps=2, compile=True), tmp_path / "compiled")
    train(_cfg(tokens_dir, steps=2), tmp_path / "eager")
    _close(_losses(tmp_path / "compiled"), _losses(tmp_path / "eager"), 1e-4)


def test_peak_flops_keeps_the_best_measurement(tmp_path, monkeypatch):
    """A peak measured on a busy machine comes out low and once made MFU read over 100%: a later measurement raises
    the cached value, and a slower one never lowers it."""
    import json

    import torch

    from warble.train import metrics

    monkeypatch.setattr(metrics, "CACHE", tmp_path)
    cpu = torch.device("cpu")
    measured = metrics.peak_flops(cpu, torch.float32, seconds=0.05)
    key, = json.loads((tmp_path / "peak_flops.json").read_text())
    assert measured > 1e8
    (tmp_path / "peak_flops.json").write_text(json.dumps({key: 1.0}))  # as if measured under heavy load
    assert metrics.peak_flops(cpu, torch.float32) == pytest.approx(measured, rel=0.9)
    assert json.loads((tmp_path / "peak_flops.json").read_text())[key] > 1e8
    (tmp_path / "peak_flops.json").write_text(json.dumps({key: 1e30}))  # better than anything measurable here
    assert metrics.peak_flops(cpu, torch.float32) == 1e30
