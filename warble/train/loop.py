"""The training loop, one for pretraining (`warble train`) and fine-tuning (`warble finetune`), the same for one CPU
process and for torchrun across GPU nodes.

    build model -> [transform it (LoRA)] -> parallelize (none | DDP | FSDP2) -> [starting weights] -> optimizer,
    schedule, data loader -> [resume from the latest DCP checkpoint] -> steps: forward/backward over micro-batches,
    clip, step -> log, evaluate, checkpoint (every N steps, at the end, and on SIGTERM/SIGINT) -> final model + loss
    curve

What differs between pretraining and fine-tuning is passed in, so both get the same distributed paths,
checkpoints, exact resume and run directory: the model config, a `DataSource` (packed posts from token shards, or
prompt/completion pairs with loss on the completions only), the starting weights (`init`), and an optional
`ModelTransform` (LoRA adapters, merged back into plain weights for model.safetensors).

Determinism: on CPU in fp32 the run is bit-reproducible, and a resumed run gives the same losses as an
uninterrupted one. Loss normalisation is by the number of target tokens in the whole global batch, so DDP over
w processes computes the same gradient as one process at the same global batch.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn

from warble.config import save_toml
from warble.errors import ConfigError, InputError
from warble.model import ModelConfig, Transformer, preset
from warble.tokenizer.shards import load_meta
from warble.train import checkpoint as ckpt
from warble.train.config import TrainConfig
from warble.train.data import Batch, PackedLoader, eval_batches
from warble.train.distributed import Dist, parallelize, resolve_parallel, setup, teardown, unwrap
from warble.train.metrics import Reporter, peak_flops, plot_loss
from warble.train.optim import build_optimizer
from warble.train.schedule import build_scheduler

MODEL_FILE = "model.safetensors"
MODEL_CONFIG = "model.json"
DEFAULT_PRESET = "tiny"  # the model `warble train` builds without --preset or --init-from


class Loader(Protocol):
    """This rank's share of each global batch, forever; its state resumes the stream exactly."""

    def __next__(self) -> Batch: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class DataSource(Protocol):
    """What a run trains and evaluates on, already fitted to the run's seq_len."""

    tokenizer_dir: Path | None  # copied into the run dir, so a run is usable on its own
    bytes_per_target: float | None  # UTF-8 bytes of validation text per predicted token (bits per byte); None:
    # no validation data
    summary: dict[str, Any]  # what the data holds, for the log and summary.json

    def loader(self, global_batch: int, rank: int, world: int, seed: int) -> Loader: ...
    def eval_batches(self, batch_size: int) -> Iterator[Batch]: ...


class ModelTransform(Protocol):
    """Changes the model before it is parallelized, and undoes the change for the exported weights (LoRA).

    Parameters it adds get their values from the run's `init` or from a checkpoint, never from `init_weights`.
    """

    def apply(self, model: Transformer) -> Transformer: ...
    def export(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def describe(self) -> dict: ...  # JSON, saved in checkpoints: a resume must use the same transform


class TokenData:
    """Pretraining data: posts packed from token shards (`warble tokenize`)."""

    def __init__(self, tokens_dir: str | Path, seq_len: int):
        self.dir, self.seq_len = Path(tokens_dir), seq_len
        self.meta = read_tokens_meta(tokens_dir)
        self.vocab_size = self.meta["vocab_size"]
        self.tokenizer_dir = self.dir / "tokenizer"
        self.summary: dict[str, Any] = {}
        val = self.meta["splits"].get("validation") or {}
        # Bytes per predicted token from the split's totals (each post of n tokens has n - 1 targets), so a capped
        # evaluation still gives bits per byte.
        self.bytes_per_target = val["bytes"] / max(1, val["tokens"] - val["docs"]) if val.get("tokens") else None

    def loader(self, global_batch: int, rank: int, world: int, seed: int) -> PackedLoader:
        return PackedLoader(self.dir, "train", global_batch=global_batch, seq_len=self.seq_len, rank=rank,
                            world_size=world, seed=seed)

    def eval_batches(self, batch_size: int) -> Iterator[Batch]:
        return eval_batches(self.dir, "validation", batch_size, self.seq_len)


class _StopFlag:
    """SIGTERM/SIGINT ask for a checkpoint and a clean exit at the end of the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not the main thread: no handlers, no graceful stop
                self._old[sig] = signal.signal(sig, self._set)

    def _set(self, signum, frame) -> None:
        self.requested = True

    def agreed(self, d: Dist) -> bool:
        """Whether any process was asked to stop: all processes must stop at the same step."""
        if not (d.enabled and d.world > 1):
            return self.requested
        flag = torch.tensor([float(self.requested)], device=d.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def restore(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def read_tokens_meta(tokens_dir: str | Path) -> dict[str, Any]:
    m = load_meta(tokens_dir)
    if not m.get("splits", {}).get("train", {}).get("tokens"):
        raise InputError(f"{tokens_dir} has no training tokens")
    return m


def _autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def _micro_sync(model, last: bool):
    """Gradients are reduced across processes only on the last micro-batch of an accumulation: DDP through its
    no_sync() context, FSDP2 through a flag that must be set on every micro-step (True on the last)."""
    if hasattr(model, "set_requires_gradient_sync"):
        model.set_requires_gradient_sync(last)
    return model.no_sync() if hasattr(model, "no_sync") and not last else contextlib.nullcontext()


@torch.no_grad()
def evaluate(model, data: DataSource, cfg: TrainConfig, d: Dist, bf16: bool) -> dict[str, float]:
    """Validation loss (nats per predicted token) and bits per byte, comparable across tokenizers.

    Every process evaluates the same batches (FSDP needs all of them in every forward); `cfg.eval_batches` caps
    how many.
    """
    if data.bytes_per_target is None:
        return {}
    model.eval()
    loss_sum, count = 0.0, 0
    for i, batch in enumerate(data.eval_batches(cfg.micro_batch or max(1, cfg.global_batch // d.world))):
        if cfg.eval_batches and i >= cfg.eval_batches:
            break
        batch = batch.to(d.device)
        n = int((batch.targets != -100).sum())
        if n == 0:
            continue
        with _autocast(d.device, bf16):
            loss = model(batch.tokens, targets=batch.targets, doc_ids=batch.doc_ids, positions=batch.positions)
        loss_sum += float(loss) * n
        count += n
    model.train()
    if count == 0:
        return {}
    val_loss = loss_sum / count
    return {"val_loss": val_loss, "val_bpb": val_loss / math.log(2) / data.bytes_per_target}


@contextlib.contextmanager
def session(cfg: TrainConfig) -> Iterator[Dist]:
    """This process's place in the job (alone, or one of torchrun's), with the config checked against it."""
    d = setup(cfg.device)
    try:
        cfg.validate(d.world, launched="RANK" in os.environ)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        yield d
    finally:
        teardown()


def train(cfg: TrainConfig, out_dir: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """Pretrain on token shards: a `cfg.preset` model from its seeded initialisation, or, with `cfg.init_from`, the
    model found there (its shape and its weights; see `starting_weights`).

    The model's shape comes from the starting weights, so `cfg.preset` is then optional; given, it must name the same
    shape (a ConfigError says what differs). `max_seq_len` (the rotary table, computed, not learned) covers both the
    starting model's and `cfg.seq_len`, and `doc_mask` is `cfg.doc_mask`. The token shards' vocabulary must fit in the
    model's. A resumed run (no preset, no init_from) takes its shape from its own latest checkpoint.
    """
    with session(cfg) as d:
        data = TokenData(cfg.data, cfg.seq_len)
        init = None
        if cfg.init_from:
            start_cfg, start_weights, start_tokenizer = starting_weights(cfg.init_from)
            if cfg.preset:
                _check_preset(cfg.preset, start_cfg, cfg.init_from)
            mcfg = replace(start_cfg, doc_mask=cfg.doc_mask, max_seq_len=max(start_cfg.max_seq_len, cfg.seq_len))
            if data.vocab_size > mcfg.vocab_size:
                raise InputError(f"the token shards in {cfg.data} use a vocabulary of {data.vocab_size} tokens, the "
                                 f"model of --init-from {cfg.init_from} only {mcfg.vocab_size}: tokenize with the "
                                 "model's tokenizer")
            if d.is_main:
                _warn_other_tokenizer(start_tokenizer, data)
            if not resume:  # a resumed run has its weights in its own checkpoint
                init = start_weights
            title = f"train: from {cfg.init_from}"
        else:
            saved = ckpt.latest(Path(out_dir)) if resume and not cfg.preset else None
            if saved is not None:  # --resume alone: the run's own shape
                state = ckpt.trainer_state(saved)
                mcfg = replace(ModelConfig(**state["model_config"]), doc_mask=cfg.doc_mask, max_seq_len=cfg.seq_len)
                title = "train: resumed"
            else:
                cfg = replace(cfg, preset=cfg.preset or DEFAULT_PRESET)  # config.toml records the preset used
                mcfg = preset(cfg.preset, vocab_size=data.vocab_size, doc_mask=cfg.doc_mask, max_seq_len=cfg.seq_len)
                title = f"train: {cfg.preset}"
        return run(cfg, out_dir, d, mcfg, data, resume=resume, init=init, title=title)


def starting_weights(path: str | Path) -> tuple[ModelConfig, Callable[[nn.Module], Any], Path | None]:
    """What `--init-from PATH` starts from: the model config, a function loading the weights into the (parallelized)
    model, and the model's tokenizer directory (None if it has none).

    PATH is a run directory holding model.safetensors + model.json (a finished `warble train` or `finetune` run, or
    `warble import` of a Hugging Face model), or a DCP checkpoint: a checkpoint directory, or a run directory
    without model.safetensors (its latest checkpoint). DCP checkpoints load resharded to this run's layout; a
    fine-tuning checkpoint with LoRA adapters is merged into plain weights first.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    from warble.train.finetune import load_pretrained  # (finetune imports this module)

    p = Path(path)
    if not p.exists():
        raise InputError(f"--init-from {p}: no such run directory or checkpoint")

    def from_full(weights: Callable[[], dict[str, torch.Tensor]]) -> Callable[[nn.Module], Any]:
        # Full tensors on every process, sharded (FSDP2) or copied (DDP) by set_model_state_dict; strict.
        return lambda model: set_model_state_dict(model, weights(), options=StateDictOptions(full_state_dict=True))

    tokenizer = p / "tokenizer"
    if (p / MODEL_FILE).is_file():
        mcfg, weights = load_pretrained(p)
        return mcfg, from_full(weights), tokenizer if tokenizer.is_dir() else None
    start = ckpt.resolve(p)
    state = ckpt.trainer_state(start)
    if "model_config" not in state:
        raise InputError(f"checkpoint {start} does not record its model config (written by an older Warble?)")
    if state.get("transform"):
        from warble.train.lora import plain_weights

        init = from_full(lambda: plain_weights(start)[1])
    else:
        init = functools.partial(ckpt.load, start, optimizer=None)
    tokenizer = start.parent.parent / "tokenizer"
    return ModelConfig(**state["model_config"]), init, tokenizer if tokenizer.is_dir() else None


SHAPE_FIELDS = ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "qk_norm", "tie_embeddings", "rope_theta",
                "norm_eps")


def _check_preset(name: str, start: ModelConfig, init_from: str) -> None:
    """An explicit --preset beside --init-from must describe the starting model (the shape comes from it)."""
    want = preset(name, vocab_size=start.vocab_size)
    diff = [f"{k} {getattr(want, k)} vs {getattr(start, k)}" for k in SHAPE_FIELDS
            if getattr(want, k) != getattr(start, k)]
    if diff:
        raise ConfigError(f"--preset {name} is not the shape of the --init-from {init_from} model ({', '.join(diff)}): "
                          "with --init-from the shape comes from the starting weights, drop --preset")


def _warn_other_tokenizer(tokenizer_dir: Path | None, data: TokenData) -> None:
    """The starting model's tokenizer and the shards' should be one: otherwise token ids mean other strings."""
    if tokenizer_dir is None or not (tokenizer_dir / "tokenizer.json").is_file():
        return
    from warble.tokenizer import Tokenizer

    try:
        sha = Tokenizer.load(tokenizer_dir).sha256
    except InputError:
        return
    if data.meta.get("tokenizer_sha256") not in (None, sha):
        print(f"warning: the token shards in {data.dir} were made with another tokenizer than the --init-from "
              f"model's ({tokenizer_dir}): token ids will mean other text than the model learned", file=sys.stderr)


def run(cfg: TrainConfig, out_dir: str | Path, d: Dist, mcfg: ModelConfig, data: DataSource, *, resume: bool = False,
        init: Callable[[nn.Module], Any] | None = None, transform: ModelTransform | None = None,
        title: str = "train") -> dict[str, Any]:
    """Train `mcfg` on `data` into the run dir `out_dir`; returns the summary (also written to summary.json).

    `init(model)` loads the starting weights into the parallelized model (not called on resume); without it the
    model starts from its seeded initialisation. `transform` (LoRA) is applied to the model before parallelizing.
    """
    run_dir = Path(out_dir)
    mode = resolve_parallel(cfg.parallel, d.world)
    bf16 = cfg.dtype == "bf16"
    start = ckpt.latest(run_dir) if resume else None
    if resume and start is None:
        raise InputError(f"--resume: {run_dir} holds no complete checkpoint")
    if not resume and ckpt.latest(run_dir) is not None:
        raise InputError(f"{run_dir} already holds checkpoints; pass --resume to continue it, or choose another --out")
    described = transform.describe() if transform is not None else None
    if start is not None:
        ckpt.check_model_config(start, asdict(mcfg))
        saved = ckpt.trainer_state(start).get("transform")
        if saved != described:
            raise InputError(f"checkpoint {start} was trained with {saved}, this run asks for {described}: resume "
                             "with the same settings")

    torch.manual_seed(cfg.seed)
    if mode == "fsdp" and d.device.type == "cuda":
        # As torchtitan does: build on the meta device, shard, then allocate only this process's shards and
        # initialise them, so a model larger than one host's memory never exists whole anywhere.
        with torch.device("meta"):
            model = Transformer(mcfg)
            if transform is not None:
                transform.apply(model)
        model = parallelize(model, mode, d, bf16=bf16, checkpointing=cfg.activation_checkpointing,
                            shard_degree=cfg.shard_degree)
        model.to_empty(device=d.device)
        model.init_weights()
    else:
        # Built whole on every process with the same seed, then wrapped or sharded: every layout starts from a
        # single process's weights. (On CPU FSDP2 too: gloo meshes have no DTensor RNG, and initialising shards
        # from one seeded generator would repeat the same block in every shard.)
        model = Transformer(mcfg).to(d.device)
        if transform is not None:
            transform.apply(model)  # before DDP, which registers the trainable parameters once
        model = parallelize(model, mode, d, bf16=bf16 and mode == "fsdp", checkpointing=cfg.activation_checkpointing,
                            shard_degree=cfg.shard_degree)
    if init is not None and start is None:
        init(model)
    optimizer = build_optimizer(model, cfg.optim, d.device.type)  # trainable (requires_grad) parameters only
    scheduler = build_scheduler(optimizer, cfg.steps, cfg.schedule)
    loader = data.loader(cfg.global_batch, d.rank, d.world, cfg.seed)
    step = 0
    if start is not None:
        state = ckpt.load(start, model, optimizer)
        base_lrs = list(scheduler.base_lrs)  # this run's --lr, not the one saved with the checkpoint
        scheduler.load_state_dict(state["scheduler"])
        # The saved rates were computed for the saved total steps: recompute them for this run's schedule.
        scheduler.base_lrs = base_lrs
        for g, base, factor in zip(optimizer.param_groups, base_lrs, scheduler.lr_lambdas):
            g["initial_lr"], g["lr"] = base, base * factor(scheduler.last_epoch)
        loader.load_state_dict(state["loader"])
        ckpt.set_rng_state(state["rng"])
        step = state["step"]
    forward = torch.compile(model) if cfg.compile else model
    autocast_bf16 = bf16 and mode != "fsdp"  # FSDP2 casts through its mixed-precision policy instead

    if d.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_toml(cfg, run_dir / "config.toml")
        (run_dir / MODEL_CONFIG).write_text(json.dumps(asdict(mcfg), indent=2))
        tok_src = data.tokenizer_dir
        if tok_src is not None and tok_src.is_dir() and not (run_dir / "tokenizer").exists():
            shutil.copytree(tok_src, run_dir / "tokenizer")
    report = Reporter(run_dir, d.is_main, cfg.steps, step)
    n_params = unwrap(model).num_params()
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)  # DTensors count whole
    flops_per_token = mcfg.flops_per_token(cfg.seq_len)
    peak = peak_flops(d.device, torch.bfloat16 if bf16 else torch.float32) * d.world
    accum = cfg.accumulation(d.world)
    report.say(f"{title} ({n_params / 1e6:.2f}M params"
               + (f", {n_trainable / 1e6:.3f}M trainable" if n_trainable != n_params else "")
               + f"), {mode} x{d.world} on {d.device.type}, global batch {cfg.global_batch} x {cfg.seq_len} tokens, "
               f"accumulation {accum}, steps {step}->{cfg.steps}, {cfg.dtype}")
    if data.summary:
        report.say("data: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                         for k, v in data.summary.items()))

    stop = _StopFlag()
    stopped = False
    last_eval: dict[str, float] = {}
    t_start = time.perf_counter()
    tokens_seen = 0
    try:
        while step < cfg.steps:
            t0 = time.perf_counter()
            batch = next(loader).to(d.device)
            micro = batch.tokens.shape[0] // accum
            # Normalise by the target tokens of the whole global batch: same gradient for any layout.
            n_local = (batch.targets != -100).sum()
            n_global = n_local.clone().float()
            if d.enabled and d.world > 1:
                dist.all_reduce(n_global)
            loss_sum = torch.zeros((), device=d.device)
            for m in range(accum):
                sl = slice(m * micro, (m + 1) * micro)
                with _micro_sync(model, m == accum - 1), _autocast(d.device, autocast_bf16):
                    # A summed loss: a micro-batch without targets adds 0 (a mean would be NaN).
                    loss = forward(batch.tokens[sl], targets=batch.targets[sl], doc_ids=batch.doc_ids[sl],
                                   positions=batch.positions[sl], reduction="sum")
                (loss * d.world / n_global.clamp(min=1)).backward()
                loss_sum += loss.detach()
            lr = next((g["lr"] for g in optimizer.param_groups if not g.get("use_muon")),
                      optimizer.param_groups[0]["lr"])  # this step's (AdamW) rate, before the schedule moves on
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if hasattr(grad_norm, "full_tensor"):
                grad_norm = grad_norm.full_tensor()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if d.enabled and d.world > 1:
                dist.all_reduce(loss_sum)
            step_loss = (loss_sum / n_global.clamp(min=1)).item()  # mean over every target token of the step
            dt = time.perf_counter() - t0
            tokens_seen += cfg.global_batch * cfg.seq_len
            if not math.isfinite(step_loss):
                raise FloatingPointError(f"loss is {step_loss} at step {step}; lower the learning rate")
            if cfg.log_every and (step % cfg.log_every == 0 or step == cfg.steps or step == 1):
                tok_s = cfg.global_batch * cfg.seq_len / dt
                mfu = tok_s * flops_per_token / peak
                report.log(step, loss=step_loss, lr=lr, grad_norm=float(grad_norm), tokens_per_s=tok_s, mfu=mfu,
                           step_s=dt)
                report.progress(step, step_loss, lr, tok_s, mfu)
            if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                last_eval = evaluate(forward, data, cfg, d, autocast_bf16)
                if last_eval:
                    report.log(step, **last_eval)
                    report.say(f"step {step}: val_loss {last_eval['val_loss']:.4f}, "
                               f"val_bpb {last_eval['val_bpb']:.4f}")
            stopped = stop.agreed(d)
            if stopped or step == cfg.steps or (cfg.ckpt_every and step % cfg.ckpt_every == 0):
                trainer = {"scheduler": scheduler.state_dict(), "loader": loader.state_dict(),
                           "rng": ckpt.rng_state(), "model_config": asdict(mcfg)}
                if described is not None:
                    trainer["transform"] = described
                path = ckpt.save(run_dir, step, model, optimizer, trainer, is_main=d.is_main,
                                 keep=cfg.keep_checkpoints)
                report.say(f"checkpoint: {path}")
            if stopped:
                report.say(f"stopped by signal at step {step}; resume with --resume")
                break
    finally:
        stop.restore()
        report.close()

    wall = time.perf_counter() - t_start
    summary = {"steps": step, "target_steps": cfg.steps, "stopped_early": stopped, "params": n_params,
               "tokens": tokens_seen, "seconds": wall, "tokens_per_s": tokens_seen / wall if wall else None,
               "flops_per_token": flops_per_token, "world_size": d.world, "parallel": mode, **last_eval}
    if n_trainable != n_params:
        summary["trainable_params"] = n_trainable
    if data.summary:
        summary["data"] = data.summary
    if not stopped:
        _export_weights(model, run_dir, d, transform)
    if d.is_main:
        plot_loss(run_dir / "metrics.jsonl", run_dir / "loss.png")
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _export_weights(model, run_dir: Path, d: Dist, transform: ModelTransform | None) -> None:
    """run_dir/model.safetensors: the full fp32 weights of the plain model (a transform undone), gathered from all
    processes, written by the main one."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if d.is_main:
        ckpt.save_safetensors(transform.export(sd) if transform is not None else sd, run_dir / MODEL_FILE, {})
