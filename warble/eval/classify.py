"""TweetEval by full fine-tuning: Warble's own `finetune` stage, then classification by the engine's scores.

    run_finetune("run/", "../shared/data/tweeteval", tasks=["irony"], steps=100)   # -> the `eval tweeteval` JSON

Every example becomes a prompt/completion pair, `"<tweet>\\n<task>:"` -> `" <label word>"` (stance: `"<tweet>\\nstance
on <target>:"`), with label words from mapping.txt (`_red_heart_` -> `red heart`). One model is fine-tuned on the
pairs of all tasks asked for (multi-task: one run instead of seven) through `warble.train.finetune` (the whole
model trains; loss on the label word and its [eos]). A post is then classified by `Engine.score`: the label word
whose tokens and [eos] are most likely after the prompt. Only the split the plan fits on becomes pairs; the scored
split is never trained on. On CPU the run is kept short: at most `max_train` pairs per task, `steps` optimizer
steps, and at most `max_eval` scored posts per task; the JSON says what was capped.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from warble.eval.probe import assemble, fit_context, subsample
from warble.eval.tweeteval import METRIC_NAMES, TASKS, official_score, plan_splits, read_tweeteval

MAX_TRAIN = 400  # pairs per task
MAX_EVAL = 300  # scored posts per task
STEPS = 150
SEQ_LEN = 128  # tweets are short: a pair rarely needs more; longer tweets lose words from the left


def label_word(name: str) -> str:
    """A mapping.txt name as words: '_red_heart_' -> 'red heart', 'not-hate' -> 'not hate'."""
    return " ".join(name.replace("_", " ").replace("-", " ").split()) or name


def prompt_for(task: str, target: str, text: str) -> str:
    return f"{text}\nstance on {target}:" if target else f"{text}\n{task}:"


def _capped(parts: dict, split: str, cap: int | None, seed: int) -> list[tuple[str, str, int]]:
    """(target, text, label) of a split over all parts, at most `cap` in all (shared evenly between parts)."""
    per_part = math.ceil(cap / len(parts)) if cap else None
    out = []
    for target, splits in parts.items():
        data = splits[split]
        for i in subsample(len(data.texts), per_part, seed):
            out.append((target, data.texts[i], int(data.labels[i])))
    return out


def run_finetune(run_dir: str | Path, data_dir: str | Path, tasks=None, *, max_train: int | None = MAX_TRAIN,
                 max_eval: int | None = MAX_EVAL, steps: int = STEPS, lr: float | None = None, seed: int = 0,
                 device: str = "auto", threads: int | None = None, out_dir: str | Path | None = None,
                 progress: bool = True) -> dict:
    """The fine-tuning TweetEval run: the JSON of `warble eval tweeteval --protocol finetune`. The fine-tuned model
    goes to `out_dir` (kept) or a temporary directory (removed)."""
    from warble.serve.engine import Engine
    from warble.tokenizer import Tokenizer
    from warble.train.finetune import FULL_LR, FinetuneConfig, finetune
    from warble.train.optim import OptimConfig

    t0 = time.perf_counter()
    data = read_tweeteval(data_dir, tuple(tasks or TASKS))
    plans = {name: plan_splits(task.split_names()) for name, task in data.items()}
    scored = [n for n in data if plans[n].score is not None]
    tok = Tokenizer.load(Path(run_dir) / "tokenizer")
    text_budget = SEQ_LEN - 24  # room for [bos], the task line, the label word and [eos]
    results, seconds, n_train = {}, {}, {}

    with tempfile.TemporaryDirectory(prefix="warble-ft-") as tmp:
        pairs_path = Path(tmp) / "pairs.jsonl"
        with pairs_path.open("w", encoding="utf-8") as f:
            for name in scored:
                task = data[name]
                rows = _capped(task.parts, plans[name].fit, max_train, seed)
                texts = fit_context(tok, [t for _, t, _ in rows], text_budget)
                n_train[name] = len(rows)
                for (target, _, y), text in zip(rows, texts):
                    f.write(json.dumps({"prompt": prompt_for(name, target, text),
                                        "completion": " " + label_word(task.labels[y])}) + "\n")
        seconds["pairs"] = round(time.perf_counter() - t0, 2)

        ft_dir = Path(out_dir) if out_dir else Path(tmp) / "ft"
        t1 = time.perf_counter()
        if scored:
            finetune(FinetuneConfig(model=str(run_dir), data=str(pairs_path), steps=steps, seq_len=SEQ_LEN,
                                    global_batch=8, val_fraction=0.0, eval_every=0, ckpt_every=0,
                                    log_every=max(1, steps // 10), keep_checkpoints=1, seed=seed, device=device,
                                    threads=threads or 0, optim=OptimConfig(lr=lr or FULL_LR)), ft_dir)
        seconds["finetune"] = round(time.perf_counter() - t1, 2)

        t2 = time.perf_counter()
        engine = Engine.load(ft_dir, device=device, threads=threads) if scored else None
        try:
            for name, task in data.items():
                plan = plans[name]
                if plan.score is None:
                    results[name] = {"score": None, "metric": METRIC_NAMES[name], "split": None,
                                     "fitted_on": plan.fit, "n_train": 0, "n_eval": 0, "note": plan.note}
                    continue
                results[name] = _score_task(engine, name, task, plan, max_eval, seed, text_budget, progress)
                results[name]["n_train"] = n_train[name]
                available = sum(len(p[plan.fit].texts) for p in task.parts.values())
                if n_train[name] < available:
                    results[name]["note"] += f"; fine-tuned on {n_train[name]} of {available} training posts"
        finally:
            if engine is not None:
                engine.shutdown()
        seconds["classify"] = round(time.perf_counter() - t2, 2)
    seconds["total"] = round(time.perf_counter() - t0, 2)
    return assemble("finetune", run_dir, data_dir, results, seconds,
                    {"steps": steps, "lr": lr or FULL_LR, "global_batch": 8, "seq_len": SEQ_LEN,
                     "max_train_per_task": max_train, "max_eval_per_task": max_eval, "seed": seed,
                     "model": "one multi-task full fine-tune (warble finetune); classes by Engine.score of label "
                              "words", "saved_model": str(out_dir) if out_dir else None})


def _score_task(engine, name, task, plan, max_eval, seed, text_budget, progress) -> dict:
    rows = _capped(task.parts, plan.score, max_eval, seed)
    texts = fit_context(engine.tokenizer, [t for _, t, _ in rows], text_budget)
    ids = sorted(task.labels)
    words = [" " + label_word(task.labels[i]) for i in ids]
    logprobs = np.zeros((len(rows), len(ids)))
    chunk = max(1, 2048 // len(ids))
    for start in tqdm(range(0, len(rows), chunk), desc=f"classify {name}", disable=not progress):
        batch = list(zip(rows[start:start + chunk], texts[start:start + chunk]))
        contexts = [prompt_for(name, target, text) for (target, _, _), text in batch for _ in ids]
        scores = engine.score(words * len(batch), contexts=contexts, include_eos=True)
        logprobs[start:start + len(batch)] = np.array([s.logprob for s in scores]).reshape(len(batch), len(ids))
    pred = np.array(ids)[logprobs.argmax(1)]
    gold = np.array([y for _, _, y in rows])
    available = sum(len(p[plan.score].texts) for p in task.parts.values())
    note = plan.note
    if len(rows) < available:
        note += f"; scored on {len(rows)} of {available} posts (a fixed random sample)"
    entry = {"score": round(official_score(name, task.labels, gold, pred), 2), "metric": METRIC_NAMES[name],
             "split": plan.score, "fitted_on": plan.fit, "n_eval": len(rows), "note": note}
    if len(task.parts) > 1:
        entry["by_target"] = {}
        for target in task.parts:
            mask = np.array([t == target for t, _, _ in rows])
            if mask.any():
                entry["by_target"][target] = round(official_score(name, task.labels, gold[mask], pred[mask]), 2)
    return entry
