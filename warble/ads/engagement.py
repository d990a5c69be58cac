"""Engagement prediction: P(action | impression of a post) for like, repost, reply and quote.

Three models, side by side, all logistic regressions on weighted per-impression examples (warble.ads.labels):

- baseline: hashed TF-IDF word and character n-grams + author/time/format tokens (warble.ads.features);
- warble:   the Warble model's frozen post embeddings (Engine.embed, standardised) + the same tabular tokens;
- blend:    a logistic regression on the two models' logits, fitted on the validation posts.

A model directory holds meta.json (label definition, features, counts, validation metrics, the run used) and
weights.safetensors (IDF vectors, coefficients, embedding scaler): plain arrays, no pickled code, so loading a
model directory runs nothing from it.

    model = EngagementModel.load("eng/")
    p = model.predict([{"text": "new flavour out today #coffee", "author_followers": 1200}])  # {"like": array}
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from warble.ads import metrics
from warble.ads.features import Featurizer, columns_from_posts, read_corpus, take
from warble.ads.labels import ACTIONS, ActionLabels, LabelSpec, build_labels, fit_label_spec, label_summary
from warble.errors import InputError

FORMAT = "warble.engagement/v1"
META_FILE, WEIGHTS_FILE, PLOT_FILE = "meta.json", "weights.safetensors", "reliability.png"
# The Warble head is only valid on the model that embedded its training posts: their vectors for these texts are
# saved with it, and an engine that does not reproduce them (cosine, bf16 noise is ~1e-3) is refused at load.
PROBE_TEXTS = ("just landed in lisbon, the light here is unreal", "new phone who dis #blessed",
               "@user did you see the game last night?? unreal finish", "mi café favorito cerró hoy :(")
PROBE_MIN_COSINE = 0.98
MODELS = ("baseline", "warble", "blend")
MIN_POSTS = 20            # an action needs this many labelled posts (and some engagement) to be modelled
EMBED_CHUNK = 512
LABEL_DEFINITION = (
    "Each post is `trials` impressions of which `count` engaged: a positive example weighted by count and a "
    "negative one weighted by trials - count; metrics use these weights. trials = view_count where known, else "
    "reach * (author_followers + base_reach) + fanout * repost_count, at least the largest engagement count. "
    "Posts with an unknown count, no views and no followers, or that are reposts are left out of that action.")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def fit_logistic(X, y: np.ndarray, w: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    """L2 logistic regression on weighted examples; weights rescaled to mean 1 so C means the same whatever the
    number of impressions. Returns (coef float32, intercept)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, solver="lbfgs", max_iter=500, tol=1e-5)
    if not sp.issparse(X):
        clf.fit(X, y, sample_weight=w / w.mean())
        return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])
    # Hashed spaces are mostly empty: fit on the columns that occur (an unused column's L2-penalised weight is
    # 0 anyway), which makes each L-BFGS step ~10x cheaper, then scatter the weights back.
    X = sp.csr_matrix(X)
    active = np.unique(X.indices)
    clf.fit(X[:, active], y, sample_weight=w / w.mean())
    coef = np.zeros(X.shape[1], dtype=np.float32)
    coef[active] = clf.coef_.ravel()
    return coef, float(clf.intercept_[0])


def validation_mask(cols: dict, fraction: float) -> np.ndarray:
    """Posts held out for validation: the corpus's own validation split plus a hash share of the train split
    (hash of the conversation, so a thread stays on one side; the same posts in every run)."""
    keys = [c or i for c, i in zip(cols.get("conversation_id", cols["id"]), cols["id"])]
    hashed = np.array([zlib.crc32(str(k).encode()) % 10_000 < fraction * 10_000 for k in keys], dtype=bool)
    return hashed | (np.asarray(cols["split"]) == "validation")


class Embedder:
    """Frozen Warble post embeddings, standardised with the training posts' mean and std."""

    def __init__(self, engine, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        self.engine, self.mean, self.std = engine, mean, std

    def raw(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.engine.embedding_dim), dtype=np.float32)
        with tqdm(total=len(texts), unit="post", desc="embed", disable=not progress, file=sys.stderr) as bar:
            for i in range(0, len(texts), EMBED_CHUNK):
                out[i:i + EMBED_CHUNK] = self.engine.embed(texts[i:i + EMBED_CHUNK])
                bar.update(min(EMBED_CHUNK, len(texts) - i))
        return out

    def fit(self, emb: np.ndarray) -> Embedder:
        self.mean, self.std = emb.mean(axis=0), emb.std(axis=0) + 1e-6
        return self

    def transform(self, emb: np.ndarray) -> np.ndarray:
        return (emb - self.mean) / self.std


def _check_same_embedder(engine, meta: dict, probes: np.ndarray | None) -> None:
    """InputError unless `engine` embeds as the model the Warble head was trained on: same width, and the same
    vectors for PROBE_TEXTS (a model of the same shape but other weights would give confidently wrong scores)."""
    want = f"the run it was trained with ({meta.get('run_dir')})"
    if engine.embedding_dim != meta.get("embedding_dim"):
        raise InputError(f"engine embeds in {engine.embedding_dim} dimensions, the head was trained on "
                         f"{meta.get('embedding_dim')}: pass {want}")
    if probes is None:  # a model directory from before probes were saved: the width is all that can be checked
        return
    got = np.asarray(engine.embed(list(PROBE_TEXTS)), dtype=np.float32)
    cos = (got * probes).sum(axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(probes, axis=1) + 1e-12)
    if float(cos.min()) < PROBE_MIN_COSINE:
        raise InputError(f"the engine is not the model the Warble head was trained on (probe similarity "
                         f"{float(cos.min()):.3f}): pass {want}")


class EngagementModel:
    """A trained engagement model directory: predicts per-impression engagement probabilities."""

    def __init__(self, meta: dict, tensors: dict[str, np.ndarray], engine=None, notes: list[str] | None = None):
        self.meta, self.tensors, self.notes = meta, tensors, notes or []
        self._owns_engine = False  # close() shuts down only an engine that load() started
        self.actions: list[str] = meta["actions"]
        self.featurizer = Featurizer(tensors["idf_word"], tensors["idf_char"])
        self.embedder = Embedder(engine, tensors.get("warble.emb_mean"), tensors.get("warble.emb_std")) \
            if engine is not None else None
        self.models = [m for m in MODELS if m in meta["models"] and (m == "baseline" or self.embedder)]
        best = meta.get("best_model", "baseline")
        self.best = best if best in self.models else "baseline"

    # ---- loading ----
    @classmethod
    def load(cls, model_dir: str | Path, *, engine=None, use_warble: bool = True, device: str = "auto"
             ) -> EngagementModel:
        """Load eng/. The Warble head needs an engine: pass one (the server's), or it is loaded from the run
        directory recorded at training time; if that is gone, only the baseline is served (see `.notes`)."""
        from safetensors.numpy import load_file

        root = Path(model_dir)
        if not (root / META_FILE).is_file() or not (root / WEIGHTS_FILE).is_file():
            raise InputError(f"{model_dir} is not an engagement model directory (no {META_FILE}/{WEIGHTS_FILE}; "
                             "make one with `warble ads train-engagement`)")
        try:
            meta = json.loads((root / META_FILE).read_text())
            tensors = load_file(str(root / WEIGHTS_FILE))
        except (OSError, ValueError) as e:
            raise InputError(f"{model_dir}: unreadable engagement model ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{model_dir}: not a {FORMAT} model directory")
        heads = [f"{m}.{a}.coef" for m in meta.get("models", []) if m != "blend" for a in meta.get("actions", [])]
        missing = [k for k in ("idf_word", "idf_char", *heads) if k not in tensors]
        if missing or not meta.get("actions") or "label_spec" not in meta:
            raise InputError(f"{model_dir}: incomplete engagement model (missing {', '.join(missing) or 'meta'})")
        notes, owned = [], False
        if use_warble and "warble" in meta["models"] and engine is None:
            run = meta.get("run_dir")
            if run and Path(run).is_dir():
                from warble.serve.engine import Engine

                engine, owned = Engine.load(run, device=device, max_batch=64), True
            else:
                notes.append(f"the Warble head needs its run directory {run}, which is missing: baseline only")
        if "warble" not in meta["models"] or not use_warble:
            engine = None  # the caller's engine is not needed
        if engine is not None:
            try:
                _check_same_embedder(engine, meta, tensors.get("warble.probes"))
            except BaseException:
                if owned:  # the engine load() started is not handed to anyone: stop its thread
                    engine.shutdown()
                raise
        model = cls(meta, tensors, engine, notes)
        model._owns_engine = owned
        return model

    # ---- prediction ----
    def _linear(self, name: str, action: str, X) -> np.ndarray:
        return np.asarray(X @ self.tensors[f"{name}.{action}.coef"]).ravel() + \
            float(self.tensors[f"{name}.{action}.intercept"][0])

    def logits(self, cols: dict, models=None, progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
        """{model: {action: logit per post}} for the models asked (default: all available)."""
        models = [m for m in (models or self.models) if m in self.models]
        out: dict[str, dict[str, np.ndarray]] = {}
        tab = self.featurizer.tab_matrix(cols)
        if "baseline" in models or "blend" in models:
            Xb = sp.hstack([self.featurizer.text_matrix(cols), tab], format="csr")
            out["baseline"] = {a: self._linear("baseline", a, Xb) for a in self.actions}
        if "warble" in models or "blend" in models:
            emb = self.embedder.transform(self.embedder.raw(cols["text"], progress))
            Xw = sp.hstack([sp.csr_matrix(emb), tab], format="csr")
            out["warble"] = {a: self._linear("warble", a, Xw) for a in self.actions}
        if "blend" in models:
            out["blend"] = {}
            for a in self.actions:
                wb, ww, b = self.meta["blend"][a]
                out["blend"][a] = wb * out["baseline"][a] + ww * out["warble"][a] + b
        return {m: out[m] for m in models}

    def predict_columns(self, cols: dict, models=None, progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
        return {m: {a: _sigmoid(z) for a, z in per.items()}
                for m, per in self.logits(cols, models, progress).items()}

    def predict(self, posts: list[dict], model: str | None = None) -> dict[str, np.ndarray]:
        """Per-impression engagement probability of each post for every action, from `model` (default the best
        available). Posts are dicts with "text" and optional POST_SCHEMA fields (features.POST_DEFAULTS)."""
        model = model or self.best
        if model not in self.models:
            raise InputError(f"model {model!r} is not available here (have {', '.join(self.models)})")
        if not posts:
            return {a: np.zeros(0) for a in self.actions}
        return self.predict_columns(columns_from_posts(posts), [model])[model]

    def close(self) -> None:
        """Shut down the engine that load() started for the Warble head (a caller's engine is left running)."""
        if self._owns_engine and self.embedder is not None:
            self.embedder.engine.shutdown()
            self._owns_engine = False


# ---- training ---------------------------------------------------------------------------------------------------

def finite(obj):
    """obj with every NaN/inf float replaced by None, so it serialises as strict JSON."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _evaluate_all(labels, idx_mask, probs) -> dict[str, dict[str, dict]]:
    """{action: {model: metrics}} on the posts of idx_mask (probs: {model: {action: p per post}})."""
    out = {}
    for a, lab in labels.items():
        post, y, w = lab.where(idx_mask).examples()
        if len(post) == 0 or (w * y).sum() == 0:
            continue
        out[a] = {m: metrics.evaluate(y, p[a][post], w) for m, p in probs.items() if a in p}
    return out


def _best_model(val: dict[str, dict[str, dict]], models: list[str]) -> str:
    """The model with the highest mean validation RCE over actions (baseline if nothing was measured)."""
    scores = {m: np.nanmean([val[a][m]["rce"] for a in val if m in val[a]] or [np.nan]) for m in models}
    scores = {m: s for m, s in scores.items() if not math.isnan(s)}
    return max(scores, key=scores.get) if scores else "baseline"


def _both_classes(labels: ActionLabels) -> bool:
    _, y, w = labels.examples()
    return bool((w * y).sum() > 0 and (w * (1 - y)).sum() > 0)


def _fit_heads(designs: dict, train_labels: dict[str, ActionLabels], actions: list[str], C: float,
               tensors: dict[str, np.ndarray], progress: bool) -> dict[str, dict[str, np.ndarray]]:
    """One logistic head per model and action; weights go into `tensors`; returns the logits of every post."""
    logits: dict[str, dict[str, np.ndarray]] = {m: {} for m in designs}
    steps = [(m, a) for m in designs for a in actions]
    for m, a in tqdm(steps, desc="fit", unit="model", disable=not progress, file=sys.stderr):
        post, y, w = train_labels[a].examples()
        coef, b = fit_logistic(designs[m][post], y, w, C)
        tensors[f"{m}.{a}.coef"], tensors[f"{m}.{a}.intercept"] = coef, np.array([b], dtype=np.float32)
        logits[m][a] = np.asarray(designs[m] @ coef).ravel() + b
    return logits


def _fit_blend(z_baseline: np.ndarray, z_warble: np.ndarray, val_labels: ActionLabels) -> list[float]:
    """[w_baseline, w_warble, bias] of a logistic regression on the two logits over the validation posts (barely
    regularised: 3 parameters); the plain average of the logits when validation has one class only."""
    if not _both_classes(val_labels):
        return [0.5, 0.5, 0.0]
    post, y, w = val_labels.examples()
    coef, b = fit_logistic(np.stack([z_baseline[post], z_warble[post]], axis=1), y, w, C=100.0)
    return [float(coef[0]), float(coef[1]), b]


def train_engagement(corpus_dir, out_dir, *, run_dir=None, C: float = 1.0, val_fraction: float = 0.1,
                     max_posts: int | None = None, overwrite: bool = False, progress: bool = True,
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the baseline (and with run_dir the Warble head and the blend) on a corpus; write out_dir; return meta."""
    from safetensors.numpy import save_file

    t0 = time.time()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out_dir} exists and is not empty (pass --overwrite to replace it)")
    if run_dir is not None and not Path(run_dir).is_dir():
        raise InputError(f"run directory {run_dir} does not exist")
    if not 0 < val_fraction < 1:
        raise InputError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    cols = read_corpus(corpus_dir, "all")
    spec = fit_label_spec(cols["view_count"], cols["author_followers"])
    labels = build_labels(cols, spec)
    actions = [a for a, l in labels.items() if l.valid.sum() >= MIN_POSTS and l.count[l.valid].sum() > 0]
    if not actions:
        raise InputError(f"{corpus_dir}: no engagement counts to learn from (need >= {MIN_POSTS} original posts "
                         "with like/repost/reply/quote counts and views or follower counts)")
    used = np.flatnonzero(np.any([labels[a].valid for a in actions], axis=0))
    if max_posts and len(used) > max_posts:
        used = np.sort(np.random.default_rng(0).choice(used, max_posts, replace=False))
    cols = take(cols, used)
    labels = {a: labels[a].take(used) for a in actions}
    val = validation_mask(cols, val_fraction)
    train_labels = {a: l.where(~val) for a, l in labels.items()}
    actions = [a for a in actions if _both_classes(train_labels[a])]
    if not actions:
        raise InputError(f"{corpus_dir}: too few labelled training posts (every action lacks engaged or "
                         "non-engaged impressions outside the validation posts)")
    log(f"train-engagement: {len(used)} labelled posts ({int((~val).sum())} train / {int(val.sum())} validation), "
        f"actions {', '.join(actions)}, impressions from "
        f"{'views' if spec.reach_source == 'measured' else 'followers (estimated)'}")

    featurizer = Featurizer().fit(take(cols, np.flatnonzero(~val)))
    tensors: dict[str, np.ndarray] = dict(featurizer.state())
    tab = featurizer.tab_matrix(cols)
    designs = {"baseline": sp.hstack([featurizer.text_matrix(cols), tab], format="csr")}
    engine = None
    if run_dir is not None:
        from warble.serve.engine import Engine

        engine = Engine.load(run_dir, max_batch=64)
        try:
            embedder = Embedder(engine)
            emb = embedder.raw(cols["text"], progress)
            tensors["warble.probes"] = embedder.raw(list(PROBE_TEXTS))
        finally:
            engine.shutdown()
        embedder.fit(emb[~val])
        tensors["warble.emb_mean"], tensors["warble.emb_std"] = embedder.mean, embedder.std
        designs["warble"] = sp.hstack([sp.csr_matrix(embedder.transform(emb)), tab], format="csr")

    logits = _fit_heads(designs, train_labels, actions, C, tensors, progress)
    blend = {}
    if "warble" in designs:
        blend = {a: _fit_blend(logits["baseline"][a], logits["warble"][a], labels[a].where(val)) for a in actions}
        logits["blend"] = {a: blend[a][0] * logits["baseline"][a] + blend[a][1] * logits["warble"][a] + blend[a][2]
                           for a in actions}
    models = list(logits)
    probs = {m: {a: _sigmoid(z) for a, z in per.items()} for m, per in logits.items()}
    validation = _evaluate_all(labels, val, probs)
    best = _best_model(validation, models)

    meta = {
        "format": FORMAT, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "actions": actions, "models": models, "best_model": best,
        "best_model_rule": "highest mean validation RCE over actions",
        "label_definition": LABEL_DEFINITION, "label_spec": spec.to_dict(),
        "features": featurizer.describe(), "C": C, "val_fraction": val_fraction,
        "corpus": str(Path(corpus_dir).resolve()),
        "run_dir": str(Path(run_dir).resolve()) if run_dir else None,
        "embedding_dim": engine.embedding_dim if engine else None,
        "warble_head": "trained" if engine else "not trained (pass --model RUN_DIR to train the Warble head)",
        "blend": blend,
        "counts": {"posts": len(used), "train": label_summary(train_labels),
                   "validation": label_summary({a: l.where(val) for a, l in labels.items()})},
        "validation": {a: {m: {k: v for k, v in r.items() if k != "reliability"} for m, r in per.items()}
                       for a, per in validation.items()},
        "seconds": round(time.time() - t0, 2),
    }
    meta = finite(meta)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(out / WEIGHTS_FILE))
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    if validation:
        metrics.plot_reliability({a: {m: r["reliability"] for m, r in per.items()} for a, per in validation.items()},
                                 out / PLOT_FILE)
    return meta


# ---- scoring a corpus -------------------------------------------------------------------------------------------

def _truth_table(path) -> dict[str, dict[str, float]]:
    """p_<action> per post id from a synthetic dump's ground truth (raw dir, its _truth/ dir or posts.parquet)."""
    import pyarrow.parquet as pq

    p = Path(path)
    for cand in (p, p / "posts.parquet", p / "_truth" / "posts.parquet"):
        if cand.is_file():
            t = pq.read_table(cand, columns=["id"] + [f"p_{a}" for a in ACTIONS])
            return {"id": t["id"].to_pylist(), **{a: t[f"p_{a}"].to_numpy() for a in ACTIONS}}
    raise InputError(f"--truth {path}: no _truth/posts.parquet there (a `warble synth` dump has one)")


def score_corpus(model_dir, corpus_dir, *, split: str = "all", out_file=None, truth=None, models=None,
                 plot=None, progress: bool = True, model: EngagementModel | None = None) -> dict[str, Any]:
    """Predict every post of a corpus, label it with the model's label definition, and measure each model."""
    if split not in ("all", "train", "validation"):
        raise InputError(f"--split must be all, train or validation, got {split!r}")
    owned = model is None
    model = model or EngagementModel.load(model_dir, use_warble=models is None or set(models) != {"baseline"})
    missing = [m for m in models or () if m not in model.models]
    if missing:
        if owned:
            model.close()
        raise InputError(f"model(s) {', '.join(missing)} not available in {model_dir} (have "
                         f"{', '.join(model.models)}){'; ' + '; '.join(model.notes) if model.notes else ''}")
    try:
        cols = read_corpus(corpus_dir, split)
        truth_cols = _truth_table(truth) if truth else None
        t0 = time.time()
        probs = model.predict_columns(cols, models, progress)
        seconds = time.time() - t0
    finally:
        if owned:
            model.close()
    n = len(cols["text"])
    labels = build_labels(cols, LabelSpec.from_dict(model.meta["label_spec"]), model.actions)
    results = _evaluate_all(labels, np.ones(n, dtype=bool), probs)
    best = model.best if model.best in probs else next(iter(probs))
    engagements = {}
    for a in model.actions:
        lab = labels[a]
        entry: dict[str, Any] = {"n": int(lab.valid.sum()), "impressions": float(lab.trials[lab.valid].sum()),
                                 "base_rate": lab.base_rate(), "model": best}
        if a in results:
            by_model = {m: {k: v for k, v in r.items() if k != "reliability"} for m, r in results[a].items()}
            entry.update({k: by_model[best][k] for k in ("rce", "pr_auc", "ece")})
        else:  # the corpus has no labels for this action: predictions only
            by_model = {m: {} for m in probs}
            entry.update({"rce": None, "pr_auc": None, "ece": None})
        for m in probs:
            by_model[m]["mean_prediction"] = float(probs[m][a].mean()) if n else None
        if truth_cols is not None:
            entry["truth"] = _against_truth(cols["id"], truth_cols, a, lab, {m: probs[m][a] for m in probs}, by_model)
        entry["by_model"] = by_model
        engagements[a] = entry
    summary = {"engagements": engagements, "model": best, "models": list(probs), "split": split, "posts": n,
               "seconds": round(seconds, 3), "posts_per_s": round(n / seconds, 1) if seconds > 0 else None,
               "notes": model.notes}
    if plot and results:
        summary["reliability_plot"] = str(metrics.plot_reliability(
            {a: {m: r["reliability"] for m, r in per.items()} for a, per in results.items()}, plot))
    if out_file:
        summary["predictions"] = str(_write_predictions(cols, probs, out_file))
    return finite(summary)


def _against_truth(ids: list, truth: dict, action: str, lab, probs: dict[str, np.ndarray], by_model: dict) -> dict:
    """Correlations of each model's predictions with the true probabilities (added to by_model), and the metrics
    the true probabilities themselves reach on the observed labels: the ceiling for RCE and PR-AUC."""
    from scipy.stats import pearsonr, spearmanr

    where = {pid: i for i, pid in enumerate(truth["id"])}
    ti = np.array([where.get(pid, -1) for pid in ids])
    ci = np.flatnonzero(ti >= 0)
    if len(ci) < 3:
        return {"n": len(ci)}
    true_p = np.full(len(ids), np.nan)
    true_p[ci] = truth[action][ti[ci]]
    for m, p in probs.items():
        by_model[m]["truth_pearson"] = float(pearsonr(p[ci], true_p[ci])[0])
        by_model[m]["truth_spearman"] = float(spearmanr(p[ci], true_p[ci])[0])
    post, y, w = lab.where(ti >= 0).examples()
    out = {"n": len(ci)}
    if len(post) and (w * y).sum() > 0:
        r = metrics.evaluate(y, true_p[post], w)
        out.update({k: r[k] for k in ("rce", "pr_auc", "ece")})
    return out


def _write_predictions(cols: dict, probs: dict, path) -> Path:
    import pyarrow as pa

    from warble.data.files import write_table

    columns = {"id": pa.array(cols["id"], pa.string()), "split": pa.array(cols["split"], pa.string())}
    for m, per in probs.items():
        for a, p in per.items():
            columns[f"{m}_{a}"] = pa.array(p.astype(np.float32))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(pa.table(columns), path)
    return path
