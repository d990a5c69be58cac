"""The search index contract, and its embedded backend (files in a directory, no server).

Every backend implements the same contract: this one (`SearchIndex`) and PostgreSQL + pgvector
(`warble.search.index.postgres.PostgresIndex`, psycopg imported only when used). `create_index(location, embedder,
backend="embedded"|"postgres", dsn=...)` and `open_index(location, backend=..., dsn=..., readonly=...)` pick one
(`location`: the directory, or the PostgreSQL schema name). tests/test_search_contract.py runs one suite on both.

```python
from warble.search.index import SearchIndex, Hit

idx = SearchIndex.create(dir, embedder="none" | "minilm" | "warble" | an Embedder, model=RUN_DIR)   # new, empty
idx = SearchIndex.open(dir, readonly=False, model=None)  # writable: one writer at a time (a lock); readers: any number
idx.add(posts) -> int                  # pyarrow Table/RecordBatch (post schema columns) or dicts; returns posts added.
                                       # Durable and searchable once it returns. Skips ids already indexed, deleted
                                       # ids, opted-out authors, reposts of blocked posts (`idx.last_add` counts).
idx.delete(ids) -> int                 # gone from results at once, from disk at compact(); never re-added
idx.apply_compliance(opt_out_authors, deleted_posts) -> dict   # the corpus's compliance/ lists (ComplianceLists)
idx.compact() -> dict                  # dead posts leave the disk: derived indexes rebuilt, store rows purged
idx.search(query, mode="hybrid" | "lexical" | "dense", limit=10, *, fusion_method="rrf" | "weighted", rrf_k=60,
           alpha=0.5, candidates=100, recency_weight=0.0, half_life_days=7.0, engagement_weight=0.0, now=None)
    -> list[Hit]                       # query: a warble.search.ast node (or a query string, parsed)
idx.get(ids) -> {id: post}             # live posts only
idx.stats() -> dict; idx.close()       # close() saves what is unsaved; also a context manager
```

`Hit`: the post's fields (`id`, `author_id`, `author_handle`, `created_at` (UTC datetime), `text`, `lang`,
`reply_to_id`, `quote_of_id`, `repost_of_id`, `hashtags`, `mentions`, `urls`, `like_count`, `repost_count`,
`reply_count`, `quote_count`) plus `score` (BM25 in lexical mode, cosine in dense mode, the fused score in hybrid),
`lexical_rank` / `dense_rank` (1-based, None when not a candidate of that list), `lexical_score`, `dense_score`,
and `highlights` (`[start, end)` character ranges of `text` that the query's words matched). `to_dict()` for JSON.

Guarantees:
- Semantics of the query AST are those of `warble.search.ast`; lexical results are exactly the posts matching the
  query (the tests compare with a brute-force evaluation), ranked by BM25, or newest first for a query with no
  positive word. Dense and hybrid apply the query's non-word parts (filters, exclusions) to dense candidates too.
- Every returned hit is a live post of the store of record: a deleted post, an opted-out author's post, or a repost
  of either never comes back, even while a derived index still holds it.
- Crash safety: killing the writer at any point leaves an index that opens and holds every post whose `add`
  returned (the store's transaction is the commit point; opening reconciles the derived indexes with the store).
- An index records its embedder; adds and queries must use the same one (checked on probe vectors).

Layout of the embedded backend's directory:
```
store.sqlite          the store of record (SQLite, WAL): posts, live state, compliance lists, embedding cache, meta
lexical-NNNNNN/       tantivy index (current generation named in the store)
dense-NNNNNN/         faiss HNSW index: hnsw.faiss, keys.npy, meta.json (absent with --embedder none)
```
docs/SEARCH.md ("Index and ranking") explains the design and its measured numbers.
"""

from warble.search.index.backend import BACKENDS, MODES, Hit, SearchBackend, create_index, normalize_posts, open_index
from warble.search.index.embed import Embedder, MiniLMEmbedder, WarbleEmbedder, load_embedder
from warble.search.index.index import SearchIndex

__all__ = ["BACKENDS", "Embedder", "Hit", "MiniLMEmbedder", "MODES", "SearchBackend", "SearchIndex", "WarbleEmbedder",
           "create_index", "load_embedder", "normalize_posts", "open_index"]
