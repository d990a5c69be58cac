"""Inference and serving: the engine (generate, score, embed) and the OpenAI-compatible HTTP server."""

from warble.serve.types import Completion, Delta, SamplingParams, Score, TokenLogprob

__all__ = ["Completion", "Delta", "SamplingParams", "Score", "TokenLogprob"]
