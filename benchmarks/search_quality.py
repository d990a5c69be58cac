"""Search quality on the shared datasets: lexical, dense and hybrid side by side, through `warble eval search`.

- CLEF CheckThat! 2020 task 2 (find the verified claim a tweet checks), dev split: the official measure is MAP@5.
- TweetTopic (posts by topic, 19 multi-label topics, en/es/gr/ja): each topic's name is a query ("film tv & video")
  and the posts labelled with it are its relevant documents, per language. A hard, honest test of topic search:
  the queries are two or three English words, most relevant posts never use them, and the off-the-shelf embedder
  (all-MiniLM-L6-v2) was trained on English.

    python benchmarks/search_quality.py --json            # both datasets, all modes
    python benchmarks/search_quality.py --only tweet_topic
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warble.eval.search_eval import eval_search

MODES = ("lexical", "dense", "hybrid")
KEYS = ("map@5", "mrr", "ndcg@10", "recall@100")


def clef(root: Path) -> dict[str, tuple[Path, Path, Path]]:
    return {"clef2020_dev": (root / "verified_claims.docs.tsv", root / "dev" / "tweets.queries.tsv",
                             root / "dev" / "tweet-vclaim-pairs.qrels")}


def tweet_topic(root: Path, work: Path) -> dict[str, tuple[Path, Path, Path]]:
    """One TREC collection per language: docs.tsv (id, text), queries.tsv (topic, its name), qrels."""
    out = {}
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        posts = [json.loads(line) for f in sorted(lang_dir.glob("*.jsonl")) for line in f.open(encoding="utf-8")
                 if line.strip()]
        if not posts:
            continue
        # the topic fields are the 0/1 numbers (floats in some files); ids are renumbered because some files hold
        # them as floats that lost their last digits
        topics = sorted(k for k, v in posts[0].items() if k != "id" and isinstance(v, (int, float)))
        d = work / lang_dir.name
        d.mkdir(parents=True)
        ids = [f"{lang_dir.name}-{i}" for i in range(len(posts))]
        (d / "docs.tsv").write_text("".join(f"{i}\t{_one_line(p['text'])}\n" for i, p in zip(ids, posts)),
                                    encoding="utf-8")
        queries = {t: " ".join(t.replace("&", " ").replace("_", " ").split()) for t in topics
                   if any(p.get(t) == 1 for p in posts)}
        (d / "queries.tsv").write_text("".join(f"{t}\t{q}\n" for t, q in queries.items()), encoding="utf-8")
        (d / "qrels").write_text("".join(f"{t} 0 {i} 1\n" for t in queries for i, p in zip(ids, posts)
                                         if p.get(t) == 1))
        out[f"tweet_topic_{lang_dir.name}"] = (d / "docs.tsv", d / "queries.tsv", d / "qrels")
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared datasets folder")
    ap.add_argument("--only", choices=["clef", "tweet_topic"], help="one dataset only")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    data = Path(a.data)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="warble-search-quality-") as tmp:
        sets = {}
        if a.only in (None, "clef"):
            sets.update(clef(data / "clef2020_claims"))
        if a.only in (None, "tweet_topic"):
            sets.update(tweet_topic(data / "tweet_topic", Path(tmp)))
        for name, (docs, queries, qrels) in sets.items():
            for mode in MODES:
                r = eval_search(docs, queries, qrels, mode=mode, progress=False)
                results.setdefault(name, {})[mode] = {k: round(r[k], 4) for k in KEYS} | {
                    "queries": r.get("queries_run"), "docs": r.get("docs")}
                print(f"{name:18s} {mode:8s} " + "  ".join(f"{k} {r[k]:.3f}" for k in KEYS), file=sys.stderr)
    for name, by_mode in results.items():
        lex, hyb = by_mode["lexical"], by_mode["hybrid"]
        by_mode["hybrid_over_lexical"] = {k: round(hyb[k] / lex[k], 3) if lex[k] else None for k in KEYS}
    if a.json:
        print(json.dumps(results))
    else:
        print("| collection | mode | " + " | ".join(KEYS) + " |")
        print("|---|---|" + "---:|" * len(KEYS))
        for name, by_mode in results.items():
            for mode in MODES:
                print(f"| {name} | {mode} | " + " | ".join(f"{by_mode[mode][k]:.3f}" for k in KEYS) + " |")


if __name__ == "__main__":
    main()
