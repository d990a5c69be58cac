"""A few sampled posts from a trained model, for the quickstart report and training logs.

Deliberately simple (no KV cache: it reruns the prefix each token): the serving engine does generation properly;
this only shows what a run has learned, conditioned on metadata control tokens.
"""

from __future__ import annotations

import torch

from warble.model import Transformer


@torch.no_grad()
def sample_posts(model: Transformer, tok, conditions: list[dict], *, max_new_tokens: int = 48,
                 temperature: float = 0.8, top_k: int = 50, seed: int = 0) -> list[str]:
    """One post per condition dict (lang, reply, engagement, topic), starting from [bos] + control tokens."""
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    device = next(model.parameters()).device
    out = []
    for meta in conditions:
        ids = [tok.bos_id] + tok.control_ids(**meta)
        prompt_len = len(ids)
        for _ in range(max_new_tokens):
            x = torch.tensor([ids[-model.cfg.max_seq_len:]], device=device)
            logits = model(x)[0, -1].float() / temperature
            kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
            probs = torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
            nxt = int(torch.multinomial(probs.cpu(), 1, generator=gen))
            if nxt == tok.eos_id:
                break
            ids.append(nxt)
        out.append(tok.decode(ids[prompt_len:]))
    return out
