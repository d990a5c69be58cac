"""Training end to end on CPU: loss falls, exact resume after a kill, DDP == one process, FSDP2 reshards on load.

Multi-process tests launch `torchrun` with the gloo backend, as a user would on a CPU box.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warble.errors import ConfigError, InputError
from warble.train.config import TrainConfig
from warble.train.loop import train
from warble.train.optim import OptimConfig
from warble.train.schedule import ScheduleConfig

WARBLE = str(Path(sys.executable).parent / "warble")
TORCHRUN = str(Path(sys.executable).parent / "torchrun")
SMALL = ["--preset", "test", "--seq-len", "64", "--global-batch", "4", "--eval-every", "0", "--log-every", "1",
         "--threads", "1", "--warmup", "3"]


def _cfg(tokens, **kw) -> TrainConfig:
    base = dict(data=str(tokens), preset="test", seq_len=64, global_batch=4, eval_every=0, log_every=1, threads=1,
                schedule=ScheduleConfig(warmup_steps=3))
    return TrainConfig(**{**base, **kw})


def _losses(run: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _run(args, env=None, timeout=300):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert p.returncode == 0, p.stderr[-4000:]
    return p


def test_loss_falls_and_run_dir_is_complete(tokens_dir, tmp_path):
    run = tmp_path / "run"
    summary = train(_cfg(tokens_dir, steps=40, global_batch=8, eval_every=20, eval_batches=4,
                         optim=OptimConfig(lr=1e-2)), run)
    losses = _losses(run)
    assert losses[40] < losses[1] - 1.0, losses
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in evals] == [20, 40] and all(r["val_bpb"] > 0 for r in evals)
    for name in ("model.safetensors", "model.json", "config.toml", "loss.png", "summary.json", "tokenizer"):
        assert (run / name).exists(), name
    assert summary["steps"] == 40 and summary["val_loss"] == evals[-1]["val_loss"]


def test_resume_after_kill_is_bit_exact(tokens_dir, tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    args = [WARBLE, "train", "--data", tokens_dir, *SMALL, "--steps", "40", "--ckpt-every", "0"]
    _run(args + ["--out", full])
    proc = subprocess.Popen(args + ["--out", killed], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline:
        if (killed / "metrics.jsonl").exists() and len(_losses(killed)) >= 8:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "stopped by signal" in err
    stopped_at = max(_losses(killed))
    assert 8 <= stopped_at < 40
    _run(args + ["--out", killed, "--resume"])
    assert _losses(killed) == _losses(full)  # every step's loss, bit for bit


def test_ddp_two_processes_match_one(tokens_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["train", "--data", tokens_dir, *SMALL, "--steps", "5"]
    _run([WARBLE, *common, "--out", one])
    _run([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "warble", *common, "--out", two,
          "--parallel", "ddp"])
    a, b = _losses(one), _losses(two)
    assert a.keys() == b.keys()
    for step in a:
        assert abs(a[step] - b[step]) < 1e-4 * abs(a[step]), (step, a[step], b[step])


def test_fsdp_two_processes_checkpoint_loads_on_one(tokens_dir, tmp_path):
    run = tmp_path / "fsdp"
    _run([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "warble", "train", "--data", tokens_dir, *SMALL,
          "--steps", "4", "--parallel", "fsdp", "--out", run])
    assert max(_losses(run)) == 4
    _run([WARBLE, "train", "--data", tokens_dir, *SMALL, "--steps", "6", "--out", run, "--resume", "--parallel",
          "none"])
    losses = _losses(run)
    assert max(losses) == 6 and losses[6] < losses[1]
    p = _run([WARBLE, "checkpoint", "consolidate", run, "--out", tmp_path / "w.safetensors"])
    assert str(tmp_path / "w.safetensors") in p.stdout
    from safetensors.torch import load_file

    from warble.model import Transformer, preset

    weights = load_file(tmp_path / "w.safetensors")
    model = Transformer(preset("test", vocab_size=weights["tok_emb.weight"].shape[0], max_seq_len=64))
    model.load_state_dict(weights)  # strict: every weight of the model, nothing else


def test_bad_inputs_stop_before_any_work(tokens_dir, tmp_path):
    with pytest.raises(InputError, match="warble tokenize"):
        train(_cfg(tmp_path / "missing", steps=1), tmp_path / "r0")
    with pytest.raises(ConfigError):
        train(_cfg(tokens_dir, steps=1, global_batch=0), tmp_path / "r1")
    train(_cfg(tokens_dir, steps=2), tmp_path / "r2")
    with pytest.raises(InputError, match="already holds checkpoints"):
        train(_cfg(tokens_dir, steps=3), tmp_path / "r2")
    with pytest.raises(InputError, match="another architecture"):
        train(_cfg(tokens_dir, steps=3, preset="tiny"), tmp_path / "r2", resume=True)
    with pytest.raises(InputError, match="no complete checkpoint"):
        train(_cfg(tokens_dir, steps=3), tmp_path / "r3", resume=True)


def test_cli_bad_model_shape_is_a_clear_error(tokens_dir, tmp_path):
    (tmp_path / "c.toml").write_text("[optim]\nname = 'sgd'\n")
    p = subprocess.run([WARBLE, "train", "--data", tokens_dir, "--out", tmp_path / "r", "--config",
                        tmp_path / "c.toml"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "error" in p.stderr


def test_dry_run_plans_a_70b_run_on_10000_gpus():
    p = _run([WARBLE, "train", "--preset", "70b", "--dry-run", "--nodes", "1250", "--gpus-per-node", "8", "--json"])
    plan = json.loads(p.stdout)
    assert plan["gpus"] == 10_000 and 69e9 < plan["params"] < 72e9
    assert plan["fits"] and plan["memory_per_gpu_gb"]["total"] <= 80
    assert plan["step_seconds_at_mfu"] > 0
    p = _run([WARBLE, "train", "--preset", "8b", "--dry-run", "--nodes", "2", "--seq-len", "4096", "--micro-batch", "2",
              "--global-batch", "1024", "--shard-degree", "16", "--json"])
    plan = json.loads(p.stdout)  # every flag a training run would take shapes the plan
    assert (plan["seq_len"], plan["micro_batch"], plan["tokens_per_step"]) == (4096, 2, 1024 * 4096)
    assert plan["layout"] == "FSDP2 over 16 GPUs"


def test_fsdp_with_accumulation_matches_one_process(tokens_dir, tmp_path):
    """FSDP2 over 2 processes with 2 micro-batches each equals one process at the same global batch: gradients
    must be reduced on the last micro-batch (a flag FSDP2 needs on every micro-step)."""
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["train", "--data", tokens_dir, *SMALL, "--steps", "4"]
    _run([WARBLE, *common, "--out", one])
    _run([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "warble", *common, "--out", two,
          "--parallel", "fsdp", "--micro-batch", "1"])
    a, b = _losses(one), _losses(two)
    assert a.keys() == b.keys() and all(abs(a[s] - b[s]) < 1e-4 * abs(a[s]) for s in a), (a, b)


def test_parallel_modes_need_torchrun(tokens_dir, tmp_path):
    with pytest.raises(ConfigError, match="torchrun"):
        train(_cfg(tokens_dir, steps=1, parallel="fsdp"), tmp_path / "r")
