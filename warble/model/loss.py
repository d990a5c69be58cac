"""The training loss of packed rows: which positions it depends on, and the vocabulary head fused with the
cross-entropy (CPU), so the [tokens, vocab] logits are never held whole."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from warble.model.post_attention import post_starts

IGNORE_INDEX = -100  # targets without a loss, as in torch's cross_entropy


def loss_positions(tokens, doc_ids, positions, targets):
    """tokens, doc_ids, positions and targets [B, T] -> the same for one row [1, N] holding only the positions the
    loss depends on: those at or before a target of their own post. The others (each post's last token, padding,
    a post's tail after its last target) are seen by no position with a target when attention is per post, so
    leaving them out changes neither the loss nor any gradient; in packed pretraining they are ~10% of a batch."""
    B, T = tokens.shape
    if positions is None:
        positions = torch.arange(T, device=tokens.device).expand(B, T)
    post = post_starts(doc_ids).flatten().cumsum(0)  # a number per post, unique in the batch and increasing along it
    has_target = targets.flatten() != IGNORE_INDEX
    # for each position, the first post at or after it that holds a target: its own one if a target follows in it
    next_target_post = torch.where(has_target, post, post.size(0) + 1).flip(0).cummin(0).values.flip(0)
    keep = (next_target_post == post).nonzero().squeeze(1)
    if keep.numel() == 0:  # no target at all: nothing to drop to (the loss is 0 either way)
        return tokens, doc_ids, positions, targets
    return tuple(x.flatten()[keep][None] for x in (tokens, post, positions, targets))


_CE_BLOCK_ELEMENTS = 1 << 21  # logits per block: 8 MB in fp32 (2M-4M measured alike; 512k slower)


class _LinearCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of logits = h @ weight.T, one block of rows at a time, with the gradients computed in the
    same pass: the [N, vocab] fp32 logits, their log-softmax and their gradient are never held whole (at vocab 8k
    and 2k rows each is 67 MB, and on CPU allocating and touching them cost as much as the output matmul itself).
    Forward saves dh and dweight already computed; backward only scales them by the incoming gradient."""

    @staticmethod
    def forward(ctx, h, weight, targets, want_dh: bool, want_dw: bool, block_rows: int):
        loss = torch.zeros((), dtype=torch.float32, device=h.device)
        dh = torch.empty_like(h) if want_dh else None
        dw = torch.zeros_like(weight, dtype=torch.float32) if want_dw else None
        out = h.new_empty(min(block_rows, h.size(0)), weight.size(0))  # reused: a fresh 8 MB each block costs ~7%
        for s in range(0, h.size(0), block_rows):
            hb, tb = h[s : s + block_rows], targets[s : s + block_rows]
            logits = torch.mm(hb, weight.T, out=out[: hb.size(0)]).float()
            valid = (tb != IGNORE_INDEX)[:, None]
            t = tb[:, None].clamp(min=0)
            target_logit = logits.gather(1, t)
            peak = logits.amax(1, keepdim=True)
            exp = logits.sub_(peak).exp_()  # in place: the logits are not needed any more
            sum_exp = exp.sum(1, keepdim=True)
            loss += ((peak + sum_exp.log() - target_logit) * valid).sum()  # logsumexp - target logit
            if want_dh or want_dw:
                grad = exp.mul_(valid / sum_exp)  # softmax, zero on rows without a target
                grad.scatter_add_(1, t, -valid.to(grad.dtype))  # minus the one-hot target
                grad = grad.to(h.dtype)
                if want_dh:
                    torch.mm(grad, weight, out=dh[s : s + block_rows])
                if want_dw and grad.dtype == dw.dtype:
                    torch.addmm(dw, grad.T, hb, out=dw)  # (not addmm_: FlopCounterMode misses it)
                elif want_dw:  # bf16: each block's product in bf16, their sum in fp32
                    dw += grad.T @ hb
        ctx.save_for_backward(dh, dw)
        ctx.weight_dtype = weight.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        dh, dw = ctx.saved_tensors  # scaled in fp32 (a bf16 grad_loss such as 1 / n_tokens would be rounded)
        dh = None if dh is None else dh * grad_loss
        dw = None if dw is None else (dw * grad_loss).to(ctx.weight_dtype)
        return dh, dw, None, None, None, None


def linear_cross_entropy(h, weight, targets, reduction: str = "mean"):
    """F.cross_entropy(h @ weight.T, targets, ignore_index=-100, reduction) in fp32, for h [..., d], weight
    [vocab, d], targets [...], computed block by block (`_LinearCrossEntropy`). Under autocast the matmuls run in
    the autocast dtype, as F.linear would. On GPU: the plain computation (its small blocks would starve the GPU;
    a fused GPU kernel such as Liger's would be the step there)."""
    h, targets = h.flatten(0, -2), targets.flatten()
    if h.is_cuda:
        return F.cross_entropy(F.linear(h, weight).float(), targets, ignore_index=IGNORE_INDEX, reduction=reduction)
    device = h.device.type
    if torch.is_autocast_enabled(device):
        h, weight = h.to(torch.get_autocast_dtype(device)), weight.to(torch.get_autocast_dtype(device))
    keep = (targets != IGNORE_INDEX).nonzero().squeeze(1)  # only rows with a target (not post ends, padding)
    h, targets = h[keep], targets[keep]
    n_targets = (targets != IGNORE_INDEX).sum()
    grad = torch.is_grad_enabled()
    block_rows = max(1, _CE_BLOCK_ELEMENTS // weight.size(0))
    with torch.autocast(device, enabled=False):
        loss = _LinearCrossEntropy.apply(h, weight, targets, grad and h.requires_grad, grad and weight.requires_grad,
                                         block_rows)
    if reduction == "sum":
        return loss
    if reduction == "mean":
        return loss / n_targets  # NaN without targets, as F.cross_entropy
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
