"""`warble index`: build, grow, delete from and compact a search index over a corpus."""

from __future__ import annotations

import argparse
import json

HELP = "build or update a search index over a corpus (lexical + dense; files in a directory, or PostgreSQL)"
DESCRIPTION = (
    "Index the posts of a corpus written by `warble ingest` (its Parquet under corpus/ and its compliance lists under "
    "compliance/) into a search index directory: a SQLite store of record, a tantivy BM25 index and, unless "
    "--embedder none, an HNSW index of post embeddings (the Warble model's with --model RUN, or all-MiniLM-L6-v2 "
    "with --embedder minilm). Prints a JSON summary. docs/SEARCH.md.\n\n"
    "  warble index corpus/ --model run/ --out idx/\n"
    "  warble index more/ --out idx/ --add\n"
    "  warble index --out idx/ --delete deleted.txt --opt-out optout.txt --compact\n"
    "  warble index corpus/ --model run/ --backend postgres --dsn postgresql://me@db:5432/warble")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", nargs="?", metavar="CORPUS_DIR", help="a corpus directory written by `warble ingest`")
    p.add_argument("--out", metavar="IDX", help="the index directory (embedded backend; required there)")
    p.add_argument("--backend", choices=["embedded", "postgres"], default="embedded",
                   help="embedded: files in --out (default); postgres: tables in a PostgreSQL + pgvector server")
    p.add_argument("--dsn", metavar="URL", help="postgres backend: the server, e.g. postgresql://USER@HOST:5432/DB")
    p.add_argument("--schema", default="warble", help="postgres backend: the schema holding the index "
                   "(default warble)")
    p.add_argument("--model", metavar="RUN_DIR", help="embed posts with this Warble run (implies --embedder warble)")
    p.add_argument("--embedder", choices=["warble", "minilm", "none"],
                   help="post embeddings: warble (needs --model), minilm (all-MiniLM-L6-v2), none (lexical only); "
                        "default: warble with --model, else none")
    p.add_argument("--add", action="store_true", help="add CORPUS_DIR's posts to the existing index in --out")
    p.add_argument("--delete", action="append", metavar="IDS_FILE", help="post ids to delete, one per line")
    p.add_argument("--opt-out", action="append", metavar="FILE", help="author ids who opted out, one per line")
    p.add_argument("--compact", action="store_true", help="afterwards, remove deleted posts from disk")
    p.add_argument("--overwrite", action="store_true", help="replace an existing index in --out")
    p.add_argument("--batch", type=int, default=20_000, help="posts per add (each one committed; default 20000)")
    p.add_argument("--no-progress", action="store_true")


def run(a) -> int:
    from warble.search.index.build import index_corpus

    summary = index_corpus(a.corpus, a.out, model=a.model, embedder=a.embedder, add=a.add, delete_files=a.delete,
                           opt_out_files=a.opt_out, compact=a.compact, overwrite=a.overwrite, batch=a.batch,
                           progress=not a.no_progress, backend=a.backend, dsn=a.dsn, schema=a.schema)
    print(json.dumps(summary, indent=2))
    return 0
