"""How well did ingest clean a simulated dump? Compare a corpus with the simulator's ground truth.

The simulator records every planted fault (`OUT/_truth/` of `warble synth`), so the pipeline's recall on each
one is measurable: duplicates and spam removed, personal data left in the text, malformed records quarantined,
and language ID accuracy on the posts kept. The quickstart report prints this; tests assert on it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq

# Planted kinds ingest should remove, and the ones it should keep.
REMOVE = ("exact_dup", "near_dup", "retweet", "spam")
KEEP = ("original", "reply", "quote")


def audit_against_truth(raw_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    truth_dir = Path(raw_dir) / "_truth"
    truth = pq.read_table(truth_dir / "posts.parquet", columns=["id", "kind", "lang", "pii_values"]).to_pylist()
    corpus = ds.dataset(Path(out_dir) / "corpus", format="parquet").to_table(columns=["id", "text", "lang"])
    kept = dict(zip(corpus.column("id").to_pylist(), zip(corpus.column("text").to_pylist(),
                                                        corpus.column("lang").to_pylist())))
    planted, survived = Counter(), Counter()
    pii_planted = pii_left = lang_total = lang_right = 0
    for row in truth:
        planted[row["kind"]] += 1
        if row["id"] not in kept:
            continue
        survived[row["kind"]] += 1
        text, lang = kept[row["id"]]
        if row["pii_values"]:
            pii_planted += len(row["pii_values"])
            pii_left += sum(v in text for v in row["pii_values"])
        if row["kind"] in KEEP:
            lang_total += 1
            lang_right += lang == row["lang"]
    summary = json.loads((truth_dir / "summary.json").read_text())
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text())
    malformed = sum(summary["malformed"].values())
    return {
        "removed": {k: round(1 - survived[k] / planted[k], 4) for k in REMOVE if planted[k]},
        "kept": {k: round(survived[k] / planted[k], 4) for k in KEEP if planted[k]},
        "pii_values_in_kept_posts": pii_planted,
        "pii_values_left": pii_left,
        "malformed_planted": malformed,
        "quarantined": manifest["quarantined"],
        "lang_accuracy": round(lang_right / lang_total, 4) if lang_total else None,
    }


def audit_markdown(a: dict[str, Any]) -> str:
    rows = [f"| {k} | planted, should go | {100 * v:.1f}% removed |" for k, v in a["removed"].items()]
    rows += [f"| {k} | ordinary, should stay | {100 * v:.1f}% kept |" for k, v in a["kept"].items()]
    return "\n".join([
        "| kind | expectation | result |", "|---|---|---|", *rows, "",
        f"Personal data: {a['pii_values_left']} of {a['pii_values_in_kept_posts']} planted values left in kept "
        f"posts. Malformed records: {a['malformed_planted']} planted, {a['quarantined']} quarantined. "
        f"Language ID accuracy on kept posts: {100 * (a['lang_accuracy'] or 0):.1f}%.",
    ])
