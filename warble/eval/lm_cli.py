"""`warble eval lm`: validation loss, perplexity and bits per byte of a run, by language and by time."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from warble.errors import InputError

HELP = "language modelling: loss, perplexity, bits per byte on held-out posts, by language and by time"
DESCRIPTION = (
    "Score every post of a split of token shards (`warble tokenize` output; default the validation split) with the "
    "run's model, packed as training evaluates them, so the numbers equal training's val_loss / val_bpb. Sliced by "
    "language (the corpus's, else the posts' <|lang:xx|> control tokens) and by time (needs --corpus: the corpus the "
    "shards were made from); posts newer than the training data are also summed on their own (how fast the model "
    "ages). Saves RUN/eval/lm.json.\n\n"
    "  warble eval lm --model run/ --data tokens/ --json\n"
    "  warble eval lm --model run/ --data tokens/ --corpus corpus/ --time-bucket week\n"
    "  warble eval lm --model run/ --data newer_tokens/ --corpus newer/ --trained-until 2026-06-30")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="a run directory (warble train / finetune)")
    p.add_argument("--data", metavar="TOKENS_DIR",
                   help="token shards made with the run's tokenizer (default: the run's training data, config.toml)")
    p.add_argument("--corpus", metavar="CORPUS_DIR",
                   help="the corpus the shards were made from: gives each post's time (and language)")
    p.add_argument("--split", default="validation", help="split of the shards to score (default validation)")
    p.add_argument("--time-bucket", default="month", choices=["day", "week", "month", "year"],
                   help="time slice width (default month)")
    p.add_argument("--trained-until", metavar="TIME",
                   help="ISO time of the newest training post (default: the newest post of the corpus's train split)")
    p.add_argument("--seq-len", type=int, help="row length (default: the run's training seq_len)")
    p.add_argument("--batch-rows", type=int, default=16, help="rows per forward pass (default 16)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")


def _default_data(run_dir: Path) -> str:
    """The token directory the run trained on (as memorization and the report find it); give --data otherwise."""
    from warble.tokenizer.canaries import tokens_dir_for_run

    try:
        return str(tokens_dir_for_run(run_dir))
    except InputError as e:
        raise InputError(f"{e}; give --data") from None


def run(a) -> int:
    import torch

    from warble.eval.lm import evaluate_lm, parse_time
    from warble.eval.results import save_result
    from warble.serve.engine import resolve_device

    run_dir = Path(a.model)
    if not run_dir.is_dir():
        raise InputError(f"--model {run_dir}: no such run directory")
    if a.batch_rows < 1 or (a.seq_len is not None and a.seq_len < 2):
        raise InputError("--batch-rows must be >= 1 and --seq-len >= 2")
    if a.threads:
        torch.set_num_threads(a.threads)
    out = evaluate_lm(run_dir, a.data or _default_data(run_dir), corpus_dir=a.corpus, split=a.split,
                      unit=a.time_bucket, trained_until=parse_time(a.trained_until) if a.trained_until else None,
                      seq_len=a.seq_len, batch_rows=a.batch_rows, device=str(resolve_device(a.device)),
                      progress=not a.no_progress)
    out["saved"] = str(save_result(run_dir, "lm", out))
    if a.json:
        print(json.dumps(out))
    else:
        print(format_table(out))
    return 0


def _row(name: str, s: dict) -> str:
    def f(x):
        return "-" if x is None else f"{x:.4f}"
    return f"{name:<12} {f(s.get('loss')):>8} {f(s.get('perplexity')):>10} {f(s.get('bpb')):>8} " \
           f"{s.get('tokens', 0):>9,} {s.get('posts', 0):>7,}"


def format_table(out: dict) -> str:
    lines = [f"{out['model']} on {out['data']} ({out['split']}, seq_len {out['seq_len']})",
             f"{'slice':<12} {'loss':>8} {'perplexity':>10} {'bpb':>8} {'tokens':>9} {'posts':>7}",
             _row("all", out)]
    for name, s in out["by_lang"].items():
        lines.append(_row(f"lang {name}", s))
    for name, s in out["by_time"].items():
        lines.append(_row(f"{name}{' *' if s.get('after_training') else ''}", s))
    if out["trained_until"]:
        after = out["after_training"]
        lines.append(_row("after train", after) if after.get("tokens") else
                     f"after training ({out['trained_until']}): {after.get('note')}")
        lines.append("(* = a slice wholly after the training data)")
    for name, why in out["unavailable"].items():
        lines.append(f"{name}: unavailable ({why})")
    lines.append(f"{out['seconds']:.1f} s; saved {out['saved']}")
    return "\n".join(lines)
