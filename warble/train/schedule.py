"""Learning-rate schedules: a multiplier on each param group's base lr, as a pure function of the step.

Being a pure function of (step, total_steps) makes the schedule trivially resumable: LambdaLR only has to restore
its step counter. Steps are 0-based; the training loop calls scheduler.step() after each optimizer.step().
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from warble.errors import ConfigError


@dataclass
class ScheduleConfig:
    kind: str = "cosine"  # "cosine" | "wsd" (warmup-stable-decay) | "constant"
    warmup_steps: float = 100  # steps; a value in (0, 1) is a fraction of total_steps
    min_lr_ratio: float = 0.1  # final lr / peak lr
    decay_fraction: float = 0.2  # WSD: share of total steps spent in the final decay
    decay_shape: str = "linear"  # WSD decay: "linear" or "sqrt" (1 - sqrt, Haegele et al. 2024)

    def __post_init__(self):
        if self.kind not in ("cosine", "wsd", "constant"):
            raise ConfigError(f"schedule must be 'cosine', 'wsd' or 'constant', got {self.kind!r}")
        if self.decay_shape not in ("linear", "sqrt"):
            raise ConfigError(f"decay_shape must be 'linear' or 'sqrt', got {self.decay_shape!r}")
        if self.warmup_steps < 0 or not 0 <= self.min_lr_ratio <= 1 or not 0 <= self.decay_fraction <= 1:
            raise ConfigError("need warmup_steps >= 0, 0 <= min_lr_ratio <= 1 and 0 <= decay_fraction <= 1")


def lr_factor(step: int, total_steps: int, cfg: ScheduleConfig) -> float:
    """Multiplier for 0-based `step`: linear warmup to 1, then cosine / stable+decay / constant.

    Warmup is (step + 1) / warmup, so step 0 already moves (no wasted step) and the last warmup step is at 1; it is
    clipped to the run, so a warmup longer than the run just ramps up to the end. The decay reaches exactly
    min_lr_ratio at the last step (total_steps - 1) and stays there after it.
    """
    if total_steps < 1:
        raise ConfigError(f"total_steps must be >= 1, got {total_steps}")
    ws = cfg.warmup_steps
    warmup = min(round(ws * total_steps) if ws < 1 else int(ws), total_steps)
    if step < warmup:
        return (step + 1) / warmup
    if cfg.kind == "constant":
        return 1.0
    start = warmup if cfg.kind == "cosine" else max(warmup, total_steps - round(cfg.decay_fraction * total_steps))
    if step < start:  # WSD stable phase
        return 1.0
    progress = min(1.0, (step + 1 - start) / max(1, total_steps - start))
    if cfg.kind == "cosine":
        shape = 0.5 * (1 + math.cos(math.pi * progress))
    else:
        shape = 1 - (math.sqrt(progress) if cfg.decay_shape == "sqrt" else progress)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * shape


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, cfg: ScheduleConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over every param group (each keeps its own base lr, e.g. Muon's and AdamW's).

    LambdaLR evaluates step 0 on construction, so a bad total_steps fails here, not mid-run.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
