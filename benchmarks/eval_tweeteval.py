"""How long the linear-probe TweetEval run takes, part by part, and what it scores.

    python benchmarks/eval_tweeteval.py --json                                  # runs/quickstart/run, shared data
    python benchmarks/eval_tweeteval.py --model run/ --data DIR --max-train 2000 --tasks irony,stance --json

Runs `warble.eval.probe.run_probe` (what `warble eval tweeteval --protocol probe` runs) on a run directory and a
TweetEval folder, and prints seconds per part (engine load, then per task: embedding the posts and fitting the
probe), texts embedded per second, the scores and the overall. It does not write into the run directory.
Target (issue 7): the whole probe run on the CPU preset finishes in minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from warble.eval.probe import MAX_TRAIN, run_probe

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "runs" / "quickstart" / "run"))
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "tweeteval"))
    p.add_argument("--tasks", help="comma-separated (default all 7)")
    p.add_argument("--max-train", type=int, default=MAX_TRAIN, help=f"training posts per task (default {MAX_TRAIN})")
    p.add_argument("--threads", type=int, help="torch threads of the engine (default torch's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if not (Path(a.model) / "tokenizer").is_dir():
        p.error(f"--model {a.model}: not a run directory (train one with `make quickstart`)")

    out = run_probe(a.model, a.data, a.tasks.split(",") if a.tasks else None, max_train=a.max_train or None,
                    threads=a.threads, device=a.device, progress=not a.json)
    tasks = out["tasks"]
    embed_s = sum(t.get("seconds", {}).get("embed", 0) for t in tasks.values())
    fit_s = sum(t.get("seconds", {}).get("fit", 0) for t in tasks.values())
    texts = sum(t["n_train"] + t["n_eval"] for t in tasks.values() if t["score"] is not None)
    report = {
        "model": out["model"],
        "max_train": a.max_train,
        "scores": {name: t["score"] for name, t in tasks.items()},
        "overall": out["overall"],
        "overall_note": out["overall_note"],
        "seconds": {**out["seconds"], "embed": round(embed_s, 1), "fit": round(fit_s, 1)},
        "per_task_seconds": {name: t.get("seconds") for name, t in tasks.items()},
        "texts_embedded_approx": texts,  # fitted + scored posts (validation posts used to choose C come on top)
        "texts_per_s_approx": round(texts / embed_s, 1) if embed_s else None,
    }
    print(json.dumps(report, indent=None if a.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
