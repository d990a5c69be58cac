"""Checkpoints with torch.distributed.checkpoint (DCP): sharded, resharding on load, atomic.

A checkpoint is a directory `run/checkpoints/step_NNNNNN/` holding the DCP shards of the model and optimizer
(written by every process in parallel) and `trainer.json` (step, scheduler, data position, RNG, model config),
and `run/checkpoints/latest` names the newest complete one. DCP reshards on load, so a checkpoint written by N
processes (DDP or FSDP2) loads on M. `consolidate` turns one into a single-file safetensors model.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict, get_state_dict, set_model_state_dict, set_state_dict,
)

from warble.errors import InputError

TRAINER_FILE = "trainer.json"


@contextlib.contextmanager
def _single_process_ok():
    """DCP warns that it 'assumes a single process' whenever there is no process group: that is the intent here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def rng_state() -> dict[str, str]:
    return {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()}


def set_rng_state(state: dict[str, str]) -> None:
    raw = base64.b64decode(state["torch"])
    torch.set_rng_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))


def save(run_dir: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         trainer: dict[str, Any], *, is_main: bool, keep: int = 2) -> Path:
    """Write checkpoint `step` (all processes call this); returns its directory."""
    root = Path(run_dir) / "checkpoints"
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp_step_{step:06d}"
    if is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    with _single_process_ok():
        dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp))
    _barrier()
    if is_main:
        (tmp / TRAINER_FILE).write_text(json.dumps({**trainer, "step": step}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)  # complete checkpoints only ever appear under their final name
        (root / "latest.tmp").write_text(final.name)
        (root / "latest.tmp").replace(root / "latest")
        steps = sorted(root.glob("step_*"), key=lambda p: int(p.name[len("step_"):]))  # numeric: step_1000000
        for old in steps[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(".tmp_step_*"):  # left by a run killed while saving
            shutil.rmtree(stale, ignore_errors=True)
    _barrier()
    return final


def latest(run_dir: Path) -> Path | None:
    pointer = Path(run_dir) / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / TRAINER_FILE).exists() else None


def resolve(path: str | Path) -> Path:
    """A checkpoint directory from a run dir (its latest checkpoint) or a checkpoint dir."""
    p = Path(path)
    if (p / TRAINER_FILE).exists():
        return p
    ckpt = latest(p)
    if ckpt is None:
        raise InputError(f"{p} holds no complete checkpoint (no checkpoints/latest or {TRAINER_FILE})")
    return ckpt


def trainer_state(ckpt: Path) -> dict[str, Any]:
    return json.loads((ckpt / TRAINER_FILE).read_text())


def check_model_config(ckpt: Path, model_config: dict[str, Any]) -> None:
    """Refuse, before loading anything, a checkpoint of another architecture."""
    saved = trainer_state(ckpt).get("model_config", {})
    shape_keys = ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "qk_norm", "tie_embeddings")
    diff = {k: (saved.get(k), model_config.get(k)) for k in shape_keys if saved.get(k) != model_config.get(k)}
    if diff:
        pretty = ", ".join(f"{k}: checkpoint {a} vs this run {b}" for k, (a, b) in diff.items())
        raise InputError(f"checkpoint {ckpt} is of another architecture ({pretty})")


def load(ckpt: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Load model (and optimizer) state in place, resharding to this run's layout; returns trainer.json."""
    if optimizer is None:
        state = {"model": get_model_state_dict(model)}
        with _single_process_ok():
            dcp.load(state, checkpoint_id=str(ckpt))
        set_model_state_dict(model, state["model"])
    else:
        model_sd, optim_sd = get_state_dict(model, optimizer)
        state = {"model": model_sd, "optim": optim_sd}
        with _single_process_ok():
            dcp.load(state, checkpoint_id=str(ckpt))
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    return trainer_state(ckpt)


def save_safetensors(state_dict: dict[str, torch.Tensor], out_file: Path, metadata: dict[str, str]) -> Path:
    """Write weights to one safetensors file atomically, each tied tensor once (safetensors refuses shared
    tensors; the model config says which weights are tied)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in state_dict.items():
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        tensors[name] = t.detach().contiguous().cpu()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt", **metadata})
    tmp.replace(out_file)
    return out_file


def consolidate(ckpt: Path, model: torch.nn.Module, out_file: Path) -> Path:
    """One safetensors file of a checkpoint's model weights (single process; model built from the run config)."""
    load(ckpt, model, None)
    return save_safetensors(model.state_dict(), out_file, {"warble.step": str(trainer_state(ckpt)["step"])})
