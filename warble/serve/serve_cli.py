"""`warble serve`: the command's flags and what it does (load the index and the model, serve, drain).

Kept apart from the app (warble/serve/app.py) so that building the `warble` parser does not import FastAPI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from warble.errors import ConfigError, InputError, WarbleError

log = logging.getLogger("warble.serve")

HELP = "serve a model over the OpenAI-compatible HTTP API"
DESCRIPTION = (
    "Serve a run directory's model with FastAPI + uvicorn: /v1/models, /v1/completions (streaming, logprobs, echo, "
    "n, stop, seed), /v1/embeddings, /health, /metrics (Prometheus), /docs; with --index the search routes, and "
    "the ads routes. Concurrent requests share one continuously batched engine. docs/SERVING.md.\n\n"
    "  warble serve --model run/ --port 8000 --api-key secret\n"
    "  # then: openai.OpenAI(base_url=\"http://127.0.0.1:8000/v1\", api_key=\"secret\")")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `warble serve` (also `python -m warble.serve.app`)."""
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="a run directory (warble train / finetune)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY",
                   help="require 'Authorization: Bearer KEY' (repeatable); also from $WARBLE_API_KEYS "
                        "(comma-separated) and --api-key-file. No key: no authentication")
    p.add_argument("--api-key-file", metavar="FILE", help="API keys, one per line (# comments)")
    p.add_argument("--model-name", help="the model id clients use (default: the run directory's name)")
    p.add_argument("--index", metavar="IDX", help="a `warble index` directory to serve on /v1/search, "
                   "/v1/search/answer, /v1/search/suggest, /v1/search/complete and /v1/ads/audience (opened "
                   "read-only; the query log and the suggestions' lexicon are written beside it)")
    p.add_argument("--no-query-log", action="store_true",
                   help="do not record search queries in the index's query log (by default /v1/search and "
                        "/v1/search/answer record each query and its hit count, no user or address, for autocomplete)")
    p.add_argument("--index-backend", choices=["embedded", "postgres"], default="embedded",
                   help="the search index's backend: embedded (--index DIR) or postgres (--index-dsn)")
    p.add_argument("--index-dsn", metavar="URL", help="postgres: the server holding the index")
    p.add_argument("--index-schema", default="warble", help="postgres: the index's schema (default warble)")
    p.add_argument("--ads-model", metavar="DIR", help="an ads model directory (warble ads train-engagement, "
                   "train-safety) for /v1/ads/generate's engagement ranking and safety classifiers")
    p.add_argument("--drafts", default="ads_drafts", metavar="DIR",
                   help="where /v1/ads/generate saves candidates as drafts for review (default ./ads_drafts)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda or cuda:N")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPUs and CPUs with native bf16, else fp32), fp32, bf16")
    p.add_argument("--max-batch", type=int, default=32, help="sequences the engine decodes together (default 32)")
    p.add_argument("--max-tokens-limit", type=int, default=1024, help="largest max_tokens allowed (default 1024)")
    p.add_argument("--max-request-bytes", type=int, default=1 << 20, help="largest request body (default 1 MiB)")
    p.add_argument("--max-n", type=int, default=16, help="largest n (choices per prompt; default 16)")
    p.add_argument("--max-inputs", type=int, default=256,
                   help="most prompts x n per completion request, texts per embedding request (default 256)")
    p.add_argument("--rate-limit", type=float, default=0.0, metavar="PER_MIN",
                   help="requests per minute per API key (per client address without keys); 0 = off (default)")
    p.add_argument("--rate-burst", type=int, help="requests allowed at once (default: one minute's worth)")
    p.add_argument("--log-prompts", action="store_true",
                   help="log prompt and completion text (off by default: posts may hold personal data)")
    p.add_argument("--graceful-timeout", type=float, default=60.0, metavar="S",
                   help="on SIGTERM, wait this long for in-flight requests before cancelling them (default 60)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from_args(a):
    from warble.serve.app import ServeSettings
    from warble.serve.security import load_api_keys

    return ServeSettings(
        api_keys=load_api_keys(a.api_key, a.api_key_file), max_tokens_limit=a.max_tokens_limit,
        max_request_bytes=a.max_request_bytes, rate_limit=a.rate_limit, rate_burst=a.rate_burst, max_n=a.max_n,
        max_inputs=a.max_inputs, log_prompts=a.log_prompts, model_name=a.model_name,
        query_log=not a.no_query_log)


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def run(a) -> int:
    """`warble serve`: load the model, serve until a signal, drain, exit 0."""
    if not 0 <= a.port < 65536:
        raise ConfigError(f"--port must be in 0..65535, got {a.port}")
    if a.max_batch < 1:
        raise ConfigError(f"--max-batch must be at least 1, got {a.max_batch}")
    settings = settings_from_args(a)
    _setup_logging(a.log_level)
    from warble.serve.app import serve
    from warble.serve.engine import Engine

    if not settings.api_keys and a.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without API keys: anyone who can reach it can use it (--api-key)", a.host)
    if a.index_backend == "postgres" and not a.index_dsn:
        raise ConfigError("--index-backend postgres needs --index-dsn postgresql://USER@HOST:PORT/DB")
    if a.index_backend == "postgres" and a.index:
        raise ConfigError("--index is a directory of the embedded backend; with postgres give --index-schema")
    index = None
    if a.index or a.index_backend == "postgres":  # opened first: a bad index fails before the model loads
        from warble.search.index import open_index

        where = a.index if a.index_backend == "embedded" else a.index_schema
        index = open_index(where, backend=a.index_backend, dsn=a.index_dsn, readonly=True)
    engine = None
    try:  # whatever fails from here on, the index is closed and the engine's thread stopped
        engine = Engine.load(a.model, device=a.device, dtype=a.dtype, max_batch=a.max_batch)
        index = _share_query_embedder(index, engine, a, where) if index is not None else None
        ads = ads_tools(engine, a.model, a.ads_model, a.drafts)
        log.info("model %s loaded (context %d tokens); serving on http://%s:%d/v1 (%s)", settings.model_name or
                 engine.model_id, engine.max_context, a.host, a.port,
                 f"{len(settings.api_keys)} API key(s)" if settings.api_keys else "no API key")
        serve(engine, settings, a.host, a.port, graceful_timeout=a.graceful_timeout, log_level=a.log_level,
              index=index, ads=ads)
    finally:
        if engine is not None:
            engine.shutdown()  # (serve() has done it when it ran; a second call returns at once)
        if index is not None:
            index.close()
    log.info("stopped")
    return 0


def _share_query_embedder(index, engine, a, where):
    """The index, reopened so that the served engine embeds its queries, when it is the model that embedded the
    posts (checked on the index's probe vectors): not a second copy of the model. Another model keeps the index's
    own embedder, loaded lazily."""
    if index.spec.get("kind") != "warble":
        return index
    from warble.search.answer import EngineEmbedder
    from warble.search.index import open_index

    try:
        shared = open_index(where, backend=a.index_backend, dsn=a.index_dsn, readonly=True,
                            embedder=EngineEmbedder(engine, a.model))
    except WarbleError as e:
        log.warning("the index's queries are embedded by its own model, not the served one: %s", e)
        return index
    index.close()
    return shared


def ads_tools(engine, run_dir: str, ads_model: str | None, drafts: str | None) -> dict:
    """What /v1/ads/generate checks and ranks with: brand safety (the taxonomy's keywords, plus the classifiers in
    ads_model/safety/), the memorization guard (the n-gram index of the run's training posts), engagement (the
    model in ads_model) and the drafts store. A tool that cannot be had is left out, and the route reports its
    check as not run, with the reason."""
    from warble.ads.safety import SafetyChecker
    from warble.data.ngrams import NgramIndex

    tools: dict = {"safety": SafetyChecker.load(ads_model), "drafts": drafts, "engagement": None, "guard": None}
    if ads_model and (Path(ads_model) / "meta.json").is_file():
        from warble.ads.engagement import EngagementModel

        try:
            tools["engagement"] = EngagementModel.load(ads_model, engine=engine)
        except InputError as e:  # e.g. a head trained on another run than --model
            raise ConfigError(f"--ads-model {ads_model} does not fit --model {run_dir}: {e}") from None
    log.info("memorization guard: the n-gram index of the run's training posts (built once, then cached)")
    try:
        tools["guard"] = NgramIndex.for_run(run_dir)
    except (InputError, OSError) as e:  # an imported model, its training shards moved away, a read-only run
        log.warning("no memorization guard for ad copy (its check reports 'not run'): %s", e)
    return tools
