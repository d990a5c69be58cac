"""Per-post causal attention over packed rows, computed only where a mask would let it look (CPU).

A packed row holds many short posts; each token may attend only to earlier tokens of its own post. SDPA with the dense
[T, T] mask (`dense_post_mask`) computes every score the mask hides. When the batch's posts are short,
`windowed_attention` cuts the row into chunks of queries and gives each chunk only the keys its posts can reach (its
own span plus the longest post's reach back), which is the same attention at width / T of the work. On GPU,
FlexAttention's block mask does this; these functions are the CPU road (tests/test_model_windowed.py checks they
equal the dense mask, forward and gradients).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

WINDOW_CHUNK = 32  # queries per chunk of windowed attention (16-64 measured alike on CPU; 32 was the fastest)


@dataclass
class PostWindows:
    """Per-post causal attention of a packed batch where posts are short: each chunk of `chunk` queries attends only
    to the `width` = chunk + reach keys that end at its last query, `reach` being how far back any token of the batch
    may look (its longest post minus one). Built once per forward from doc_ids, shared by all layers."""

    chunk: int
    reach: int
    bias: torch.Tensor  # [B, n_chunks, chunk, width] fp32: 0 where the query may attend the key, -inf elsewhere

    @property
    def width(self) -> int:
        return self.chunk + self.reach


def dense_post_mask(doc_ids):
    """Per-post causal attention as a boolean [B, 1, T, T] mask for SDPA (True = may attend). Causal rows always see
    themselves, so no row is fully masked (SDPA returns zeros there on CPU); a row's padding is one segment of its
    own that attends only to padding."""
    T = doc_ids.size(1)
    causal = torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()
    return (causal & (doc_ids[:, :, None] == doc_ids[:, None, :]))[:, None]


def post_starts(doc_ids):
    """True where a post begins in doc_ids [B, T]: posts are runs of equal ids (as the loader packs them), and each
    row begins one."""
    starts = torch.ones_like(doc_ids, dtype=torch.bool)
    starts[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    return starts


def longest_post(doc_ids) -> int:
    """Length of the longest post in any row of doc_ids [B, T]."""
    t = torch.arange(doc_ids.size(1), device=doc_ids.device)
    post_start = (t * post_starts(doc_ids)).cummax(dim=1).values  # where each token's post began
    return int((t - post_start).max()) + 1


def post_windows(doc_ids, chunk: int = WINDOW_CHUNK) -> PostWindows:
    """The windows and mask of `windowed_attention` for doc_ids [B, T] (posts as runs of equal ids). Positions past
    the end of the row (T rounded up to whole chunks) and before its start (the first chunk's window) get doc id -1:
    no real token attends to them, and a padding query past the end attends to one at least (itself), so no softmax
    row is empty."""
    B, T = doc_ids.shape
    reach = longest_post(doc_ids) - 1
    n = -(-T // chunk)
    doc_ids = doc_ids.long()
    q_doc = F.pad(doc_ids, (0, n * chunk - T), value=-1).view(B, n, chunk)
    k_doc = F.pad(doc_ids, (reach, n * chunk - T), value=-1).unfold(1, chunk + reach, chunk)  # [B, n, width]
    # query c of a chunk is window position c + reach: it sees window positions up to there
    causal = torch.arange(chunk, device=doc_ids.device)[:, None] + reach >= torch.arange(chunk + reach,
                                                                                          device=doc_ids.device)
    allowed = causal & (q_doc[..., :, None] == k_doc[..., None, :])
    bias = torch.zeros(allowed.shape, device=doc_ids.device).masked_fill_(~allowed, float("-inf"))
    return PostWindows(chunk, reach, bias)


def _windows(x, win: PostWindows):
    """x [B, T, heads, D] -> [B, n_chunks, heads, width, D]: each chunk's keys (a strided view of x padded)."""
    n = win.bias.size(1)
    x = F.pad(x, (0, 0, 0, 0, win.reach, n * win.chunk - x.size(1)))
    return x.unfold(1, win.width, win.chunk).permute(0, 1, 2, 4, 3)


def windowed_attention(q, k, v, win: PostWindows):
    """Attention of q [B, T, H, D] over k, v [B, T, H_kv, D] (grouped-query) restricted to `win`'s windows, each
    chunk of queries a batch entry of SDPA; equals SDPA with the dense [T, T] per-post causal mask
    (tests/test_model_windowed.py) at width / T of its work. Returns [B, T, H * D] in q's dtype.

    Computed in fp32 whatever the input dtype: at these small shapes CPU's bf16 SDPA backward is 3-4x slower than
    its fp32 one, and written-out bf16 matmuls round the scores to bf16 (measurably noisier training)."""
    B, T, H, D = q.shape
    n, C, W, H_kv, dtype = win.bias.size(1), win.chunk, win.width, k.size(2), q.dtype
    q = F.pad(q.float(), (0, 0, 0, 0, 0, n * C - T)).view(B, n, C, H, D).transpose(2, 3).reshape(B * n, H, C, D)
    k, v = (_windows(x.float(), win).reshape(B * n, H_kv, W, D) for x in (k, v))
    with torch.autocast(q.device.type, enabled=False):  # (autocast would run SDPA in bf16 again)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=win.bias.view(B * n, 1, C, W), enable_gqa=True)
    return y.view(B, n, H, C, D).transpose(2, 3).reshape(B, n * C, H * D)[:, :T].to(dtype)
