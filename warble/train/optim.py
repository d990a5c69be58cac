"""Optimizers: AdamW, or Muon for the hidden weight matrices with AdamW for everything else.

Muon (Keller Jordan, https://kellerjordan.github.io/posts/muon/, as in modded-nanogpt) is SGD with Nesterov momentum
whose update for each 2-D weight is replaced by the nearest semi-orthogonal matrix (a few Newton-Schulz steps): every
direction of the matrix then moves at the same rate, instead of a few dominant ones. That only makes sense for the
hidden linear layers. Embeddings and the output layer are per-token lookups/classifiers whose rows should move
independently, and 1-D params (norm gains, biases) have no matrix structure, so those keep AdamW. Both halves live in
one `torch.optim.Optimizer` (param groups flagged `use_muon`), so the training loop, the LR scheduler and
torch.distributed.checkpoint see a single optimizer with an ordinary state_dict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.distributed.tensor import DTensor, Replicate

from warble.errors import ConfigError


@dataclass
class OptimConfig:
    name: str = "adamw"  # "adamw" | "muon"
    lr: float = 3e-3  # AdamW lr (with "muon": for embeddings, output layer, norms and biases)
    weight_decay: float = 0.1  # decoupled, scaled by lr; only on 2-D weights that are not embeddings
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    muon_lr: float = 0.02
    muon_momentum: float = 0.95
    ns_steps: int = 5

    def __post_init__(self):
        if self.name not in ("adamw", "muon"):
            raise ConfigError(f"optimizer must be 'adamw' or 'muon', got {self.name!r}")
        if self.lr <= 0 or self.muon_lr <= 0 or self.weight_decay < 0:
            raise ConfigError("learning rates must be > 0 and weight_decay >= 0")


def split_params(model: nn.Module, output_names=("lm_head",)):
    """Trainable params as (hidden, output, rest), each param once (tied weights are one object).

    hidden: 2-D weights of the transformer blocks (Muon / AdamW with decay); output: the 2-D weights of modules
    named in `output_names` (AdamW with decay); rest: embeddings, norms, biases (AdamW, no decay). Names match as
    suffixes, so a DDP (`module.`) or torch.compile (`_orig_mod.`) wrapper does not hide the output layer. A weight
    tied between an nn.Embedding and the output layer counts as an embedding.
    """
    embed, output = set(), set()
    for name, module in model.named_modules():
        ids = {id(p) for p in module.parameters(recurse=False)}
        if isinstance(module, nn.Embedding):
            embed |= ids
        if any(name == n or name.endswith("." + n) for n in output_names):
            output |= ids
    hidden, out, rest = [], [], []
    for p in model.parameters():  # yields a shared parameter only once
        if not p.requires_grad:
            continue
        if p.ndim < 2 or id(p) in embed:
            rest.append(p)
        else:
            (out if id(p) in output else hidden).append(p)
    return hidden, out, rest


def build_optimizer(
    model: nn.Module, cfg: OptimConfig, device_type: str, output_names=("lm_head",)
) -> torch.optim.Optimizer:
    """AdamW, or MuonAdamW, over `model`'s trainable params.

    Weight decay goes on the 2-D weight matrices only. Embedding rows get a gradient only when their token occurs, so
    decay would keep shrinking rare tokens between their updates; norm gains (init 1) and biases are few, have no
    overfitting capacity to regularise, and decaying them towards 0 only fights their role as scales and offsets.
    """
    hidden, out, rest = split_params(model, output_names)
    adam = dict(lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    if cfg.name == "adamw":
        groups = [dict(params=hidden + out, weight_decay=cfg.weight_decay), dict(params=rest, weight_decay=0.0)]
        fused = device_type == "cuda"  # one kernel for all params on GPU; foreach elsewhere (deterministic on CPU)
        return torch.optim.AdamW([g for g in groups if g["params"]], **adam, fused=fused, foreach=not fused)
    groups = [
        dict(params=hidden, use_muon=True, lr=cfg.muon_lr, momentum=cfg.muon_momentum, ns_steps=cfg.ns_steps,
             weight_decay=cfg.weight_decay),
        dict(params=out, use_muon=False, weight_decay=cfg.weight_decay, **adam),
        dict(params=rest, use_muon=False, weight_decay=0.0, **adam),
    ]
    return MuonAdamW([g for g in groups if g["params"]])


def zeropower_via_newtonschulz5(G: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately U V^T for G = U S V^T: all singular values pushed to ~1 (roughly 0.7..1.2, which is enough).

    The quintic coefficients are tuned (Keller Jordan) to raise small singular values as fast as possible rather
    than to converge exactly; stable in bf16, which the GPU path uses for speed. fp32 on CPU (bf16 matmuls are slow
    there, and fp32 keeps CPU runs deterministic and comparable).
    """
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.bfloat16() if G.is_cuda else G.float()
    tall = G.size(-2) > G.size(-1)
    if tall:  # iterate on the smaller Gram matrix
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)  # spectral norm <= Frobenius norm <= 1: inside convergence
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.mT if tall else X


def muon_update(grad: torch.Tensor, ns_steps: int) -> torch.Tensor:
    """Orthogonalised update for a 2-D (momentum) gradient; scaled up for tall matrices, as in the reference."""
    scale = max(1, grad.size(-2) / grad.size(-1)) ** 0.5
    return zeropower_via_newtonschulz5(grad, ns_steps).to(grad.dtype).mul_(scale)


def adam_update(grad: torch.Tensor, state: dict, betas, eps: float) -> torch.Tensor:
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(grad), exp_avg_sq=torch.zeros_like(grad))
    state["step"] += 1
    (b1, b2), t = betas, state["step"]
    state["exp_avg"].lerp_(grad, 1 - b1)
    state["exp_avg_sq"].lerp_(grad.square(), 1 - b2)
    return (state["exp_avg"] / (1 - b1**t)) / ((state["exp_avg_sq"] / (1 - b2**t)).sqrt() + eps)


class MuonAdamW(torch.optim.Optimizer):
    """Muon for param groups with use_muon=True (2-D params only), AdamW for the others.

    Groups need `lr`; other keys default as below. Weight decay is decoupled (p *= 1 - lr * wd) in both halves.

    FSDP2 note: a DTensor param holds only a row shard, but orthogonalisation needs the whole matrix. The momentum
    buffer stays sharded (it is elementwise); the Nesterov update is all-gathered (`full_tensor()`), every rank runs
    Newton-Schulz on it, and each keeps the slice matching its own shard (Replicate -> original placements is a
    local slice, no communication). Every rank thus repeats the same NS work; modded-nanogpt instead spreads the
    matrices over ranks, which is faster at scale but more code. Plain tensors (single process, DDP) skip all this.
    """

    def __init__(self, param_groups):
        defaults = dict(use_muon=False, weight_decay=0.0, betas=(0.9, 0.95), eps=1e-8, momentum=0.95, ns_steps=5)
        super().__init__(param_groups, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if group["use_muon"]:
                    update = self._muon(p.grad, state, group["momentum"], group["ns_steps"])
                else:
                    update = adam_update(p.grad, state, group["betas"], group["eps"])
                if wd:
                    p.mul_(1 - lr * wd)
                p.add_(update, alpha=-lr)
        return loss

    @staticmethod
    def _muon(grad, state, momentum, ns_steps):
        if not state:
            state["momentum_buffer"] = torch.zeros_like(grad)
        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - momentum)
        grad = grad.lerp(buf, momentum)  # Nesterov
        if not isinstance(grad, DTensor):
            return muon_update(grad, ns_steps)
        full = muon_update(grad.full_tensor(), ns_steps)
        mesh = grad.device_mesh
        full = DTensor.from_local(full, mesh, [Replicate()] * mesh.ndim, run_check=False)
        return full.redistribute(mesh, grad.placements)
