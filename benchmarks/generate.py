"""Generation, scoring and embedding speed: Warble's engine against Hugging Face transformers on the same model.

    python benchmarks/generate.py --json                    # cpu preset, 64 new tokens, batch 1 and 32
    python benchmarks/generate.py --model runs/quickstart/run --new-tokens 128 --json

The model is a Warble run (`--model`, or a `cpu`-preset run trained briefly on a synthetic corpus), exported with
`warble export --format hf` and loaded back with `transformers.AutoModelForCausalLM.from_pretrained`: both sides run
exactly the same weights. Both decode greedily a fixed number of new tokens (end of post ignored), from the same
token ids ([bos] + prompt), with the same torch thread count:

- warble      `Engine.generate` (preallocated KV cache, continuous batching over slots; prompts of different
              lengths prefilled together, right-padded into their own cache rows; q/k/v and gate/up matrices
              stacked), in the engine's default dtype: bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX),
              else fp32 (`--dtype` to force one)
- hf          `model.generate(do_sample=False, max_new_tokens=N)` on left-padded batches with an attention mask
              (what a user of transformers writes), sdpa attention, in the same dtype as warble: the like-for-like
              comparison, and the one the target is checked on
- hf_default  the same in fp32, the dtype `from_pretrained` gives by default (reported when warble is not fp32)

Batch 1 reports the latency of one request; batch 32 the throughput in new tokens/s. The runs interleave (warble,
hf, warble, hf, ...) and the median of `--repeats` is reported, so background load falls on both alike. The greedy
token ids of both are compared as a correctness check. Scoring (log-likelihood of posts) and embeddings are timed
the same way against what a transformers user would write: padded batches through the model, log-softmax and
gather, or mean-pooled hidden states. Target (issue 4): warble >= 2x hf in tokens/s at batch 32.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench_model import build_run, log

TARGET_B32 = 2.0

# 32 prompt openings of different lengths and scripts, as a platform's users start posts.
PROMPTS = [
    "just landed in", "new phone who dis", "the match tonight", "can't believe", "breaking:", "good morning",
    "my favourite thing about this city is", "so the update finally", "hot take:", "who else is watching",
    "buenos días a todos", "el partido de hoy", "bom dia", "je suis", "heute ist", "今日は", "오늘", "lol",
    "thread: a few thoughts on", "reminder that", "if you're in town this weekend", "weather update",
    "happy birthday to", "the new album", "this recipe", "traffic on the bridge", "shoutout to", "anyone know",
    "finally finished", "what a game", "coffee first", "we are hiring",
]


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a Warble run directory (default: train a small cpu-preset run first)")
    ap.add_argument("--preset", default="cpu", help="preset of the run built when --model is not given")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)")
    ap.add_argument("--score-texts", type=int, default=256, help="texts to score and embed")
    ap.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"], help="warble's (and hf's) dtype")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    from warble.model.hf import export_hf
    from warble.serve.engine import Engine
    from warble.serve.types import SamplingParams

    work = Path(tempfile.mkdtemp(prefix="warble-generate-"))
    try:
        run = Path(args.model) if args.model else build_run(work, preset=args.preset)
        export_hf(run, work / "hf")
        engine = Engine.load(run, device="cpu", dtype=args.dtype, max_batch=max(args.batch, 1))
        variants = {"hf": engine.dtype} | ({"hf_default": torch.float32} if engine.dtype != torch.float32 else {})
        hfs = {}
        for name, dt in variants.items():
            hfs[name] = transformers.AutoModelForCausalLM.from_pretrained(work / "hf", dtype=dt,
                                                                          attn_implementation="sdpa").eval()
            hfs[name].generation_config.eos_token_id = None  # a fixed number of tokens, like ignore_eos
        hf = hfs["hf"]
        tok = engine.tokenizer
        N = args.new_tokens
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.batch)]
        ids = [[tok.bos_id, *tok.encode(p)] for p in prompts]
        log(f"model: {run} ({sum(p.numel() for p in engine.model.parameters()) / 1e6:.1f}M params), "
            f"{torch.get_num_threads()} threads, {N} new tokens, batch 1 and {args.batch}, warble {engine.dtype}, "
            f"{', '.join(f'{k} {v}' for k, v in variants.items())}")
        params = SamplingParams(max_tokens=N, temperature=0, ignore_eos=True)

        def warble_gen(batch_ids):
            return [c.token_ids for c in engine.generate(batch_ids, params)]

        def hf_gen(batch_ids, model=None):
            model = model or hf
            L = max(len(x) for x in batch_ids)
            inp = torch.full((len(batch_ids), L), tok.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch_ids), L), dtype=torch.long)
            for i, x in enumerate(batch_ids):  # left padding, as generation with transformers requires
                inp[i, L - len(x):] = torch.tensor(x)
                mask[i, L - len(x):] = 1
            with torch.inference_mode():
                out = model.generate(input_ids=inp, attention_mask=mask, do_sample=False, max_new_tokens=N,
                                     pad_token_id=tok.pad_id)
            return out[:, L:].tolist()

        warble_gen(ids[:2])  # warm-up (allocations, lazy inits)
        for m in hfs.values():
            hf_gen(ids[:2], m)
        result: dict = {"model": str(run), "new_tokens": N, "batch": args.batch, "threads": torch.get_num_threads(),
                        "repeats": args.repeats, "machine": platform.processor() or platform.machine(),
                        "warble_dtype": str(engine.dtype).removeprefix("torch."),
                        "hf_dtype": str(engine.dtype).removeprefix("torch.")}
        for label, batch in (("b1", ids[:1]), (f"b{args.batch}", ids)):
            times = {"warble": [], **{k: [] for k in hfs}}
            outs = {}
            for _ in range(args.repeats):  # interleaved
                t, outs["warble"] = median_time(lambda: warble_gen(batch), 1)
                times["warble"].append(t)
                for name, m in hfs.items():
                    t, outs[name] = median_time(lambda: hf_gen(batch, m), 1)
                    times[name].append(t)
            toks = N * len(batch)
            w = statistics.median(times["warble"])
            result |= {f"warble_tokens_per_s_{label}": toks / w, f"warble_latency_ms_{label}": 1000 * w}
            line = f"{label}: warble {toks / w:,.0f} tok/s ({1000 * w:,.0f} ms)"
            for name in hfs:
                h = statistics.median(times[name])
                same = sum(a == b for a, b in zip(outs["warble"], outs[name]))
                suffix = "" if name == "hf" else "_vs_default"
                result |= {f"{name}_tokens_per_s_{label}": toks / h, f"{name}_latency_ms_{label}": 1000 * h,
                           f"ratio_{label}{suffix}": h / w, f"greedy_identical_{name}_{label}": f"{same}/{len(batch)}"}
                line += f", {name} {toks / h:,.0f} tok/s ({1000 * h:,.0f} ms): {h / w:.2f}x, same greedy {same}/{len(batch)}"
            log(line)
            w_out = outs["warble"]
        # Time to first token of one streamed request.
        t0 = time.perf_counter()
        next(iter(engine.stream(ids[0], SamplingParams(max_tokens=N, temperature=0, ignore_eos=True))))
        result["warble_ttft_ms_b1"] = 1000 * (time.perf_counter() - t0)

        # Scoring and embeddings: posts made of the prompts' continuations (real model text), in batches of 32.
        texts = [tok.decode(x) for x in w_out]
        texts = [f"{prompts[i % len(prompts)]}{texts[i % len(texts)]}" for i in range(args.score_texts)]
        enc = [[tok.bos_id, *tok.encode(t)] for t in texts]

        def hf_padded(batch_ids):
            L = max(len(x) for x in batch_ids)
            inp = torch.full((len(batch_ids), L), tok.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch_ids), L), dtype=torch.long)
            for i, x in enumerate(batch_ids):
                inp[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            return inp, mask

        def hf_score():
            out = []
            with torch.inference_mode():
                for k in range(0, len(enc), 32):
                    inp, mask = hf_padded(enc[k:k + 32])
                    lp = torch.log_softmax(hf(input_ids=inp, attention_mask=mask).logits[:, :-1].float(), -1)
                    tok_lp = lp.gather(2, inp[:, 1:, None])[..., 0] * mask[:, 1:]
                    out += tok_lp.sum(1).tolist()
            return out

        def hf_embed():
            with torch.inference_mode():
                for k in range(0, len(enc), 32):
                    inp, mask = hf_padded(enc[k:k + 32])
                    h = hf.model(input_ids=inp, attention_mask=mask).last_hidden_state
                    torch.nn.functional.normalize((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)

        ws, w_scores = median_time(lambda: engine.score(texts), args.repeats)
        hs, h_scores = median_time(hf_score, args.repeats)
        we, _ = median_time(lambda: engine.embed(texts), args.repeats)
        he, _ = median_time(hf_embed, args.repeats)
        max_diff = max(abs(a.logprob - b) for a, b in zip(w_scores, h_scores))
        result |= {"warble_scored_texts_per_s": len(texts) / ws, "hf_scored_texts_per_s": len(texts) / hs,
                   "ratio_score": hs / ws, "score_max_abs_diff": max_diff,
                   "warble_embeddings_per_s": len(texts) / we, "hf_embeddings_per_s": len(texts) / he,
                   "ratio_embed": he / we, "target_b32": TARGET_B32,
                   "target_met_b32": result[f"ratio_b{args.batch}"] >= TARGET_B32}
        log(f"score: warble {len(texts) / ws:,.0f} texts/s, hf {len(texts) / hs:,.0f} ({hs / ws:.2f}x; log-likelihoods "
            f"agree to {max_diff:.1e}); embed: warble {len(texts) / we:,.0f}/s, hf {len(texts) / he:,.0f}/s "
            f"({he / we:.2f}x)")
        engine.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:32s} {v:,.2f}" if isinstance(v, float) else f"{k:32s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
