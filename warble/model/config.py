"""Model shape (`ModelConfig`), named presets, and analytic parameter and FLOP counts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from warble.errors import ConfigError

ATTN_IMPLS = ("auto", "sdpa", "flex")


@dataclass
class ModelConfig:
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int  # grouped-query attention: each key/value head serves n_heads // n_kv_heads query heads
    ffn_dim: int = 0  # SwiGLU hidden size; 0 = Llama's rule, 8/3 * d_model rounded up to a multiple of multiple_of
    multiple_of: int = 64
    max_seq_len: int = 2048  # length of the rotary table; positions must stay below it
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    qk_norm: bool = False  # RMSNorm on each head's query and key (as Qwen3 and OLMo-2 do) for stability at scale
    tie_embeddings: bool = True  # the output head reuses the token-embedding matrix
    doc_mask: bool = True  # with doc_ids, a token attends only to its own post (False = plain causal, to compare)
    attn_impl: str = "auto"  # how the per-post mask is applied: "sdpa" (dense boolean mask), "flex" (BlockMask),
    # "auto" = flex on CUDA, sdpa elsewhere. Unmasked (plain causal) attention always uses SDPA's causal kernel.
    init_std: float = 0.02

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "multiple_of", "max_seq_len"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        for name in ("rope_theta", "norm_eps", "init_std"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        if self.ffn_dim < 0:
            raise ConfigError(f"model.ffn_dim must be positive (or 0 for the Llama rule), got {self.ffn_dim}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"model.d_model ({self.d_model}) must be divisible by model.n_heads ({self.n_heads})")
        if self.n_heads % self.n_kv_heads:
            raise ConfigError(
                f"model.n_heads ({self.n_heads}) must be divisible by model.n_kv_heads ({self.n_kv_heads})"
            )
        if self.head_dim % 2:
            raise ConfigError(f"head dim d_model / n_heads = {self.head_dim} must be even for rotary embeddings")
        if self.attn_impl not in ATTN_IMPLS:
            raise ConfigError(f"model.attn_impl must be one of {', '.join(ATTN_IMPLS)}, got {self.attn_impl!r}")
        if self.ffn_dim == 0:  # resolved here so the written config says the size actually built
            self.ffn_dim = self.multiple_of * math.ceil(8 * self.d_model // 3 / self.multiple_of)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def num_params(self, include_embedding: bool = True) -> int:
        """Parameters of `Transformer(self)`, counted from the shapes.

        Without embeddings: the blocks and the final norm only, leaving out the token-embedding table and the
        output head (tied or not), the convention of Kaplan et al. (2020) for scaling laws.
        """
        d, hd = self.d_model, self.head_dim
        attn = d * self.n_heads * hd * 2 + d * self.n_kv_heads * hd * 2 + (2 * hd if self.qk_norm else 0)
        block = attn + 3 * d * self.ffn_dim + 2 * d  # + 2 norms
        n = self.n_layers * block + d  # + final norm
        if include_embedding:
            n += self.vocab_size * d * (1 if self.tie_embeddings else 2)
        return n

    def flops_per_token(self, seq_len: int) -> int:
        """Training FLOPs (forward + backward) per token at sequence length `seq_len`.

        6 * (non-embedding params + output-head params) for the matmuls (2 forward + 4 backward per weight; the
        embedding lookup is free, the output head is a d x vocab matmul even when tied), plus
        12 * n_layers * d_model * seq_len for the attention scores and weighted sum (QK^T and AV).
        PaLM appendix B convention: no halving for causality, and no discount for the per-post mask, which cuts the
        real attention work further when posts are shorter than seq_len. So MFU from this count is comparable
        across papers, not a measure of useful work.
        """
        head = self.vocab_size * self.d_model
        return 6 * (self.num_params(include_embedding=False) + head) + 12 * self.n_layers * self.d_model * seq_len


# Shapes only; vocab_size comes from the tokenizer. "125m" is GPT-3 Small's 85M non-embedding parameters (124M with
# GPT-2's 50k vocabulary); "1b" is Llama-3.2-1B, "8b" and "70b" are Llama-3 (untied, rope_theta 500k).
PRESETS: dict[str, dict] = {
    "test": dict(n_layers=2, d_model=96, n_heads=4, n_kv_heads=2),  # ~1M at vocab 8192, 80% of it embeddings
    "tiny": dict(n_layers=4, d_model=192, n_heads=6, n_kv_heads=2),  # CPU smoke runs: 200 steps in ~1-2 min
    "cpu": dict(n_layers=6, d_model=384, n_heads=6, n_kv_heads=2),  # the CPU quickstart model
    "125m": dict(n_layers=12, d_model=768, n_heads=12, n_kv_heads=12),
    "1b": dict(n_layers=16, d_model=2048, n_heads=32, n_kv_heads=8, ffn_dim=8192, rope_theta=500000.0),
    "8b": dict(
        n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, ffn_dim=14336, rope_theta=500000.0, tie_embeddings=False
    ),
    "70b": dict(
        n_layers=80, d_model=8192, n_heads=64, n_kv_heads=8, ffn_dim=28672, rope_theta=500000.0, tie_embeddings=False
    ),
}


def preset(name: str, vocab_size: int, **overrides) -> ModelConfig:
    """The named preset's shape for `vocab_size`, with any field overridden."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ConfigError(f"unknown model field(s) {', '.join(sorted(unknown))}; fields are {', '.join(fields)}")
    return ModelConfig(**{**PRESETS[name], "vocab_size": vocab_size, **overrides})
