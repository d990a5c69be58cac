"""Brand-safety classifiers: TF-IDF (word + character n-grams) and logistic regression, trained on labelled posts.

Data: a folder of tasks in the TweetEval layout (`TASK/{train,val,test}_text.txt`, one post a line,
`TASK/{split}_labels.txt`, one integer a line, `TASK/mapping.txt`, `id<TAB>name`); each binary task becomes the
classifier of the taxonomy category with the task's name (TweetEval's `hate` -> hate, `offensive` -> offensive).

Splits: with a test split, train on train, choose thresholds on val, report on test. Without one (the shared copy
of TweetEval holds train and val only), val becomes the test split and the thresholds are chosen on a stratified
15% of train held out from fitting.

Thresholds, one per risk level, chosen on the tuning split: medium = the best F1 (or, with `target_precision`, the
lowest threshold whose precision reaches it); high = the lowest threshold with precision >= 0.9 (never below
medium); low = the highest threshold with recall >= 0.9 (never above medium).

Saved model (no pickles: plain arrays, safe to load from anywhere):
    OUT/safety/manifest.json   {"format": "warble.safety/v1", "features": {...}, "classifiers": {NAME: {"file",
                                "thresholds": {"low", "medium", "high"}, "C", "metrics", ...}}}
    OUT/safety/NAME.npz        idf_word, idf_char, coef, intercept (float32)
Features are hashed (sklearn's HashingVectorizer), so the model needs no vocabulary: only the idf weights.

With a Warble run directory, `train_embedding_head` also learns each task from the model's frozen embeddings, for
comparison (reported, not used by the checker).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warble.errors import InputError

FORMAT = "warble.safety/v1"
FEATURES = {"word_ngrams": [1, 2], "char_ngrams": [2, 5], "word_buckets": 2 ** 18, "char_buckets": 2 ** 19,
            "sublinear_tf": True}
LEVELS = ("low", "medium", "high")
HIGH_PRECISION, LOW_RECALL = 0.9, 0.9
C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)
TUNE_FRACTION = 0.15
MIN_DF = 2


# ---------------------------------------------------------------------------------------------- features

def _vectorizers(features: dict):
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"alternate_sign": False, "norm": None, "lowercase": True, "dtype": np.float32}
    word = HashingVectorizer(analyzer="word", ngram_range=tuple(features["word_ngrams"]),
                             token_pattern=r"(?u)[#@]?\w+", n_features=features["word_buckets"], **common)
    char = HashingVectorizer(analyzer="char_wb", ngram_range=tuple(features["char_ngrams"]),
                             n_features=features["char_buckets"], **common)
    return word, char


def _counts(texts: list[str], features: dict):
    """Hashed term counts (sublinear: 1 + log tf) of the word and the character block."""
    blocks = []
    for vec in _vectorizers(features):
        x = vec.transform(texts).tocsr()
        if features["sublinear_tf"]:
            np.log(x.data, out=x.data)
            x.data += 1
        blocks.append(x)
    return blocks


def _idf(x) -> np.ndarray:
    """Smoothed idf, as sklearn's TfidfTransformer computes it."""
    n = x.shape[0]
    df = np.bincount(x.indices, minlength=x.shape[1])
    return (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)


def _tfidf(blocks, idfs):
    """Each block weighted by its idf and L2-normalised, then side by side (as a FeatureUnion of two TfidfVectorizers)."""
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    return sp.hstack([normalize(x @ sp.diags(idf)) for x, idf in zip(blocks, idfs)], format="csr")


# ---------------------------------------------------------------------------------------------- the model

@dataclass
class TextClassifier:
    """One category's classifier: P(category | post) and the thresholds that turn it into a risk level."""

    name: str
    idf_word: np.ndarray
    idf_char: np.ndarray
    coef: np.ndarray
    intercept: float
    thresholds: dict[str, float]
    features: dict

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return predict_all({self.name: self}, texts)[self.name]

    def _proba_from_counts(self, blocks) -> np.ndarray:
        x = _tfidf(blocks, [self.idf_word, self.idf_char])
        z = x @ self.coef.astype(np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def risk(self, p: float) -> int:
        """0 (none) .. 3 (high): the highest level whose threshold the probability reaches."""
        return max((i + 1 for i, lv in enumerate(LEVELS) if p >= self.thresholds[lv]), default=0)

    def save(self, out_dir: Path) -> str:
        file = f"{self.name}.npz"
        np.savez_compressed(out_dir / file, idf_word=self.idf_word, idf_char=self.idf_char,
                            coef=self.coef.astype(np.float32), intercept=np.float32(self.intercept))
        return file

    @classmethod
    def load(cls, safety_dir: Path, name: str, entry: dict, features: dict) -> TextClassifier:
        path = safety_dir / entry["file"]
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("idf_word", "idf_char", "coef", "intercept")}
        except (OSError, KeyError, ValueError) as e:
            raise InputError(f"safety classifier {path} cannot be read: {e}") from None
        if arrays["coef"].shape != (features["word_buckets"] + features["char_buckets"],):
            raise InputError(f"safety classifier {path} does not match the features in its manifest")
        return cls(name, arrays["idf_word"], arrays["idf_char"], arrays["coef"], float(arrays["intercept"]),
                   {lv: float(entry["thresholds"][lv]) for lv in LEVELS}, features)


def predict_all(classifiers: dict[str, TextClassifier], texts: list[str]) -> dict[str, np.ndarray]:
    """P(category | post) of every classifier; the hashed counts are computed once for classifiers that share
    their feature settings (the costly part: character n-grams)."""
    texts = list(texts)
    out, counts = {}, {}
    for name, clf in classifiers.items():
        if not texts:
            out[name] = np.zeros(0, dtype=np.float64)
            continue
        key = json.dumps(clf.features, sort_keys=True)
        if key not in counts:
            counts[key] = _counts(texts, clf.features)
        out[name] = clf._proba_from_counts(counts[key])
    return out


def load_classifiers(safety_dir: str | Path) -> dict[str, TextClassifier]:
    """Every classifier of a `train-safety` output folder (OUT/safety/)."""
    d = Path(safety_dir)
    try:
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{d} holds no manifest.json: not a `warble ads train-safety` output") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{d / 'manifest.json'} cannot be read: {e}") from None
    if manifest.get("format") != FORMAT:
        raise InputError(f"{d / 'manifest.json'}: unknown format {manifest.get('format')!r} (expected {FORMAT})")
    return {name: TextClassifier.load(d, name, entry, manifest["features"])
            for name, entry in manifest["classifiers"].items()}


# ---------------------------------------------------------------------------------------------- data

def read_split(task_dir: Path, split: str) -> tuple[list[str], np.ndarray] | None:
    """(texts, 0/1 labels) of one split, or None when the split is absent. Empty posts are dropped."""
    text_file, label_file = task_dir / f"{split}_text.txt", task_dir / f"{split}_labels.txt"
    if not text_file.exists() and not label_file.exists():
        return None
    for f in (text_file, label_file):
        if not f.is_file():
            raise InputError(f"{task_dir.name}: {f.name} is missing beside its pair")
    # Split on "\n" only: a few tweets hold other line-breaking characters (str.splitlines would cut them).
    texts = text_file.read_text(encoding="utf-8").rstrip("\n").split("\n")
    raw = label_file.read_text(encoding="utf-8").split()
    if len(texts) != len(raw):
        raise InputError(f"{task_dir.name}/{split}: {len(texts)} posts but {len(raw)} labels")
    try:
        labels = np.array([int(v) for v in raw], dtype=np.int64)
    except ValueError as e:
        raise InputError(f"{label_file}: labels must be integers ({e})") from None
    positive = _positive_label(task_dir)
    if not set(np.unique(labels)) <= {0, 1, positive}:
        raise InputError(f"{label_file}: a binary task needs labels 0/1, found {sorted(set(labels.tolist()))}")
    keep = [i for i, t in enumerate(texts) if t.strip()]
    return [texts[i] for i in keep], (labels[keep] == positive).astype(np.int64)


def _positive_label(task_dir: Path) -> int:
    """The label id of the unsafe class: from mapping.txt the one not named "not-..."/"non-...", else 1."""
    mapping = task_dir / "mapping.txt"
    if not mapping.is_file():
        return 1
    names = {}
    for line in mapping.read_text(encoding="utf-8").splitlines():
        if line.strip():
            key, _, name = line.partition("\t")
            names[int(key)] = name.strip().lower()
    if len(names) != 2:
        raise InputError(f"{mapping}: brand-safety tasks must be binary, found {len(names)} classes")
    positive = [k for k, v in names.items() if not v.startswith(("not", "non"))]
    return positive[0] if len(positive) == 1 else 1


def find_tasks(data_dir: str | Path, tasks: list[str] | None = None) -> list[Path]:
    """Task folders under `data_dir` (or `data_dir` itself when it is one) that have a train split."""
    d = Path(data_dir)
    if not d.is_dir():
        raise InputError(f"training data folder not found: {d}")
    if (d / "train_text.txt").exists():
        found = {d.name: d}
    else:
        found = {p.name: p for p in sorted(d.iterdir()) if (p / "train_text.txt").exists()}
    if tasks:
        missing = [t for t in tasks if t not in found]
        if missing:
            raise InputError(f"no task folder {', '.join(missing)} with train_text.txt under {d} "
                             f"(found: {', '.join(found) or 'none'})")
        return [found[t] for t in tasks]
    if not found:
        raise InputError(f"{d} holds no task folder with train_text.txt/train_labels.txt (TweetEval layout)")
    return list(found.values())


# ---------------------------------------------------------------------------------------------- metrics

def binary_metrics(y: np.ndarray, flagged: np.ndarray) -> dict:
    """Precision, recall and F1 of the positive class (0 where undefined), with the counts they come from."""
    y, flagged = np.asarray(y, dtype=bool), np.asarray(flagged, dtype=bool)
    tp, fp, fn = int((y & flagged).sum()), int((~y & flagged).sum()), int((y & ~flagged).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn,
            "support": int(y.sum())}


def choose_thresholds(y: np.ndarray, p: np.ndarray, target_precision: float | None = None) -> dict[str, float]:
    """Risk-level thresholds from a tuning split (see the module docstring)."""
    from sklearn.metrics import precision_recall_curve

    if y.sum() == 0 or y.sum() == len(y):
        raise InputError("the tuning split needs both classes to choose thresholds")
    prec, rec, thr = precision_recall_curve(y, p)
    prec, rec = prec[:-1], rec[:-1]  # the last point has no threshold
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0)

    def lowest_with_precision(target: float) -> float | None:
        ok = np.flatnonzero(prec >= target)
        return float(thr[ok[0]]) if len(ok) else None

    medium = lowest_with_precision(target_precision) if target_precision else None
    if medium is None:
        medium = float(thr[int(np.argmax(f1))])
    high = lowest_with_precision(HIGH_PRECISION)
    high = max(medium, high if high is not None else float(thr[-1]))
    ok = np.flatnonzero(rec >= LOW_RECALL)
    low = min(medium, float(thr[ok[-1]]) if len(ok) else medium)
    return {"low": round(low, 6), "medium": round(medium, 6), "high": round(high, 6)}


def evaluate(clf: TextClassifier, texts: list[str], y: np.ndarray) -> dict:
    """Per-level precision/recall/F1 and PR-AUC (average precision) of a classifier on labelled posts."""
    return evaluate_scores(y, clf.predict_proba(texts), clf.thresholds)


def evaluate_scores(y: np.ndarray, p: np.ndarray, thresholds: dict[str, float]) -> dict:
    from sklearn.metrics import average_precision_score

    levels = {lv: {"threshold": thresholds[lv], **binary_metrics(y, p >= thresholds[lv])} for lv in LEVELS}
    return {"n": len(y), "positives": int(y.sum()), "pr_auc": round(float(average_precision_score(y, p)), 4),
            **{k: levels["medium"][k] for k in ("precision", "recall", "f1")}, "levels": levels}


# ---------------------------------------------------------------------------------------------- training

Split = tuple[list[str], np.ndarray]


def task_splits(task_dir: Path, seed: int = 0) -> tuple[Split, Split, Split, str]:
    """(fit, tune, test, description) of one task folder (see the module docstring)."""
    from sklearn.model_selection import train_test_split

    train, val, test = (read_split(task_dir, s) for s in ("train", "val", "test"))
    if train is None:
        raise InputError(f"{task_dir}: no train split")
    if val is None and test is None:
        raise InputError(f"{task_dir}: needs a val or test split to report on")
    if len(set(train[1].tolist())) < 2:
        raise InputError(f"{task_dir}: the training posts need both classes")
    if test is not None and val is not None:
        return train, val, test, "fit on train, thresholds on val, tested on test"
    x_fit, x_tune, y_fit, y_tune = train_test_split(train[0], train[1], test_size=TUNE_FRACTION,
                                                    stratify=train[1], random_state=seed)
    note = (f"fit on {1 - TUNE_FRACTION:.0%} of train, thresholds on the other {TUNE_FRACTION:.0%}, "
            f"tested on {'test' if test is not None else 'val (no test split)'}")
    return (x_fit, y_fit), (x_tune, y_tune), (test if test is not None else val), note


def train_task(task_dir: Path, *, target_precision: float | None = None, seed: int = 0,
               features: dict | None = None) -> tuple[TextClassifier, dict, Split]:
    """Fit one task's classifier; returns it, its report (splits used, chosen C, thresholds, test metrics) and the
    test split it was measured on."""
    from sklearn.linear_model import LogisticRegression

    features = features or FEATURES
    t0 = time.perf_counter()
    fit, tune, test, split_note = task_splits(task_dir, seed)
    blocks = _counts(fit[0], features)
    idfs = [_idf(b) for b in blocks]
    x_fit = _tfidf(blocks, idfs)
    x_fit_cols = x_fit.shape[1]
    x_tune = _tfidf(_counts(tune[0], features), idfs)
    # Only features seen in >= MIN_DF training posts get a weight. The dual solver: far more columns than posts.
    keep = np.flatnonzero(np.bincount(x_fit.indices, minlength=x_fit.shape[1]) >= MIN_DF)
    x_fit, x_tune = x_fit[:, keep], x_tune[:, keep]
    c, lr = _best_c(lambda c: LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=1000),
                    x_fit, fit[1], x_tune, tune[1])
    coef = np.zeros(x_fit_cols, dtype=np.float32)
    coef[keep] = lr.coef_[0]
    clf = TextClassifier(task_dir.name, idfs[0], idfs[1], coef, float(lr.intercept_[0]), {}, features)
    clf.thresholds = choose_thresholds(tune[1], clf.predict_proba(tune[0]), target_precision)
    report = {"task": task_dir.name, "splits": split_note, "C": c, "thresholds": clf.thresholds,
              "target_precision": target_precision, "train_posts": len(fit[1]), "tune_posts": len(tune[1]),
              "test": evaluate(clf, test[0], test[1])}
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return clf, report, test


def _best_c(make, x_fit, y_fit, x_tune, y_tune):
    """(C, fitted model) of the C in C_GRID whose model has the best average precision on the tuning split."""
    from sklearn.metrics import average_precision_score

    best = None
    for c in C_GRID:
        lr = make(c).fit(x_fit, y_fit)
        ap = average_precision_score(y_tune, lr.decision_function(x_tune))
        if best is None or ap > best[0]:
            best = (ap, c, lr)
    return best[1], best[2]


def train_embedding_head(engine, task_dir: Path, *, target_precision: float | None = None, seed: int = 0,
                         max_posts: int = 2000, progress: bool = False) -> dict:
    """A logistic regression on the Warble model's frozen post embeddings (`Engine.embed`), on the same splits with
    the same threshold rule, for comparison with the TF-IDF classifier. Fits on at most `max_posts` training posts
    (a stratified sample: embedding is the slow part on a CPU); tunes and tests on the full splits. Reported only:
    `warble ads safety` does not load a model, so it does not use the head."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    fit, tune, test, note = task_splits(task_dir, seed)
    if len(fit[1]) > max_posts:
        x, _, y, _ = train_test_split(fit[0], fit[1], train_size=max_posts, stratify=fit[1], random_state=seed)
        fit = (x, y)

    def embed(texts: list[str]) -> np.ndarray:
        chunks = range(0, len(texts), 256)
        bar = tqdm(chunks, desc=f"embed {task_dir.name}", unit="batch", disable=not progress, leave=False)
        return np.concatenate([engine.embed(texts[i:i + 256]) for i in bar])

    x_fit, x_tune, x_test = embed(fit[0]), embed(tune[0]), embed(test[0])
    c, lr = _best_c(lambda c: LogisticRegression(C=c, max_iter=2000), x_fit, fit[1], x_tune, tune[1])
    thresholds = choose_thresholds(tune[1], lr.predict_proba(x_tune)[:, 1], target_precision)
    return {"model": getattr(engine, "model_id", None), "splits": note, "train_posts": len(fit[1]), "C": c,
            "thresholds": thresholds, "test": evaluate_scores(test[1], lr.predict_proba(x_test)[:, 1], thresholds),
            "seconds": round(time.perf_counter() - t0, 2)}


def train_safety(data_dir: str | Path, out_dir: str | Path, *, tasks: list[str] | None = None,
                 target_precision: float | None = None, seed: int = 0, taxonomy: str | Path | None = None,
                 model_run: str | Path | None = None, embed_posts: int = 2000, progress: bool = True) -> dict:
    """Train one classifier per task and write them to OUT/safety/. Returns the report (also in the manifest).

    Each task's test split is also run through the whole checker (taxonomy keywords + the new classifiers, tier
    standard): `with_keywords` is the category's precision/recall as `warble ads safety` flags it, and
    `keywords_only` what the keyword lists alone catch. With `model_run` (a Warble run directory), each report
    also holds `embedding_head`: the same task learned from that model's embeddings (see train_embedding_head)."""
    from tqdm.auto import tqdm

    from warble.ads.safety import SafetyChecker, Taxonomy, category_metrics

    tax = Taxonomy.load(taxonomy)
    engine = None
    if model_run is not None:
        from warble.serve.engine import Engine

        if not Path(model_run).is_dir():
            raise InputError(f"model run not found: {model_run}")
        engine = Engine.load(model_run)

    if target_precision is not None and not 0 < target_precision < 1:
        raise InputError(f"--target-precision must be between 0 and 1, got {target_precision}")
    task_dirs = find_tasks(data_dir, tasks)
    safety_dir = Path(out_dir) / "safety"
    safety_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    entries, reports = {}, {}
    bar = tqdm(task_dirs, desc="train-safety", unit="task", disable=not progress)
    try:
        for task_dir in bar:
            bar.set_postfix_str(task_dir.name)
            clf, report, (texts, y) = train_task(task_dir, target_precision=target_precision, seed=seed)
            labels = [{clf.name} if v else set() for v in y]
            for key, checker in (("with_keywords", SafetyChecker(tax, {clf.name: clf})),
                                 ("keywords_only", SafetyChecker(tax))):
                verdicts = checker.check(texts, tax.default_tier)
                report["test"][key] = category_metrics(verdicts, labels, [clf.name])[clf.name]
            entries[clf.name] = {"file": clf.save(safety_dir), "thresholds": clf.thresholds, "C": report["C"],
                                 "test": report["test"], "splits": report["splits"]}
            if engine is not None:
                report["embedding_head"] = train_embedding_head(
                    engine, task_dir, target_precision=target_precision, seed=seed, max_posts=embed_posts,
                    progress=progress)
                entries[clf.name]["embedding_head"] = report["embedding_head"]
            reports[clf.name] = report
    finally:
        if engine is not None:
            engine.shutdown()
    manifest = {"format": FORMAT, "features": FEATURES, "data": str(data_dir), "classifiers": entries,
                "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (safety_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {"out": str(safety_dir), "classifiers": reports, "seconds": round(time.perf_counter() - t0, 2)}
