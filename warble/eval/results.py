"""Evaluation results of a run: one JSON file per evaluation under RUN/eval/, which `warble report` collects.

    save_result(run_dir, "lm", {...})   -> RUN/eval/lm.json (written atomically: a temp file, then rename)
    load_results(run_dir)               -> {"lm": {...}, "tweeteval": {...}, ...}
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from warble.errors import InputError

EVAL_DIR = "eval"


def save_result(run_dir: str | Path, name: str, obj: dict) -> Path:
    """Write `obj` as RUN/eval/<name>.json; a reader never sees a half-written file. Returns the path."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"result name must be a plain file stem, got {name!r}")
    out_dir = Path(run_dir) / EVAL_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_results(run_dir: str | Path) -> dict[str, dict]:
    """Every RUN/eval/<name>.json by name (an empty dict when nothing has been evaluated yet)."""
    out_dir = Path(run_dir) / EVAL_DIR
    results: dict[str, dict] = {}
    if not out_dir.is_dir():
        return results
    for path in sorted(out_dir.glob("*.json")):
        try:
            results[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not a valid result file ({e})") from None
    return results
