"""Generation, scoring and embedding speed: Warble's engine against Hugging Face transformers on the same model.

    python benchmarks/generate.py --json                    # cpu preset; batch 1 and batch 32
    python benchmarks/generate.py --model runs/quickstart/run --prompts 512 --json

The model is a Warble run (`--model`, or a `cpu`-preset run trained briefly on a synthetic corpus), exported with
`warble export --format hf` and loaded back with `transformers.AutoModelForCausalLM.from_pretrained`: both sides run
exactly the same weights, from the same token ids ([bos] + prompt), in the same dtype (the engine's default: bf16
on GPUs and on CPUs with native bf16, else fp32; `--dtype` forces one). Two workloads:

posts (the headline, keys `*_b32`)
    `--prompts` prompts (default 256) each continued into a post: sampling (temperature 0.8, top-p 0.95), up to
    `--new-tokens` tokens, ending at the end-of-post token, at most 32 sequences at a time. Warble gets all prompts
    at once and its scheduler keeps 32 sequences decoding, starting a new one as soon as one ends (continuous
    batching). transformers gets them as a user batches them: `generate` on 32 left-padded prompts at a time, which
    runs every row until the longest one ends. Throughput counts the tokens of the posts (up to their end), the same
    unit for both; the computed steps each side spent are reported too.
fixed (raw decode speed, keys `fixed_*`)
    greedy, exactly `--new-tokens` tokens per sequence (end of post ignored), batch 1 and batch 32: no waste on
    either side, so this isolates the per-step cost (both run the same matmuls). Greedy ids are compared as a
    correctness check (bf16 rounding may flip near-ties late in a sequence).

`hf_default_*` repeats the transformers runs in fp32, the dtype `from_pretrained` gives by default, when the engine
runs in bf16. Each side runs in a fresh process of its own (so neither inherits the other's thread pools), the
processes alternate (warble, hf, hf_default, warble, ...) and medians over `--repeats` rounds are reported, so
background load falls on all alike. Scoring (log-likelihood of posts) and embeddings are timed the same way against what a
transformers user writes: padded batches of 32, log-softmax and gather, or mean-pooled hidden states (the same
texts on both sides; their log-likelihoods are compared).
Target (issue 4): warble >= 2x transformers in tokens/s at batch 32.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench_model import build_run, log

TARGET_B32 = 2.0
BATCH = 32

# Prompt openings of different lengths and scripts, as a platform's users start posts.
PROMPTS = [
    "just landed in", "new phone who dis", "the match tonight", "can't believe", "breaking:", "good morning",
    "my favourite thing about this city is", "so the update finally", "hot take:", "who else is watching",
    "buenos días a todos", "el partido de hoy", "bom dia", "je suis", "heute ist", "今日は", "오늘", "lol",
    "thread: a few thoughts on", "reminder that", "if you're in town this weekend", "weather update",
    "happy birthday to", "the new album", "this recipe", "traffic on the bridge", "shoutout to", "anyone know",
    "finally finished", "what a game", "coffee first", "we are hiring",
]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def worker(side: str, run: Path, hf_dir: Path, args) -> dict:
    """One side's measurements, in this (fresh) process: posts, fixed b1 and b32, scoring, embeddings."""
    from warble.model.model import DTYPES
    from warble.serve.engine import Engine
    from warble.serve.types import SamplingParams
    from warble.tokenizer import Tokenizer

    tok, N = Tokenizer.load(run / "tokenizer"), args.new_tokens
    encode = [[tok.bos_id, *tok.encode(p)] for p in PROMPTS]
    prompts = [encode[i % len(encode)] for i in range(args.prompts)]
    out: dict = {}
    if side == "warble":
        engine = Engine.load(run, dtype=args.dtype, max_batch=BATCH)
        out["dtype"], out["threads"] = str(engine.dtype).removeprefix("torch."), engine.stats()["threads"]

        def posts(rep: int):
            ps = [SamplingParams(max_tokens=N, temperature=0.8, top_p=0.95, seed=args.seed + rep * 10_000 + i)
                  for i in range(len(prompts))]
            before = engine.stats()["steps_total"]
            done = engine.generate(prompts, ps)
            return sum(c.completion_tokens for c in done), engine.stats()["steps_total"] - before

        def fixed(batch):
            return [c.token_ids for c in engine.generate(batch, SamplingParams(max_tokens=N, temperature=0,
                                                                               ignore_eos=True))]

        def score(texts):
            return [s.logprob for s in engine.score(texts)]

        def embed(texts):
            engine.embed(texts)
    else:
        import transformers

        dtype = DTYPES[args.dtype] if side == "hf" else torch.float32
        model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=dtype, attn_implementation="sdpa")
        model = model.eval()
        out["dtype"], out["threads"] = str(dtype).removeprefix("torch."), torch.get_num_threads()

        def left_padded(batch_ids):
            L = max(len(x) for x in batch_ids)
            inp = torch.full((len(batch_ids), L), tok.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch_ids), L), dtype=torch.long)
            for i, x in enumerate(batch_ids):
                inp[i, L - len(x):] = torch.tensor(x)
                mask[i, L - len(x):] = 1
            return inp, mask, L

        def generate(batch_ids, sample: bool, seed: int):
            inp, mask, L = left_padded(batch_ids)
            torch.manual_seed(seed)
            kw = dict(do_sample=True, temperature=0.8, top_p=0.95, top_k=0) if sample else dict(do_sample=False)
            eos = tok.eos_id if sample else None  # fixed: a set number of tokens, like ignore_eos
            model.generation_config.eos_token_id = eos
            with torch.inference_mode():
                new = model.generate(input_ids=inp, attention_mask=mask, max_new_tokens=N, pad_token_id=tok.pad_id,
                                     eos_token_id=eos, **kw)[:, L:].tolist()
            rows = [r[:r.index(tok.eos_id)] if eos is not None and tok.eos_id in r else r for r in new]
            return rows, len(new[0])

        def posts(rep: int):
            useful = steps = 0
            for k in range(0, len(prompts), BATCH):
                rows, n = generate(prompts[k:k + BATCH], True, args.seed + rep * 10_000 + k)
                useful, steps = useful + sum(len(r) for r in rows), steps + n
            return useful, steps

        def fixed(batch):
            return generate(batch, False, 0)[0]

        def right_padded(batch_ids):
            L = max(len(x) for x in batch_ids)
            inp = torch.full((len(batch_ids), L), tok.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch_ids), L), dtype=torch.long)
            for i, x in enumerate(batch_ids):
                inp[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            return inp, mask

        def score(texts):
            enc, values = [[tok.bos_id, *tok.encode(t)] for t in texts], []
            with torch.inference_mode():
                for k in range(0, len(enc), BATCH):
                    inp, mask = right_padded(enc[k:k + BATCH])
                    lp = torch.log_softmax(model(input_ids=inp, attention_mask=mask).logits[:, :-1].float(), -1)
                    values += (lp.gather(2, inp[:, 1:, None])[..., 0] * mask[:, 1:]).sum(1).tolist()
            return values

        def embed(texts):
            enc = [[tok.bos_id, *tok.encode(t)] for t in texts]
            with torch.inference_mode():
                for k in range(0, len(enc), BATCH):
                    inp, mask = right_padded(enc[k:k + BATCH])
                    h = model.model(input_ids=inp, attention_mask=mask).last_hidden_state
                    torch.nn.functional.normalize((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)

    fixed(prompts[:2])  # warm-up (allocations, lazy initialisation)
    t, (useful, steps) = timed(lambda: posts(args.round))
    out["posts"] = {"seconds": t, "tokens": useful, "steps": steps}
    for label, batch in (("b1", prompts[:1]), ("b32", prompts[:BATCH])):
        t, ids = timed(lambda: fixed(batch))
        out[f"fixed_{label}"] = {"seconds": t, "tokens": N * len(batch), "ids": ids}
    # the same texts on both sides: pairs of prompt openings, posts of 3 to 20 tokens
    texts = [f"{PROMPTS[i % len(PROMPTS)]} {PROMPTS[(7 * i + 3) % len(PROMPTS)]}" for i in range(args.score_texts)]
    t, values = timed(lambda: score(texts))
    out["score"] = {"seconds": t, "texts": len(texts), "values": values}
    t, _ = timed(lambda: embed(texts))
    out["embed"] = {"seconds": t, "texts": len(texts)}
    if side == "warble":
        t0 = time.perf_counter()  # time to first token of one streamed request
        next(iter(engine.stream(prompts[0], SamplingParams(max_tokens=N, temperature=0))))
        out["ttft_ms"] = 1000 * (time.perf_counter() - t0)
        engine.shutdown()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a Warble run directory (default: train a small cpu-preset run first)")
    ap.add_argument("--preset", default="cpu", help="preset of the run built when --model is not given")
    ap.add_argument("--new-tokens", type=int, default=64, help="tokens per post at most (fixed: exactly)")
    ap.add_argument("--prompts", type=int, default=256, help="prompts of the posts workload")
    ap.add_argument("--repeats", type=int, default=3, help="rounds (each side once per round, in a fresh process)")
    ap.add_argument("--score-texts", type=int, default=256, help="texts to score and embed")
    ap.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"], help="warble's (and hf's) dtype")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--worker", choices=["warble", "hf", "hf_default"], help=argparse.SUPPRESS)
    ap.add_argument("--hf-dir", help=argparse.SUPPRESS)
    ap.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.model), Path(args.hf_dir), args)))
        return 0

    from warble.model.hf import export_hf
    from warble.serve.engine import resolve_device, resolve_dtype

    work = Path(tempfile.mkdtemp(prefix="warble-generate-"))
    try:
        run = Path(args.model) if args.model else build_run(work, preset=args.preset, seed=args.seed)
        export_hf(run, work / "hf")
        dtype = resolve_dtype(args.dtype, resolve_device("auto"))
        args.dtype = {torch.float32: "fp32", torch.bfloat16: "bf16"}[dtype]
        sides = ["warble", "hf"] + (["hf_default"] if dtype != torch.float32 else [])
        log(f"model: {run}; {args.dtype}; {args.prompts} prompts, up to {args.new_tokens} new tokens, batch {BATCH}; "
            f"{args.repeats} rounds of {', '.join(sides)}, each in a fresh process")
        runs: dict[str, list[dict]] = {s: [] for s in sides}
        for r in range(args.repeats):
            for side in sides:
                cmd = [sys.executable, __file__, "--worker", side, "--model", str(run), "--hf-dir", str(work / "hf"),
                       "--round", str(r), "--new-tokens", str(args.new_tokens), "--prompts", str(args.prompts),
                       "--score-texts", str(args.score_texts), "--dtype", args.dtype, "--seed", str(args.seed)]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode:
                    raise SystemExit(f"{side} worker failed:\n{p.stderr[-3000:]}")
                runs[side].append(json.loads(p.stdout.strip().splitlines()[-1]))
                posts = runs[side][-1]["posts"]
                log(f"round {r + 1}/{args.repeats} {side}: posts {posts['tokens'] / posts['seconds']:,.0f} tok/s")

        def rate(side: str, key: str, unit: str = "tokens") -> float:
            return statistics.median(x[key][unit] / x[key]["seconds"] for x in runs[side])

        w = runs["warble"][-1]
        result: dict = {"model": str(run), "new_tokens": args.new_tokens, "prompts": args.prompts, "batch": BATCH,
                        "dtype": args.dtype, "threads_warble_engine": w["threads"], "threads_hf": runs["hf"][-1]["threads"],
                        "repeats": args.repeats, "machine": platform.processor() or platform.machine(),
                        "warble_ttft_ms_b1": statistics.median(x["ttft_ms"] for x in runs["warble"])}
        for side in sides:
            result |= {f"{side}_tokens_per_s_b32": rate(side, "posts"),
                       f"{side}_mean_post_tokens": statistics.mean(x["posts"]["tokens"] for x in runs[side])
                       / args.prompts,
                       f"{side}_forward_steps_posts": statistics.median(x["posts"]["steps"] for x in runs[side]),
                       f"{side}_fixed_tokens_per_s_b1": rate(side, "fixed_b1"),
                       f"{side}_fixed_tokens_per_s_b32": rate(side, "fixed_b32"),
                       f"{side}_fixed_latency_ms_b1": 1000 * statistics.median(x["fixed_b1"]["seconds"] for x in runs[side]),
                       f"{side}_scored_texts_per_s": rate(side, "score", "texts"),
                       f"{side}_embeddings_per_s": rate(side, "embed", "texts")}
        for side in sides[1:]:
            sfx = "" if side == "hf" else "_vs_hf_default"
            result |= {f"ratio_b32{sfx}": result["warble_tokens_per_s_b32"] / result[f"{side}_tokens_per_s_b32"],
                       f"ratio_fixed_b1{sfx}": result["warble_fixed_tokens_per_s_b1"]
                       / result[f"{side}_fixed_tokens_per_s_b1"],
                       f"ratio_fixed_b32{sfx}": result["warble_fixed_tokens_per_s_b32"]
                       / result[f"{side}_fixed_tokens_per_s_b32"],
                       f"ratio_score{sfx}": result["warble_scored_texts_per_s"] / result[f"{side}_scored_texts_per_s"],
                       f"ratio_embed{sfx}": result["warble_embeddings_per_s"] / result[f"{side}_embeddings_per_s"]}
            h = runs[side][-1]
            for label in ("b1", "b32"):
                same = sum(a == b for a, b in zip(w[f"fixed_{label}"]["ids"], h[f"fixed_{label}"]["ids"]))
                result[f"greedy_identical_{side}_{label}"] = f"{same}/{len(w[f'fixed_{label}']['ids'])}"
            result[f"score_max_abs_diff_{side}"] = max(abs(a - b) for a, b in zip(w["score"]["values"],
                                                                                 h["score"]["values"]))
        result |= {"warble_tokens_per_s_b1": result["warble_fixed_tokens_per_s_b1"],
                   "hf_tokens_per_s_b1": result["hf_fixed_tokens_per_s_b1"], "ratio_b1": result["ratio_fixed_b1"],
                   "target_b32": TARGET_B32, "target_met_b32": result["ratio_b32"] >= TARGET_B32}
        for key in ("b32", "fixed_b1", "fixed_b32", "score", "embed"):
            log(f"{key}: " + ", ".join(f"vs {s} {result[f'ratio_{key}' + ('' if s == 'hf' else '_vs_hf_default')]:.2f}x"
                                       for s in sides[1:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:36s} {v:,.2f}" if isinstance(v, float) else f"{k:36s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
