"""TREC-style retrieval evaluation: qrels and runs in, MAP@k, MRR, nDCG@k and Recall@k out.

Definitions (those of trec_eval, which the CLEF CheckThat! scorers follow):
- AP@k: the sum, over the ranks i <= k that hold a relevant document, of precision@i, divided by the number of
  relevant documents R of the query (not by min(R, k): a query with more relevant documents than k can score
  below 1; in CLEF 2020 task 2 almost every tweet has exactly one relevant claim, where both agree). MAP@k is the
  mean over queries.
- MRR: the mean over queries of 1 / rank of the first relevant document retrieved (0 if none is).
- nDCG@k: DCG = sum over the first k ranks of (2^rel - 1) / log2(rank + 1), over the DCG of the ideal ranking of
  the query's judged documents (graded relevance; binary qrels make it the usual binary nDCG).
- Recall@k: relevant documents in the first k over R.
Queries with no relevant document in the qrels are left out (they cannot be scored), and counted; a judged query
the run has no results for scores 0 on every measure.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

from warble.errors import InputError

Qrels = dict[str, dict[str, int]]  # query id -> document id -> relevance (> 0: relevant)
Run = dict[str, list[str]]  # query id -> document ids, best first


def read_qrels(path: str | Path) -> Qrels:
    """TREC qrels: `query_id iteration doc_id relevance` per line (whitespace separated)."""
    qrels: Qrels = {}
    for n, line in enumerate(_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise InputError(f"{path}:{n}: expected 'query_id iteration doc_id relevance', got {line.strip()!r}")
        qid, _, doc, rel = parts
        try:
            qrels.setdefault(qid, {})[doc] = int(rel)
        except ValueError:
            raise InputError(f"{path}:{n}: relevance must be an integer, got {rel!r}") from None
    if not qrels:
        raise InputError(f"{path}: no judgements")
    return qrels


def read_tsv(path: str | Path, *, min_columns: int = 2) -> list[tuple[str, str]]:
    """(id, text) rows of a TSV whose first column is the id and the rest text (joined by ". "), as CLEF's
    `verified_claims.docs.tsv` (id, claim, title) and `tweets.queries.tsv` (id, tweet). A first row whose first
    cell is empty or a column name ('id', 'qid', ...) is a header and skipped."""
    csv.field_size_limit(sys.maxsize)
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
                if not row or not any(c.strip() for c in row):
                    continue
                if n == 1 and (row[0].strip() in ("", "id", "qid", "doc_id", "query_id")):
                    continue
                if len(row) < min_columns:
                    raise InputError(f"{path}:{n}: expected an id and text, got {len(row)} column(s)")
                rows.append((row[0].strip(), ". ".join(c.strip() for c in row[1:] if c.strip())))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


def _lines(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None


def average_precision(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    R = sum(1 for r in relevant.values() if r > 0)
    if R == 0:
        return 0.0
    hits, total = 0, 0.0
    for i, doc in enumerate(ranked[:k], 1):
        if relevant.get(doc, 0) > 0:
            hits += 1
            total += hits / i
    return total / R


def reciprocal_rank(ranked: list[str], relevant: dict[str, int]) -> float:
    for i, doc in enumerate(ranked, 1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def ndcg(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    def dcg(gains: list[int]) -> float:
        return sum((2 ** g - 1) / math.log2(i + 1) for i, g in enumerate(gains[:k], 1))

    ideal = dcg(sorted((r for r in relevant.values() if r > 0), reverse=True))
    return dcg([max(relevant.get(doc, 0), 0) for doc in ranked]) / ideal if ideal > 0 else 0.0


def recall(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    R = sum(1 for r in relevant.values() if r > 0)
    return sum(1 for doc in ranked[:k] if relevant.get(doc, 0) > 0) / R if R else 0.0


def evaluate(run: Run, qrels: Qrels) -> dict:
    """map@5, mrr, ndcg@10, recall@100 (means over judged queries with a relevant document) and counts."""
    judged = [q for q, rels in qrels.items() if any(r > 0 for r in rels.values())]
    if not judged:
        raise InputError("the qrels hold no relevant document: nothing to evaluate")
    per = {q: {"map@5": average_precision(run.get(q, []), qrels[q], 5),
               "mrr": reciprocal_rank(run.get(q, []), qrels[q]),
               "ndcg@10": ndcg(run.get(q, []), qrels[q], 10),
               "recall@100": recall(run.get(q, []), qrels[q], 100)} for q in judged}
    out = {m: sum(p[m] for p in per.values()) / len(per) for m in ("map@5", "mrr", "ndcg@10", "recall@100")}
    out |= {"queries": len(judged), "queries_without_relevant": len(qrels) - len(judged),
            "queries_without_results": sum(1 for q in judged if not run.get(q))}
    return out
