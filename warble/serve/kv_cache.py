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

import torch

from warble.model.config import ModelConfig


class KVCache:
    def __init__(self, cfg: ModelConfig, slots: int, max_len: int, dtype: torch.dtype, device: torch.device | str):
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
        device = cache.k.device
        B, total, T = len(slots), sum(n_new), max(n_new)
        self.cache, self.B, self.T, self.total = cache, B, T, total
        self.length = max(s + n for s, n in zip(starts, n_new))  # keys any row attends to this step
        if self.length > cache.max_len:
            raise ValueError(f"step writes past the cache ({self.length} > {cache.max_len} tokens)")
        self.slots = torch.tensor(slots, device=device)
        starts_t, n_t = torch.tensor(starts, device=device), torch.tensor(n_new, device=device)
        offsets = torch.cumsum(n_t, 0) - n_t  # where each row's tokens begin in the flat order
        row = torch.repeat_interleave(torch.arange(B, device=device), n_t)  # row of every token
        col = torch.arange(total, device=device) - offsets[row]  # its column within the row
        self.positions = (starts_t[row] + col)[None]  # [1, total]: absolute positions, for the rotary table
        # Flat row index of every (token, kv head) in a layer's cache viewed as [slots * heads * max_len, head_dim]:
        # one index_copy_ per layer writes the step's keys (much faster than an advanced-index put).
        heads = cache.k.size(2)
        h = torch.arange(heads, device=device)
        self.flat = ((self.slots[row][:, None] * heads + h) * cache.max_len + self.positions[0][:, None]).reshape(-1)
        # Rows padded to T columns for attention only (the matmuls see no padding): index of each (row, column)
        # in the flat order, `total` (a zero row) for padding, and where the real ones are.
        grid = torch.arange(T, device=device)
        real = grid[None, :] < n_t[:, None]  # [B, T]
        self.pad_index = torch.where(real, offsets[:, None] + grid, total).reshape(-1)
        self.real = real.reshape(-1)
        self.padded = T > 1 and total < B * T
        # Query column i of row b sees keys 0 .. starts[b] + i. [B, 1, T, length]
        pos = starts_t[:, None] + grid
        self.mask = (torch.arange(self.length, device=device) <= pos[:, :, None])[:, None]
        first = slots[0]
        # Rows in consecutive slots (the common case) read the cache through a view instead of a gather.
        self._contiguous = slots == list(range(first, first + B))
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
        through a reshape, and the softmax runs in fp32."""
        keys, values = self.update(k, v)
        _, H, total, D = q.shape
        B, T = self.B, self.T
        q_tok = q[0].transpose(0, 1)  # [total, heads, D]
        if self.padded:
            q_tok = torch.cat([q_tok, q_tok.new_zeros(1, H, D)])[self.pad_index]
        qp = q_tok.reshape(B, T, H, D).transpose(1, 2)  # [B, heads, T, D]
        kvh, L = keys.size(1), keys.size(2)
        g = H // kvh
        scores = (qp.reshape(B, kvh, g * T, D) @ keys.transpose(-1, -2)).float() * D ** -0.5  # [B, kvh, g*T, L]
        scores = scores.view(B, kvh, g, T, L).masked_fill(~self.mask[:, :, None], float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(values.dtype).view(B, kvh, g * T, L)
        out = (probs @ values).view(B, H, T, D).transpose(1, 2).reshape(B * T, H, D)
        if self.padded:
            out = out[self.real]
        return out.transpose(0, 1)[None]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v [1, total, kv_heads, head_dim] of the current layer; return its keys and values for attention,
        [B, kv_heads, length, head_dim]."""
        ck, cv = self.cache.k[self._layer], self.cache.v[self._layer]
        D = ck.size(-1)
        ck.view(-1, D).index_copy_(0, self.flat, k.reshape(-1, D).to(ck.dtype))  # flat order: token, then head
        cv.view(-1, D).index_copy_(0, self.flat, v.reshape(-1, D).to(cv.dtype))
        if self._contiguous:
            sl = slice(self._first, self._first + self.B)
            return ck[sl, :, :self.length], cv[sl, :, :self.length]
        return ck[self.slots, :, :self.length], cv[self.slots, :, :self.length]
