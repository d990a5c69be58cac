"""POST /v1/search/answer: answer a question from the server's search index, citing posts (`warble.search.answer`).

Body: `{"query", "mode", "search_mode", "posts", "max_tokens", "temperature", "rerank", "support", "budget_ms",
"stream", "log"}` (only `query` is required). Without `stream`: one JSON object, what `warble search --answer --json`
prints. With `"stream": true`: server-sent events, `data: {"type": "hits", "hits": [...]}` first, then
`data: {"type": "delta", "text": ...}` as the answer is written (unchecked), then `data: {"type": "answer", ...}`
(the checked answer and its citations), then `data: [DONE]`; a failure mid-stream is a `data: {"error": {...}}` event
before `[DONE]`. The query is appended to the index's query log (for autocomplete) unless `"log": false`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from warble.errors import InputError, WarbleError
from warble.serve.protocol import APIError, error_body


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: StrictStr = Field(..., min_length=1, max_length=2000, description="the question (query syntax allowed)")
    mode: Literal["generative", "extractive"] = "generative"
    search_mode: Literal["hybrid", "lexical", "dense"] = "hybrid"
    posts: StrictInt = Field(5, ge=1, le=20, description="posts the answer is written from")
    max_tokens: StrictInt = Field(96, ge=1, le=1024)
    temperature: StrictFloat = Field(0.0, ge=0, le=2)
    rerank: StrictInt = Field(0, ge=0, le=200, description="rerank this many candidates with the model (0: off)")
    support: Literal["lexical", "model"] = "lexical"
    budget_ms: StrictFloat | None = Field(None, gt=0, le=120_000, description="retrieval + generation time budget")
    stream: StrictBool = False
    log: StrictBool = Field(True, description="false: the query is not recorded in the query log")


def _sse(obj) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def index_of(request: Request):
    index = getattr(request.app.state, "index", None)
    if index is None:
        raise APIError(404, "this server has no search index (start it with --index IDX)", code="no_search_index")
    return index


def parse_query(query: str):
    from warble.search.query import QuerySyntaxError, parse

    try:
        return parse(query)
    except QuerySyntaxError as e:
        raise APIError(400, str(e), param="query") from None


def log_query(index, query: str, hits: int) -> None:
    from warble.search.understand import log_query as append

    append(index, query, hits)  # either backend: beside the embedded index, in the PostgreSQL index's schema


def make_router() -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.post("/v1/search/answer", summary="answer a question from the indexed posts, with checked citations")
    async def search_answer(req: AnswerRequest, request: Request):
        from warble.search.answer import AnswerOptions, answer_events

        index = index_of(request)
        parse_query(req.query)
        engine = request.app.state.engine
        opts = AnswerOptions(mode=req.mode, search_mode=req.search_mode, limit=req.posts, rerank=req.rerank,
                             max_tokens=req.max_tokens, temperature=req.temperature, support=req.support,
                             budget_ms=req.budget_ms)
        events = answer_events(index, engine, req.query, opts)
        try:  # retrieval: what can still be refused with a status (e.g. dense mode on an index without vectors)
            first = await asyncio.to_thread(next, events)
        except InputError as e:
            raise APIError(400, str(e), param="search_mode" if "mode" in str(e) else None) from None
        settings = getattr(request.app.state, "settings", None)  # (None: an app without ServeSettings logs)
        if req.log and (settings is None or settings.query_log):
            await asyncio.to_thread(log_query, index, req.query, len(first["hits"]))
        if not req.stream:
            final = None
            try:
                while True:
                    ev = await asyncio.to_thread(next, events, None)
                    if ev is None:
                        break
                    if ev["type"] == "answer":
                        final = ev
            except WarbleError as e:
                raise APIError(400, str(e)) from None
            return {**{k: v for k, v in final.items() if k != "type"}, "hits": first["hits"]}

        async def sse():
            try:
                yield _sse(first)
                while True:
                    ev = await asyncio.to_thread(next, events, None)
                    if ev is None:
                        break
                    yield _sse(ev)
            except WarbleError as e:
                yield _sse(error_body(str(e)))
            finally:
                try:
                    events.close()  # aborts generation if the client went away mid-answer
                except ValueError:  # still running in its worker thread: it ends at max_tokens or the budget
                    pass
            yield b"data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router
