"""TweetEval by linear probe: frozen features from the engine (`Engine.embed`), logistic regression on top.

    run_probe("run/", "../shared/data/tweeteval", tasks=["irony", "stance"])   # -> the `eval tweeteval` JSON

Per task (per target for stance): the split to fit is embedded (subsampled to `max_train` posts, so emoji's 45k do
not dominate the run), standardised, and fitted with scikit-learn's LogisticRegressionCV, which picks C from a grid
by the task's official metric. Where a test split exists, C is chosen on validation (PredefinedSplit) and the final
model is refitted on train + validation, then test is scored; where there is none, C is chosen on a held-out
stratified fifth of train (one split, not k folds: fitting is then a few seconds even for emoji), the model is
refitted on all of train, and validation is scored: the scored split is never seen while fitting or choosing C.
Classes are weighted 'balanced', because every official metric but irony's averages over classes.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from warble.eval.tweeteval import (
    BASELINES,
    METRIC_NAMES,
    TASKS,
    Plan,
    Task,
    official_score,
    overall,
    plan_splits,
    read_tweeteval,
)

CS = (0.001, 0.01, 0.1, 1.0)
MAX_TRAIN = 5000
EMBED_CHUNK = 256
HELD_OUT = 0.2  # without a validation split to choose C on, a stratified fifth of the fitted split stands in
MAX_ITER = 200  # lbfgs iterations per fit: the weakly regularised end of the C grid converges slowly, and a probe
# this close to convergence scores the same


# ------------------------------------------------------------------------------------------------ features
def fit_context(tok, texts: list[str], limit: int) -> list[str]:
    """Texts cut (from the right) to at most `limit` tokens: a few tweets are hundreds of tokens of emoji."""
    out = []
    for text, ids in zip(texts, tok.encode_batch(texts)):
        cut = limit
        while len(ids) > limit:  # a cut inside a character can re-encode longer: cut again, one token shorter
            text = tok.decode(ids[:cut])
            ids = tok.encode(text)
            cut -= 1
        out.append(text)
    return out


def embed_texts(engine, texts: list[str], bar: tqdm | None = None) -> np.ndarray:
    """Engine.embed in chunks (for the progress bar), texts fitted to the model's context."""
    texts = fit_context(engine.tokenizer, texts, engine.max_context - 1)  # [bos] + text
    parts = []
    for i in range(0, len(texts), EMBED_CHUNK):
        parts.append(engine.embed(texts[i:i + EMBED_CHUNK]))
        if bar is not None:
            bar.update(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, engine.embedding_dim), np.float32)


def subsample(n: int, cap: int | None, seed: int) -> np.ndarray:
    """Indices of at most `cap` of n items, a fixed random choice (sorted, so files keep their order)."""
    if not cap or n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


# ------------------------------------------------------------------------------------------------ the probe
def fit_probe(task: str, labels: dict[int, str], X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None,
              y_val: np.ndarray | None = None, Cs=CS, seed: int = 0):
    """StandardScaler + LogisticRegressionCV choosing C by the task's official metric: on (X_val, y_val) when given
    (then refitted on both), else on a held-out stratified fifth of (X, y) (then refitted on all of it). Returns the fitted pipeline and the chosen C."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import PredefinedSplit, StratifiedShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if X_val is not None:
        X, y = np.concatenate([X, X_val]), np.concatenate([y, y_val])
        cv = PredefinedSplit(np.r_[np.full(len(X) - len(X_val), -1), np.zeros(len(X_val), int)])
    else:
        cv = StratifiedShuffleSplit(1, test_size=HELD_OUT, random_state=seed)
    scorer = make_scorer(lambda gold, pred: official_score(task, labels, gold, pred))
    lr = LogisticRegressionCV(Cs=list(Cs), cv=cv, scoring=scorer, class_weight="balanced", max_iter=MAX_ITER, tol=1e-3,
                              random_state=seed)
    model = make_pipeline(StandardScaler(), lr)
    with warnings.catch_warnings():  # tiny classes in CV folds, lbfgs iteration limits on the smallest C
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model, float(lr.C_[0])


def probe_task(engine, task: Task, plan: Plan, max_train: int | None, seed: int, bar: tqdm | None) -> dict:
    """Fit and score one task as `plan` says; the JSON entry of the task."""
    t0 = time.perf_counter()
    embed_s = 0.0
    gold, pred, chosen, n_train, n_available, per_target = [], [], {}, 0, 0, {}
    for target, splits in task.parts.items():
        fit = splits[plan.fit]
        keep = subsample(len(fit.texts), max_train, seed)
        n_train, n_available = n_train + len(keep), n_available + len(fit.texts)
        te = time.perf_counter()
        X = embed_texts(engine, [fit.texts[i] for i in keep], bar)
        sel = splits.get(plan.select)
        X_val = embed_texts(engine, sel.texts, bar) if sel is not None else None
        X_eval = embed_texts(engine, splits[plan.score].texts, bar)
        embed_s += time.perf_counter() - te
        model, C = fit_probe(task.name, task.labels, X, fit.labels[keep], X_val,
                             sel.labels if sel is not None else None, seed=seed)
        p = model.predict(X_eval)
        chosen[target or task.name] = C
        y_eval = splits[plan.score].labels
        gold.append(y_eval)
        pred.append(p)
        if target:
            per_target[target] = round(official_score(task.name, task.labels, y_eval, p), 2)
    gold, pred = np.concatenate(gold), np.concatenate(pred)
    total = time.perf_counter() - t0
    note = plan.note + ("; C chosen on validation" if plan.select == "val" else
                        f"; C chosen on a held-out fifth of {plan.fit}")
    if n_train < n_available:
        note += f"; training split subsampled to {n_train} of {n_available}"
    entry = {
        "score": round(official_score(task.name, task.labels, gold, pred), 2),
        "metric": METRIC_NAMES.get(task.name, "macro_f1"),
        "split": plan.score,
        "fitted_on": plan.fit + ("+val" if plan.select == "val" else ""),
        "n_train": n_train,
        "n_eval": len(gold),
        "C": chosen if len(chosen) > 1 else next(iter(chosen.values())),
        "note": note,
        "seconds": {"embed": round(embed_s, 2), "fit": round(total - embed_s, 2)},
    }
    if per_target:
        entry["by_target"] = per_target
    return entry


def unscored_entry(task: Task, plan: Plan) -> dict:
    n = sum(len(p[plan.fit].texts) for p in task.parts.values()) if plan.fit else 0
    return {"score": None, "metric": METRIC_NAMES.get(task.name, "macro_f1"), "split": None, "fitted_on": plan.fit,
            "n_train": n, "n_eval": 0, "note": plan.note}


def _work(task: Task, plan: Plan, max_train: int | None) -> int:
    """Texts to embed for a task (for the progress bar)."""
    if plan.score is None:
        return 0
    n = 0
    for splits in task.parts.values():
        n += min(len(splits[plan.fit].texts), max_train or 1 << 62) + len(splits[plan.score].texts)
        n += len(splits[plan.select].texts) if plan.select in splits else 0
    return n


def run_probe(run_dir: str | Path, data_dir: str | Path, tasks=None, *, max_train: int | None = MAX_TRAIN,
              seed: int = 0, device: str = "auto", threads: int | None = None, progress: bool = True) -> dict:
    """The linear-probe TweetEval run: the JSON of `warble eval tweeteval --protocol probe`."""
    from warble.serve.engine import Engine

    t0 = time.perf_counter()
    data = read_tweeteval(data_dir, tuple(tasks or TASKS))
    plans = {name: plan_splits(task.split_names()) for name, task in data.items()}
    engine = Engine.load(run_dir, device=device, threads=threads)
    seconds = {"load": round(time.perf_counter() - t0, 2)}
    results = {}
    try:
        with tqdm(total=sum(_work(t, plans[n], max_train) for n, t in data.items()), desc="embed", unit="text",
                  disable=not progress) as bar:
            for name, task in data.items():
                plan = plans[name]
                results[name] = (probe_task(engine, task, plan, max_train, seed, bar) if plan.score is not None
                                 else unscored_entry(task, plan))
                seconds[name] = round(sum(results[name].get("seconds", {}).values()), 2)
    finally:
        engine.shutdown()
    seconds["total"] = round(time.perf_counter() - t0, 2)
    return assemble("probe", run_dir, data_dir, results, seconds,
                    {"max_train": max_train, "Cs": list(CS), "class_weight": "balanced", "seed": seed,
                     "features": "Engine.embed (last-token state, L2-normalised), standardised"})


def assemble(protocol: str, run_dir, data_dir, results: dict, seconds: dict, settings: dict) -> dict:
    """The common JSON of both protocols."""
    mean, done = overall({t: r["score"] for t, r in results.items()})
    missing = [t for t in results if t not in done]
    return {
        "protocol": protocol,
        "model": str(run_dir),
        "data": str(data_dir),
        "tasks": results,
        "overall": round(mean, 2) if mean is not None else None,
        "overall_tasks": done,
        "overall_note": ("mean over all 7 tasks" if len(done) == 7 else
                         f"mean over {len(done)} of the {len(results)} tasks asked for"
                         + (f" ({', '.join(missing)} not scored)" if missing else "")
                         + "; the published overall is over all 7 tasks on their test splits"),
        "baselines": {"overall": BASELINES, "note": "published overall TweetEval scores, test splits (percent)"},
        "settings": settings,
        "seconds": seconds,
    }
