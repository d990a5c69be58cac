"""LoRA (Hu et al. 2021): fine-tune a few low-rank adapters instead of the whole model.

Each adapted linear layer computes  y = x W^T + (alpha / r) * x A^T B^T  with W frozen and only A [r, in] and
B [out, r] trained. B starts at zero, so training starts from exactly the pretrained model. Adapted by default:
every attention projection (wq, wk, wv, wo) and every MLP projection (gate, up, down) of every block; embeddings,
norms and the output head stay frozen.

`LoRALinear` keeps the base weight under its old name (`layers.0.attn.wq.weight`) and adds `...wq.lora_a` and
`...wq.lora_b`, so a pretrained state dict loads into an adapted model as it is, and `LoRA.export` (W += scale B A,
adapter keys dropped) gives a plain state dict that `Transformer` loads strictly: model.safetensors of a LoRA run
is an ordinary model, with nothing LoRA-specific left for later stages to know about.

Parallel layouts: `LoRA.apply` runs before parallelize, so DDP sees only the adapters as trainable and FSDP2
shards the frozen weights and the adapters alike (fully_shard handles a mix of frozen and trainable parameters).
Checkpoints hold base weights and adapters both (a run resumes without its pretrained model) and record the LoRA
settings in trainer.json, which `plain_weights` uses to merge a checkpoint back into a plain model.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from warble.errors import ConfigError
from warble.model import ModelConfig, Transformer
from warble.train import checkpoint as ckpt

TARGETS = ("attn.wq", "attn.wk", "attn.wv", "attn.wo", "mlp.gate", "mlp.up", "mlp.down")  # paths within a block
ADAPTER_SUFFIXES = (".lora_a", ".lora_b")


@dataclass
class LoraConfig:
    enabled: bool = False
    rank: int = 8
    alpha: float = 16.0  # the adapter output is scaled by alpha / rank, so changing rank keeps the update size
    targets: tuple[str, ...] = TARGETS

    def __post_init__(self):
        if self.rank < 1 or self.alpha <= 0:
            raise ConfigError(f"LoRA needs rank >= 1 and alpha > 0, got rank {self.rank}, alpha {self.alpha}")
        unknown = set(self.targets) - set(TARGETS)
        if unknown or not self.targets:
            raise ConfigError(f"LoRA targets must be among {', '.join(TARGETS)}, got {', '.join(self.targets)}")
        self.targets = tuple(self.targets)


def _init_a(a: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    # nn.Linear's default init, as in the LoRA reference code and PEFT
    return nn.init.kaiming_uniform_(a, a=math.sqrt(5), generator=generator)


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update (see the module docstring)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        # The base layer's own Parameter objects: no copy, and a state dict key the plain model also has.
        self.weight = base.weight.requires_grad_(False)
        self.bias = None if base.bias is None else base.bias.requires_grad_(False)
        self.scale = alpha / rank
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_a = nn.Parameter(_init_a(torch.empty(rank, base.in_features, **kw)))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, **kw))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + F.linear(F.linear(x, self.lora_a), self.lora_b) * self.scale


class LoRA:
    """The model transform the training loop applies before parallelizing (loop.ModelTransform)."""

    def __init__(self, cfg: LoraConfig):
        self.cfg = cfg
        self.scale = cfg.alpha / cfg.rank
        self._adapted = re.compile(r"layers\.\d+\.(" + "|".join(map(re.escape, cfg.targets)) + r")")

    def apply(self, model: Transformer) -> Transformer:
        """Replace the target layers by LoRALinear, in place; freeze everything but the adapters."""
        for block in model.layers:
            for path in self.cfg.targets:
                parent, leaf = path.rsplit(".", 1)
                owner = block.get_submodule(parent)
                setattr(owner, leaf, LoRALinear(getattr(owner, leaf), self.cfg.rank, self.cfg.alpha))
        for name, p in model.named_parameters():
            p.requires_grad_(name.endswith(ADAPTER_SUFFIXES))
        return model

    def initial_adapters(self, base: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
        """Starting values of every adapter, full size, for the plain state dict `base`.

        Drawn from their own generator and loaded with the base weights as one full state dict, so every layout
        (one process, DDP, FSDP2 built on the meta device) starts from the same adapters.
        """
        g = torch.Generator().manual_seed(seed)
        out = {}
        for name in sorted(base):
            module = name.removesuffix(".weight")
            if module != name and self._adapted.fullmatch(module):
                out_features, in_features = base[name].shape
                out[module + ".lora_a"] = _init_a(torch.empty(self.cfg.rank, in_features), g)
                out[module + ".lora_b"] = torch.zeros(out_features, self.cfg.rank)
        return out

    def export(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The plain model: each adapted weight becomes W + scale * B A (in fp32), adapters dropped."""
        out = {}
        for name, w in state_dict.items():
            if name.endswith(ADAPTER_SUFFIXES):
                continue
            module = name.removesuffix(".weight")
            if module + ".lora_a" in state_dict:
                a, b = state_dict[module + ".lora_a"], state_dict[module + ".lora_b"]
                w = (w.float() + self.scale * (b.float() @ a.float())).to(w.dtype)
            out[name] = w
        return out

    def describe(self) -> dict:
        """Saved in each checkpoint (JSON): a resume must use the same adapters, and `plain_weights` rebuilds them."""
        return {"lora": {**asdict(self.cfg), "targets": list(self.cfg.targets)}}

    @classmethod
    def from_description(cls, d: dict) -> LoRA:
        return cls(LoraConfig(**d["lora"]))


def plain_weights(checkpoint: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """A checkpoint's model as a plain state dict (LoRA adapters merged, if it has any), loaded in this process."""
    state = ckpt.trainer_state(checkpoint)
    mcfg = ModelConfig(**state["model_config"])
    model = Transformer(mcfg)
    lora = LoRA.from_description(state["transform"]) if state.get("transform") else None
    if lora is not None:
        lora.apply(model)
    ckpt.load(checkpoint, model, None)
    sd = model.state_dict()
    return mcfg, lora.export(sd) if lora is not None else sd
