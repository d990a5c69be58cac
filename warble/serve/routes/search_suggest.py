"""POST /v1/search/suggest ("did you mean") and POST /v1/search/complete (autocomplete) over the server's index.

    /v1/search/suggest   {"text": "lanch delayed", "limit": 5}  -> {"query", "suggestions": [...], "misspelt": [...]}
    /v1/search/complete  {"text": "new lau", "limit": 10}       -> {"prefix", "completions": [{"text", "source", "count"}]}

Both read the index's lexicon (`warble.search.understand.Lexicon`), kept open by the app and reopened when the
index changed; completions also come from the index's query log.
"""

from __future__ import annotations

import asyncio
import threading

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from warble.serve.protocol import APIError
from warble.serve.routes.search_answer import index_of

_lock = threading.Lock()


class SuggestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: StrictStr = Field(..., min_length=1, max_length=500)
    limit: StrictInt = Field(5, ge=1, le=50)


def _lexicon(request: Request, index):
    """The app's lexicon of its index, current with the index (the spelling dictionary is built once per state)."""
    from warble.search.understand import Lexicon

    state = (index.max_key(), index.live_posts())
    with _lock:
        held = getattr(request.app.state, "search_lexicon", None)
        if held is None or held[0] != state:
            if held is not None:
                held[1].close()
            held = (state, Lexicon.open(index))
            request.app.state.search_lexicon = held
        return held[1]


def make_router() -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.post("/v1/search/suggest", summary="did you mean: spelling suggestions from the index's words")
    async def search_suggest(req: SuggestRequest, request: Request):
        from warble.search.understand import suggest

        index = index_of(request)
        if not req.text.strip():
            raise APIError(400, "text is blank: nothing to suggest for", param="text")

        def work():
            lex = _lexicon(request, index)
            with _lock:  # one lookup at a time on the shared SQLite connection and dictionary
                return suggest(lex, req.text, n=req.limit)

        return await asyncio.to_thread(work)

    @router.post("/v1/search/complete", summary="autocomplete a partial query from past queries and posts")
    async def search_complete(req: SuggestRequest, request: Request):
        from warble.search.understand import complete, open_query_log

        index = index_of(request)
        if not req.text.strip():
            raise APIError(400, "text is blank: nothing to complete", param="text")

        def work():
            lex = _lexicon(request, index)
            log = open_query_log(index)  # None (warned once) when it cannot be used: completions from posts only
            try:
                with _lock:
                    return complete(lex, req.text, n=req.limit, log=log)
            finally:
                if log is not None:
                    log.close()

        return {"prefix": req.text, "completions": await asyncio.to_thread(work)}

    return router
