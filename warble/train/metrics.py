"""What a training run reports: console progress, metrics.jsonl, TensorBoard, a loss curve, and MFU.

Only the main process writes. MFU is measured against this machine's peak matmul FLOP/s, which is measured
(not looked up) per device, dtype and thread count, the best measurement cached, so CPU and GPU numbers mean the same
thing.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

CACHE = Path(os.environ.get("WARBLE_CACHE", Path.home() / ".cache" / "warble"))


def peak_flops(device: torch.device, dtype: torch.dtype, seconds: float = 0.5) -> float:
    """Peak dense matmul FLOP/s of `device` in `dtype`, measured with square matmuls.

    The best value ever measured is cached per device, dtype and thread count. A measurement on a busy machine can
    only come out low (a cached 2-thread bf16 peak of 436 GFLOP/s, taken while tests ran, against 994 idle once
    made MFU read 110%), so every call measures again briefly and keeps the larger of the two."""
    key = f"{device.type}:{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}:{dtype}:" \
          f"{torch.get_num_threads()}"
    cache_file = CACHE / "peak_flops.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):  # missing, or written by an older, interrupted run
        cache = {}
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    deadline = time.perf_counter() + (min(seconds, 0.1) if key in cache else seconds)
    while time.perf_counter() < deadline:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0))
    if best <= cache.get(key, 0.0):
        return cache[key]
    cache[key] = best
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")  # several processes may measure at once
    tmp.write_text(json.dumps(cache, indent=1))
    os.replace(tmp, cache_file)
    return best


class Reporter:
    """Console lines, metrics.jsonl and (if installed) TensorBoard; no-ops on non-main processes."""

    def __init__(self, run_dir: Path, enabled: bool, total_steps: int, start_step: int):
        self.enabled = enabled
        self.total = total_steps
        self.start_step = start_step
        self.t0 = time.perf_counter()
        self.file = None
        if enabled:
            path = run_dir / "metrics.jsonl"
            if path.exists():  # a resumed run repeats the steps after its checkpoint: drop their old rows
                rows = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= start_step]
                path.write_text("".join(r + "\n" for r in rows))
            self.file = open(path, "a")
        self.tb = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:  # TensorBoard is optional: pip install 'warble[tensorboard]'
                pass

    def log(self, step: int, **values: Any) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, step)

    def progress(self, step: int, loss: float, lr: float, tok_s: float, mfu: float) -> None:
        if not self.enabled:
            return
        done = step - self.start_step
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(done, 1) * (self.total - step)
        print(f"step {step:>6}/{self.total} | loss {loss:.4f} | lr {lr:.2e} | {tok_s:,.0f} tok/s | "
              f"MFU {100 * mfu:.1f}% | ETA {_hms(eta)}", file=sys.stderr, flush=True)

    def say(self, msg: str) -> None:
        if self.enabled:
            print(msg, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def plot_loss(metrics_file: Path, out_png: Path) -> Path | None:
    """Training and validation loss against step, from metrics.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    if not train:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot(*zip(*train), label="train loss", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return out_png
