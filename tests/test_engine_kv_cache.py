"""The KV cache's attention step by step against attention written per sequence from the keys it has seen: prefill
and decode rows in one step, rows of different lengths (padding), slots in and out of order (views and gathers),
grouped-query heads, and a bf16 model over the cache's storage dtype."""

import pytest
import torch

from warble.model.config import ModelConfig
from warble.serve import kv_cache
from warble.serve.kv_cache import KVCache

HEADS, KV_HEADS, D = 6, 2, 8


def reference(history_k, history_v, q):
    """q [heads, D] of one token over that sequence's keys/values so far [n, kv_heads, D]."""
    g = HEADS // KV_HEADS
    k = history_k.repeat_interleave(g, dim=1).float()  # [n, heads, D]
    v = history_v.repeat_interleave(g, dim=1).float()
    w = torch.softmax(torch.einsum("hd,nhd->hn", q.float(), k) * D ** -0.5, dim=-1)
    return torch.einsum("hn,nhd->hd", w, v)


# Each step: (slot, new tokens) per row; a slot's first step is its prefill.
STEPS = [
    [(0, 5), (1, 3), (2, 1)],  # three prompts of different lengths: padded rows
    [(0, 1), (1, 1), (2, 1)],  # decode, consecutive slots: the cache is read through a view
    [(2, 1), (0, 1), (3, 4)],  # out of slot order, plus a new prompt: a gather
    [(1, 1), (3, 1)],  # a gap between slots
    [(0, 1), (1, 1), (2, 1), (3, 1)],
]


@pytest.mark.parametrize("dtype,stored", [(torch.float32, "cpu"), (torch.bfloat16, "cpu"), (torch.bfloat16, "bf16")])
def test_step_attention_equals_per_sequence_attention(dtype, stored, monkeypatch):
    """stored="bf16": the cache in the model's dtype, as on GPUs (CPU stores fp32; see storage_dtype)."""
    if stored == "bf16":
        monkeypatch.setattr(kv_cache, "storage_dtype", lambda compute, device: compute)
    cfg = ModelConfig(n_layers=2, d_model=HEADS * D, n_heads=HEADS, n_kv_heads=KV_HEADS, vocab_size=16, max_seq_len=32)
    cache = KVCache(cfg, slots=4, max_len=16, dtype=dtype, device="cpu")
    assert cache.k.dtype == (torch.float32 if stored == "cpu" else dtype)
    g = torch.Generator().manual_seed(0)
    seen_k = {s: [[] for _ in range(cfg.n_layers)] for s in range(4)}
    seen_v = {s: [[] for _ in range(cfg.n_layers)] for s in range(4)}
    length = {s: 0 for s in range(4)}
    for rows in STEPS:
        slots, n_new = [s for s, _ in rows], [n for _, n in rows]
        step = cache.step(slots, [length[s] for s in slots], n_new)
        total = sum(n_new)
        expected_positions = [length[s] + i for s, n in rows for i in range(n)]
        assert step.positions[0].tolist() == expected_positions
        for layer in range(cfg.n_layers):
            q = torch.randn(1, HEADS, total, D, generator=g).to(dtype)
            k = torch.randn(1, total, KV_HEADS, D, generator=g).to(dtype)
            v = torch.randn(1, total, KV_HEADS, D, generator=g).to(dtype)
            out = step.layer(layer).attend(q, k, v)
            assert out.shape == q.shape and out.dtype == dtype
            at = 0
            for s, n in rows:
                for i in range(n):
                    seen_k[s][layer].append(k[0, at + i])
                    seen_v[s][layer].append(v[0, at + i])
                    upto = length[s] + i + 1  # the token sees its own sequence's keys up to itself
                    ref = reference(torch.stack(seen_k[s][layer][:upto]), torch.stack(seen_v[s][layer][:upto]),
                                    q[0, :, at + i])
                    tol = 1e-5 if dtype == torch.float32 else 3e-2  # bf16: rounded scores and output
                    assert torch.allclose(out[0, :, at + i].float(), ref, atol=tol), (rows, layer, s, i)
                at += n
        for s, n in rows:
            length[s] += n


def test_a_step_past_the_cache_is_refused():
    cfg = ModelConfig(n_layers=1, d_model=HEADS * D, n_heads=HEADS, n_kv_heads=KV_HEADS, vocab_size=16, max_seq_len=32)
    cache = KVCache(cfg, slots=2, max_len=8, dtype=torch.float32, device="cpu")
    with pytest.raises(ValueError, match="past the cache"):
        cache.step([0, 1], [6, 0], [3, 1])
