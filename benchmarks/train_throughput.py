"""Training throughput: Warble's packed, per-post-masked Transformer against Hugging Face `LlamaForCausalLM`.

    python benchmarks/train_throughput.py --json              # preset tiny, fp32, 3 warmup + 10 timed steps
    python benchmarks/train_throughput.py --preset cpu --dtype bf16 --json

Social-media posts are short (tens of tokens), so how a batch is laid out decides how much of the compute is
spent on real tokens. The same model (weights copied with `hf_state_dict`), the same AdamW (Warble's
`build_optimizer`, same lr, gradient clipping at 1.0) and the same posts, step for step, in three layouts:

1. warble        Warble's `Transformer` on packed rows from `PackedLoader`: many posts per row, each attending only
                 to itself (doc_ids mask), rotary positions restarting per post. Padding only at row ends. On CPU
                 with short posts the model computes the same loss and gradients with less work: attention only
                 over the keys each post can reach, only the positions the loss depends on (not each post's last
                 token nor padding), and the vocabulary head fused with the cross-entropy block by block.
2. hf_padded     `LlamaForCausalLM` (attn_implementation="sdpa") with one post per sequence, right-padded to the
                 longest post of the batch, attention_mask, labels -100 on padding: what a user gets from a
                 padding DataCollator. The batch of step k holds exactly the posts of Warble's step k, in order.
3. hf_packed     `LlamaForCausalLM` on Warble's packed rows, plain causal attention over the whole row and
                 position_ids 0..T-1: what a user gets by concatenating posts. Posts see the posts before them in
                 the row (a quality cost, not measured here); the loss is on the same targets as Warble's.
   (extra) hf_packed_docmask  the same rows with position_ids restarting per post and no attention_mask:
                 transformers 5.x detects the packed layout from the position_ids and builds a per-post mask
                 itself, with sdpa on CPU too (on GPU, --hf-attn flash_attention_2 should take flash-attn's varlen
                 path instead; untested here). No target; it is the like-for-like comparison of the attention.

Every variant predicts exactly the same target tokens per step (each post of n tokens gives n - 1 targets), so
"useful tokens" = targets that are not -100 is the fair unit: padding, and attention across posts, are work a
layout spends without learning anything more. Raw tokens/s (every position computed, padding included) is reported
too, as is MFU: useful-token FLOPs/s (`ModelConfig.flops_per_token(seq_len)`, PaLM convention) over the peak
matmul FLOP/s measured on this machine first (`warble.train.metrics.peak_flops`, measured afresh here).

Batches are built and moved to the device before timing; data loading is not measured. The variants run
interleaved (step k of each variant in turn), so load from other processes on a shared machine falls on all of
them alike. Targets (issue): warble >= 2x hf_padded and >= 1.3x hf_packed in useful tokens/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from bench_model import build_tokens

TARGETS = {"hf_padded": 2.0, "hf_packed": 1.3}
GRAD_CLIP = 1.0


def log(msg: str) -> None:
    print(f"[train_throughput] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------- data
def segments(batch, pad_id: int) -> list[np.ndarray]:
    """The posts (or pieces of posts cut at seq_len) of a packed Batch, in row order, padding left out.

    Segments are runs of equal doc_ids; the padding segment is the one made of pad tokens (which no post holds).
    """
    tokens, doc_ids = batch.tokens.numpy(), batch.doc_ids.numpy()
    out = []
    for r in range(tokens.shape[0]):
        cuts = np.flatnonzero(np.diff(doc_ids[r])) + 1
        for s, e in zip([0, *cuts], [*cuts, tokens.shape[1]]):
            if tokens[r, s] != pad_id:
                out.append(tokens[r, s:e])
    return out


def padded_batch(segs: list[np.ndarray], pad_id: int) -> dict[str, torch.Tensor]:
    """One sequence per post, right-padded to the longest: input_ids, attention_mask, labels (-100 on padding)."""
    L = max(len(s) for s in segs)
    ids = torch.full((len(segs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(segs), L), dtype=torch.long)
    for i, s in enumerate(segs):
        ids[i, :len(s)] = torch.from_numpy(s.astype(np.int64))
        mask[i, :len(s)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def hf_labels(targets: torch.Tensor) -> torch.Tensor:
    """Warble targets (next token at t) -> HF labels (token at t, shifted inside the model): same loss terms."""
    labels = torch.full_like(targets, -100)
    labels[:, 1:] = targets[:, :-1]
    return labels


# ---------------------------------------------------------------------------------------------------- models
def hf_llama(cfg, attn: str):
    import transformers

    hf_cfg = transformers.LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_kv_heads,
        head_dim=cfg.head_dim, max_position_embeddings=cfg.max_seq_len, rms_norm_eps=cfg.norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
        tie_word_embeddings=cfg.tie_embeddings, attention_bias=False, mlp_bias=False, use_cache=False,
    )
    hf_cfg._attn_implementation = attn
    return transformers.LlamaForCausalLM(hf_cfg)


def copy_into_hf(hf, warble_state: dict, cfg) -> None:
    missing, unexpected = hf.load_state_dict(warble_state, strict=False)
    if unexpected or missing != (["lm_head.weight"] if cfg.tie_embeddings else []):
        raise RuntimeError(f"weight copy into LlamaForCausalLM failed: missing {missing}, unexpected {unexpected}")
    if cfg.tie_embeddings and hf.lm_head.weight.data_ptr() != hf.model.embed_tokens.weight.data_ptr():
        raise RuntimeError("LlamaForCausalLM did not tie lm_head to embed_tokens")


@dataclass
class Variant:
    name: str
    model: torch.nn.Module
    forward: Callable[[torch.nn.Module, dict], torch.Tensor]  # (model, step inputs) -> loss
    inputs: list[dict]  # per step, already on the device
    useful: list[int]  # target tokens per step
    raw: list[int]  # positions computed per step (padding included)
    note: str = ""
    optimizer: torch.optim.Optimizer | None = None
    times: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


def warble_forward(model, x):
    return model(x["tokens"], targets=x["targets"], doc_ids=x["doc_ids"], positions=x["positions"])


def hf_forward(model, x):
    return model(**x, use_cache=False).loss


# ---------------------------------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(v: Variant, i: int, device: torch.device, autocast) -> float:
    """One forward + backward + clip + AdamW step; returns its wall time (the loss goes to v.losses)."""
    sync(device)
    t0 = time.perf_counter()
    with autocast():
        loss = v.forward(v.model, v.inputs[i])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(v.model.parameters(), GRAD_CLIP)
    v.optimizer.step()
    v.optimizer.zero_grad(set_to_none=True)
    sync(device)
    dt = time.perf_counter() - t0
    v.losses.append(float(loss.detach()))
    return dt


def summarise(v: Variant, warmup: int, flops_per_token: float, peak: float) -> dict:
    timed = slice(warmup, None)
    seconds = sum(v.times)
    useful, raw = sum(v.useful[timed]), sum(v.raw[timed])
    tok_s = useful / seconds
    out = {
        "tokens_per_s": tok_s,
        "raw_tokens_per_s": raw / seconds,
        "step_s_mean": seconds / len(v.times),
        "step_s_median": statistics.median(v.times),
        "useful_tokens_per_step": useful / len(v.times),
        "raw_tokens_per_step": raw / len(v.times),
        "useful_fraction": useful / raw,
        "mfu": tok_s * flops_per_token / peak,
        "mfu_raw": raw / seconds * flops_per_token / peak,
        "loss_first": v.losses[0],
        "loss_last": v.losses[-1],
    }
    if v.note:
        out["note"] = v.note
    return out


# ------------------------------------------------------------------------------------------------------ main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", help="warble model preset (tiny, cpu, test, 125m, ...)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 10 on CPU, 20 on CUDA)")
    p.add_argument("--warmup-steps", type=int, default=None, help="untimed steps first (default 3 on CPU, 5 CUDA)")
    p.add_argument("--batch", type=int, default=None, help="packed rows per step (default 8 on CPU, 16 on CUDA)")
    p.add_argument("--seq-len", type=int, default=None, help="row length (default 256 on CPU, 1024 on CUDA)")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="bf16 = autocast, fp32 weights")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1 on CPU)")
    p.add_argument("--data", default=None, help="existing token shards (warble tokenize output) instead of synth")
    p.add_argument("--posts", type=int, default=20_000, help="synthetic posts to generate without --data")
    p.add_argument("--vocab-size", type=int, default=8192, help="tokenizer vocabulary without --data")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (all variants)")
    p.add_argument("--hf-attn", default="sdpa", help="HF attn_implementation (sdpa; flash_attention_2 on GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps if args.steps is not None else (20 if cuda else 10)
    warmup = args.warmup_steps if args.warmup_steps is not None else (5 if cuda else 3)
    B = args.batch or (16 if cuda else 8)
    T = args.seq_len or (1024 if cuda else 256)
    if steps < 1 or warmup < 0 or B < 1 or T < 2:
        raise SystemExit("need --steps >= 1, --warmup-steps >= 0, --batch >= 1, --seq-len >= 2")
    threads = args.threads or (None if cuda else 1)
    if threads:
        torch.set_num_threads(threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if dtype == torch.bfloat16 \
        else contextlib.nullcontext

    import transformers

    from warble.model import Transformer, preset
    from warble.model.model import hf_state_dict
    from warble.train import metrics
    from warble.train.data import PackedLoader
    from warble.train.optim import OptimConfig, build_optimizer

    work = Path(tempfile.mkdtemp(prefix="warble-throughput-"))
    try:
        # Peak first, on a quiet process, and afresh (not the cached value of an earlier, differently loaded run).
        metrics.CACHE = work / "cache"
        t0 = time.perf_counter()
        peak = metrics.peak_flops(device, dtype)
        log(f"peak matmul: {peak / 1e9:,.1f} GFLOP/s ({device.type}, {args.dtype}, {torch.get_num_threads()} "
            f"thread(s), measured in {time.perf_counter() - t0:.1f} s)")

        tokens_dir = Path(args.data) if args.data else build_tokens(work, args.posts, args.vocab_size, args.seed)
        meta = json.loads((tokens_dir / "meta.json").read_text())
        pad_id = meta["pad_id"]

        # Every step's batch, for all variants, before anything is timed.
        loader = PackedLoader(tokens_dir, "train", global_batch=B, seq_len=T, seed=args.seed)
        packed = [next(loader) for _ in range(warmup + steps)]
        segs = [segments(b, pad_id) for b in packed]
        useful = [int((b.targets != -100).sum()) for b in packed]
        for b, s, u in zip(packed, segs, useful):  # the padded layout must carry exactly the same targets
            assert sum(len(x) - 1 for x in s) == u, "segment extraction disagrees with the packed targets"
        padded = [padded_batch(s, pad_id) for s in segs]
        n_posts = [len(s) for s in segs]

        def dev(d: dict) -> dict:
            return {k: t.to(device) for k, t in d.items()}

        warble_in = [dev({"tokens": b.tokens, "targets": b.targets, "doc_ids": b.doc_ids, "positions": b.positions})
                     for b in packed]
        packed_in = [dev({"input_ids": b.tokens, "labels": hf_labels(b.targets)}) for b in packed]
        docmask_in = [dev({"input_ids": b.tokens, "labels": hf_labels(b.targets), "position_ids": b.positions})
                      for b in packed]
        padded_in = [dev(p) for p in padded]

        cfg = preset(args.preset, vocab_size=meta["vocab_size"], max_seq_len=T)
        torch.manual_seed(args.seed)
        model = Transformer(cfg)
        init = hf_state_dict(model)
        init = {k: v.clone() for k, v in init.items()}  # the weights every variant starts from
        model.to(device)
        log(f"model: preset {args.preset}, {model.num_params() / 1e6:.2f}M params, vocab {cfg.vocab_size}, "
            f"{args.dtype}, {B} x {T} per step, {warmup} warmup + {steps} timed steps")

        hf_models = {}
        for name in ("hf_padded", "hf_packed", "hf_packed_docmask"):
            hf = hf_llama(cfg, args.hf_attn)
            copy_into_hf(hf, init, cfg)
            hf_models[name] = hf.to(device).train()
        model.train()

        raw_packed = [B * T] * len(packed)
        attn_impl = cfg.attn_impl if cfg.attn_impl != "auto" else ("flex" if cuda else "sdpa")
        variants = [
            Variant("warble", model, warble_forward, warble_in, useful, raw_packed,
                    note=f"per-post mask, positions restarting per post ({attn_impl} attention"
                         + ("; short posts: post windows, loss positions only, fused blockwise cross-entropy; "
                            "raw tokens count the row's positions, not the fewer it computes)" if not cuda else ")")),
            Variant("hf_padded", hf_models["hf_padded"], hf_forward, padded_in, useful,
                    [p["input_ids"].numel() for p in padded],
                    note="one post per sequence, right-padded to the longest post of the batch"),
            Variant("hf_packed", hf_models["hf_packed"], hf_forward, packed_in, useful, raw_packed,
                    note="plain causal attention across the whole row, position_ids 0..T-1 (no per-post masking)"),
            Variant("hf_packed_docmask", hf_models["hf_packed_docmask"], hf_forward, docmask_in, useful, raw_packed,
                    note=f"position_ids restarting per post: transformers builds a per-post mask ({args.hf_attn})"),
        ]
        ocfg = OptimConfig(name="adamw", lr=args.lr)
        for v in variants:
            v.optimizer = build_optimizer(v.model, ocfg, device.type)

        for i in range(warmup + steps):
            line = []
            for v in variants:  # interleaved: contention from other processes hits every variant alike
                dt = train_step(v, i, device, autocast)
                if i >= warmup:
                    v.times.append(dt)
                line.append(f"{v.name} {dt * 1e3:,.0f} ms")
            log(f"step {i + 1}/{warmup + steps}{' (warmup)' if i < warmup else ''}: " + " | ".join(line))

        fpt = cfg.flops_per_token(T)
        res = {v.name: summarise(v, warmup, fpt, peak) for v in variants}
        for v in variants:
            if not all(map(math.isfinite, v.losses)):
                raise FloatingPointError(f"{v.name}: non-finite loss {v.losses}")
        w = res["warble"]["tokens_per_s"]
        ratios = {name: w / res[name]["tokens_per_s"] for name in ("hf_padded", "hf_packed", "hf_packed_docmask")}
        targets = {f"warble_vs_{k}": {"target": t, "ratio": ratios[k], "met": ratios[k] >= t}
                   for k, t in TARGETS.items()}
        timed_posts = n_posts[warmup:]
        device_name = torch.cuda.get_device_name(device) if cuda else (platform.processor() or platform.machine())
        out = {
            "warble_tokens_per_s": w,
            "hf_padded_tokens_per_s": res["hf_padded"]["tokens_per_s"],
            "hf_packed_tokens_per_s": res["hf_packed"]["tokens_per_s"],
            "hf_packed_docmask_tokens_per_s": res["hf_packed_docmask"]["tokens_per_s"],
            "mfu": res["warble"]["mfu"],
            "hf_padded_mfu": res["hf_padded"]["mfu"],
            "hf_packed_mfu": res["hf_packed"]["mfu"],
            "dtype": args.dtype,  # every variant in it (bf16: autocast over fp32 weights)
            "ratio_warble_vs_hf_padded": ratios["hf_padded"],
            "ratio_warble_vs_hf_packed": ratios["hf_packed"],
            "ratio_warble_vs_hf_packed_docmask": ratios["hf_packed_docmask"],
            "targets": targets,
            "targets_met": all(t["met"] for t in targets.values()),
            "notes": [
                "tokens_per_s = useful (non-padding target) tokens per second; every variant has the same per step",
                "hf_packed: plain causal attention across the whole packed row, position_ids 0..T-1 (posts see "
                "earlier posts of the row); no per-post masking",
                f"hf_packed_docmask: position_ids restarting per post, per-post mask built by transformers "
                f"({args.hf_attn}); informational, no target",
                "hf_padded: posts in the same order as warble's rows, right-padded to the longest post of the batch "
                "(no length grouping), attention_mask, labels -100 on padding",
            ],
            "peak_flops": peak,
            "flops_per_token": fpt,
            "variants": res,
            "setup": {
                "preset": args.preset, "params": model.num_params(), "vocab_size": cfg.vocab_size,
                "device": device.type, "device_name": device_name, "threads": torch.get_num_threads(),
                "dtype": args.dtype, "batch": B, "seq_len": T, "warmup_steps": warmup, "steps": steps,
                "lr": args.lr, "optimizer": "AdamW (warble build_optimizer), grad clip 1.0",
                "hf_attn_implementation": args.hf_attn, "torch": torch.__version__,
                "transformers": transformers.__version__,
                "data": str(args.data) if args.data else f"synthetic, {args.posts} posts",
                "posts_per_step": statistics.mean(timed_posts),
                "mean_post_tokens": statistics.mean(u / n + 1 for u, n in zip(useful[warmup:], timed_posts)),
                "padded_len_mean": statistics.mean(p["input_ids"].shape[1] for p in padded[warmup:]),
            },
        }
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(out: dict) -> str:
    lines = [f"{'variant':<18} {'useful tok/s':>13} {'raw tok/s':>11} {'step s':>8} {'useful %':>9} {'MFU %':>7}"
             f" {'loss 1st':>9} {'loss last':>9}"]
    for name, r in out["variants"].items():
        lines.append(f"{name:<18} {r['tokens_per_s']:>13,.0f} {r['raw_tokens_per_s']:>11,.0f} "
                     f"{r['step_s_mean']:>8.3f} {100 * r['useful_fraction']:>8.1f}% {100 * r['mfu']:>6.2f}%"
                     f" {r['loss_first']:>9.4f} {r['loss_last']:>9.4f}")
    for k, t in out["targets"].items():
        lines.append(f"{k}: {t['ratio']:.2f}x (target >= {t['target']}x): {'MET' if t['met'] else 'NOT MET'}")
    lines.append(f"warble_vs_hf_packed_docmask: {out['ratio_warble_vs_hf_packed_docmask']:.2f}x (no target)")
    lines.append(f"peak {out['peak_flops'] / 1e9:,.1f} GFLOP/s; hf_packed uses plain causal attention across posts "
                 "(no per-post masking)")
    return "\n".join(lines)


if __name__ == "__main__":
    args_json = "--json" in sys.argv[1:]
    result = main()
    log("results:\n" + report(result))
    if args_json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
