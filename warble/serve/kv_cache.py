"""A preallocated key/value cache for batched generation with sequences of different lengths.

The cache holds `slots` sequences of up to `max_len` tokens for every layer, allocated once. A forward step feeds
the new tokens of B sequences back to back, as one row of sum(n_new) tokens: sequence b contributes `n_new[b]`
tokens of the sequence in slot `slots[b]`, which already has `starts[b]` tokens cached. So prompts being prefilled
(many tokens) and sequences being decoded (one token) share one forward, and the matmuls see no padding.
`StepCache` is what the model sees for such a step: each layer writes its new keys and values at positions
starts[b] .. starts[b] + n_new[b] - 1 of slot b, then attends each token over positions 0 .. its own (causal, its
own slot only), with the tokens laid out B x max(n_new) for that (padding is for attention alone, and dropped).
"""

from __future__ import annotations

import numpy as np
import torch

from warble.model.config import ModelConfig


def storage_dtype(compute_dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype the cache stores keys and values in, and attention computes in. On CPU fp32 even for a bf16 model:
    oneDNN builds a new bf16 matmul kernel for every new shape (~0.5 ms each, and the key length grows every step,
    so decoding met a new shape at every step), while fp32 batched matmuls go to MKL, which has no such cost and is
    faster at these small sizes anyway. It also saves the fp32 copies of the scores and the bf16 copy of the
    probabilities; the bf16 keys and values are stored exactly. The price is twice the cache's memory."""
    return torch.float32 if torch.device(device).type == "cpu" else compute_dtype


class KVCache:
    def __init__(self, cfg: ModelConfig, slots: int, max_len: int, dtype: torch.dtype, device: torch.device | str):
        """A cache for a model computing in `dtype` (stored in `storage_dtype(dtype, device)`)."""
        dtype = storage_dtype(dtype, device)
        shape = (cfg.n_layers, slots, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.slots, self.max_len = slots, max_len

    def nbytes(self) -> int:
        return 2 * self.k.numel() * self.k.element_size()

    def step(self, slots: list[int], starts: list[int], n_new: list[int]) -> StepCache:
        """The cache view for one forward of sum(n_new) tokens (see the module docstring)."""
        return StepCache(self, slots, starts, n_new)


class StepCache:
    def __init__(self, cache: KVCache, slots: list[int], starts: list[int], n_new: list[int]):
        B, total, T = len(slots), sum(n_new), max(n_new)
        self.cache, self.B, self.T, self.total = cache, B, T, total
        self.length = max(s + n for s, n in zip(starts, n_new))  # keys any row attends to this step
        if self.length > cache.max_len:
            raise ValueError(f"step writes past the cache ({self.length} > {cache.max_len} tokens)")
        # The step's index tensors are built with numpy on the host, then moved in one transfer each: a dozen small
        # torch ops per step cost more than the whole computation here (decoding at batch 1 is ~500 ops a step).
        slots_a, starts_a, n_a = np.array(slots), np.array(starts), np.array(n_new)
        offsets = np.cumsum(n_a) - n_a  # where each row's tokens begin in the flat order
        row = np.repeat(np.arange(B), n_a)  # row of every token
        positions = starts_a[row] + np.arange(total) - offsets[row]  # absolute position of every token
        # Flat row index of every (token, kv head) in a layer's cache viewed as [slots * heads * max_len, head_dim]:
        # one index_copy_ per layer writes the step's keys (much faster than an advanced-index put).
        heads = cache.k.size(2)
        flat = (slots_a[row, None] * heads + np.arange(heads)) * cache.max_len + positions[:, None]
        # Rows padded to T columns for attention only (the matmuls see no padding): index of each (row, column)
        # in the flat order, `total` (a zero row) for padding, and where the real ones are.
        grid = np.arange(T)
        real = grid < n_a[:, None]  # [B, T]
        # Query column i of row b sees keys 0 .. starts[b] + i: 0 there, -inf elsewhere, added to the scores.
        visible = np.arange(self.length) <= (starts_a[:, None] + grid)[:, :, None]  # [B, T, length]
        self.padded = T > 1 and total < B * T
        device = cache.k.device
        self.positions = _to(positions[None], device)  # [1, total], for the rotary table
        self.flat = _to(flat.reshape(-1), device)
        self.pad_index = _to(np.where(real, offsets[:, None] + grid, total).reshape(-1), device) if self.padded else None
        self.real = _to(real.reshape(-1), device) if self.padded else None
        self.visible = _to(visible, device)
        self.mask = None  # what the model passes its layers: with a cache they never read it (attend masks)
        self._bias: torch.Tensor | None = None  # the scores' mask as an additive term, built by the first layer
        first = slots[0]
        # Rows in consecutive slots (the common case) read the cache through a view instead of a gather.
        self._contiguous = slots == list(range(first, first + B))
        self.slots = None if self._contiguous else _to(slots_a, device)
        self._first = first
        self._layer = 0

    def layer(self, i: int) -> StepCache:
        self._layer = i
        return self

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Store k, v [1, total, kv_heads, head_dim] of the current layer, then attend q [1, heads, total, head_dim]
        (each token over its own sequence's cached keys) and return [1, heads, total, head_dim].

        Written out (two batched matmuls and a softmax) rather than SDPA: for a handful of new tokens over a short
        cache, CPU SDPA's flash kernel is several times slower (and slower still in bf16), and the math backend
        copies keys and values once per query head. Here each key/value head serves its group of query heads
        through a reshape; the mask is added by the first matmul (baddbmm, with the scale), the softmax runs in
        fp32 and the matmuls in the cache's dtype."""
        keys, values = self.update(k, v)
        H, D = q.size(1), q.size(3)
        B, T, kvh = self.B, self.T, keys.size(1)
        g = H // kvh
        out_dtype = q.dtype
        q_tok = q[0].transpose(0, 1).to(keys.dtype)  # [total, heads, D]
        if self.padded:
            q_tok = torch.cat([q_tok, q_tok.new_zeros(1, H, D)])[self.pad_index]
        qp = q_tok.reshape(B, T, kvh, g, D).permute(0, 2, 3, 1, 4).reshape(B * kvh, g * T, D)  # [B x kvh, g x T, D]
        scores = torch.baddbmm(self.bias(g, keys.dtype), qp, keys.flatten(0, 1).transpose(1, 2), alpha=D ** -0.5)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(values.dtype)
        out = torch.bmm(probs, values.flatten(0, 1)).view(B, H, T, D).transpose(1, 2).reshape(B * T, H, D)
        if self.padded:
            out = out[self.real]
        return out.to(out_dtype).transpose(0, 1)[None]

    def bias(self, g: int, dtype: torch.dtype) -> torch.Tensor:
        """The mask as scores' additive term, [B x kv_heads, g x T, length] (0 where visible, -inf elsewhere),
        built once per step for all layers."""
        if self._bias is None:
            kvh = self.cache.k.size(2)
            bias = torch.zeros(self.visible.shape, dtype=dtype, device=self.visible.device)
            bias.masked_fill_(~self.visible, float("-inf"))
            B, T, L = bias.shape
            self._bias = bias[:, None, None].expand(B, kvh, g, T, L).reshape(B * kvh, g * T, L)
        return self._bias

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v [1, total, kv_heads, head_dim] of the current layer; return its keys and values for attention,
        [B, kv_heads, length, head_dim]."""
        ck, cv = self.cache.k[self._layer], self.cache.v[self._layer]
        D = ck.size(-1)
        ck.view(-1, D).index_copy_(0, self.flat, k.to(ck.dtype).reshape(-1, D))  # flat order: token, then head
        cv.view(-1, D).index_copy_(0, self.flat, v.to(cv.dtype).reshape(-1, D))
        if self._contiguous:
            sl = slice(self._first, self._first + self.B)
            return ck[sl, :, :self.length], cv[sl, :, :self.length]
        return ck[self.slots, :, :self.length], cv[self.slots, :, :self.length]


def _to(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(a).to(device)
