"""A decoder-only transformer in the Llama style, trained on packed rows of short posts.

RMSNorm pre-norm blocks, rotary position embeddings, grouped-query attention (optionally with QK-norm), SwiGLU MLP,
no biases, tied or untied embeddings. Parameter names map one to one onto Hugging Face `LlamaForCausalLM`
(`hf_state_dict`), and rotary uses the same half-split layout, so the export needs no weight permutation.

Rows are packed with several posts. With `doc_ids` a token attends only to earlier tokens of its own post, and
`positions` (restarting at 0 for each post) drive the rotary embeddings, so a packed post is computed exactly as if
it were alone. On CPU, where SDPA computes every score a mask hides, short posts take a faster road to the same
result: attention only over the keys a post can reach (`windowed_attention`), the loss computed only on the positions
it depends on (`loss_positions`), and the vocabulary head fused with the cross-entropy block by block
(`linear_cross_entropy`), which never holds the [tokens, vocab] logits.

For inference, `kv` (a `warble.serve.kv_cache.StepCache`) stores each layer's new keys and values in a preallocated
cache and attends over everything the new tokens may see; the model itself stays stateless.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from warble.model.config import ModelConfig
from warble.model.loss import IGNORE_INDEX, linear_cross_entropy, loss_positions
from warble.model.post_attention import PostWindows, dense_post_mask, post_windows, windowed_attention

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}  # the names flags and files use


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # normalise in fp32 (bf16 sums of squares are too coarse), scale in the input dtype, as Llama does
        return F.rms_norm(x.float(), (x.size(-1),), eps=self.eps).type_as(x) * self.weight


def rope_table(cfg: ModelConfig, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's rotation angles, [max_seq_len, head_dim / 2], in fp32."""
    inv_freq = 1.0 / cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, device=device).float() / cfg.head_dim)
    angles = torch.outer(torch.arange(cfg.max_seq_len, device=device).float(), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """Rotate the pairs (x[i], x[i + head_dim/2]) of x [B, T, heads, head_dim]: the half-split ("rotate_half")
    layout of Hugging Face Llama. cos, sin: [T or B x T, head_dim / 2]."""
    x1, x2 = x.float().chunk(2, dim=-1)
    cos, sin = cos[..., None, :], sin[..., None, :]  # broadcast over heads
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).type_as(x)


@functools.cache
def compiled_flex_attention():
    # flex_attention is only fast compiled (eager it materialises the scores); compiled lazily, on first CUDA use
    return torch.compile(flex_attention, dynamic=False)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=False)
        self.q_norm = RMSNorm(cfg.head_dim, cfg.norm_eps) if cfg.qk_norm else nn.Identity()
        self.k_norm = RMSNorm(cfg.head_dim, cfg.norm_eps) if cfg.qk_norm else nn.Identity()
        self.wqkv = None  # inference: wq, wk, wv stacked into one matrix (Transformer.fuse_for_inference)

    def forward(self, x, rope, mask, kv=None):
        B, T, _ = x.shape
        if self.wqkv is not None:
            q, k, v = self.wqkv(x).split(self.split, dim=-1)
        else:
            q, k, v = self.wq(x), self.wk(x), self.wv(x)
        q = self.q_norm(q.view(B, T, self.n_heads, self.head_dim))
        k = self.k_norm(k.view(B, T, self.n_kv_heads, self.head_dim))
        v = v.view(B, T, self.n_kv_heads, self.head_dim)
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if isinstance(mask, PostWindows):
            return self.wo(windowed_attention(q, k, v, mask))
        q = q.transpose(1, 2)  # [B, heads, T, head_dim]
        if kv is not None:  # inference: cache this step's keys/values; attend over the cached prefix and them
            return self.wo(kv.attend(q, k, v).transpose(1, 2).reshape(B, T, -1))
        k, v = k.transpose(1, 2), v.transpose(1, 2)
        if isinstance(mask, BlockMask):
            flex = compiled_flex_attention() if q.is_cuda else flex_attention  # CPU: forward only, for tests
            y = flex(q, k, v, block_mask=mask, enable_gqa=True)
        else:  # mask None = plain causal, which lets SDPA pick its flash kernel
            if mask is not None and q.is_cuda:  # CUDA's fused kernels take a mask or GQA, not both (else: math)
                k, v = (t.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1) for t in (k, v))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None, enable_gqa=True)
        return self.wo(y.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.up = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.down = nn.Linear(cfg.ffn_dim, cfg.d_model, bias=False)
        self.gate_up = None  # inference: gate and up stacked into one matrix (Transformer.fuse_for_inference)

    def forward(self, x):
        if self.gate_up is not None:
            gate, up = self.gate_up(x).chunk(2, dim=-1)
            return self.down(F.silu(gate) * up)
        return self.down(F.silu(self.gate(x)) * self.up(x))  # SwiGLU


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, rope, mask, kv=None):
        x = x + self.attn(self.attn_norm(x), rope, mask, kv)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        # Tied: the head reads tok_emb.weight directly, so there is a single parameter to shard, save and
        # re-create after to_empty() (a shared nn.Parameter would come back from the meta device untied).
        self.lm_head = None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        # Derived from the config, so not saved in checkpoints. fp32: autocast and FSDP2 mixed precision leave
        # buffers alone (model.to(bfloat16) would not; init_weights() restores them).
        self.register_buffer("rope_cos", torch.empty(cfg.max_seq_len, cfg.head_dim // 2), persistent=False)
        self.register_buffer("rope_sin", torch.empty(cfg.max_seq_len, cfg.head_dim // 2), persistent=False)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self):
        """Initialise every weight in place: after `to_empty()` on a model built on the meta device, or anew."""
        std = self.cfg.init_std
        for m in self.modules():
            if isinstance(m, RMSNorm):
                nn.init.ones_(m.weight)
            elif isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=std)
        # GPT-2: the projections that write into the residual stream are scaled down so that its variance does
        # not grow with depth (2 writes per block).
        for block in self.layers:
            for w in (block.attn.wo.weight, block.mlp.down.weight):
                nn.init.normal_(w, std=std / math.sqrt(2 * self.cfg.n_layers))
        self.rope_cos, self.rope_sin = rope_table(self.cfg, device=self.rope_cos.device)

    def num_params(self, include_embedding: bool = True) -> int:
        """Parameters actually held; without embeddings: minus the token table and the output head."""
        n = sum(p.numel() for p in self.parameters())
        if not include_embedding:
            n -= self.tok_emb.weight.numel() + (self.lm_head.weight.numel() if self.lm_head is not None else 0)
        return n

    @torch.no_grad()
    def fuse_for_inference(self) -> "Transformer":
        """Stack each block's q/k/v and gate/up weights into one matrix each: two matmuls instead of five per block,
        which matters for the small matrices of decoding (one token per sequence). Irreversible; for serving only
        (parameter names change, so do not train or save the fused model)."""
        for block in self.layers:
            a, m = block.attn, block.mlp
            a.split = [a.wq.out_features, a.wk.out_features, a.wv.out_features]
            a.wqkv = _stacked(a.wq, a.wk, a.wv)
            m.gate_up = _stacked(m.gate, m.up)
            del a.wq, a.wk, a.wv, m.gate, m.up
        return self

    def attention_mask(self, doc_ids, T: int, device):
        """None for plain causal attention; with per-post masking, a BlockMask for FlexAttention or, for "sdpa", a
        boolean [B, 1, T, T] mask (True = may attend) or, on CPU when the batch's posts are short, `PostWindows`
        (the same attention computed only near the diagonal: SDPA on CPU computes every masked score). Built once
        per forward, shared by all layers."""
        if doc_ids is None or not self.cfg.doc_mask:
            return None
        impl = self.cfg.attn_impl
        if impl == "auto":
            impl = "flex" if device.type == "cuda" else "sdpa"
        if impl == "flex":

            def same_post_causal(b, h, q, kv):
                return (q >= kv) & (doc_ids[b, q] == doc_ids[b, kv])

            # _compile: the uncompiled builder materialises a B x T x T boolean on every forward.
            return create_block_mask(same_post_causal, doc_ids.size(0), None, T, T, device=device, _compile=True)
        if device.type == "cpu":  # (on GPU, measuring the longest post would cost a host sync per step)
            windows = post_windows(doc_ids)
            if 2 * windows.width <= T:  # measured: windows pay up to about half the row
                return windows
        return dense_post_mask(doc_ids)

    def hidden(self, tokens, *, doc_ids=None, positions=None, kv=None):
        """Final-normed hidden states [B, T, d_model] of tokens [B, T]. With `kv` (inference), tokens is one row of
        several sequences' new tokens, `positions` their absolute positions, and the cache does the attention."""
        T = tokens.size(1)
        if kv is None:  # (with kv, T is many sequences' tokens; the cache checks each)
            self._check_length(T)
        mask = kv.mask if kv is not None else self.attention_mask(doc_ids, T, tokens.device)
        return self._blocks(tokens, positions, mask, kv)

    def _check_length(self, T: int):
        if T > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {T} exceeds max_seq_len {self.cfg.max_seq_len}")

    def _blocks(self, tokens, positions, mask, kv=None):
        """Embedding, blocks and final norm of tokens [B, T] under a ready attention mask."""
        T = tokens.size(1)
        if positions is None:
            rope = self.rope_cos[:T], self.rope_sin[:T]
        else:
            rope = self.rope_cos[positions], self.rope_sin[positions]
        x = self.tok_emb(tokens)
        for i, block in enumerate(self.layers):
            x = block(x, rope, mask, kv.layer(i) if kv is not None else None)
        return self.norm(x)

    def logits(self, h):
        """Output logits of hidden states h [..., d_model] (the tied or untied head)."""
        return F.linear(h, self.tok_emb.weight if self.lm_head is None else self.lm_head.weight)

    def forward(self, tokens, *, doc_ids=None, positions=None, targets=None, reduction="mean"):
        """Logits [B, T, vocab] in the model's compute dtype or, with targets, the cross-entropy (fp32) over the
        targets that are not -100: their mean, or with reduction="sum" their sum (0, not NaN, when there are none:
        what a training step that normalises by a global token count needs), or with reduction="none" each position's
        (0 where the target is -100). A mean or sum never materialises the logits, and with post windows (CPU, short
        posts) runs only the positions it depends on."""
        if targets is None or reduction == "none":  # (per-position losses are for evaluation: the plain way)
            logits = self.logits(self.hidden(tokens, doc_ids=doc_ids, positions=positions))
            if targets is None:
                return logits
            return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX,
                                   reduction="none")
        self._check_length(tokens.size(1))
        mask = self.attention_mask(doc_ids, tokens.size(1), tokens.device)
        if isinstance(mask, PostWindows) and not torch.compiler.is_compiling():  # (compiled: no new shape per batch)
            tokens, doc_ids, positions, targets = loss_positions(tokens, doc_ids, positions, targets)
            mask = post_windows(doc_ids)
        h = self._blocks(tokens, positions, mask)
        head = self.tok_emb.weight if self.lm_head is None else self.lm_head.weight
        return linear_cross_entropy(h, head, targets, reduction)


def _stacked(*linears: nn.Linear) -> nn.Linear:
    w = torch.cat([lin.weight for lin in linears])
    out = nn.Linear(w.size(1), w.size(0), bias=False, device=w.device, dtype=w.dtype)
    out.weight.copy_(w)
    return out


# Our parameter names -> Hugging Face LlamaForCausalLM's (q_norm / k_norm are Qwen3's names for QK-norm).
HF_NAMES = {
    "tok_emb": "model.embed_tokens",
    "norm": "model.norm",
    "lm_head": "lm_head",
    "attn_norm": "input_layernorm",
    "attn.wq": "self_attn.q_proj",
    "attn.wk": "self_attn.k_proj",
    "attn.wv": "self_attn.v_proj",
    "attn.wo": "self_attn.o_proj",
    "attn.q_norm": "self_attn.q_norm",
    "attn.k_norm": "self_attn.k_norm",
    "mlp_norm": "post_attention_layernorm",
    "mlp.gate": "mlp.gate_proj",
    "mlp.up": "mlp.up_proj",
    "mlp.down": "mlp.down_proj",
}


def hf_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    """The model's weights under Hugging Face Llama names, e.g. layers.3.attn.wq.weight ->
    model.layers.3.self_attn.q_proj.weight. No permutation is needed (same rotary layout). With tied embeddings
    there is no lm_head.weight, as in HF checkpoints saved with tie_word_embeddings=True."""
    out = {}
    for name, tensor in model.state_dict().items():
        module, param = name.rsplit(".", 1)
        if module.startswith("layers."):
            _, i, rest = module.split(".", 2)
            out[f"model.layers.{i}.{HF_NAMES[rest]}.{param}"] = tensor
        else:
            out[f"{HF_NAMES[module]}.{param}"] = tensor
    return out
