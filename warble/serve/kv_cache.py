"""A preallocated key/value cache for batched generation with sequences of different lengths.

The cache holds `slots` sequences of up to `max_len` tokens for every layer, allocated once. A forward step feeds
B rows, row b holding `n_new[b]` new tokens (right-padded to T) of the sequence in slot `slots[b]`, which already
has `starts[b]` tokens cached. `StepCache` is what the model sees for one such step: each layer writes its new keys
and values at positions starts[b] .. starts[b] + n_new[b] - 1 and attends over positions 0 .. starts[b] + i
(causal, each row only its own slot). Padding writes go to a spare column past `max_len` that nothing reads, so a
padded row never overwrites a real key. Prefill (many new tokens, nothing cached) and decode (one new token per
row) are the same operation.
"""

from __future__ import annotations

import torch

from warble.model.config import ModelConfig


class KVCache:
    def __init__(self, cfg: ModelConfig, slots: int, max_len: int, dtype: torch.dtype, device: torch.device | str):
        shape = (cfg.n_layers, slots, cfg.n_kv_heads, max_len + 1, cfg.head_dim)  # +1: the padding sink
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.slots, self.max_len = slots, max_len

    def nbytes(self) -> int:
        return 2 * self.k.numel() * self.k.element_size()

    def step(self, slots: torch.Tensor, starts: torch.Tensor, n_new: torch.Tensor, T: int) -> StepCache:
        """The cache view for one forward over B rows of T token columns (see the module docstring)."""
        return StepCache(self, slots, starts, n_new, T)


class StepCache:
    def __init__(self, cache: KVCache, slots: torch.Tensor, starts: torch.Tensor, n_new: torch.Tensor, T: int):
        device = cache.k.device
        self.cache = cache
        self.slots = slots.to(device)
        starts, n_new = starts.to(device), n_new.to(device)
        col = torch.arange(T, device=device)
        pos = starts[:, None] + col  # absolute position of every column
        self.positions = pos.clamp(max=cache.max_len - 1)  # for the rotary table; padding columns are don't-care
        self.write_at = torch.where(col < n_new[:, None], pos, cache.max_len)  # padding -> the spare column
        self.length = int((starts + n_new).max())  # keys any row attends to this step
        if int(self.length) > cache.max_len:
            raise ValueError(f"step writes past the cache ({self.length} > {cache.max_len} tokens)")
        # Query column i of row b sees keys 0 .. starts[b] + i. [B, 1, T, length]
        self.mask = (torch.arange(self.length, device=device) <= pos[:, :, None])[:, None]
        # Flat row index of every (row, column, kv head) in a layer's cache viewed as [slots * heads * (max_len + 1),
        # head_dim]: one index_copy_ per layer writes the step's keys (much faster than an advanced-index put).
        heads, L1 = cache.k.size(2), cache.max_len + 1
        h = torch.arange(heads, device=device)
        self.flat = ((self.slots[:, None, None] * heads + h) * L1 + self.write_at[:, :, None]).reshape(-1)
        B = slots.numel()
        first = int(slots[0]) if B else 0
        # Rows in consecutive slots (the common case) read the cache through a view instead of a gather.
        self._contiguous = bool(B) and bool((slots.cpu() == torch.arange(first, first + B)).all())
        self._first, self._B = first, B
        self._layer = 0

    def layer(self, i: int) -> StepCache:
        self._layer = i
        return self

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Store k, v [B, T, kv_heads, head_dim] of the current layer, then attend q [B, heads, T, head_dim] over the
        cached keys; returns [B, heads, T, head_dim].

        Written out (two batched matmuls and a softmax) rather than SDPA: for a handful of new tokens over a short
        cache, CPU SDPA's flash kernel is several times slower (and slower still in bf16), and the math backend
        copies keys and values once per query head. Here each key/value head serves its group of query heads
        through a reshape, and the softmax runs in fp32."""
        keys, values = self.update(k, v)
        B, H, T, D = q.shape
        kvh, L = keys.size(1), keys.size(2)
        g = H // kvh
        scores = (q.reshape(B, kvh, g * T, D) @ keys.transpose(-1, -2)).float() * D ** -0.5  # [B, kvh, g*T, L]
        scores = scores.view(B, kvh, g, T, L).masked_fill(~self.mask[:, :, None], float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(values.dtype).view(B, kvh, g * T, L)
        return (probs @ values).view(B, H, T, D)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v [B, T, kv_heads, head_dim] of the current layer; return its keys and values for attention,
        [B, kv_heads, length, head_dim]."""
        ck, cv = self.cache.k[self._layer], self.cache.v[self._layer]
        D = ck.size(-1)
        ck.view(-1, D).index_copy_(0, self.flat, k.reshape(-1, D).to(ck.dtype))  # k: [B, T, heads, D] in flat order
        cv.view(-1, D).index_copy_(0, self.flat, v.reshape(-1, D).to(cv.dtype))
        if self._contiguous:
            sl = slice(self._first, self._first + self._B)
            return ck[sl, :, :self.length], cv[sl, :, :self.length]
        return ck[self.slots, :, :self.length], cv[self.slots, :, :self.length]
