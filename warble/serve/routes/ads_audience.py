"""POST /v1/ads/audience: the audience of a brief and/or lookalikes of seed accounts, over the server's index.

    {"brief": {"product": "Trailrunner 2", "topic": "fitness"}, "seeds": ["@ana"], "top": 3, "days": 30,
     "reach": 0.05, "similarity": null, "limit": 50, "communities": null}
    -> the JSON of `warble ads audience --json`: {"brief", "communities", "hashtags", "keywords", "estimated_reach",
       "lookalike", "seconds", "learned"}

The communities are learned from `app.state.index` on first use (cached in IDX/audience/ and in this process,
keyed by the index's state), so the first request after a change to the index is slow and the next ones are not.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from warble.serve.protocol import APIError


class AdsAudienceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: Any = Field(None, description="the ad brief (docs/ADS.md); only product is required")
    seeds: list[str] = Field(default_factory=list, max_length=1000, description="@handles or author ids")
    communities: StrictInt | None = Field(None, ge=1, le=500, description="K (default: learned default)")
    top: StrictInt = Field(3, ge=1, le=50)
    alpha: float = Field(0.25, ge=0, le=1)
    days: float = Field(30.0, gt=0, le=3650)
    reach: float | None = Field(None, gt=0, le=1)
    min_similarity: float | None = Field(None, ge=-1, le=1)
    similarity: str | None = Field(None, pattern="^(terms|embedding|both)$",
                                   description="lookalike profiles (default: by the index's embedder)")
    limit: StrictInt = Field(50, ge=0, le=1000)


_memo: dict = {}  # (index path, state, options) -> Communities: one load per index change, not one per request
_memo_lock = threading.Lock()


def _communities(index, k: int | None):
    from warble.ads.communities import LearnOptions, index_state, load_or_learn, profile_defaults

    opts = LearnOptions(k=k, term_weight=profile_defaults(index)["term_weight"])
    key = (str(index.path), repr(sorted(index_state(index).items())), repr(opts))
    with _memo_lock:  # one learner at a time; the others wait for its result
        comms = _memo.get(key)
        if comms is None:
            comms, _ = load_or_learn(index, opts)
            _memo.clear()
            _memo[key] = comms
    return comms


def _answer(index, req: AdsAudienceRequest, brief) -> dict:
    from warble.ads.audience import TargetOptions, target
    from warble.ads.communities import profile_defaults

    comms = _communities(index, req.communities)
    embed = index.embedder.embed if comms.emb_centroids is not None and brief is not None else None
    opts = TargetOptions(top=req.top, alpha=req.alpha, days=req.days, reach=req.reach,
                         min_similarity=req.min_similarity,
                         similarity=req.similarity or profile_defaults(index)["similarity"], limit=req.limit)
    out = target(comms, brief=brief, seeds=req.seeds, embed=embed, opts=opts)
    out["learned"] = {k: comms.meta[k] for k in ("k", "producers", "authors", "posts")}
    return out


def make_router() -> APIRouter:
    router = APIRouter(tags=["ads"])

    @router.post("/v1/ads/audience", summary="matching interest communities, lookalikes and estimated reach")
    async def ads_audience(req: AdsAudienceRequest, request: Request):
        from warble.ads.brief import Brief, BriefError
        from warble.errors import InputError

        brief = None
        if req.brief is not None:
            try:
                brief = Brief.from_dict(req.brief)
            except BriefError as e:
                raise APIError(400, str(e), param=e.field) from None
        seeds = [s for s in req.seeds if s.strip()]
        if brief is None and not seeds:
            raise APIError(400, "give a brief, seed accounts, or both", param="brief")
        index = getattr(request.app.state, "index", None)
        if index is None:
            raise APIError(404, "this server has no search index (start it with --index IDX)",
                           code="no_search_index")
        try:
            return await asyncio.to_thread(_answer, index, req.model_copy(update={"seeds": seeds}), brief)
        except InputError as e:  # unknown seed accounts, an empty index
            raise APIError(400, str(e), param="seeds" if "seed" in str(e) else None) from None

    return router
