"""`warble search`: query an index with the platform's syntax and print readable results or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from warble.errors import ConfigError, InputError, WarbleError

HELP = "search an index with the platform's query syntax"
DESCRIPTION = ("Search a `warble index` directory. QUERY uses the platform's advanced-search syntax (words, "
    "\"phrases\", -exclusions, OR, #hashtags, @mentions, from:, to:, lang:, since:, until:, "
    "min_faves:, min_retweets:, min_replies:, filter:, parentheses; docs/SEARCH.md). Modes: lexical "
    "(BM25), dense (embeddings), hybrid (reciprocal rank fusion of both; the default).\n\n"
    "  warble search --index idx/ 'launch -filter:replies' --limit 5\n"
    "  warble search --index idx/ '#ai from:someone -filter:replies since:2024-01-01' --json\n"
    "  warble search --index idx/ -- -filter:replies     # a one-word query starting with '-'\n"
    "  warble search --index idx/ 'what happened at the launch?' --answer --model run/\n"
    "  warble search --index idx/ 'launch delayed' --rerank 20 --model run/\n"
    "  warble search --index idx/ --suggest 'lanch delayed'     # did you mean\n"
    "  warble search --index idx/ --complete 'new lau' --json    # autocomplete\n\n"
    "--answer writes a short answer from the top posts with the Warble model (--model, else the one the index "
    "was built with), citing posts as [post id]; every citation is checked against the retrieved posts and the "
    "store, and sentences no cited post supports are dropped (docs/SEARCH.md). Queries are appended to "
    "the index's query log for autocomplete (IDX/queries.sqlite; postgres: the schema's query_log table) unless "
    "--no-log.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", metavar="QUERY", nargs="?", help="the query (not with --suggest / --complete)")
    p.add_argument("--index", metavar="IDX", help="an index directory (warble index; the embedded backend)")
    p.add_argument("--backend", choices=["embedded", "postgres"], default="embedded",
                   help="embedded (an --index directory, the default) or postgres (--dsn)")
    p.add_argument("--dsn", metavar="URL", help="postgres: the server, e.g. postgresql://warble@db:5432/posts")
    p.add_argument("--schema", default="warble", help="postgres: the schema holding the index (default warble)")
    p.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid")
    p.add_argument("--limit", type=int, default=10, help="results, suggestions or completions (default 10)")
    p.add_argument("--json", action="store_true", help="one JSON object: query, parsed, mode, hits, took_ms (with "
                   "--answer: the checked answer, citations, removed, cut, ... and hits)")
    p.add_argument("--model", metavar="RUN_DIR", help="the Warble run that embeds the query, writes answers and "
                   "reranks (default: the one the index recorded; on a Warble-embedded index it must be the model "
                   "that embedded the posts)")
    p.add_argument("--fusion", choices=["rrf", "weighted"], default="rrf", help="hybrid: how lists are fused")
    p.add_argument("--alpha", type=float, default=0.5, help="weighted fusion: weight of the lexical score")
    p.add_argument("--recency", type=float, default=0.0, metavar="W", help="recency boost weight (default 0: off)")
    p.add_argument("--half-life", type=float, default=7.0, metavar="DAYS", help="recency boost half-life")
    p.add_argument("--engagement", type=float, default=0.0, metavar="W", help="engagement boost weight (default 0)")
    g = p.add_argument_group("answers")
    g.add_argument("--answer", action="store_true", help="answer the question from the top posts, with citations")
    g.add_argument("--answer-mode", choices=["generative", "extractive"], default="generative",
                   help="generative: the model writes (default); extractive: the posts' best sentences, cited")
    g.add_argument("--posts", type=int, default=5, metavar="N", help="posts the answer is written from (default 5)")
    g.add_argument("--max-tokens", type=int, default=96, metavar="N", help="answer length at most (default 96)")
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default 0: greedy)")
    g.add_argument("--support", choices=["lexical", "model"], default="lexical",
                   help="how a cited post must back a sentence: lexical word overlap >= 0.5 (default) or the "
                        "model's log P(sentence | post) > log P(sentence)")
    g.add_argument("--budget-ms", type=float, metavar="MS", help="time budget of retrieval + generation; the "
                   "answer is cut when it runs out")
    g = p.add_argument_group("ranking and query understanding")
    g.add_argument("--rerank", type=int, default=0, metavar="N", help="rerank the top N with the model (0: off)")
    g.add_argument("--rerank-weight", type=float, default=0.5, metavar="W",
                   help="weight of the model's order in the reranked fusion (1: the model alone; default 0.5)")
    g.add_argument("--rerank-method", choices=["query_likelihood", "pmi"], default="query_likelihood")
    g.add_argument("--expand", type=int, nargs="?", const=5, default=0, metavar="N",
                   help="expand the query with N words from pseudo-relevance feedback (default 5)")
    g.add_argument("--suggest", metavar="TEXT", help="did-you-mean suggestions for TEXT (spelling)")
    g.add_argument("--complete", metavar="TEXT", help="autocomplete a partial query from past queries and posts")
    g.add_argument("--no-log", action="store_true", help="do not record this query in the index's query log")


def render_hit(n: int, h, bold: bool) -> str:
    on, off = ("\033[1m", "\033[0m") if bold else ("**", "**")
    text, parts, last = h.text, [], 0
    for s, e in h.highlights:
        parts += [text[last:s], on, text[s:e], off]
        last = e
    parts.append(text[last:])
    body = "".join(parts).replace("\n", "\n   ")
    who = f"@{h.author_handle}" if h.author_handle else f"author {h.author_id}"
    when = h.created_at.strftime("%Y-%m-%d %H:%M UTC") if h.created_at else "time unknown"
    counts = " ".join(f"{v if v is not None else '-'} {k}" for k, v in
                      (("likes", h.like_count), ("reposts", h.repost_count), ("replies", h.reply_count)))
    ranks = ", ".join(f"{k} #{r}" for k, r in (("lexical", h.lexical_rank), ("dense", h.dense_rank)) if r)
    return (f"{n:>2}. {who} · {when} · {counts} · score {h.score:.4g}" + (f" ({ranks})" if ranks else "")
            + f"\n   {body}\n   id {h.id}")


def _check_flags(a) -> None:
    modes = [m for m, on in (("QUERY", a.query is not None), ("--suggest", a.suggest is not None),
                             ("--complete", a.complete is not None)) if on]
    if not modes:
        raise ConfigError("give a QUERY (or --suggest TEXT, or --complete TEXT)")
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(modes)} do not go together: give one")
    if a.limit < 1 or a.posts < 1 or a.max_tokens < 1:
        raise ConfigError("--limit, --posts and --max-tokens must be at least 1")
    if a.rerank < 0 or a.expand < 0:
        raise ConfigError("--rerank and --expand must be >= 0")
    if not 0 <= a.rerank_weight <= 1:
        raise ConfigError(f"--rerank-weight must be in [0, 1], got {a.rerank_weight}")
    if a.budget_ms is not None and a.budget_ms <= 0:
        raise ConfigError(f"--budget-ms must be positive, got {a.budget_ms}")
    if a.answer and a.expand:
        raise ConfigError("--expand does not go with --answer")


def _needs_model(a) -> bool:
    return bool((a.answer and (a.answer_mode == "generative" or a.support == "model")) or a.rerank)


def _open(a):
    """The index, and the engine when the command needs the model (loaded once: a Warble-embedded index embeds
    its queries with it too)."""
    from warble.search.index import open_index

    if a.backend == "embedded" and not a.index:
        raise InputError("--index IDX is required (or --backend postgres --dsn URL)")
    where = a.index if a.backend == "embedded" else a.schema

    def opened(**kw):
        return open_index(where, backend=a.backend, dsn=a.dsn, readonly=True, **kw)

    if not _needs_model(a):
        return opened(model=a.model), None, None
    from warble.search.answer import EngineEmbedder, answer_model
    from warble.serve.engine import Engine

    idx = opened(model=a.model)
    try:
        run = answer_model(idx.spec, a.model)
        if not Path(run).is_dir():
            raise InputError(f"model run directory {run} does not exist"
                             + ("" if a.model else " (recorded in the index; pass --model RUN)"))
        engine = Engine.load(run)
    except BaseException:
        idx.close()
        raise
    if idx.spec.get("kind") == "warble" and a.mode != "lexical":
        # the loaded engine embeds the queries too when it is the model that embedded the posts (checked on the
        # index's probe vectors); another model leaves the index its own embedder
        try:
            shared = opened(embedder=EngineEmbedder(engine, run))
        except WarbleError:
            pass
        except BaseException:
            engine.shutdown()
            idx.close()
            raise
        else:
            idx.close()
            idx = shared
    return idx, engine, run


def _log(a, idx, query: str, hits: int) -> None:
    """Append the query to the index's query log (either backend; before the index is closed)."""
    if not a.no_log:
        from warble.search.understand import log_query

        log_query(idx, query, hits)


def _search_options(a) -> dict:
    return {"fusion_method": a.fusion, "alpha": a.alpha, "recency_weight": a.recency, "half_life_days": a.half_life,
            "engagement_weight": a.engagement}


def _print(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def run_suggest(a, idx) -> int:
    from warble.search.understand import Lexicon, complete, open_query_log, suggest

    lex = Lexicon.open(idx, progress=True)
    try:
        if a.suggest is not None:
            out = suggest(lex, a.suggest, n=a.limit)
            if a.json:
                _print(out)
            elif out["suggestions"]:
                for s in out["suggestions"]:
                    fixes = ", ".join(f"{c['from']} -> {c['to']}" for c in s["corrections"])
                    print(f"did you mean: {s['text']}    ({fixes})")
            else:
                print("no suggestions: every word is in the index (or nothing close is)")
            return 0
        log = open_query_log(idx)  # None when it cannot be opened: completions from the posts only
        try:
            items = complete(lex, a.complete, n=a.limit, log=log)
        finally:
            if log is not None:
                log.close()
        if a.json:
            _print({"prefix": a.complete, "completions": items})
        else:
            for c in items:
                print(f"{c['text']}    ({c['source']}, {c['count']})")
            if not items:
                print("no completions")
        return 0
    finally:
        lex.close()


def run_answer(a, idx, engine) -> int:
    from warble.search.answer import AnswerOptions, answer_events

    opts = AnswerOptions(mode=a.answer_mode, search_mode=a.mode, limit=a.posts, rerank=a.rerank,
                         max_tokens=a.max_tokens, temperature=a.temperature, budget_ms=a.budget_ms,
                         support=a.support, search_options=_search_options(a))
    hits, final = [], {}
    streaming = not a.json
    for ev in answer_events(idx, engine, a.query, opts):
        if ev["type"] == "hits":
            hits = ev["hits"]
        elif ev["type"] == "delta" and streaming:
            print(ev["text"], end="", flush=True)
        elif ev["type"] == "answer":
            final = {k: v for k, v in ev.items() if k != "type"}
    _log(a, idx, a.query, len(hits))
    if a.json:
        _print({**final, "hits": hits})
        return 0
    by_id = {h["id"]: h for h in hits}
    print("\n" + "-" * 40 if final["raw"] else "(nothing written)")
    print(final["answer"])
    for pid in final["citations"]:
        h = by_id[pid]
        who = f"@{h['author_handle']}" if h["author_handle"] else f"author {h['author_id']}"
        text = " ".join(h["text"].split())
        print(f"  [{pid}] {who}: {text[:100] + ('…' if len(text) > 100 else '')}")
    gone = {k: v for k, v in final["removed"].items() if v}
    notes = [f"{len(hits)} posts retrieved"]
    if gone:
        notes.append("citations removed: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in gone.items()))
    dropped = sum(1 for s in final["sentences"] if not s["supported"])
    if dropped:
        notes.append(f"{dropped} unsupported sentence{'s' if dropped != 1 else ''} dropped")
    if final["cut"]:
        notes.append(f"cut by the {a.budget_ms:g} ms budget")
    print(f"({'; '.join(notes)}; {final['took_ms']:.0f} ms, {final['mode']})")
    return 0


def run(a) -> int:
    import time

    from warble.search.query import parse, unparse

    _check_flags(a)
    node = parse(a.query) if a.query is not None else None  # a bad query fails before anything loads
    idx, engine, _ = _open(a)
    try:
        if node is None:
            return run_suggest(a, idx)
        if a.answer:
            return run_answer(a, idx, engine)
        t0 = time.perf_counter()
        kw = _search_options(a)
        expansion = None
        if a.expand:
            from warble.search.understand import Lexicon, expanded_query, expansion_terms, search_expanded

            lex = Lexicon.open(idx, progress=True)
            try:
                terms = [t["term"] for t in expansion_terms(idx, lex, a.query, n=a.expand)]
            finally:
                lex.close()
            hits = search_expanded(idx, node, terms, max(a.limit, a.rerank), a.mode, **kw)
            expansion = {"terms": terms, "query": unparse(expanded_query(node, terms))}
        else:
            hits = idx.search(node, mode=a.mode, limit=max(a.limit, a.rerank), **kw)
        ranked = None
        if a.rerank:
            from warble.search.rerank import rerank

            ranked = rerank(engine, node, hits, top_n=a.rerank, weight=a.rerank_weight,
                            method=a.rerank_method)[:a.limit]
            hits = [r.hit for r in ranked]
        took = (time.perf_counter() - t0) * 1000
        _log(a, idx, a.query, len(hits))
    finally:
        idx.close()
        if engine is not None:
            engine.shutdown()
    if a.json:
        try:
            parsed = unparse(node)
        except ValueError:
            parsed = None
        out = {"query": a.query, "parsed": parsed, "mode": a.mode,
               "hits": [r.to_dict() for r in ranked] if ranked is not None else [h.to_dict() for h in hits],
               "took_ms": round(took, 3)}
        if ranked is not None:
            out["rerank"] = {"top_n": a.rerank, "weight": a.rerank_weight, "method": a.rerank_method}
        if expansion is not None:
            out["expansion"] = expansion
        _print(out)
        return 0
    bold = sys.stdout.isatty()
    if ranked is not None:  # show the reranked score
        from dataclasses import replace

        hits = [replace(r.hit, score=r.score) for r in ranked]
    if expansion is not None:
        print(f"expanded with: {', '.join(expansion['terms']) or '(nothing)'}")
    for n, h in enumerate(hits, 1):
        print(render_hit(n, h, bold))
    tail = f" ({a.mode}" + (f", reranked top {a.rerank}" if a.rerank else "") + ")"
    print(f"{len(hits)} result{'s' if len(hits) != 1 else ''} in {took:.1f} ms{tail}" if hits else "no results")
    return 0
