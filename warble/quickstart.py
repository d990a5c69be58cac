"""`warble quickstart`: the whole pipeline, as far as it exists, on the embedded default corpus.

Each stage adds a step here and a section to the report, so the quickstart always shows what Warble can do end to
end on this machine, with the numbers it measured. It must stay under 10 minutes on 2 cores.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

from warble import __version__
from warble.errors import InputError
from warble.data.audit import audit_against_truth, audit_markdown
from warble.data.summary import manifest_markdown


def _log(msg: str) -> None:
    print(f"[quickstart] {msg}", file=sys.stderr, flush=True)


def run_quickstart(out_dir: str | Path, *, posts: int = 50_000, seed: int = 0, workers: int = 0,
                   preset: str = "cpu", train_steps: int = 400, progress: bool = True) -> Path:
    from warble.data.pipeline import IngestConfig, run_ingest
    from warble.data.synth import synthesize
    from warble.tokenizer import tokenize_corpus, train_tokenizer

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        # Its directory is its own scratch space, replaced on every run, but only if it is one of its own.
        if not (out / "quickstart.json").exists():
            raise InputError(f"{out} exists and is not a quickstart directory; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, n: int, what: str):
        _log(f"{n}/5 {name}: {what}")
        timings[name] = time.perf_counter()

    def done(name: str) -> None:
        timings[name] = time.perf_counter() - timings[name]

    step("synth", 1, f"simulating a platform with {posts:,} posts")
    synth = synthesize(out / "raw", posts, seed=seed, workers=max(1, workers or 2), progress=progress)
    done("synth")

    step("ingest", 2, "raw dump -> clean corpus")
    manifest = run_ingest([str(out / "raw")], out / "data", IngestConfig(workers=workers), progress=progress,
                          log=_log)
    done("ingest")

    step("tokenizer", 3, "byte-level BPE on the corpus, then token shards")
    tok_report = train_tokenizer(out / "data", out / "tokenizer", vocab_size=8192, progress=progress)
    # With metadata prefixes, so the model learns what the control tokens mean and samples can be conditioned.
    tokens = tokenize_corpus(out / "data", out / "tokenizer", out / "tokens", workers=workers, metadata_prefix=True,
                             progress=progress)
    done("tokenizer")

    step("train", 4, f"pretraining the {preset} preset for {train_steps} steps")
    summary, samples = _train(out, preset, train_steps, seed)
    done("train")
    timings["total"] = time.perf_counter() - started

    _log("5/5 report: checking the corpus against the ground truth, writing the report")
    audit = audit_against_truth(out / "raw", out / "data")
    report = out / "report.md"
    report.write_text(_report(out, posts, seed, synth, manifest, audit, tok_report, tokens, summary, samples,
                              timings), encoding="utf-8")
    (out / "quickstart.json").write_text(json.dumps({
        "posts": posts, "seed": seed, "seconds": timings, "synth": synth, "audit": audit,
        "corpus": {k: manifest[k] for k in ("read", "kept", "quarantined", "filtered")},
        "tokenizer": tok_report, "train": summary, "samples": samples}, indent=2, default=str))
    _log(f"done in {timings['total']:.0f} s")
    return report


# The prefixes the shards were made with: language, reply or original, engagement bucket (the simulated dump has
# no topic labels, so topic tokens were never trained on and would only show noise).
SAMPLE_CONDITIONS = [{"lang": "en", "reply": False, "engagement": 0}, {"lang": "en", "reply": False, "engagement": 150},
                     {"lang": "en", "reply": True, "engagement": 5}, {"lang": "es", "reply": False, "engagement": 0},
                     {"lang": "ja", "reply": False, "engagement": 20}, {"lang": "fr", "reply": True, "engagement": 0}]


def _train(out: Path, preset: str, steps: int, seed: int) -> tuple[dict, list[dict]]:
    """Train in this process (bf16 autocast: ~2.5x fp32 on CPU), then sample a few conditioned posts with the
    serving engine (the way every later stage uses the model)."""
    from warble.serve.engine import Engine
    from warble.serve.types import SamplingParams
    from warble.train.config import TrainConfig
    from warble.train.loop import train

    run = out / "run"
    cfg = TrainConfig(data=str(out / "tokens"), preset=preset, steps=steps, global_batch=8, seq_len=256,
                      dtype="bf16", seed=seed, log_every=max(1, steps // 20), eval_every=max(1, steps // 4),
                      ckpt_every=0)
    summary = train(cfg, run)
    with Engine.load(run) as engine:
        params = [SamplingParams(max_tokens=48, temperature=0.8, top_k=50, seed=seed + i, conditions=c)
                  for i, c in enumerate(SAMPLE_CONDITIONS)]
        completions = engine.generate([""] * len(params), params)
    return summary, [{"conditions": c, "text": x.text} for c, x in zip(SAMPLE_CONDITIONS, completions)]


def _counts_table(title: str, counts: dict) -> str:
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    return "\n".join([f"| {title} | posts |", "|---|---:|", *(f"| {k} | {v:,} |" for k, v in rows)])


def _report(out: Path, posts: int, seed: int, synth: dict, manifest: dict, audit: dict, tok_report: dict,
            tokens: dict, train: dict, samples: list[dict], timings: dict) -> str:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    steps = " | ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    return f"""# Warble quickstart report

Warble {__version__}, {now}. Run directory: `{out}`. Wall time: {steps}.

## 1. Simulated platform (`warble synth`)

{synth['posts']:,} posts (seed {seed}) by {synth['users']:,} users ({synth['bots']:,} bots), written as Twitter API v2
responses to `raw/` at {synth['posts_per_second']:,.0f} posts/s, plus {synth['malformed_records']} malformed records
and the ground truth under `raw/_truth/`.

{_counts_table("kind", synth["kinds"])}

{_counts_table("language", synth["langs"])}

Planted personal data: {synth['posts_with_pii']:,} posts ({', '.join(f"{k} {v}" for k, v in sorted(synth['pii'].items()))}).

## 2. Corpus (`warble ingest`)

`data/`: Parquet corpus, quarantine and manifest.

{manifest_markdown(manifest)}

Per-stage CPU seconds (summed over workers): {', '.join(f"{k} {v:.2f}" for k, v in manifest['stage_seconds'].items())}.

### Checked against the simulator's ground truth

{audit_markdown(audit)}

Short generic replies and quotes ("facts", "say it louder") are exact duplicates of each other, so dedup removes
most copies of them: that is why fewer replies and quotes than originals are kept.

## 3. Tokenizer and token shards (`warble tokenizer train`, `warble tokenize`)

Byte-level BPE with {tok_report['vocab_size']:,} tokens, trained on {tok_report['sample_posts']:,} posts in
{sum(tok_report['seconds'].values()):.1f} s: **{tok_report['bytes_per_token'] or 0:.2f} bytes per token** on the validation split.
Token shards (each post with its metadata control tokens): {tokens['splits']['train']['tokens']:,} training tokens
in {tokens['splits']['train']['docs']:,} posts, {tokens['splits'].get('validation', {}).get('tokens', 0):,} validation tokens.

## 4. Pretraining (`warble train`)

{_train_line(train)}

![loss curve](run/loss.png)

Samples, each from [bos] and its metadata control tokens (temperature 0.8, top-k 50):

| conditions | sampled post |
|---|---|
{chr(10).join(f"| {', '.join(f'{k}={v}' for k, v in s['conditions'].items())} | {_cell(s['text'])} |" for s in samples)}
"""


def _train_line(t: dict) -> str:
    val = f" Validation loss **{t['val_loss']:.3f}** nats/token, **{t['val_bpb']:.3f} bits per byte**." \
        if "val_loss" in t else ""
    return (f"{t['params'] / 1e6:.1f}M parameters, {t['steps']} steps, {t['tokens']:,} tokens in {t['seconds']:.0f} s "
            f"({t['tokens_per_s']:,.0f} tokens/s, {t['flops_per_token'] / 1e6:.0f} MFLOP/token).{val}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip() or "(empty)"
