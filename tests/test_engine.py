"""The generation engine on CPU: KV cache equals full recompute, batched equals alone, seeds reproduce, every
sampling transform, stop strings, streaming, logprobs, echo scoring, conditioning, packed scoring and embedding,
continuous batching (a long request does not hold up short ones), aborts, shutdown and bad input."""

import asyncio
import threading
import time

import pytest
import torch

from warble.errors import InputError
from warble.serve.engine import Engine, EngineClosed
from warble.serve.sampling import RowSampling, apply_repetition_penalty, banned_tokens, sample
from warble.serve.types import SamplingParams

PROMPTS = ["just landed in", "new phone who dis", "the match tonight was", "a"]


@pytest.fixture(scope="module")
def engine(run_dir):
    torch.set_num_threads(1)
    e = Engine.load(run_dir, max_batch=8, dtype="fp32")  # fp32: the equality checks are exact
    yield e
    e.shutdown()


def full_recompute_greedy(engine, ids: list[int], n: int) -> tuple[list[int], list[float]]:
    """Greedy decoding without a cache: the whole sequence through the model for every new token."""
    model, out, lps = engine.model, list(ids), []
    with torch.inference_mode():
        for _ in range(n):
            logits = model(torch.tensor([out]))[0, -1].float()
            lp = torch.log_softmax(logits, -1)
            t = int(lp.argmax())
            if t == engine.tokenizer.eos_id:
                break
            out.append(t)
            lps.append(float(lp[t]))
    return out[len(ids):], lps


def greedy(**kw) -> SamplingParams:
    return SamplingParams(temperature=0, **kw)


def test_kv_cache_equals_full_recompute(engine):
    tok = engine.tokenizer
    for prompt in PROMPTS:
        c = engine.generate(prompt, greedy(max_tokens=25, logprobs=0))[0]
        ids = [tok.bos_id] + tok.encode(prompt)
        ref_ids, ref_lps = full_recompute_greedy(engine, ids, 25)
        assert c.token_ids == ref_ids, prompt
        assert c.prompt_tokens == len(ids)
        assert [e.logprob for e in c.logprobs] == pytest.approx(ref_lps, abs=1e-4)


def test_batched_equals_alone_with_slot_reuse(run_dir):
    """5 prompts of different lengths through 2 slots: sequences join and leave mid-batch, slots are reused."""
    e = Engine.load(run_dir, max_batch=2, dtype="fp32")
    try:
        prompts = PROMPTS + ["another rather longer prompt about the weather in the city today"]
        params = [greedy(max_tokens=m) for m in (5, 30, 12, 20, 8)]
        together = e.generate(prompts, params)
        alone = [e.generate(p, sp)[0] for p, sp in zip(prompts, params)]
        assert [c.token_ids for c in together] == [c.token_ids for c in alone]
        assert [c.text for c in together] == [c.text for c in alone]
        assert e.stats()["running"] == 0
    finally:
        e.shutdown()


def test_seed_reproduces_whatever_the_batch(engine):
    p = SamplingParams(max_tokens=20, temperature=1.0, seed=7)
    alone = engine.generate("just landed in", p)[0].text
    mixed = engine.generate(["new phone", "just landed in", "the match"],
                            [SamplingParams(max_tokens=20, seed=1), p, SamplingParams(max_tokens=5, seed=2)])[1].text
    assert alone == mixed
    others = {engine.generate("just landed in", SamplingParams(max_tokens=20, seed=s))[0].text for s in range(8)}
    assert len(others) > 1  # different seeds do sample differently


def test_sampling_transforms_on_known_logits():
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1, 0.0001]]))

    def draws(**kw) -> set[int]:
        p = SamplingParams(seed=0, **kw)
        row = RowSampling(p, torch.Generator().manual_seed(0))
        return {int(sample(logits, [row])[0]) for _ in range(300)}

    assert draws(temperature=0) == {0}
    assert draws(top_k=1) == {0}
    assert draws(top_k=2) == {0, 1}
    assert draws(top_p=0.5) == {0, 1}  # 0.4 < 0.5, so the second token is needed; then 0.7 >= 0.5
    assert draws(top_p=0.35) == {0}
    assert draws(min_p=0.45) == {0, 1, 2}  # p >= 0.18
    assert draws(min_p=0.8) == {0}  # p >= 0.32
    assert draws() >= {0, 1, 2, 3}
    # a very low temperature is greedy in practice (odds of the runner-up: e^-29)
    assert draws(temperature=0.01) == {0}


def test_sampling_frequencies_follow_the_distribution():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    row = RowSampling(SamplingParams(seed=3), torch.Generator().manual_seed(3))
    counts = torch.bincount(torch.tensor([int(sample(logits, [row])[0]) for _ in range(3000)]), minlength=3)
    assert (counts / 3000).tolist() == pytest.approx([0.5, 0.3, 0.2], abs=0.04)


def test_repetition_penalty_math():
    logits = torch.tensor([[2.0, -2.0, 1.0]])
    seen = torch.tensor([[True, True, False]])
    out = apply_repetition_penalty(logits, seen, torch.tensor([2.0]))
    assert out.tolist() == [[1.0, -4.0, 1.0]]
    # greedy with a huge penalty never repeats a prompt token as the argmax would
    row = RowSampling(SamplingParams(temperature=0, repetition_penalty=100.0), None, torch.tensor([True, False, False]))
    assert int(sample(torch.tensor([[5.0, 1.0, 0.5]]), [row])[0]) == 1


def test_repetition_penalty_changes_greedy_output(engine):
    plain = engine.generate("the match tonight was", greedy(max_tokens=30))[0]
    penalised = engine.generate("the match tonight was", greedy(max_tokens=30, repetition_penalty=3.0))[0]
    assert plain.token_ids != penalised.token_ids


def test_banned_tokens_match_the_tail_across_the_prompt():
    bad = ((7,), (1, 2), (3, 4, 5))
    assert banned_tokens(bad, [9, 9], []) == [7]
    assert banned_tokens(bad, [9, 1], []) == [7, 2]  # the prefix is the prompt's last token
    assert banned_tokens(bad, [3], [4]) == [7, 5]  # the prefix straddles prompt and output
    assert banned_tokens(bad, [], [3, 4]) == [7, 5]
    assert banned_tokens(bad, [], [4]) == [7]  # too short to hold the prefix
    row = RowSampling(SamplingParams(temperature=0), None, banned=[0])
    assert int(sample(torch.tensor([[5.0, 1.0, 0.5]]), [row])[0]) == 1


def test_bad_words_are_never_generated(engine):
    plain = engine.generate("the match tonight was", greedy(max_tokens=30))[0]
    first, pair = plain.token_ids[0], tuple(plain.token_ids[:2])
    one = engine.generate("the match tonight was", greedy(max_tokens=30, bad_words_ids=[[first]]))[0]
    assert first not in one.token_ids and one.token_ids
    two = engine.generate("the match tonight was", greedy(max_tokens=30, bad_words_ids=[list(pair)]))[0]
    assert two.token_ids[0] == first and two.token_ids[1] != pair[1]  # its first token alone is still allowed
    ids = two.token_ids
    assert all(tuple(ids[i:i + 2]) != pair for i in range(len(ids) - 1))
    with pytest.raises(InputError, match="bad_words_ids"):  # refused up front, not inside the running batch
        engine.generate("a", greedy(max_tokens=2, bad_words_ids=[[engine.tokenizer.vocab_size]]))
    # the logprobs stay the model's own, before the ban
    lp = engine.generate("the match tonight was", greedy(max_tokens=3, logprobs=0, bad_words_ids=[[first]]))[0]
    ref = engine.score([lp.text], contexts=["the match tonight was"])[0] if lp.text else None
    assert ref is None or abs(ref.token_logprobs[0] - lp.logprobs[0].logprob) < 1e-3


def test_stop_strings_and_streaming(engine):
    p = SamplingParams(max_tokens=30, seed=11)
    full = engine.generate("just landed in", p)[0]
    assert len(full.text) > 6
    stop = full.text[3:6]
    cut = engine.generate("just landed in", SamplingParams(max_tokens=30, seed=11, stop=[stop]))[0]
    assert cut.text == full.text[:full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert engine.tokenizer.decode(cut.token_ids).startswith(cut.text)
    deltas = list(engine.stream("just landed in", SamplingParams(max_tokens=30, seed=11, stop=[stop])))
    assert "".join(d.text for d in deltas) == cut.text
    assert deltas[-1].finish_reason == "stop" and all(d.finish_reason is None for d in deltas[:-1])
    streamed = list(engine.stream("just landed in", p))
    assert "".join(d.text for d in streamed) == full.text
    assert sum((d.token_ids for d in streamed), []) == full.token_ids
    assert streamed[-1].completion_tokens == full.completion_tokens


def test_max_tokens_and_context_limit(engine):
    c = engine.generate("a", SamplingParams(max_tokens=7, ignore_eos=True, seed=0))[0]
    assert c.completion_tokens == 7 and c.finish_reason == "length"
    long_prompt = list(range(10, 10 + engine.max_context - 3))
    c = engine.generate(long_prompt, SamplingParams(max_tokens=50, ignore_eos=True, seed=0))[0]
    assert c.prompt_tokens + c.completion_tokens == engine.max_context + 1  # the last sampled token is never fed
    assert c.finish_reason == "length"


def test_echo_scores_the_prompt_like_score(engine):
    text = "new phone who dis"
    c = engine.generate(text, SamplingParams(max_tokens=0, echo=True, logprobs=1))[0]
    assert c.text == text and c.completion_tokens == 0
    assert c.logprobs[0].logprob is None  # [bos]: nothing predicts it
    s = engine.score([text])[0]
    assert [e.logprob for e in c.logprobs[1:]] == pytest.approx(s.token_logprobs, abs=1e-4)
    assert [c.text[e.offset:e.offset + len(e.token)] for e in c.logprobs[1:]] == s.tokens
    # echo with generation: the prompt then the completion, logprobs for both
    g = engine.generate(text, SamplingParams(max_tokens=5, echo=True, logprobs=0, temperature=0))[0]
    assert g.text.startswith(text) and len(g.logprobs) == g.prompt_tokens + g.completion_tokens


def test_conditions_prefix_control_tokens(engine):
    tok = engine.tokenizer
    c = engine.generate("hola", greedy(max_tokens=3, conditions={"lang": "es", "reply": False, "engagement": 50}))[0]
    assert c.prompt_tokens == 1 + 3 + len(tok.encode("hola"))
    conditioned = engine.generate("hola", greedy(max_tokens=10, conditions={"lang": "ja"}))[0].token_ids
    ids = [tok.bos_id, *tok.control_ids(lang="ja"), *tok.encode("hola")]
    assert conditioned == engine.generate(ids, greedy(max_tokens=10))[0].token_ids
    with pytest.raises(InputError, match="unknown condition"):
        SamplingParams(conditions={"mood": "happy"})


def test_score_packed_equals_alone_and_contexts(engine):
    texts = ["just landed in Paris", "a", "new phone who dis, the best one yet", "🏟️ match tonight"]
    together = engine.score(texts)
    alone = [engine.score([t])[0] for t in texts]
    for a, b in zip(together, alone):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
        assert a.token_ids == b.token_ids and len(a.token_logprobs) == len(a.token_ids)
    tok = engine.tokenizer
    ctx, text = "breaking news:", " the match"
    s = engine.score([text], [ctx])[0]
    ids = [tok.bos_id, *tok.encode(ctx), *tok.encode(text)]
    with torch.inference_mode():
        lp = torch.log_softmax(engine.model(torch.tensor([ids]))[0].float(), -1)
    n = len(tok.encode(text))
    ref = [float(lp[len(ids) - n - 1 + i, ids[len(ids) - n + i]]) for i in range(n)]
    assert s.token_logprobs == pytest.approx(ref, abs=1e-4)
    with_eos = engine.score([text], [ctx], include_eos=True)[0]
    assert len(with_eos.token_logprobs) == n + 1 and with_eos.logprob < s.logprob


def test_embed_normalised_batched_equals_alone(engine):
    texts = ["just landed in Paris", "new phone", "just landed in Paris", "the match tonight was great"]
    v = engine.embed(texts)
    assert v.shape == (4, engine.embedding_dim) and v.dtype.name == "float32"
    assert (abs((v ** 2).sum(1) - 1) < 1e-5).all()
    assert abs(v[0] - v[2]).max() < 1e-6
    for i, t in enumerate(texts):
        assert abs(engine.embed([t])[0] - v[i]).max() < 1e-5
    assert engine.embed([]).shape == (0, engine.embedding_dim)


def test_long_request_does_not_block_short_ones(run_dir):
    e = Engine.load(run_dir, max_batch=4)
    try:
        async def main():
            order = []

            async def short(name):
                await e.agenerate("a", SamplingParams(max_tokens=3, ignore_eos=True, seed=1))
                order.append(name)

            async def long():
                stream = e.astream("a", SamplingParams(max_tokens=120, ignore_eos=True, seed=1))
                await anext(stream)  # decoding has started: now the short ones arrive
                shorts = asyncio.gather(*(short(f"short{i}") for i in range(3)))
                async for _ in stream:
                    pass
                order.append("long")
                await shorts

            await long()
            return order

        order = asyncio.run(main())
        assert order[-1] == "long"  # the three short ones finished while the long one was still decoding
    finally:
        e.shutdown()


def test_abort_frees_the_slot(run_dir):
    e = Engine.load(run_dir, max_batch=1)
    try:
        it = e.stream("a", SamplingParams(max_tokens=100, ignore_eos=True))
        next(it)
        it.close()  # the client went away
        c = e.generate("a", greedy(max_tokens=3))[0]  # the only slot is free again
        assert c.completion_tokens <= 3
        deadline = time.time() + 5
        while e.stats()["running"] and time.time() < deadline:
            time.sleep(0.01)
        assert e.stats()["running"] == 0
    finally:
        e.shutdown()


def test_shutdown_finishes_in_flight_work(run_dir):
    e = Engine.load(run_dir, max_batch=2, dtype="fp32")
    results = []
    t = threading.Thread(target=lambda: results.append(
        e.generate("a", SamplingParams(max_tokens=40, ignore_eos=True, seed=0))[0]))
    t.start()
    time.sleep(0.05)
    e.shutdown(wait=True)
    t.join()
    assert results and results[0].completion_tokens == 40
    with pytest.raises(EngineClosed):
        e.generate("a", greedy(max_tokens=1))


@pytest.mark.parametrize("kw, msg", [
    (dict(temperature=-1), "temperature"), (dict(top_p=0), "top_p"), (dict(top_k=-1), "top_k"),
    (dict(min_p=1.0), "min_p"), (dict(repetition_penalty=0), "repetition_penalty"), (dict(max_tokens=-1), "max_tokens"),
    (dict(max_tokens=0), "max_tokens"), (dict(logprobs=99), "logprobs"), (dict(stop=[""]), "stop"),
    (dict(temperature=float("nan")), "temperature"), (dict(bad_words_ids=[[]]), "bad_words_ids"),
    (dict(bad_words_ids=[[1, -2]]), "bad_words_ids"), (dict(bad_words_ids=[["a"]]), "bad_words_ids"),
])
def test_bad_params(kw, msg):
    with pytest.raises(InputError, match=msg):
        SamplingParams(**kw)


def test_bad_prompts(engine):
    with pytest.raises(InputError, match="context"):
        engine.generate("word " * 500, greedy(max_tokens=1))
    with pytest.raises(InputError, match="token ids"):
        engine.generate([1, 2, 10 ** 9], greedy(max_tokens=1))
    with pytest.raises(InputError, match="conditions"):
        engine.generate([1, 2], greedy(max_tokens=1, conditions={"lang": "en"}))
    with pytest.raises(InputError, match="list of strings"):
        engine.score("not a list")
    with pytest.raises(InputError, match="context"):
        engine.embed(["word " * 500])
    assert engine.generate("still fine", greedy(max_tokens=2))[0].completion_tokens <= 2


def test_fused_inference_model_equals_plain(run_dir):
    from warble.train.finetune import load_pretrained
    from warble.model import Transformer

    cfg, weights = load_pretrained(run_dir)
    plain = Transformer(cfg)
    plain.load_state_dict(weights())
    fused = Transformer(cfg)
    fused.load_state_dict(weights())
    fused.fuse_for_inference()
    assert not any(n.endswith(("wq.weight", "gate.weight")) for n, _ in fused.named_parameters())
    x = torch.randint(0, cfg.vocab_size, (2, 20))
    with torch.inference_mode():
        assert torch.allclose(plain(x), fused(x), atol=1e-5)


def test_bf16_engine_generates_close_to_fp32(run_dir, engine):
    e = Engine.load(run_dir, dtype="bf16")
    try:
        assert e.dtype == torch.bfloat16
        c = e.generate(PROMPTS, greedy(max_tokens=10, logprobs=0))
        ref = engine.generate(PROMPTS, greedy(max_tokens=10, logprobs=0))
        # bf16 rounding may flip a near-tie late in a sequence; the first token's logprob stays close
        assert sum(a.token_ids[:1] == b.token_ids[:1] for a, b in zip(c, ref)) >= len(PROMPTS) - 1
        assert abs(c[0].logprobs[0].logprob - ref[0].logprobs[0].logprob) < 0.1
        s = e.score(["just landed in Paris"])[0].logprob
        assert s == pytest.approx(engine.score(["just landed in Paris"])[0].logprob, abs=0.5)
    finally:
        e.shutdown()


@pytest.mark.parametrize("pooling", ["last", "weighted_mean", "mean"])
def test_embedding_pooling_by_hand(run_dir, pooling):
    e = Engine.load(run_dir, dtype="fp32", pooling=pooling)
    try:
        text = "the match tonight was great"
        v = e.embed([text, "a"])[0]
        ids = [e.tokenizer.bos_id, *e.tokenizer.encode(text)]
        with torch.inference_mode():
            h = e.model.hidden(torch.tensor([ids]))[0, 1:]
        w = {"last": torch.eye(len(h))[-1], "mean": torch.ones(len(h)),
             "weighted_mean": torch.arange(1.0, len(h) + 1)}[pooling]
        ref = torch.nn.functional.normalize((w[:, None] * h).sum(0), dim=0)
        assert abs(v - ref.numpy()).max() < 1e-5
    finally:
        e.shutdown()
    with pytest.raises(InputError, match="pooling"):
        Engine.load(run_dir, pooling="max")


def test_generate_cli_end_to_end(run_dir, tmp_path, capsys):
    import json

    from warble.cli import main

    args = ["generate", "--model", str(run_dir), "--prompt", "just landed in", "--max-tokens", "30", "--seed", "7",
            "--dtype", "fp32"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first and first.startswith("just landed in")  # same seed, same text
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "new phone"}\nthe match\n\n')
    assert main(["generate", "--model", str(run_dir), "--prompts-file", str(prompts), "--n", "2", "--json",
                 "--max-tokens", "5", "--seed", "1", "--lang", "en", "--logprobs", "1"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["prompt"], r["index"]) for r in rows] == [("new phone", 0), ("new phone", 1), ("the match", 0),
                                                       ("the match", 1)]
    assert all(r["completion_tokens"] <= 5 and r["prompt_tokens"] >= 3 for r in rows)
    assert all(len(r["logprobs"]) == r["completion_tokens"] for r in rows)
    assert main(["generate", "--model", str(run_dir), "--prompt", "a", "--stream", "--max-tokens", "5",
                 "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith("a")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": 3}\n')
    for argv, msg in [(["--prompts-file", str(bad)], "bad.jsonl:1"), (["--top-p", "0"], "top_p"),
                      (["--prompts-file", str(tmp_path / "none")], "cannot read"), (["--n", "0"], "--n")]:
        assert main(["generate", "--model", str(run_dir), *argv]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err


def test_one_step_holds_more_tokens_than_the_context(engine):
    """Prompts prefilled together may add up to more tokens than one sequence's context: each is still alone."""
    long = " ".join(["word"] * 40)
    prompts = [f"{long} {i}" for i in range(8)]
    assert sum(len(engine.tokenizer.encode(p)) + 1 for p in prompts) > engine.max_context
    together = engine.generate(prompts, greedy(max_tokens=5))
    alone = [engine.generate(p, greedy(max_tokens=5))[0] for p in prompts]
    assert [c.token_ids for c in together] == [c.token_ids for c in alone]
