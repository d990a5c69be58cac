"""Turning a batch of next-token logits into tokens, each row with its own sampling parameters.

Order of the transforms (that of Hugging Face's logits processors): banned words -> repetition penalty -> temperature -> top-k ->
top-p -> min-p -> draw. Rows with temperature 0 take the argmax of the penalised logits. Every draw uses the row's
own `torch.Generator`, so a request's tokens depend on its seed and its logits only, not on the rest of the batch.
Work is skipped when no row asks for it (a greedy batch costs one argmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from warble.serve.types import SamplingParams


@dataclass
class RowSampling:
    """One batch row's parameters and state, as the sampler needs them."""

    params: SamplingParams
    generator: torch.Generator | None  # None for greedy rows
    seen: torch.Tensor | None = None  # [vocab] bool: tokens of prompt and output (repetition penalty only)
    banned: list[int] | None = None  # this step's banned tokens (bad_words_ids), set by the scheduler


def banned_tokens(bad_words_ids: tuple[tuple[int, ...], ...], prompt: list[int], output: list[int]) -> list[int]:
    """The tokens that would complete a bad word now: each sequence's last token, when the prompt + output so far
    end with the sequence's other tokens (a one-token sequence is always banned)."""
    out = []
    for seq in bad_words_ids:
        k = len(seq) - 1
        if k == 0:
            out.append(seq[0])
            continue
        tail = output[-k:]
        if len(tail) < k:  # the prefix may start in the prompt
            tail = prompt[len(prompt) - (k - len(tail)):] + tail if len(prompt) >= k - len(tail) else None
        if tail is not None and tuple(tail) == seq[:-1]:
            out.append(seq[-1])
    return out


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """CTRL (Keskar et al. 2019): a seen token's logit is divided by the penalty if positive, multiplied if not."""
    p = penalty[:, None]
    return torch.where(seen, torch.where(logits > 0, logits / p, logits * p), logits)


def sample(logits: torch.Tensor, rows: list[RowSampling]) -> torch.Tensor:
    """Next token per row of logits [B, vocab] (fp32); returns int64 [B] on the CPU."""
    B, V = logits.shape
    ps = [r.params for r in rows]
    if any(r.banned for r in rows):
        logits = logits.clone()
        for i, r in enumerate(rows):
            if r.banned:
                logits[i, r.banned] = float("-inf")
    if any(p.repetition_penalty != 1.0 for p in ps):
        seen = torch.stack([r.seen if r.seen is not None else torch.zeros(V, dtype=torch.bool, device=logits.device)
                            for r in rows])
        penalty = torch.tensor([p.repetition_penalty for p in ps], device=logits.device)
        logits = apply_repetition_penalty(logits, seen, penalty)
    out = logits.argmax(dim=-1).cpu()
    sampled = [i for i, p in enumerate(ps) if p.temperature > 0]
    if not sampled:
        return out
    idx = torch.tensor(sampled, device=logits.device)
    x = logits[idx] / torch.tensor([ps[i].temperature for i in sampled], device=logits.device)[:, None]
    sub = [ps[i] for i in sampled]
    top_k = [p.top_k if 0 < p.top_k < V else V for p in sub]
    if max(top_k) < V or any(p.top_p < 1 or p.min_p > 0 for p in sub):
        # Work in sorted order over the candidates (the top max(k) tokens: top-p and min-p act after top-k).
        k_max = max(top_k)
        vals, ids = torch.topk(x, k_max, dim=-1) if k_max < V else torch.sort(x, dim=-1, descending=True)
        rank = torch.arange(k_max, device=x.device)
        drop = rank[None, :] >= torch.tensor(top_k, device=x.device)[:, None]
        vals = vals.masked_fill(drop, float("-inf"))
        probs = torch.softmax(vals, dim=-1)
        top_p = torch.tensor([p.top_p for p in sub], device=x.device)[:, None]
        # nucleus: drop a token when the tokens before it already reach top_p (the first one always stays)
        drop |= (probs.cumsum(-1) - probs) >= top_p
        min_p = torch.tensor([p.min_p for p in sub], device=x.device)[:, None]
        drop |= probs < min_p * probs[:, :1]
        probs = probs.masked_fill(drop, 0.0)
    else:
        ids, probs = None, torch.softmax(x, dim=-1)
    probs = probs.float().cpu()
    for j, i in enumerate(sampled):
        choice = int(torch.multinomial(probs[j], 1, generator=rows[i].generator))
        out[i] = int(ids[j, choice]) if ids is not None else choice
    return out
