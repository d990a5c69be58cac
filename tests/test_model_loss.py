"""The training loss's fast road: the fused blockwise cross-entropy and the positions it runs on equal the plain
computation (full logits, F.cross_entropy, every position, dense per-post mask), loss and gradients."""

import pytest
import torch
import torch.nn.functional as F

import warble.model.loss as loss_module
from warble.model import Transformer, preset
from warble.model.loss import linear_cross_entropy, loss_positions
from warble.model.post_attention import dense_post_mask

torch.set_num_threads(1)
V = 300


def inputs(seed=0, ignored=(slice(0, 30), slice(-5, None))):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(3, 40, 24, generator=g).requires_grad_()
    weight = (0.3 * torch.randn(V, 24, generator=g)).requires_grad_()
    targets = torch.randint(0, V, (3, 40), generator=g)
    for rows in ignored:
        targets.view(-1)[rows] = -100
    return h, weight, targets


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("block_elements", [7 * V, 1 << 21])  # 7 rows per block (a partial last one), or one block
def test_linear_cross_entropy_equals_cross_entropy(monkeypatch, reduction, block_elements):
    monkeypatch.setattr(loss_module, "_CE_BLOCK_ELEMENTS", block_elements)
    h, weight, targets = inputs()
    ref = F.cross_entropy(F.linear(h, weight).flatten(0, 1), targets.flatten(), reduction=reduction)
    ref_grads = torch.autograd.grad(ref * 0.37, (h, weight))
    ours = linear_cross_entropy(h, weight, targets, reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    for a, b in zip(torch.autograd.grad(ours * 0.37, (h, weight)), ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_linear_cross_entropy_under_bf16_autocast():
    h, weight, targets = inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref = F.cross_entropy(F.linear(h, weight).flatten(0, 1).float(), targets.flatten())
        ours = linear_cross_entropy(h, weight, targets)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)  # same bf16 logits, same fp32 softmax
    for a, b in zip(torch.autograd.grad(ours, (h, weight)), torch.autograd.grad(ref, (h, weight))):
        assert a.dtype == torch.float32  # back to the fp32 leaves through the autocast casts
        torch.testing.assert_close(a, b, rtol=0, atol=2e-2 * b.abs().max().item())  # bf16 rounding of the products


def test_linear_cross_entropy_without_targets_or_gradients():
    h, weight, targets = inputs(ignored=(slice(None),))
    loss = linear_cross_entropy(h, weight, targets, "sum")
    loss.backward()
    assert loss.item() == 0.0 and not h.grad.any() and not weight.grad.any()
    assert linear_cross_entropy(h, weight, targets, "mean").isnan()  # as F.cross_entropy
    h, weight, targets = inputs()
    with torch.no_grad():
        torch.testing.assert_close(linear_cross_entropy(h, weight, targets),
                                   F.cross_entropy(F.linear(h, weight).flatten(0, 1), targets.flatten()))


def test_loss_positions_keep_what_a_target_depends_on():
    # one row: post 0 (4 tokens, targets on 3), post 1 (3 tokens, a "prompt" without targets then one target),
    # post 2 (2 tokens, no target at all), then 3 padding positions
    doc_ids = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3]])
    targets = torch.tensor([[5, 6, 7, -100, -100, 8, -100, -100, -100, -100, -100, -100]])
    tokens = torch.arange(12)[None]
    positions = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 1, 2]])
    kept_tokens, kept_docs, kept_positions, kept_targets = loss_positions(tokens, doc_ids, positions, targets)
    assert kept_tokens.tolist() == [[0, 1, 2, 4, 5]]  # each post up to its last target, the prompt included
    assert kept_positions.tolist() == [[0, 1, 2, 0, 1]]
    assert kept_targets.tolist() == [[5, 6, 7, -100, 8]]
    assert kept_docs[0, 2] != kept_docs[0, 3] and kept_docs[0, 3] == kept_docs[0, 4]


def packed_batch(lengths_per_row, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = len(lengths_per_row)
    tokens = torch.randint(0, V, (rows, T), generator=g)
    doc_ids = torch.empty(rows, T, dtype=torch.int32)
    positions = torch.empty(rows, T, dtype=torch.long)
    targets = torch.full((rows, T), -100)
    for b, lengths in enumerate(lengths_per_row):
        start = 0
        for d, n in enumerate(lengths + [T - sum(lengths)]):  # the posts, then one padding segment
            doc_ids[b, start:start + n], positions[b, start:start + n] = d, torch.arange(n)
            if d < len(lengths):
                targets[b, start:start + n - 1] = tokens[b, start + 1:start + n]
            start += n
    return tokens, doc_ids, positions, targets


@pytest.mark.parametrize("prompt_holes", [False, True])
def test_model_loss_and_gradients_equal_the_plain_computation(prompt_holes):
    torch.manual_seed(0)
    m = Transformer(preset("test", V, max_seq_len=128))
    tokens, doc_ids, positions, targets = packed_batch([[9, 17, 2, 20, 30, 11, 25], [25, 25, 25, 25]], 128)
    if prompt_holes:  # fine-tuning: prompt tokens have no target but later tokens of their post attend to them
        targets[:, ::4] = -100
    assert loss_positions(tokens, doc_ids, positions, targets)[0].numel() < tokens.numel()  # the road is taken
    loss = m(tokens, doc_ids=doc_ids, positions=positions, targets=targets, reduction="sum")
    grads = torch.autograd.grad(loss, list(m.parameters()))
    h = m._blocks(tokens, positions, dense_post_mask(doc_ids))  # every position, dense mask, full logits
    ref = F.cross_entropy(m.logits(h).flatten(0, 1), targets.flatten(), reduction="sum")
    ref_grads = torch.autograd.grad(ref, list(m.parameters()))
    torch.testing.assert_close(loss, ref, rtol=1e-6, atol=1e-4)
    for (name, _), a, b in zip(m.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=lambda msg, name=name: f"{name}: {msg}")


def test_packed_batch_without_targets_sums_to_zero():
    m = Transformer(preset("test", V, max_seq_len=128))
    tokens, doc_ids, positions, targets = packed_batch([[9, 17, 2, 20]], 128)
    loss = m(tokens, doc_ids=doc_ids, positions=positions, targets=torch.full_like(targets, -100), reduction="sum")
    loss.backward()
    assert loss.item() == 0.0
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


def test_per_position_losses_keep_the_batch_layout():
    torch.manual_seed(0)
    m = Transformer(preset("test", V, max_seq_len=128)).eval()
    tokens, doc_ids, positions, targets = packed_batch([[9, 17, 2, 20, 30, 11, 25], [25, 25, 25, 25]], 128)
    with torch.no_grad():
        per_position = m(tokens, doc_ids=doc_ids, positions=positions, targets=targets, reduction="none")
        logits = m(tokens, doc_ids=doc_ids, positions=positions)
        mean = m(tokens, doc_ids=doc_ids, positions=positions, targets=targets)
    assert per_position.shape == (2 * 128,)
    torch.testing.assert_close(per_position, F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none"))
    torch.testing.assert_close(per_position.sum() / (targets != -100).sum(), mean)
