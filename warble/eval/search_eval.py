"""`warble eval search`: a TREC-style evaluation of search on a document collection with judged queries.

The documents of `D.tsv` (id, then text columns) go into a temporary index, each query of `Q.tsv` (id, text) is run
as plain text (every word, OR-ed: queries such as tweets are not written in the query language, and their `#`, `@`,
`-` and `:` must not act as operators), and the ranked ids are scored against the qrels (`warble.eval.ir`).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import regex

from warble.errors import InputError
from warble.eval.ir import evaluate, read_qrels, read_tsv
from warble.search import ast

WORD = regex.compile(r"[\p{L}\p{M}\p{N}_]+")
DEPTH = 100  # ranks retrieved per query: enough for recall@100


def text_query(text: str) -> ast.Node | None:
    """Plain text as a query: its distinct words (case-insensitively), in order, OR-ed. None if it has none."""
    seen, words = set(), []
    for w in WORD.findall(text):
        if w.lower() not in seen:
            seen.add(w.lower())
            words.append(ast.Term(w))
    if not words:
        return None
    return words[0] if len(words) == 1 else ast.Or(tuple(words))


def eval_search(docs_tsv: str | Path, queries_tsv: str | Path, qrels_path: str | Path, *, mode: str = "hybrid",
                embedder: str = "minilm", model: str | Path | None = None, progress: bool = True) -> dict:
    """Index the documents, run every query in `mode`, score the run: map@5, mrr, ndcg@10, recall@100 and counts."""
    from warble.search.index import MODES, SearchIndex

    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    qrels = read_qrels(qrels_path)
    docs = read_tsv(docs_tsv)
    queries = read_tsv(queries_tsv)
    ids = [d for d, _ in docs]
    if len(set(ids)) != len(ids):
        raise InputError(f"{docs_tsv}: document ids repeat")
    unknown = sorted({d for rels in qrels.values() for d in rels} - set(ids))
    if unknown:
        raise InputError(f"{qrels_path} judges {len(unknown)} document(s) not in {docs_tsv}, e.g. {unknown[:3]}")
    emb = "none" if mode == "lexical" else embedder
    with tempfile.TemporaryDirectory(prefix="warble-eval-search-") as tmp:
        t0 = time.perf_counter()
        idx = SearchIndex.create(Path(tmp) / "index", embedder=emb, model=model)
        with idx:
            idx.add([{"id": d, "author_id": "collection", "text": t} for d, t in docs])
            index_s = time.perf_counter() - t0
            run, times = {}, []
            items = queries
            if progress:
                from tqdm import tqdm

                items = tqdm(queries, desc=f"search ({mode})", unit="query")
            for qid, text in items:
                node = text_query(text)
                t1 = time.perf_counter()
                run[qid] = [h.id for h in idx.search(node, mode=mode, limit=DEPTH)] if node is not None else []
                times.append(1000 * (time.perf_counter() - t1))
    out = evaluate(run, qrels)
    return {"mode": mode, "embedder": emb, **out, "docs": len(docs), "queries_run": len(queries),
            "index_s": round(index_s, 2), "query_p50_ms": round(statistics.median(times), 2) if times else None}
