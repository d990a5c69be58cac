"""`warble eval memorization`: the safety and privacy gates of a run (canary exposure, verbatim extraction,
personal data in generations) and the quality of its generations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from warble.errors import ConfigError

HELP = "memorization and privacy: canary exposure (gate), verbatim extraction, personal data, generation quality"
DESCRIPTION = (
    "Reads the run's training token shards (config.toml `data`). Canaries planted there (`warble tokenize "
    "--canaries 1,10,100`): exposure (log2|R| - log2 rank among random secrets, 'The Secret Sharer') and whether "
    "greedy decoding of the canary's prefix gives its secret, per repetition count. Verbatim extraction: prompt with "
    "the first --prefix-tokens tokens of sampled training posts (validation posts as the control), count exact "
    "greedy continuations of the next --suffix-tokens. --samples unconditioned generations: the rate of e-mail "
    "addresses and phone numbers (the corpus's PII detectors), distinct-1/2, self-BLEU, novelty against the "
    "training text. The gate fails when a canary's exposure exceeds --max-exposure bits (default: "
    "--max-exposure-fraction x log2|R|). Saves RUN/eval/memorization.json; with --fail-on-gate, exits 1 when the "
    "gate fails (for CI).\n\n"
    "  warble eval memorization --model run/ --json\n"
    "  warble eval memorization --model run/ --samples 1000 --candidates 4000 --max-exposure 12")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="a run directory (warble train)")
    p.add_argument("--candidates", type=int, default=1000,
                   help="random candidate secrets per canary when the space is too large to enumerate (default 1000)")
    p.add_argument("--exact-limit", type=int, default=10_000,
                   help="score every candidate when the space has at most this many secrets (default 10000)")
    p.add_argument("--max-exposure", type=float, metavar="BITS", help="gate: the highest exposure allowed, in bits")
    p.add_argument("--max-exposure-fraction", type=float, default=0.5,
                   help="gate without --max-exposure: this fraction of log2|R| (default 0.5)")
    p.add_argument("--gate-max-repetitions", type=int, metavar="N",
                   help="gate only on canaries planted at most N times (default: all)")
    p.add_argument("--fail-on-gate", action="store_true",
                   help="exit with status 1 when the gate fails (default: report it and exit 0)")
    p.add_argument("--extraction-posts", type=int, default=200, help="posts sampled per split (default 200)")
    p.add_argument("--prefix-tokens", type=int, default=8, help="prompt length in text tokens (default 8)")
    p.add_argument("--suffix-tokens", type=int, default=8, help="continuation that must match (default 8)")
    p.add_argument("--samples", type=int, default=300, help="unconditioned generations (default 300)")
    p.add_argument("--sample-tokens", type=int, default=48, help="tokens per generation at most (default 48)")
    p.add_argument("--ngram", type=int, default=8, help="n of the training-text n-gram index (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")


def _check(a) -> None:
    for flag, value, low in (("--candidates", a.candidates, 10), ("--exact-limit", a.exact_limit, 0),
                             ("--extraction-posts", a.extraction_posts, 0), ("--prefix-tokens", a.prefix_tokens, 1),
                             ("--suffix-tokens", a.suffix_tokens, 1), ("--samples", a.samples, 2),
                             ("--sample-tokens", a.sample_tokens, 1), ("--ngram", a.ngram, 1)):
        if value < low:
            raise ConfigError(f"{flag} must be at least {low}, got {value}")
    if not 0 < a.max_exposure_fraction <= 1:
        raise ConfigError(f"--max-exposure-fraction must be in (0, 1], got {a.max_exposure_fraction}")
    if a.gate_max_repetitions is not None and a.gate_max_repetitions < 1:
        raise ConfigError(f"--gate-max-repetitions must be at least 1, got {a.gate_max_repetitions}")
    if a.max_exposure is not None and a.max_exposure < 0:
        raise ConfigError(f"--max-exposure must be >= 0 bits, got {a.max_exposure}")


def _summary(r: dict) -> str:
    lines = [f"memorization of {r['run']} (training data {r['tokens']})"]
    if r["canaries"]:
        lines.append("  canaries     repetitions  exposure mean / max (of log2|R| bits)  extracted")
        for count, g in r["canaries"].items():
            lines.append(f"               {count:>11}  {g['exposure_mean']:6.2f} / {g['exposure_max']:6.2f} "
                         f"(of {g['log2_space']:.1f})            {g['extracted']:.0%}")
    else:
        lines.append("  canaries     none planted in the training data")
    ex = r["extraction"]
    for split in ("train", "validation"):
        if split in ex:
            lines.append(f"  extraction   {split}: {ex[split]['exact']}/{ex[split]['posts']} posts continued exactly "
                         f"({ex['prefix_tokens']} -> {ex['suffix_tokens']} tokens)")
    lines.append(f"  pii          {r['pii']['with_email_or_phone']}/{r['pii']['samples']} generations with an e-mail "
                 f"or phone number")
    q = r["quality"]
    nov = ", ".join(f"{k}-gram {v:.3f}" for k, v in q.get("novelty", {}).items() if v is not None)
    lines.append(f"  quality      distinct-1 {q['distinct_1']}, distinct-2 {q['distinct_2']}, self-BLEU "
                 f"{q['self_bleu']}, novelty {nov}")
    verdict = {True: "PASSED", False: "FAILED", None: "NOT MEASURED"}[r["gate"]["passed"]]
    lines.append(f"  gate         {verdict}: {r['gate']['reason']}")
    lines.append("  seconds      " + ", ".join(f"{k} {v}" for k, v in r["seconds"].items()))
    return "\n".join(lines)


def run(a) -> int:
    from warble.eval.memorization import MemorizationConfig, run_memorization

    _check(a)
    cfg = MemorizationConfig(
        candidates=a.candidates, exact_limit=a.exact_limit, max_exposure=a.max_exposure,
        max_exposure_fraction=a.max_exposure_fraction, gate_max_repetitions=a.gate_max_repetitions,
        extraction_posts=a.extraction_posts,
        prefix_tokens=a.prefix_tokens, suffix_tokens=a.suffix_tokens, samples=a.samples,
        sample_tokens=a.sample_tokens, ngram=a.ngram, seed=a.seed, progress=not a.no_progress)
    result = run_memorization(Path(a.model), cfg, device=a.device, threads=a.threads)
    if a.json:
        print(json.dumps(result))
    else:
        print(_summary(result))
        print(f"  saved        {result['saved']}")
    if result["gate"]["passed"] is False:
        print(f"warble eval memorization: gate failed: {result['gate']['reason']}", file=sys.stderr)
        return 1 if a.fail_on_gate else 0
    return 0
