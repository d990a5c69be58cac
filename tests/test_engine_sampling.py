"""The sampler's fast paths against their plain definitions: the truncation mask (from sorted values and binary
searches) against a full stable sort, the inverse-transform draw against the weights, and a row's draw against the
same row in other batches."""

import pytest
import torch

from warble.serve.sampling import RowSampling, draw, kept_tokens, sample, sorted_values
from warble.serve.types import SamplingParams


def kept_by_full_sort(probs: torch.Tensor, p: SamplingParams) -> set[int]:
    """The definition: sort the row by probability (ties: lower id first), keep the top-k, then the tokens whose
    preceding renormalised mass is below top_p, then those at least min_p x the most likely one."""
    V = probs.numel()
    order = sorted(range(V), key=lambda i: (-float(probs[i]), i))
    k = p.top_k if 0 < p.top_k < V else V
    values = probs[order[:k]]
    mass = values.cumsum(0)
    kept = []
    for j, i in enumerate(order[:k]):
        before = float(mass[j - 1]) if j else 0.0
        if before < p.top_p * float(mass[-1]) and float(values[j]) >= p.min_p * float(values[0]):
            kept.append(i)
        else:
            break
    return set(kept)


PARAMS = [dict(top_k=1), dict(top_k=3), dict(top_k=40), dict(top_p=0.5), dict(top_p=0.9), dict(min_p=0.3),
          dict(top_k=20, top_p=0.7), dict(top_p=0.8, min_p=0.1), dict(top_k=5, top_p=0.9, min_p=0.05)]


@pytest.mark.parametrize("kw", PARAMS)
def test_kept_tokens_equal_a_full_stable_sort(kw):
    g = torch.Generator().manual_seed(0)
    # logits on a coarse grid, as bf16 logits are: many tokens share a probability, so cuts fall inside ties
    logits = (torch.randn(16, 64, generator=g) * 2).round() / 2
    probs = torch.softmax(logits, dim=-1)
    params = [SamplingParams(**kw)] * len(probs)
    mask = kept_tokens(probs, params)
    for row, m in zip(probs, mask):
        assert set(m.nonzero()[:, 0].tolist()) == kept_by_full_sort(row, params[0])


def test_kept_tokens_mixed_rows_and_untruncated_rows():
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax((torch.randn(len(PARAMS) + 1, 50, generator=g) * 3).round(), dim=-1)
    params = [SamplingParams(**kw) for kw in PARAMS] + [SamplingParams()]  # the last row keeps everything
    mask = kept_tokens(probs, params)
    for row, m, p in zip(probs[:-1], mask, params):
        assert set(m.nonzero()[:, 0].tolist()) == kept_by_full_sort(row, p)
    assert mask[-1].all()


def test_sorted_values_are_torch_sort():
    x = torch.rand(4, 1000)
    assert torch.equal(sorted_values(x), torch.sort(x, dim=-1).values)


def test_draw_never_takes_a_zero_weight_and_follows_the_weights():
    weights = torch.tensor([[0.0, 0.5, 0.0, 0.3, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0, 0, 0, 0]])
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    draws = torch.stack([draw(weights, gens) for _ in range(4000)])  # [draws, rows]
    assert set(draws[:, 1].tolist()) == {5} and set(draws[:, 2].tolist()) == {0}
    freq = torch.bincount(draws[:, 0], minlength=6) / len(draws)
    assert freq.tolist() == pytest.approx([0, 0.5, 0, 0.3, 0.2, 0], abs=0.03)


def test_a_rows_draws_do_not_depend_on_the_batch():
    g = torch.Generator().manual_seed(2)
    logits = (torch.randn(6, 300, generator=g) * 2).to(torch.bfloat16).float()
    params = [SamplingParams(temperature=0.8, top_p=0.9, seed=1), SamplingParams(temperature=0),
              SamplingParams(top_k=7, seed=2), SamplingParams(min_p=0.2, seed=3), SamplingParams(seed=4),
              SamplingParams(temperature=1.3, top_k=50, top_p=0.95, seed=5)]

    def rows(ps):
        return [RowSampling(p, torch.Generator().manual_seed(p.seed) if p.temperature > 0 else None) for p in ps]

    together = rows(params)
    alone = rows(params)
    for _ in range(20):
        batch = sample(logits, together)
        one_by_one = [int(sample(logits[i:i + 1], [r])[0]) for i, r in enumerate(alone)]
        assert batch.tolist() == one_by_one


def test_extreme_temperatures_and_saturated_mass_stay_in_the_vocabulary():
    """A tiny temperature is the argmax (not inf - inf = NaN, which once drew the id one past the vocabulary); top_p 1
    with top-k keeps every top-k token even where an fp32 cumulative sum saturates; a row with nothing to draw from
    (every token banned) falls back to its argmax instead of an id outside the vocabulary."""
    logits = torch.tensor([[30.0, 0.0, -5.0, -10.0], [1.0, 3.0, 2.0, 0.0]])
    gen = [torch.Generator().manual_seed(s) for s in range(2)]
    tiny = [RowSampling(SamplingParams(temperature=1e-40, seed=s), g) for s, g in enumerate(gen)]
    for _ in range(20):
        assert sample(logits, tiny).tolist() == [0, 1]
    probs = torch.softmax(logits[:1], -1)
    assert kept_tokens(probs, [SamplingParams(top_k=3)]).tolist() == [[True, True, True, False]]
    banned = RowSampling(SamplingParams(temperature=1.0, seed=1), torch.Generator().manual_seed(1))
    banned.banned = [0, 1, 2, 3]
    assert sample(logits[:1], [banned]).tolist()[0] in range(4)
