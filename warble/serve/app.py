"""`warble serve`: an OpenAI-compatible HTTP API (FastAPI + uvicorn) over the generation engine.

    warble serve --model run/ --port 8000 --api-key secret
    python -m warble.serve.app --model run/ --port 8000        # the same, without the CLI

Routes: /v1/models, /v1/models/{id}, /v1/completions (streaming as server-sent events), /v1/embeddings, /health,
/metrics (Prometheus), /openapi.json and /docs; with --index, /v1/search, /v1/search/answer, /v1/search/suggest and
/v1/search/complete; /v1/ads/generate and /v1/ads/audience (warble/serve/routes/, one APIRouter per stage). The `openai` client works against it unmodified (docs/SERVING.md).

The app holds no model code: every request becomes `SamplingParams` and calls on the engine's async API, whose
scheduler batches concurrent requests. The event loop only parses, validates and formats, so one process serves
many concurrent clients. Every error a client can cause is a 4xx with OpenAI's error body; anything else is a 500
with the same shape (and a traceback in the log), never a bare stack trace. Prompts and completions are logged
only with --log-prompts; the access log has method, route, status, latency, key fingerprint and token counts.

Graceful shutdown: on SIGTERM/SIGINT uvicorn stops accepting connections and waits for in-flight requests (streams
included) to finish, then the engine is shut down and the process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warble import __version__
from warble.errors import ConfigError, InputError, WarbleError
from warble.serve.metrics import Metrics
from warble.serve.protocol import (
    APIError,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    Health,
    LogprobsBody,
    ModelCard,
    ModelList,
    SearchRequest,
    SearchResponse,
    Usage,
    error_body,
)
from warble.serve.security import KeyChecker, RateLimiter, SecurityMiddleware
from warble.serve.types import Completion, Delta, SamplingParams, TokenLogprob

log = logging.getLogger("warble.serve")

DISCONNECT_POLL_S = 0.25  # how often a non-streamed request checks that its client is still there


@dataclass
class ServeSettings:
    """What the server allows; the engine's own limits (context length) apply on top."""

    api_keys: tuple[str, ...] = ()  # empty: no authentication (bind to loopback only)
    max_tokens_limit: int = 1024  # largest max_tokens a request may ask for
    max_request_bytes: int = 1 << 20  # request bodies above this are refused with 413
    rate_limit: float = 0.0  # requests per minute per API key (per address without keys); 0 = off
    rate_burst: int | None = None  # requests at once before the rate applies (default: one minute's worth)
    max_n: int = 16  # choices per prompt
    max_inputs: int = 256  # prompts x n per completion request; texts per embedding request
    log_prompts: bool = False  # log prompt and completion text (off: they may hold personal data)
    query_log: bool = True  # record search queries in the index's query log (what /v1/search/complete offers)
    model_name: str | None = None  # the id clients use (default: the engine's model_id, the run dir's name)

    def __post_init__(self):
        for name in ("max_tokens_limit", "max_request_bytes", "max_n", "max_inputs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        self.api_keys = tuple(self.api_keys)


# ---------------------------------------------------------------------------------------------------- errors
def _json_error(status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


FIELD_SHAPES = {
    "prompt": "a string, a list of strings, a list of token ids, or a list of lists of token ids (none empty)",
    "input": "a string, a list of strings, a list of token ids, or a list of lists of token ids (none empty)",
    "stop": "a string or a list of at most 16 strings",
}


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """One clear sentence (and the parameter) for FastAPI's list of pydantic errors: the first bad field only,
    and a union's alternatives (prompt: str | list[str] | ...) as the shape expected rather than one line each."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(x) for x in first.get("loc", ())]
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        pos = loc[1] if len(loc) > 1 else "?"
        return f"malformed JSON in the request body: {ctx.get('error', 'decode error')} (at character {pos})", None
    path = loc[1:] if loc and loc[0] == "body" else loc
    if not path:
        if first.get("type") == "missing":
            return "the request needs a JSON body (Content-Type: application/json)", None
        return "the request body must be a JSON object (Content-Type: application/json)", None
    field = path[0]
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown parameter '{'.'.join(path)}'", ".".join(path)
    if kind == "missing":
        return f"'{'.'.join(path)}' is required", ".".join(path)
    if field in FIELD_SHAPES and len([e for e in errors if tuple(e["loc"][:2]) == tuple(first["loc"][:2])]) > 1:
        return f"'{field}' must be {FIELD_SHAPES[field]}", field
    got = first.get("input")
    got = "" if isinstance(got, (dict, list)) and len(json.dumps(got, default=str)) > 60 else f" (got {got!r:.60})"
    # Union member tags (e.g. 'list[str]', 'int') in the location say nothing to a client.
    shown = [p for p in path if not any(c in p for c in "[]") and p not in ("str", "int", "float", "bool")]
    name = ".".join(shown) or field
    return f"'{name}': {first.get('msg', 'invalid value')}{got}", field


def install_error_handlers(app: FastAPI) -> None:
    """Every failure, expected or not, as OpenAI's `{"error": {...}}` body with the right status."""
    from warble.serve.engine import EngineClosed

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return _json_error(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, param = validation_message(exc)
        return _json_error(400, message, param=param)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        message = {404: f"no route {request.method} {request.url.path} (see /docs)",
                   405: f"method {request.method} is not allowed on {request.url.path}"}.get(exc.status_code,
                                                                                           str(exc.detail))
        code = {413: "request_too_large"}.get(exc.status_code)
        return _json_error(exc.status_code, message, code=code, headers=getattr(exc, "headers", None))

    @app.exception_handler(EngineClosed)
    async def _closed(request: Request, exc: EngineClosed):
        return _json_error(503, "the server is shutting down; retry on another replica", "server_error",
                           code="shutting_down", headers={"Retry-After": "1"})

    @app.exception_handler(WarbleError)  # InputError from the engine: a prompt longer than the context, ...
    async def _warble(request: Request, exc: WarbleError):
        return _json_error(400, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json_error(500, "internal server error (the server log has the details)", "server_error")


class AccessMiddleware:
    """Outermost layer: route label, latency, status and token counts into metrics and one access-log line per
    request; an exception no handler took becomes a 500 with OpenAI's body (if the response has not started)."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI, metrics: Metrics):
        self.app, self.fastapi_app, self.metrics = app, fastapi_app, metrics

    def _route(self, scope: Scope) -> str:
        for route in self.fastapi_app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", "other")
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        info = scope.setdefault("warble", {})
        info["t0"] = t0
        status = 500
        started = False

        async def tracked(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=exc)
            if not started:
                await _json_error(500, "internal server error (the server log has the details)", "server_error")(
                    scope, receive, tracked)
        finally:
            self.metrics.in_flight.dec()
            route, method, dt = self._route(scope), scope["method"], time.perf_counter() - t0
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(dt)
            extra = "".join(f" {k}={info[k]}" for k in ("key", "choices", "prompt_tokens", "completion_tokens",
                                                         "inputs", "stream") if k in info)
            quiet = route in ("/health", "/metrics") and status == 200  # probes and scrapes, every few seconds
            log.log(logging.DEBUG if quiet else logging.INFO, "%s %s %d %.1fms%s", method, route, status, dt * 1000,
                    extra)


# ---------------------------------------------------------------------------------------------------- helpers
def _prompts(raw, vocab_size: int, param: str) -> list[str | list[int]]:
    """The prompts of a request: a string, strings, token ids or lists of token ids."""
    if isinstance(raw, str):
        return [raw]
    items = [raw] if isinstance(raw[0], int) else list(raw)
    for ids in items:
        if isinstance(ids, list) and any(not 0 <= t < vocab_size for t in ids):
            bad = next(t for t in ids if not 0 <= t < vocab_size)
            raise APIError(400, f"token id {bad} in '{param}' is outside the vocabulary (0..{vocab_size - 1})",
                           param=param)
    return items


def _logprobs_body(lps: list[TokenLogprob] | None) -> LogprobsBody | None:
    """OpenAI's legacy format: parallel lists; the chosen token is always among the top entries, as OpenAI does;
    the first prompt token (echo), which nothing predicts, has null logprob and null top."""
    if lps is None:
        return None
    tops = []
    for t in lps:
        if t.logprob is None:
            tops.append(None)
        else:
            top = dict(t.top)
            top.setdefault(t.token, t.logprob)
            tops.append(top)
    return LogprobsBody(tokens=[t.token for t in lps], token_logprobs=[t.logprob for t in lps], top_logprobs=tops,
                        text_offset=[t.offset for t in lps])


async def _all_or_nothing(coros: list, request: Request | None) -> list:
    """Run coroutines concurrently (the engine batches them); the first error cancels the rest, and so does the
    client going away (polled: a non-streamed response has nothing to notice it with)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    everything = asyncio.gather(*tasks)
    try:
        while True:
            done, _ = await asyncio.wait({everything}, timeout=DISCONNECT_POLL_S)
            if done:
                return everything.result()
            if request is not None and await request.is_disconnected():
                raise _ClientGone()
    finally:
        for t in tasks:
            t.cancel()
        if not everything.done():
            everything.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _ClientGone(Exception):
    pass


async def _close(stream) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing after an engine error: the error was reported already
            log.debug("closing an engine stream failed", exc_info=True)


class _ClosingStreamingResponse(StreamingResponse):
    """Closes its body generator however the response ends (a dropped client included), so the engine streams
    inside it are aborted at once rather than when the garbage collector gets to them."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await _close(self.body_iterator)


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


# ---------------------------------------------------------------------------------------------------- the app
def create_app(engine, settings: ServeSettings | None = None, index=None, ads: dict | None = None) -> FastAPI:
    """The FastAPI app over `engine` (already loaded; the caller owns its lifetime: see `serve`), for /v1/search*
    an open search index (None: those routes answer 404), and for /v1/ads/* the ads tools (`serve_cli.ads_tools`)."""
    settings = settings or ServeSettings()
    model_name = settings.model_name or engine.model_id
    metrics = Metrics(engine)
    tokenizer = engine.tokenizer
    app = FastAPI(
        title="Warble", version=__version__,
        description="OpenAI-compatible completions and embeddings from a Warble model. Errors have OpenAI's shape "
                    "`{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`.",
        responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 404: {"model": ErrorResponse},
                   413: {"model": ErrorResponse}, 429: {"model": ErrorResponse}, 500: {"model": ErrorResponse}},
    )
    app.state.engine, app.state.settings, app.state.metrics = engine, settings, metrics
    app.state.index, app.state.ads = index, ads if ads is not None else {}
    install_error_handlers(app)
    # Enforcement is SecurityMiddleware's (it covers every route, /docs included); this only puts the Bearer
    # scheme into the OpenAPI spec, so clients generated from it send the key.
    secured = [Depends(HTTPBearer(auto_error=False))] if settings.api_keys else []

    def check_model(name: str | None) -> None:
        if name is not None and name != model_name:
            raise APIError(404, f"the model '{name}' does not exist; this server serves '{model_name}'",
                           param="model", code="model_not_found")

    def card() -> ModelCard:
        return ModelCard(id=model_name, created=engine.created, max_model_len=engine.max_context)

    @app.get("/health", response_model=Health, tags=["operations"],
             summary="liveness and readiness (no API key needed)")
    async def health():
        if getattr(engine, "closing", False):  # shutting down: tell load balancers to stop sending work
            return JSONResponse(Health(status="draining", model=model_name).model_dump(), status_code=503)
        return Health(status="ok", model=model_name)

    @app.get("/metrics", tags=["operations"], dependencies=secured, response_class=Response,
             summary="Prometheus metrics (text format)")
    async def prometheus():
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", response_model=ModelList, tags=["models"], dependencies=secured)
    async def list_models():
        return ModelList(data=[card()])

    @app.get("/v1/models/{model_id:path}", response_model=ModelCard, tags=["models"], dependencies=secured)
    async def get_model(model_id: str):
        check_model(model_id)
        return card()

    def sampling(req: CompletionRequest, max_tokens: int, i: int) -> SamplingParams:
        conditions = req.conditions.model_dump(exclude_none=True) if req.conditions else None
        stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
        return SamplingParams(
            max_tokens=max_tokens, temperature=req.temperature, top_k=max(req.top_k, 0), top_p=req.top_p,
            min_p=req.min_p, repetition_penalty=req.repetition_penalty, stop=stop,
            seed=None if req.seed is None else req.seed + i, logprobs=req.logprobs, echo=req.echo,
            conditions=conditions or None)

    def unsupported(req: CompletionRequest) -> None:
        for name, ok in (("presence_penalty", req.presence_penalty == 0), ("frequency_penalty",
                         req.frequency_penalty == 0), ("logit_bias", not req.logit_bias),
                         ("suffix", req.suffix is None), ("best_of", req.best_of in (None, req.n))):
            if not ok:
                hint = " (repetition_penalty is supported)" if name.endswith("_penalty") else ""
                raise APIError(400, f"'{name}' is not supported by this server{hint}", param=name,
                               code="unsupported_parameter")
        if req.stream_options is not None and not req.stream:
            raise APIError(400, "'stream_options' is only allowed with stream: true", param="stream_options")

    @app.post("/v1/completions", response_model=CompletionResponse, tags=["completions"], dependencies=secured,
              summary="complete prompts (stream: true gives server-sent events ending in data: [DONE])",
              responses={200: {"content": {"text/event-stream": {}}}})
    async def completions(req: CompletionRequest, request: Request):
        info = request.scope.setdefault("warble", {})
        check_model(req.model)
        unsupported(req)
        prompts = _prompts(req.prompt, tokenizer.vocab_size, "prompt")
        max_tokens = 16 if req.max_tokens is None else req.max_tokens
        if max_tokens > settings.max_tokens_limit:
            raise APIError(400, f"max_tokens is {max_tokens}; this server allows at most {settings.max_tokens_limit}",
                           param="max_tokens")
        if req.n > settings.max_n:
            raise APIError(400, f"n is {req.n}; this server allows at most {settings.max_n}", param="n")
        if len(prompts) * req.n > settings.max_inputs:
            raise APIError(400, f"{len(prompts)} prompts x n={req.n} is over this server's limit of "
                                f"{settings.max_inputs} completions per request", param="prompt")
        try:
            params = [sampling(req, max_tokens, i) for i in range(req.n)]
        except InputError as e:
            raise APIError(400, str(e)) from None
        jobs = [(p, sp) for p in prompts for sp in params]  # choice index = prompt index x n + i, as OpenAI
        info.update(choices=len(jobs), stream=str(req.stream).lower())
        rid, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        if settings.log_prompts:
            log.info("%s prompts %s", rid, json.dumps(prompts, ensure_ascii=False))
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return await stream_completions(request, jobs, req.n, rid, created, include_usage, info)
        try:
            results: list[Completion] = await _all_or_nothing([engine.agenerate(p, sp) for p, sp in jobs], request)
        except _ClientGone:
            return Response(status_code=499)  # nginx's "client closed request": nobody reads it, the log does
        except InputError as e:
            raise APIError(400, str(e), param="prompt") from None
        usage = Usage(prompt_tokens=sum(r.prompt_tokens for r in results[::req.n]),
                      completion_tokens=sum(r.completion_tokens for r in results),
                      total_tokens=0)
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        account(info, usage, [r.finish_reason for r in results], [r.completion_tokens for r in results])
        if settings.log_prompts:
            log.info("%s completions %s", rid, json.dumps([r.text for r in results], ensure_ascii=False))
        choices = [CompletionChoice(index=i, text=r.text, logprobs=_logprobs_body(r.logprobs),
                                    finish_reason=r.finish_reason) for i, r in enumerate(results)]
        return CompletionResponse(id=rid, created=created, model=model_name, choices=choices, usage=usage)

    def account(info: dict, usage: Usage, reasons: list[str], lengths: list[int]) -> None:
        info.update(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
        metrics.prompt_tokens.inc(usage.prompt_tokens)
        metrics.completion_tokens.inc(usage.completion_tokens)
        for reason, n in zip(reasons, lengths):
            metrics.finished.labels(reason or "unknown").inc()
            metrics.completion_length.observe(n)

    async def stream_completions(request: Request, jobs, n: int, rid: str, created: int, include_usage: bool,
                                 info: dict):
        """Start every stream and wait for its first piece before answering, so an error a request causes (a
        prompt longer than the context) is still a 4xx; after that, errors arrive as an SSE error event."""
        streams: list[AsyncIterator[Delta]] = []
        try:
            for p, sp in jobs:
                streams.append(engine.astream(p, sp))
            firsts = await _all_or_nothing([_first(s) for s in streams], request)
        except BaseException as e:
            await asyncio.gather(*(_close(s) for s in streams), return_exceptions=True)
            if isinstance(e, _ClientGone):
                return Response(status_code=499)
            if isinstance(e, InputError):
                raise APIError(400, str(e), param="prompt") from None
            raise
        return _ClosingStreamingResponse(sse_events(streams, firsts, n, rid, created, include_usage, info),
                                         media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def sse_events(streams, firsts, n, rid, created, include_usage, info) -> AsyncIterator[bytes]:
        t0 = info.get("t0", time.perf_counter())
        queue: asyncio.Queue = asyncio.Queue()
        finals: dict[int, Delta] = {}
        texts: dict[int, list[str]] = {i: [] for i in range(len(streams))}
        first_text = False

        def chunk(i: int, d: Delta) -> bytes:
            lp = _logprobs_body(d.logprobs)
            return _sse({"id": rid, "object": "text_completion", "created": created, "model": model_name,
                         "choices": [{"index": i, "text": d.text, "logprobs": lp.model_dump() if lp else None,
                                      "finish_reason": d.finish_reason}]})

        async def pump(i: int, s) -> None:
            try:
                async for d in s:
                    queue.put_nowait((i, d))
                queue.put_nowait((i, None))
            except Exception as e:  # noqa: BLE001 - reported to the client as an error event
                queue.put_nowait((i, e))
            finally:
                await _close(s)

        pumps = []
        try:
            live = 0
            for i, (s, d) in enumerate(zip(streams, firsts)):
                if d is None:
                    continue
                queue.put_nowait((i, d))
                if d.finish_reason is None:
                    pumps.append(asyncio.ensure_future(pump(i, s)))
                    live += 1
            error = None
            while live or not queue.empty():
                i, d = await queue.get()
                if d is None:
                    live -= 1
                    continue
                if isinstance(d, Exception):
                    error = d
                    break
                if d.finish_reason is not None:
                    finals[i] = d
                if d.text and not first_text:
                    first_text = True
                    metrics.ttft.observe(time.perf_counter() - t0)
                if settings.log_prompts:
                    texts[i].append(d.text)
                yield chunk(i, d)
            if error is not None:
                log.error("%s: engine error during a stream", rid, exc_info=error)
                status, kind = (400, "invalid_request_error") if isinstance(error, WarbleError) else (500,
                                                                                                      "server_error")
                msg = str(error) if status == 400 else "internal server error (the server log has the details)"
                yield _sse(error_body(msg, kind) | {"status": status})
            else:
                ends = [finals.get(i) for i in range(len(streams))]
                usage = Usage(prompt_tokens=sum(d.prompt_tokens for d in ends[::n] if d),
                              completion_tokens=sum(d.completion_tokens for d in ends if d), total_tokens=0)
                usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
                account(info, usage, [d.finish_reason if d else None for d in ends],
                        [d.completion_tokens if d else 0 for d in ends])
                if settings.log_prompts:
                    log.info("%s completions %s", rid, json.dumps(["".join(t) for t in texts.values()],
                                                                  ensure_ascii=False))
                if include_usage:
                    yield _sse({"id": rid, "object": "text_completion", "created": created, "model": model_name,
                                "choices": [], "usage": usage.model_dump()})
            yield b"data: [DONE]\n\n"
        finally:
            for t in pumps:
                t.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            await asyncio.gather(*(_close(s) for s in streams), return_exceptions=True)

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, tags=["embeddings"], dependencies=secured,
              summary="L2-normalised embeddings of texts")
    async def embeddings(req: EmbeddingRequest, request: Request):
        info = request.scope.setdefault("warble", {})
        check_model(req.model)
        items = _prompts(req.input, tokenizer.vocab_size, "input")
        texts = [x if isinstance(x, str) else tokenizer.decode(x) for x in items]
        if len(texts) > settings.max_inputs:
            raise APIError(400, f"{len(texts)} inputs; this server embeds at most {settings.max_inputs} per request",
                           param="input")
        if any(not t for t in texts):
            raise APIError(400, "'input' must not contain empty strings", param="input")
        if req.dimensions is not None and req.dimensions != engine.embedding_dim:
            raise APIError(400, f"dimensions must be {engine.embedding_dim} (this model's embedding size), got "
                                f"{req.dimensions}", param="dimensions")
        info["inputs"] = len(texts)
        try:
            result = await _all_or_nothing([engine.aembed(texts)], request)
        except _ClientGone:
            return Response(status_code=499)
        except InputError as e:
            raise APIError(400, str(e), param="input") from None
        vectors = np.asarray(result[0], dtype=np.float32)
        tokens = sum(len(ids) for ids in tokenizer.encode_batch(texts))  # the inputs' own tokens, as OpenAI counts
        metrics.embedded.inc(len(texts))
        metrics.embedding_tokens.inc(tokens)
        info["prompt_tokens"] = tokens
        if req.encoding_format == "base64":  # little-endian float32, as OpenAI's (and its client's decoder)
            data = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
        else:
            data = vectors.tolist()
        return EmbeddingResponse(data=[Embedding(index=i, embedding=e) for i, e in enumerate(data)], model=model_name,
                                 usage=Usage(prompt_tokens=tokens, total_tokens=tokens))

    @app.post("/v1/search", response_model=SearchResponse, tags=["search"], dependencies=secured,
              summary="search posts with the platform's query syntax (lexical, dense or hybrid)")
    async def search(req: SearchRequest, request: Request, background: BackgroundTasks):
        from warble.search.query import QuerySyntaxError, parse, unparse
        from warble.serve.routes.search_answer import log_query

        if index is None:
            raise APIError(404, "this server has no search index (start it with --index IDX)", param=None,
                           code="no_search_index")
        try:
            node = parse(req.query)
        except QuerySyntaxError as e:
            raise APIError(400, str(e), param="query") from None
        request.scope.setdefault("warble", {})["mode"] = req.mode
        t0 = time.perf_counter()
        try:  # CPU work (tantivy, faiss, the query embedding) off the event loop
            hits = await asyncio.to_thread(index.search, node, req.mode, req.limit)
        except InputError as e:  # e.g. dense mode on an index built without embeddings
            raise APIError(400, str(e), param="mode") from None
        if req.log and settings.query_log:  # after the response is sent: the write is not on the query's clock
            background.add_task(log_query, index, req.query, len(hits))
        return SearchResponse(query=req.query, parsed=unparse(node), mode=req.mode, hits=[h.to_dict() for h in hits],
                              took_ms=round(1000 * (time.perf_counter() - t0), 3))

    # The stages built on the engine bring their own routers; they read engine, index and ads from app.state.
    from warble.serve.routes import ads_audience, ads_generate, search_answer, search_suggest

    for module in (search_answer, search_suggest, ads_generate, ads_audience):
        app.include_router(module.make_router(), dependencies=secured)

    app.add_middleware(SecurityMiddleware, keys=KeyChecker(settings.api_keys),
                       limiter=RateLimiter(settings.rate_limit, settings.rate_burst),
                       max_body_bytes=settings.max_request_bytes)
    app.add_middleware(AccessMiddleware, fastapi_app=app, metrics=metrics)  # added last = outermost
    return app


async def _first(stream) -> Delta | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


# ---------------------------------------------------------------------------------------------------- running
def serve(engine, settings: ServeSettings | None = None, host: str = "127.0.0.1", port: int = 8000, *,
          graceful_timeout: float | None = 60.0, log_level: str = "info", index=None, ads: dict | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then drain: stop accepting, let in-flight requests (streams too) finish for up
    to `graceful_timeout` seconds, shut the engine down, and return normally (exit code 0 in `warble serve`)."""
    import uvicorn

    app = create_app(engine, settings, index, ads)
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level=log_level, lifespan="on",
                            timeout_graceful_shutdown=graceful_timeout, server_header=False)
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal it caught once it has drained, which would end the process with it (exit code
    # 143) before the engine is shut down: while serving, both signals are caught by a handler that ignores them.
    restore = {}
    if threading.current_thread() is threading.main_thread():
        restore = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits 1 when it cannot bind
        raise ConfigError(f"cannot serve on {host}:{port} (address in use, or not allowed?)") from e
    finally:
        log.info("shutting down the engine")
        engine.shutdown(wait=True)
        for sig, handler in restore.items():
            signal.signal(sig, handler)
    if not server.started:
        raise ConfigError(f"cannot serve on {host}:{port}")


def main(argv: list[str] | None = None) -> int:
    from warble.serve import serve_cli

    p = argparse.ArgumentParser(prog="python -m warble.serve.app", description="Serve a Warble model over an "
                                "OpenAI-compatible HTTP API (the same as `warble serve`).")
    serve_cli.add_arguments(p)
    a = p.parse_args(argv)
    try:
        return serve_cli.run(a)
    except WarbleError as e:
        print(f"warble serve: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
