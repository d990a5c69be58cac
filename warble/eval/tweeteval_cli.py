"""`warble eval tweeteval`: the 7 TweetEval tasks by linear probe or fine-tuning, official metrics, baselines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from warble.errors import ConfigError, InputError

TASKS = ("emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance")  # = warble.eval.tweeteval.TASKS

HELP = "TweetEval: 7 tweet classification tasks by linear probe or fine-tuning, next to published baselines"
DESCRIPTION = (
    "Score a run on TweetEval (emoji, emotion, hate, irony, offensive, sentiment, stance) read from a folder of its "
    "layout, with each task's official metric (macro-F1; F1 of the ironic class; macro-recall for sentiment; mean "
    "F1 of against/favor for stance) and the overall mean, next to the published overall baselines (SVM 53.5, "
    "FastText 58.1, RoBERTa-base 61.3, TimeLMs-2021 66.2). A task is scored on test where there is a test split, "
    "else on validation (the JSON says which); a task with no training text trains on validation and is scored "
    "only on test. --protocol probe: logistic regression on frozen Engine.embed features (minutes on CPU); "
    "finetune: one multi-task fine-tune, then the most likely label word. Saves RUN/eval/tweeteval.json.\n\n"
    "  warble eval tweeteval --model run/ --data ../shared/data/tweeteval --protocol probe --json\n"
    "  warble eval tweeteval --model run/ --data ../shared/data/tweeteval --tasks emoji,irony\n"
    "  warble eval tweeteval --model run/ --data ../shared/data/tweeteval --protocol finetune --ft-steps 300")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="a run directory (warble train / finetune)")
    p.add_argument("--data", required=True, metavar="DIR", help="a TweetEval folder (e.g. ../shared/data/tweeteval)")
    p.add_argument("--protocol", choices=["probe", "finetune"], default="probe", help="default probe")
    p.add_argument("--tasks", help=f"comma-separated tasks (default all: {','.join(TASKS)})")
    p.add_argument("--max-train", type=int,
                   help="training posts per task, a fixed random sample (0: all; default 5000 for probe, 400 for "
                        "finetune)")
    p.add_argument("--max-eval", type=int, default=300,
                   help="finetune only: scored posts per task (0: all; default 300)")
    p.add_argument("--ft-steps", type=int, default=150, help="finetune only: optimizer steps (default 150)")
    p.add_argument("--ft-lr", type=float, help="finetune only: peak learning rate (default finetune's)")
    p.add_argument("--ft-out", metavar="DIR", help="finetune only: keep the fine-tuned run here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")


def parse_tasks(text: str | None) -> list[str]:
    if not text:
        return list(TASKS)
    tasks = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ConfigError(f"--tasks: unknown task(s) {', '.join(unknown) or '(none given)'}; choose from "
                          f"{', '.join(TASKS)}")
    return list(dict.fromkeys(tasks))


def run(a) -> int:
    from warble.eval.results import save_result

    run_dir = Path(a.model)
    if not run_dir.is_dir() or not (run_dir / "tokenizer").is_dir():
        raise InputError(f"--model {run_dir}: not a run directory (needs tokenizer/ and a model)")
    tasks = parse_tasks(a.tasks)
    for name, value in (("--max-train", a.max_train), ("--max-eval", a.max_eval), ("--ft-steps", a.ft_steps)):
        if value is not None and value < 0:
            raise ConfigError(f"{name} must be >= 0")
    if a.protocol == "probe":
        from warble.eval.probe import MAX_TRAIN, run_probe

        out = run_probe(run_dir, a.data, tasks, max_train=MAX_TRAIN if a.max_train is None else a.max_train or None,
                        seed=a.seed, device=a.device, threads=a.threads, progress=not a.no_progress)
    else:
        from warble.eval.classify import MAX_TRAIN, run_finetune

        if a.ft_steps < 1:
            raise ConfigError("--ft-steps must be >= 1")
        out = run_finetune(run_dir, a.data, tasks,
                           max_train=MAX_TRAIN if a.max_train is None else a.max_train or None,
                           max_eval=a.max_eval or None, steps=a.ft_steps, lr=a.ft_lr, seed=a.seed, device=a.device,
                           threads=a.threads, out_dir=a.ft_out, progress=not a.no_progress)
    out["saved"] = str(save_result(run_dir, "tweeteval", out))
    print(json.dumps(out) if a.json else format_table(out))
    return 0


def format_table(out: dict) -> str:
    lines = [f"TweetEval ({out['protocol']}) of {out['model']} on {out['data']}",
             f"{'task':<10} {'score':>6}  {'metric':<22} {'split':<5} {'train':>6} {'eval':>6} {'seconds':>8}"]
    for name, r in out["tasks"].items():
        score = "-" if r["score"] is None else f"{r['score']:.1f}"
        secs = out["seconds"].get(name)
        lines.append(f"{name:<10} {score:>6}  {r['metric']:<22} {r['split'] or '-':<5} {r['n_train']:>6} "
                     f"{r['n_eval']:>6} {'' if secs is None else f'{secs:.1f}':>8}")
    overall = "-" if out["overall"] is None else f"{out['overall']:.1f}"
    lines.append(f"{'overall':<10} {overall:>6}  ({out['overall_note']})")
    lines.append("published overall (test): " + ", ".join(f"{k} {v}" for k, v in out["baselines"]["overall"].items()))
    for name, r in out["tasks"].items():
        lines.append(f"  {name}: {r['note']}")
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in out["seconds"].items()))
    lines.append(f"saved {out['saved']}")
    return "\n".join(lines)
