"""Scoring and embedding many short texts at once: pack them into rows, each text attending only to itself.

The same packing as training (`doc_ids` mask, positions restarting per text), so a text scores exactly as if it
were alone while a forward carries dozens of posts instead of one padded post per row.

Embedding pooling (`POOLINGS`; default "last"): the final hidden state of the text's last token. In a causal
model that is the only state that has read the whole post. Means over the tokens mix in states that saw only the
first words, and the state at [eos] predicts what follows a post (the next post's start), not the post. Measured
on the quickstart model with the synthetic corpus's known topics (docs/LOG.md, 2026-11-29): 1-NN topic accuracy
0.22 for "last" against 0.12 for the position-weighted mean (SGPT) and 0.11 for the plain mean, 0.13 at [eos].
The means stay available (`Engine.load(..., pooling=...)`): a model fine-tuned for embeddings may prefer them.
Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Pack:
    """Sequences [(index, ids)] laid out in rows of `T` columns."""

    tokens: torch.Tensor  # [R, T]
    doc_ids: torch.Tensor  # [R, T]
    positions: torch.Tensor  # [R, T]
    spans: list[tuple[int, int, int, int]]  # (sequence index, row, start column, length)


def plan_packs(lengths: list[int], row_len: int, token_budget: int) -> list[list[list[int]]]:
    """Sequence indices grouped into rows (first fit, in order) and rows into forwards of at most `token_budget`
    padded tokens. Every length must be <= row_len."""
    forwards, rows, row, used = [], [], [], 0
    for i, n in enumerate(lengths):
        if used + n > row_len:
            rows.append(row)
            row, used = [], 0
        row.append(i)
        used += n
    if row:
        rows.append(row)
    per_forward = max(token_budget // row_len, 1)
    for k in range(0, len(rows), per_forward):
        forwards.append(rows[k:k + per_forward])
    return forwards


def build_pack(rows: list[list[int]], seqs: list[list[int]], pad_id: int, device) -> Pack:
    T = max(sum(len(seqs[i]) for i in row) for row in rows)
    tokens = torch.full((len(rows), T), pad_id, dtype=torch.long)
    doc_ids = torch.full((len(rows), T), -1, dtype=torch.int32)  # padding: a segment of its own
    positions = torch.zeros((len(rows), T), dtype=torch.long)
    spans = []
    for r, row in enumerate(rows):
        at = 0
        for d, i in enumerate(row):
            n = len(seqs[i])
            tokens[r, at:at + n] = torch.tensor(seqs[i])
            doc_ids[r, at:at + n] = d
            positions[r, at:at + n] = torch.arange(n)
            spans.append((i, r, at, n))
            at += n
    return Pack(tokens.to(device), doc_ids.to(device), positions.to(device), spans)


@torch.inference_mode()
def score_pack(model, pack: Pack, first_target: dict[int, int], chunk: int = 1024) -> dict[int, list[float]]:
    """Log-probability of every token of each sequence from `first_target[i]` on, given the tokens before it:
    {sequence index: [logprob, ...]}. Logits are computed only where a scored token is predicted, `chunk` at a
    time, in fp32."""
    h = model.hidden(pack.tokens, doc_ids=pack.doc_ids, positions=pack.positions)
    rows, cols, targets, owner = [], [], [], []
    for i, r, start, n in pack.spans:
        for t in range(max(first_target[i], 1), n):  # token t is predicted by the state at t - 1
            rows.append(r)
            cols.append(start + t - 1)
            targets.append(int(pack.tokens[r, start + t]))
            owner.append(i)
    out: dict[int, list[float]] = {i: [] for i, *_ in pack.spans}
    if not rows:
        return out
    rows_t, cols_t = torch.tensor(rows, device=h.device), torch.tensor(cols, device=h.device)
    tgt = torch.tensor(targets, device=h.device)
    lps = []
    for k in range(0, len(rows), chunk):
        logits = model.logits(h[rows_t[k:k + chunk], cols_t[k:k + chunk]]).float()
        lps.append(torch.log_softmax(logits, dim=-1).gather(1, tgt[k:k + chunk, None])[:, 0])
    for i, lp in zip(owner, torch.cat(lps).tolist()):
        out[i].append(lp)
    return out


POOLINGS = ("last", "weighted_mean", "mean")


@torch.inference_mode()
def embed_pack(model, pack: Pack, pooling: str = "last") -> dict[int, torch.Tensor]:
    """One L2-normalised fp32 vector per sequence ([bos] + text) from its final hidden states: {index: vector}."""
    h = model.hidden(pack.tokens, doc_ids=pack.doc_ids, positions=pack.positions).float()
    out = {}
    for i, r, start, n in pack.spans:
        states = h[r, start + 1:start + n] if n > 1 else h[r, start:start + 1]  # [bos] alone: an empty text
        if pooling == "last":
            v = states[-1]
        elif pooling == "weighted_mean":  # SGPT: weights 1..n, later tokens have read more of the post
            w = torch.arange(1, states.size(0) + 1, device=h.device, dtype=h.dtype)
            v = (w[:, None] * states).sum(0) / w.sum()
        else:
            v = states.mean(0)
        out[i] = F.normalize(v, dim=0)
    return out
