"""`warble train --dry-run`: plan a big run on this laptop.

Builds the model on the meta device (no memory), shards it with FSDP2 over a fake process group of the planned
size (so the per-GPU shard sizes are FSDP's own, not a formula's), and estimates memory per GPU and step time:

  weights + grads + AdamW moments: 4 + 4 + 8 bytes per parameter (fp32 master weights), sharded over the FSDP
  group; one unsharded bf16 block in flight (two with prefetch); activations after Korthikanti et al. 2022
  ("Reducing Activation Recomputation"): 34*s*b*h bytes per layer without recomputation (their s*b*h*(34 +
  5*a*s/h) less the attention-score term, which flash attention never materialises), and with full activation
  checkpointing 2*s*b*h bytes per layer plus one layer's full activations; logits: bf16 values, the fp32 copy the
  loss reads, and their gradients (12 bytes per vocabulary entry per token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from warble.errors import ConfigError
from warble.model import Transformer, preset

GPU_PEAK_BF16 = {"h100": 989e12, "h200": 989e12, "a100": 312e12, "b200": 2250e12}
GPU_MEMORY_GB = {"h100": 80, "h200": 141, "a100": 80, "b200": 180}


@dataclass
class PlanRequest:
    preset: str
    vocab_size: int = 128_256
    nodes: int = 1
    gpus_per_node: int = 8
    seq_len: int = 8192
    micro_batch: int = 1  # sequences per GPU per forward
    global_batch_tokens: int = 16 * 2**20  # ~16M tokens per step, as Llama 3 70B used late in pretraining
    shard_degree: int = 0  # FSDP group size (0: the smallest multiple of gpus_per_node whose state fits)
    gpu: str = "h100"
    mfu: float = 0.40  # assumed model FLOPs utilisation for the time estimate
    activation_checkpointing: bool = True
    train_tokens: float = 15e12


def _fake_shard_elements(model_cfg, world: int) -> int | None:
    """Largest per-rank parameter element count after Warble's own FSDP2 layout (`distributed.parallelize`) over a
    fake process group of `world` ranks."""
    try:
        import torch.distributed as dist
        from torch.testing._internal.distributed.fake_pg import FakeStore
    except ImportError:  # a private testing helper: the analytic estimate stands without it
        return None
    from warble.train.distributed import Dist, parallelize

    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world)
    try:
        with torch.device("meta"):
            model = Transformer(model_cfg)
        parallelize(model, "fsdp", Dist(0, world, 0, torch.device("cpu")), bf16=False, checkpointing=False)
        return sum(p.to_local().numel() for p in model.parameters())
    finally:
        dist.destroy_process_group()


def plan(req: PlanRequest) -> dict[str, Any]:
    cfg = preset(req.preset, vocab_size=req.vocab_size, max_seq_len=req.seq_len)
    with torch.device("meta"):
        params = Transformer(cfg).num_params()
    world = req.nodes * req.gpus_per_node
    mem_gb = GPU_MEMORY_GB[req.gpu]
    h, a, s, b, L, V = cfg.d_model, cfg.n_heads, req.seq_len, req.micro_batch, cfg.n_layers, cfg.vocab_size
    layer_act = 34 * s * b * h
    activations = (2 * s * b * h * L + layer_act) if req.activation_checkpointing else layer_act * L
    logits = s * b * V * (2 + 4 + 4 + 2)  # bf16 logits, their fp32 copy for the loss, its fp32 and bf16 gradients
    block_params = params / L
    transient = 2 * 2 * block_params  # two unsharded bf16 blocks (current + prefetched)

    def per_gpu(shard: int) -> float:
        return (16 * params / shard + transient + activations + logits) / 1e9

    shard = req.shard_degree
    if not shard:
        # The smallest FSDP group, in whole nodes, that divides the cluster and fits with 10% headroom: sharding
        # wider than needed only adds all-gather traffic; the groups replicate (HSDP) across the rest.
        groups = [g for g in range(req.gpus_per_node, world + 1, req.gpus_per_node) if world % g == 0] or [world]
        shard = next((g for g in groups if per_gpu(g) <= 0.9 * mem_gb), groups[-1])
    if world % shard:
        raise ConfigError(f"shard degree {shard} does not divide {world} GPUs")
    replicas = world // shard
    tokens_per_step_min = world * b * s
    accumulation = max(1, math.ceil(req.global_batch_tokens / tokens_per_step_min))
    step_tokens = tokens_per_step_min * accumulation
    flops_per_step = cfg.flops_per_token(s) * step_tokens
    step_s = flops_per_step / (world * GPU_PEAK_BF16[req.gpu] * req.mfu)
    fake = _fake_shard_elements(cfg, shard)
    return {
        "preset": req.preset, "params": params, "layers": L, "d_model": h, "heads": a, "kv_heads": cfg.n_kv_heads,
        "gpus": world, "layout": f"HSDP: FSDP2 shards over {shard} GPUs x {replicas} replicas" if replicas > 1
        else f"FSDP2 over {shard} GPUs",
        "memory_per_gpu_gb": {
            "weights_grads_adam": round(16 * params / shard / 1e9, 2),
            "unsharded_blocks_in_flight": round(transient / 1e9, 2),
            "activations": round(activations / 1e9, 2),
            "logits_and_loss": round(logits / 1e9, 2),
            "total": round(per_gpu(shard), 2), "gpu_capacity": mem_gb,
        },
        "fsdp_shard_elements_per_gpu": fake,
        "seq_len": s, "micro_batch": b, "accumulation": accumulation, "tokens_per_step": step_tokens,
        "flops_per_token": cfg.flops_per_token(s), "step_seconds_at_mfu": round(step_s, 2), "assumed_mfu": req.mfu,
        "tokens_per_second": round(step_tokens / step_s), "days_for_train_tokens":
            round(req.train_tokens / (step_tokens / step_s) / 86400, 1), "train_tokens": req.train_tokens,
        "fits": per_gpu(shard) <= mem_gb,
    }


def format_plan(p: dict[str, Any]) -> str:
    m = p["memory_per_gpu_gb"]
    lines = [
        f"model    {p['preset']}: {p['params'] / 1e9:.2f}B parameters, {p['layers']} layers, d_model {p['d_model']}, "
        f"{p['heads']} heads / {p['kv_heads']} kv heads",
        f"layout   {p['gpus']} GPUs, {p['layout']}",
        f"memory   per GPU: weights+grads+AdamW {m['weights_grads_adam']} GB, unsharded blocks "
        f"{m['unsharded_blocks_in_flight']} GB, activations {m['activations']} GB, logits {m['logits_and_loss']} GB "
        f"= {m['total']} GB of {m['gpu_capacity']} GB ({'fits' if p['fits'] else 'DOES NOT FIT'})",
    ]
    if p["fsdp_shard_elements_per_gpu"]:
        lines.append(f"check    fully_shard over a fake process group: {p['fsdp_shard_elements_per_gpu'] / 1e6:.1f}M "
                     f"parameter elements per GPU")
    lines += [
        f"step     {p['micro_batch']} x {p['seq_len']} tokens per GPU, {p['accumulation']} micro-steps -> "
        f"{p['tokens_per_step'] / 1e6:.1f}M tokens per step, {p['flops_per_token'] / 1e9:.0f} GFLOP per token",
        f"time     {p['step_seconds_at_mfu']} s per step at {100 * p['assumed_mfu']:.0f}% MFU, "
        f"{p['tokens_per_second'] / 1e6:.1f}M tokens/s, {p['days_for_train_tokens']} days for "
        f"{p['train_tokens'] / 1e12:.0f}T tokens",
    ]
    return "\n".join(lines)
