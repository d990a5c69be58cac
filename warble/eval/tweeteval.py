"""TweetEval (Barbieri et al., Findings of EMNLP 2020): reading its folder layout and its official metrics.

Layout (the cardiffnlp/tweeteval `datasets/` folder, or any folder like it):

    DIR/<task>/mapping.txt                      `id<TAB>name[<TAB>...]` per line
    DIR/<task>/{train,val,test}_text.txt        one tweet a line
    DIR/<task>/{train,val,test}_labels.txt      one integer label a line, line for line
    DIR/stance/mapping.txt, DIR/stance/<target>/{split}_{text,labels}.txt   one folder per stance target

Official metrics (the benchmark's evaluation script; scores in percent like the published tables):
macro-F1 for emoji, emotion, hate and offensive; F1 of the ironic class for irony; macro-recall for sentiment; the
mean of the F1 of 'against' and 'favor' for stance, over the predictions of all targets pooled. Macro averages run
over the labels present in the gold or predicted labels, as sklearn's classification_report (which the script uses)
does. The overall TweetEval score is the mean over the 7 tasks.

Which split is fitted and which scored (never the same, `plan_splits`): a task is scored on test where a test split
exists, else on validation. A task without training text (sentiment in ../shared/data) trains on its validation
split, so it can be scored only where a test split exists; otherwise it is reported unscored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from warble.errors import InputError

TASKS = ("emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance")
SPLITS = ("train", "val", "test")
METRIC_NAMES = {
    "emoji": "macro_f1", "emotion": "macro_f1", "hate": "macro_f1", "offensive": "macro_f1",
    "irony": "f1_irony", "sentiment": "macro_recall", "stance": "mean_f1_against_favor",
}
# Published overall TweetEval scores on the test sets (percent): SVM, FastText and RoBERTa-base from the TweetEval
# paper (Barbieri et al. 2020), TimeLMs-2021 from Loureiro et al. (ACL 2022 demos).
BASELINES = {"SVM": 53.5, "FastText": 58.1, "RoBERTa-base": 61.3, "TimeLMs-2021": 66.2}


# ------------------------------------------------------------------------------------------------ reading
@dataclass
class Split:
    texts: list[str]
    labels: np.ndarray  # int64, one per text


@dataclass
class Task:
    name: str
    labels: dict[int, str]  # mapping.txt: label id -> name
    parts: dict[str, dict[str, Split]] = field(default_factory=dict)  # target ('' unless stance) -> split -> data

    def split_names(self) -> set[str]:
        """The splits every part has."""
        return set.intersection(*(set(p) for p in self.parts.values()))


def _lines(path: Path) -> list[str]:
    """Lines split on '\\n' only (tweets may hold other Unicode line breaks), without a final empty line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_mapping(path: Path) -> dict[int, str]:
    if not path.is_file():
        raise InputError(f"{path}: no such file (each task folder needs its mapping.txt)")
    mapping = {}
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            mapping[int(parts[0])] = parts[1].strip() if len(parts) > 1 and parts[1].strip() else parts[0]
        except ValueError:
            raise InputError(f"{path}:{n}: expected 'id<TAB>name', got {line!r}") from None
    if not mapping:
        raise InputError(f"{path}: no labels")
    return mapping


def read_split(folder: Path, split: str, labels: dict[int, str]) -> Split | None:
    """A split's texts and labels, or None if the folder has neither file."""
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    if not text_path.exists() and not label_path.exists():
        return None
    if not text_path.is_file() or not label_path.is_file():
        missing = text_path if not text_path.is_file() else label_path
        raise InputError(f"{missing}: missing (the {split} split needs both its text and labels files)")
    texts = _lines(text_path)
    ys = []
    for n, line in enumerate(_lines(label_path), 1):
        try:
            y = int(line.strip())
        except ValueError:
            raise InputError(f"{label_path}:{n}: expected an integer label, got {line!r}") from None
        if y not in labels:
            raise InputError(f"{label_path}:{n}: label {y} is not in mapping.txt ({sorted(labels)})")
        ys.append(y)
    if len(ys) != len(texts):
        raise InputError(f"{folder}: {split}_text.txt has {len(texts)} lines, {split}_labels.txt {len(ys)}")
    if not ys:
        raise InputError(f"{label_path}: empty")
    return Split(texts, np.array(ys, np.int64))


def read_task(root: str | Path, name: str) -> Task:
    """One task folder. Stance (or any task folder without text files but with subfolders) is read per target."""
    folder = Path(root) / name
    if not folder.is_dir():
        raise InputError(f"{folder}: no such task folder (expected the TweetEval layout: {', '.join(TASKS)})")
    task = Task(name, read_mapping(folder / "mapping.txt"))
    has_text = any(folder.glob("*_text.txt"))
    targets = [""] if has_text else sorted(p.name for p in folder.iterdir() if p.is_dir())
    for target in targets:
        splits = {s: d for s in SPLITS if (d := read_split(folder / target, s, task.labels)) is not None}
        if not splits:
            raise InputError(f"{folder / target}: no split files ({{train,val,test}}_text.txt and _labels.txt)")
        task.parts[target] = splits
    if not task.parts:
        raise InputError(f"{folder}: no *_text.txt files and no target subfolders")
    if len({frozenset(p) for p in task.parts.values()}) > 1:
        raise InputError(f"{folder}: the targets have different splits ({ {t: sorted(p) for t, p in task.parts.items()} })")
    return task


def read_tweeteval(root: str | Path, tasks: list[str] | tuple[str, ...] = TASKS) -> dict[str, Task]:
    if not Path(root).is_dir():
        raise InputError(f"--data {root}: no such directory (the TweetEval folder, e.g. ../shared/data/tweeteval)")
    return {t: read_task(root, t) for t in tasks}


# ------------------------------------------------------------------------------------------------ which split
@dataclass
class Plan:
    fit: str | None  # the split the classifier is fitted on ('train', or 'val' when there is no training text)
    select: str  # where C is chosen: 'val' (the validation split) or 'held_out' (a fifth of the fitted split)
    score: str | None  # the split scored (None: nothing is left that was not fitted on)
    note: str


def plan_splits(available: set[str]) -> Plan:
    """Fit, select and score so that the scored split is never fitted or selected on."""
    has_train, has_val, has_test = "train" in available, "val" in available, "test" in available
    if has_train and has_test:
        return Plan("train", "val" if has_val else "held_out", "test", "scored on test")
    if has_train and has_val:
        return Plan("train", "held_out", "val", "no test split here: scored on validation")
    if has_val and has_test:
        return Plan("val", "held_out", "test", "no training text: the validation split is the training split; "
                                               "scored on test")
    if has_val:
        return Plan("val", "held_out", None, "no training text: the validation split is the training split, and with "
                                             "no test split nothing held out is left to score on: not scored")
    if has_train:
        return Plan("train", "held_out", None, "only a training split: nothing held out to score on: not scored")
    return Plan(None, "held_out", None, "no training or validation split: nothing to fit on: not scored")


# ------------------------------------------------------------------------------------------------ metrics
def _label_id(labels: dict[int, str], *names: str, default: int) -> int:
    for i, name in labels.items():
        if name.lower().replace("-", "_") in names:
            return i
    return default


def macro_f1(gold, pred) -> float:
    from sklearn.metrics import f1_score
    return 100 * float(f1_score(gold, pred, average="macro", zero_division=0))


def macro_recall(gold, pred) -> float:
    from sklearn.metrics import recall_score
    return 100 * float(recall_score(gold, pred, average="macro", zero_division=0))


def class_f1(gold, pred, label: int) -> float:
    from sklearn.metrics import f1_score
    return 100 * float(f1_score(gold, pred, labels=[label], average=None, zero_division=0)[0])


def official_score(task: str, labels: dict[int, str], gold, pred) -> float:
    """The task's official metric, in percent."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    if task == "irony":
        return class_f1(gold, pred, _label_id(labels, "irony", "ironic", default=1))
    if task == "sentiment":
        return macro_recall(gold, pred)
    if task == "stance":
        against = _label_id(labels, "against", default=1)
        favor = _label_id(labels, "favor", "favour", default=2)
        return (class_f1(gold, pred, against) + class_f1(gold, pred, favor)) / 2
    return macro_f1(gold, pred)


def overall(scores: dict[str, float | None]) -> tuple[float | None, list[str]]:
    """The mean over the scored tasks, and which those are (the official overall needs all 7)."""
    done = [t for t, s in scores.items() if s is not None]
    return (float(np.mean([scores[t] for t in done])) if done else None), done
