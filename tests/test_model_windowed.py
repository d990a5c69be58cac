"""Windowed per-post attention (CPU, short posts) equals SDPA with the dense per-post causal mask."""

import pytest
import torch
import torch.nn.functional as F

from warble.model import Transformer, preset
from warble.model.post_attention import PostWindows, dense_post_mask, longest_post, post_windows, windowed_attention

torch.set_num_threads(1)


def doc_ids_of(rows, T):
    """[len(rows), T] doc ids: the posts of each row back to back (lengths given), the rest one padding segment."""
    out = torch.empty(len(rows), T, dtype=torch.int32)
    for b, lengths in enumerate(rows):
        ids = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
        out[b] = torch.cat([ids, torch.full((T - len(ids),), len(lengths))]).int()
    return out


def dense_attention(q, k, v, doc_ids):
    """The reference: SDPA over [B, heads, T, D] with the dense mask, back to [B, T, heads * D]."""
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       attn_mask=dense_post_mask(doc_ids), enable_gqa=True)
    return y.transpose(1, 2).flatten(2)


LAYOUTS = [
    ([[3, 17, 1, 40, 20], [30, 30, 21]], 81),  # T not a multiple of the chunk, padding at a row end
    ([[64]], 64),  # one post filling the row: the window is the whole row
    ([[5, 5, 5, 5, 5, 5, 5, 5]], 100),  # a long padding run longer than any post
    ([[1] * 50], 50),  # posts of one token: each sees only itself
]


@pytest.mark.parametrize("rows,T", LAYOUTS)
@pytest.mark.parametrize("chunk", [4, 16, 32])
def test_equals_dense_mask_forward_and_gradients(rows, T, chunk):
    g = torch.Generator().manual_seed(0)
    doc_ids = doc_ids_of(rows, T)
    B = doc_ids.size(0)
    q, k, v = (torch.randn(B, T, h, 8, generator=g, requires_grad=True) for h in (6, 2, 2))  # GQA: 3 per kv head
    win = post_windows(doc_ids, chunk)
    assert win.reach == longest_post(doc_ids) - 1
    ours, ref = windowed_attention(q, k, v, win), dense_attention(q, k, v, doc_ids)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)
    grad = torch.randn(ours.shape, generator=g)
    for a, b in zip(torch.autograd.grad(ours, (q, k, v), grad), torch.autograd.grad(ref, (q, k, v), grad)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_bf16_is_computed_in_fp32():
    doc_ids = doc_ids_of([[10, 7, 12, 30]], 64)
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 64, h, 16, generator=g).bfloat16() for h in (4, 2, 2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = windowed_attention(q, k, v, post_windows(doc_ids))
    ref = dense_attention(q.float(), k.float(), v.float(), doc_ids)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), ref, rtol=0, atol=1e-2)  # one bf16 rounding of the output only


def test_longest_post():
    assert longest_post(doc_ids_of([[3, 9, 2], [4]], 16)) == 12  # the second row's padding run is the longest
    assert longest_post(doc_ids_of([[3, 9, 2, 2]], 16)) == 9


def test_model_takes_windows_for_short_posts_and_matches_the_dense_mask():
    torch.manual_seed(0)
    m = Transformer(preset("test", 256, max_seq_len=128)).eval()
    rows = [[9, 17, 1, 20, 30, 11, 25, 15], [25, 25, 25, 25]]  # the second row ends in 28 padding positions
    doc_ids = doc_ids_of(rows, 128)
    tokens = torch.randint(0, 256, (2, 128))
    positions = torch.cat([torch.arange(n) for n in rows[0] + rows[1] + [28]]).view(2, 128)
    mask = m.attention_mask(doc_ids, 128, tokens.device)
    assert isinstance(mask, PostWindows)
    with torch.no_grad():
        windowed = m.hidden(tokens, doc_ids=doc_ids, positions=positions)
        dense = m._blocks(tokens, positions, dense_post_mask(doc_ids))
    torch.testing.assert_close(windowed, dense, rtol=0, atol=1e-5)


def test_long_posts_keep_the_dense_mask():
    m = Transformer(preset("test", 256, max_seq_len=64))
    mask = m.attention_mask(doc_ids_of([[10, 50]], 64), 64, torch.device("cpu"))
    assert isinstance(mask, torch.Tensor) and mask.shape == (1, 1, 64, 64)
    assert Transformer(preset("test", 256, doc_mask=False)).attention_mask(doc_ids_of([[10]], 64), 64,
                                                                           torch.device("cpu")) is None
