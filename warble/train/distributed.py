"""Process groups and parallel wrappers: one code path for one CPU process up to many GPU nodes.

Under torchrun (RANK/WORLD_SIZE in the environment) a process group is created: NCCL on CUDA, gloo on CPU.
`parallelize` applies, in torchtitan's order, activation checkpointing per block, then DDP or FSDP2
(`fully_shard` on every block, then on the root, with bf16 mixed precision where asked).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return dist.is_available() and dist.is_initialized()


def setup(device: str = "auto") -> Dist:
    """Initialise the process group when launched by torchrun; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if "RANK" in os.environ and not dist.is_initialized():  # launched by torchrun, even with one process
        dist.init_process_group("nccl" if use_cuda else "gloo", device_id=dev if use_cuda else None)
    return Dist(rank, world, local_rank, dev)


def teardown() -> None:
    """Leave the process group. After an error (called from a `finally`), no barrier: the other processes may be
    waiting in a different collective, and a barrier would hang or pair with it."""
    if dist.is_available() and dist.is_initialized():
        if sys.exc_info()[0] is None:
            dist.barrier()
        dist.destroy_process_group()


def resolve_parallel(parallel: str, world: int) -> str:
    if parallel == "auto":
        return "ddp" if world > 1 else "none"
    return parallel


def parallelize(model: nn.Module, mode: str, d: Dist, *, bf16: bool, checkpointing: bool,
                shard_degree: int = 0) -> nn.Module:
    """Wrap `model` (already on d.device) for `mode` in none | ddp | fsdp.

    FSDP2 shards over all processes, or, with `shard_degree` g < world, over groups of g processes that replicate
    across the rest (HSDP): the layout `warble train --dry-run` recommends for large clusters.
    """
    if checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        for i, block in enumerate(model.layers):
            model.layers[i] = checkpoint_wrapper(block, preserve_rng_state=False)
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        # broadcast_buffers off: the only buffers are the rotary tables, derived from the config on every rank.
        return DDP(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None, broadcast_buffers=False)
    if mode == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
        kwargs = {"mp_policy": mp} if mp else {}
        if shard_degree and shard_degree < d.world:
            from torch.distributed.device_mesh import init_device_mesh

            kwargs["mesh"] = init_device_mesh(d.device.type, (d.world // shard_degree, shard_degree),
                                              mesh_dim_names=("replicate", "shard"))
        for block in model.layers:
            fully_shard(block, **kwargs)
        fully_shard(model, **kwargs)
    return model


def unwrap(model: nn.Module) -> nn.Module:
    """The Transformer inside a DDP wrapper (FSDP2 and activation checkpointing keep the module itself)."""
    return model.module if hasattr(model, "module") and not hasattr(model, "layers") else model
