"""POST /v1/ads/generate: checked, ranked ad-copy candidates for a brief, from the server's model.

    {"brief": {"product": "Trailrunner 2", ...}, "n": 8, "oversample": 3, "lambda": 0.7, "seed": 0,
     "safety_tier": "standard"}
    -> the JSON of `warble ads generate --json`: {"brief", "candidates": [...], "rejected": [...], "seconds",
       "drafts", "generation", "notes"}

Tools come from `app.state.ads` (filled at start-up): "safety" (SafetyChecker), "guard" (the training-text n-gram
index), "engagement" (EngagementModel) and "drafts" (a DraftStore, or a directory for one): a check whose tool is
absent is reported as not run. Candidates are saved as drafts when the server has a store ("drafts": null
otherwise); nothing is published from here: approval is `warble ads drafts approve`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from warble.serve.protocol import APIError

MAX_N = 32  # candidates per request: N x oversample decodes run on the shared engine


class AdsGenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    brief: Any = Field(..., description="the ad brief (docs/ADS.md); only product is required")
    n: StrictInt = Field(8, ge=1, le=MAX_N)
    oversample: StrictInt = Field(3, ge=1, le=10)
    lam: float = Field(0.7, ge=0, le=1, alias="lambda")
    seed: StrictInt = Field(0, ge=0)
    safety_tier: str = Field("standard", min_length=1, max_length=40)
    save_drafts: StrictBool = True


def _tools(request: Request) -> tuple[dict, dict[str, str]]:
    ads = getattr(request.app.state, "ads", None) or {}
    skipped = {}
    if ads.get("safety") is None:
        skipped["brand_safety"] = "this server has no safety checker"
    if ads.get("guard") is None:
        skipped["memorization"] = "this server has no training-text n-gram index"
    return ads, skipped


def _store(ads: dict):
    from warble.ads.drafts import DraftStore

    store = ads.get("drafts")
    if store is None or isinstance(store, DraftStore):
        return store
    store = DraftStore.open(store)
    ads["drafts"] = store  # opened once
    return store


def make_router() -> APIRouter:
    router = APIRouter(tags=["ads"])

    @router.post("/v1/ads/generate", summary="write checked, ranked ad-copy candidates for a brief (saved as drafts)")
    async def ads_generate(req: AdsGenerateRequest, request: Request):
        from warble.ads.brief import Brief, BriefError
        from warble.ads.copy import generate_ads

        try:
            brief = Brief.from_dict(req.brief)
        except BriefError as e:
            raise APIError(400, str(e), param=e.field) from None
        engine = getattr(request.app.state, "engine", None)
        if engine is None:
            raise APIError(503, "no model is loaded on this server", type="server_error")
        ads, skipped = _tools(request)
        store = _store(ads) if req.save_drafts else None
        return await asyncio.to_thread(
            generate_ads, engine, brief, req.n, oversample=req.oversample, seed=req.seed, lam=req.lam,
            engagement=ads.get("engagement"), safety=ads.get("safety"), safety_tier=req.safety_tier,
            guard=ads.get("guard"), skipped=skipped, store=store, actor="POST /v1/ads/generate",
            model_id=getattr(engine, "model_id", None))

    return router
